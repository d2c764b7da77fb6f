"""Hyperparameter search under a privacy budget: settings (`config`), where trials train (`backends`,
`ray_backend`), and the Optuna study that drives them (`study`)."""
