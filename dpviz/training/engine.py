"""DP-SGD on TensorFlow 2.21 / Keras 3, and its non-private baseline. The only module that trains.

Private step: per-example gradient norms by ghost clipping (one backward pass to the layer outputs),
per-example clipping to C, the clipped sum, Gaussian noise N(0, (sigma C)^2) on every coordinate,
division by the expected batch size q n, then the optimizer. The baseline takes the same steps on
the same batches from the same initial weights, with the unclipped, noiseless sum / (q n).
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Iterator

import numpy as np

from dpviz.privacy.samplers import reported_epsilons
from dpviz.training.config import TrainConfig, run_plan
from dpviz.training.data import Data, for_config
from dpviz.training.divergence import DivergenceWatch
from dpviz.training.events import EpochMetrics, Finished, Progress

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import keras  # noqa: E402
import tensorflow as tf  # noqa: E402

from dpviz.training import ghost  # noqa: E402

EVAL_BATCH = 1024
ASSUMPTIONS = {  # what a private run's reported epsilon rests on, by sampler
    "poisson": "Poisson sampling, as the accountant assumes (add/remove-one neighbours)",
    "fixed": "fixed-size batches drawn without replacement at every step: epsilon is dp-accounting's RDP for "
    "sampling without replacement, under replace-one neighbours",
    "shuffle": "shuffled fixed-size batches: the reported epsilon assumes Poisson sampling and does not strictly "
    "apply; epsilon_no_amplification is the guarantee without sampling amplification",
}


# ---------------------------------------------------------------- models


def build_model(name: str, input_shape: tuple[int, ...], classes: int = 10, seed: int = 0) -> keras.Model:
    """The tutorial CNN, an MLP or logistic regression; activations are separate layers (ghost clipping
    needs each trainable layer's pre-activation output)."""
    keras.utils.set_random_seed(seed)
    L = keras.layers
    layers: list = [keras.Input(shape=input_shape)]
    if name == "cnn":
        small = min(input_shape[:2]) < 20  # 8x8 digits: the 8x8 and 4x4 kernels would not fit
        layers += [
            L.Conv2D(16, 3 if small else 8, strides=1 if small else 2, padding="same"),
            L.ReLU(),
            L.MaxPool2D(2, 1),
            L.Conv2D(32, 3 if small else 4, strides=2, padding="valid"),
            L.ReLU(),
            L.MaxPool2D(2, 1),
            L.Flatten(),
            L.Dense(32),
            L.ReLU(),
            L.Dense(classes),
        ]
    elif name == "mlp":
        layers += [L.Flatten(), L.Dense(128), L.ReLU(), L.Dense(128), L.ReLU(), L.Dense(classes)]
    elif name == "logreg":
        layers += [L.Flatten(), L.Dense(classes)]
    else:
        raise ValueError(f"model: unknown model {name!r}")
    return keras.Sequential(layers, name=name)


def make_optimizer(config: TrainConfig) -> keras.optimizers.Optimizer:
    if config.optimizer == "adam":
        return keras.optimizers.Adam(learning_rate=config.learning_rate)
    return keras.optimizers.SGD(learning_rate=config.learning_rate, momentum=config.momentum)


def configure_threads(intra_op: int) -> None:
    """Keep parallel workers from oversubscribing the cores (call before the first op)."""
    tf.config.threading.set_intra_op_parallelism_threads(max(1, int(intra_op)))


def visible_devices() -> list:
    """The devices TensorFlow sees (initialising them: the moment CUDA reports a missing driver)."""
    return tf.config.list_physical_devices()


def device_name() -> str:
    gpus = tf.config.list_physical_devices("GPU")
    return f"GPU ({gpus[0].name})" if gpus else "CPU"


def per_example_loss(labels, logits):
    return tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits)


# ---------------------------------------------------------------- the DP-SGD step


class DPSGD:
    """Builds the compiled private and baseline gradient functions for one model."""

    def __init__(
        self,
        model: keras.Model,
        *,
        clip_norm: float,
        noise_multiplier: float,
        expected_batch_size: float,
        seed: int | None,
    ):
        self.model = model
        self.variables = list(model.trainable_variables)
        self.clip_norm = float(clip_norm)
        self.noise_std = float(noise_multiplier) * float(clip_norm)
        self.expected_batch_size = float(expected_batch_size)
        # seed None: the noise comes from the operating system's entropy, as a deployed DP-SGD's must
        self.noise = (
            tf.random.Generator.from_non_deterministic_state()
            if seed is None
            else tf.random.Generator.from_seed(seed + 7919)
        )
        self.ghost = all(ghost.supports(layer) for layer in model.layers)
        shape = (None,) + tuple(model.input_shape[1:])
        spec = [tf.TensorSpec(shape, tf.float32), tf.TensorSpec((None,), tf.int32)]
        self.private_gradients = tf.function(self._private_gradients, input_signature=spec)
        self.baseline_gradients = tf.function(self._baseline_gradients, input_signature=spec)

    # Clipped, summed gradients and per-example norms (before noise).
    def clipped_sum(self, x, y):
        if self.ghost:
            return self._ghost_clipped_sum(x, y)
        return self._vectorized_clipped_sum(x, y)

    def _forward(self, x):
        records, h = [], x
        for layer in self.model.layers:
            a = h
            h = layer(h, training=True)
            if layer.trainable_weights:
                records.append((layer, a, h))
        return h, records

    def _ghost_clipped_sum(self, x, y):
        with tf.GradientTape() as tape:
            logits, records = self._forward(x)
            losses = per_example_loss(y, logits)
            total = tf.reduce_sum(losses)
        outputs = [z for _, _, z in records]
        g_out = tape.gradient(total, outputs, unconnected_gradients=tf.UnconnectedGradients.ZERO)
        inputs = [ghost.layer_inputs(layer, a) for layer, a, _ in records]
        sq = tf.zeros_like(losses)
        for (layer, _, _), p, g in zip(records, inputs, g_out):
            sq += ghost.squared_norms(layer, p, g)
        norms = tf.sqrt(tf.maximum(sq, 0.0))
        factors = self.clip_factors(norms)
        grads = {}
        for (layer, _, z), p, g in zip(records, inputs, g_out):
            scale = tf.reshape(factors, [-1] + [1] * (len(z.shape) - 1))
            grads.update(ghost.weighted_gradients(layer, p, g * scale))
        summed = [grads.get(id(v), tf.zeros_like(v)) for v in self.variables]
        return summed, norms, losses, logits

    def _vectorized_clipped_sum(self, x, y):
        """Fallback for layers ghost clipping does not cover: per-example gradients by vectorized_map."""

        def one(example):
            xi, yi = example
            with tf.GradientTape() as tape:
                loss = per_example_loss(yi[None], self.model(xi[None], training=True))[0]
            return tape.gradient(loss, self.variables, unconnected_gradients=tf.UnconnectedGradients.ZERO)

        per_example = tf.vectorized_map(one, (x, y))
        sq = tf.add_n([tf.reduce_sum(tf.reshape(tf.square(g), [tf.shape(x)[0], -1]), axis=1) for g in per_example])
        norms = tf.sqrt(sq)
        factors = self.clip_factors(norms)
        summed = [tf.tensordot(factors, g, axes=1) for g in per_example]
        logits = self.model(x, training=True)
        return summed, norms, per_example_loss(y, logits), logits

    def clip_factors(self, norms):
        """Each example's factor: its gradient, times this, has norm at most C."""
        return tf.minimum(1.0, self.clip_norm / (norms + 1e-12))

    def privatise(self, summed):
        """The released update: the clipped sum plus N(0, (sigma C)^2) per coordinate, over the expected batch size."""
        return [(s + self.noise.normal(tf.shape(s)) * self.noise_std) / self.expected_batch_size for s in summed]

    def _private_gradients(self, x, y):
        summed, norms, losses, logits = self.clipped_sum(x, y)
        return self.privatise(summed), losses, logits

    def _baseline_gradients(self, x, y):
        with tf.GradientTape() as tape:
            logits = self.model(x, training=True)
            losses = per_example_loss(y, logits)
            total = tf.reduce_sum(losses)
        grads = tape.gradient(total, self.variables, unconnected_gradients=tf.UnconnectedGradients.ZERO)
        return [g / self.expected_batch_size for g in grads], losses, logits


# ---------------------------------------------------------------- sampling


def batches(config: TrainConfig, n: int, *, seeded: bool = True) -> Iterator[tuple[int, int, np.ndarray]]:
    """(epoch, step, indices) for every step: from `config.seed` (a baseline, or a reproducible private
    run: identical for both), or from the operating system's entropy (`seeded=False`).

    Poisson: each example joins each step independently with probability q; an epoch is
    ceil(n / b) steps and the run is ceil(epochs n / b) steps, as the accountant counts them.
    Fixed: b distinct examples drawn uniformly at every step (without replacement within a step).
    Shuffle: a new permutation each epoch cut into batches of b (the last one smaller).
    """
    rng = np.random.default_rng(config.seed if seeded else None)
    b = config.batch_size
    step = 0
    for epoch, _, steps_in_epoch in run_plan(config):
        order = rng.permutation(n) if config.sampler == "shuffle" else None
        for i in range(steps_in_epoch):
            if config.sampler == "fixed":
                idx = np.sort(rng.choice(n, size=b, replace=False))
            elif order is None:
                idx = np.flatnonzero(rng.random(n) < b / n)
            else:
                idx = order[i * b : (i + 1) * b]
            step += 1
            yield epoch, step, idx


# ---------------------------------------------------------------- training loop


START_SAMPLE = 1024  # training examples the step-0 loss is measured on


def evaluate(model: keras.Model, x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    loss_sum, correct = 0.0, 0
    for start in range(0, len(x), EVAL_BATCH):
        logits = model(x[start : start + EVAL_BATCH], training=False)
        loss_sum += float(tf.reduce_sum(per_example_loss(y[start : start + EVAL_BATCH], logits)))
        correct += int(
            tf.reduce_sum(
                tf.cast(tf.equal(tf.argmax(logits, 1, output_type=tf.int32), y[start : start + EVAL_BATCH]), tf.int32)
            )
        )
    return loss_sum / len(x), correct / len(x)


class EpochTally:
    """One run's running sums within an epoch, and the EpochMetrics they make at its end."""

    def __init__(self, config: TrainConfig, kind: str, data: Data, model: keras.Model):
        self.config, self.kind, self.data, self.model = config, kind, data, model
        self.start = time.perf_counter()
        self._reset()

    def _reset(self) -> None:
        self.seen = self.correct = 0
        self.loss_sum = self.train_time = 0.0

    def add(self, batch_loss: float, correct: int, examples: int, seconds: float) -> None:
        self.loss_sum += batch_loss
        self.correct += correct
        self.seen += examples
        self.train_time += seconds

    def close(self, epoch: int, steps_done: int) -> EpochMetrics:
        """Evaluate on the test split, account epsilon for the steps so far (private runs), start afresh."""
        test_loss, test_acc = evaluate(self.model, self.data.x_test, self.data.y_test)
        val_loss = val_acc = None
        if self.data.x_val is not None and len(self.data.x_val):
            val_loss, val_acc = evaluate(self.model, self.data.x_val, self.data.y_val)
        eps = eps_na = None
        if self.kind == "private":
            c = self.config
            spent = c.privacy.replace(epochs=steps_done * c.batch_size / len(self.data.x_train))
            eps, eps_na = reported_epsilons(spent, c.sampler, c.accountant)
        metrics = EpochMetrics(
            run=self.kind,
            epoch=epoch,
            train_loss=self.loss_sum / max(self.seen, 1),
            train_accuracy=self.correct / max(self.seen, 1),
            test_loss=test_loss,
            test_accuracy=test_acc,
            epsilon=eps,
            examples_per_second=self.seen / self.train_time if self.train_time > 0 else 0.0,
            elapsed_s=time.perf_counter() - self.start,
            steps=steps_done,
            epsilon_no_amplification=eps_na,
            validation_loss=val_loss,
            validation_accuracy=val_acc,
        )
        self._reset()
        return metrics


def train(
    config: TrainConfig,
    kind: str = "private",
    *,
    data: Data | None = None,
    should_stop: Callable[[], bool] = lambda: False,
    progress_every: int = 10,
) -> Iterator[EpochMetrics | Progress | Finished]:
    """Train one run of `config`: DP-SGD (`kind="private"`) or its non-private baseline.

    Args:
      config: the validated run configuration.
      kind: "private" or "baseline".
      data: the training and test arrays (default: loaded from `config`, with its canaries).
      should_stop: checked every step; True ends the run as "cancelled" (closing the generator also stops it).
      progress_every: steps between Progress events.

    Returns:
      A generator of Progress every few steps, EpochMetrics after each epoch, then one Finished
      (with the membership-inference audit for a completed run when `config.audit`).

    Raises:
      ValueError: for an unknown kind.
      DatasetUnavailable: when a Keras dataset cannot be downloaded.
    """
    if kind not in ("private", "baseline"):
        raise ValueError(f"kind: must be 'private' or 'baseline', got {kind!r}")
    data = for_config(config, data)
    model = build_model(config.model, data.input_shape, seed=config.seed)
    optimizer = make_optimizer(config)
    dp = DPSGD(
        model,
        clip_norm=config.clip_norm,
        noise_multiplier=config.noise_multiplier,
        expected_batch_size=config.batch_size,
        seed=config.seed if seeded(config, kind) else None,
    )
    gradients = dp.private_gradients if kind == "private" else dp.baseline_gradients
    apply = tf.function(lambda grads: optimizer.apply_gradients(zip(grads, dp.variables, strict=True)))
    total_steps = config.privacy.steps
    device = device_name()
    tally = EpochTally(config, kind, data, model)
    watch = DivergenceWatch(evaluate(model, data.x_test, data.y_test)[0], noised=kind == "private" and dp.noise_std > 0)
    current_epoch, last_step, last = 1, 0, None
    status, error = "completed", None
    x_train, y_train = data.x_train, data.y_train

    window = [0.0, 0]  # loss sum and examples since the last Progress: the per-step loss trace
    # Step 0: the untrained model's training loss, before the step is compiled: the chart's first point.
    yield Progress(kind, 1, 0, total_steps, loss=evaluate(model, x_train[:START_SAMPLE], y_train[:START_SAMPLE])[0])

    for epoch, step, idx in batches(config, len(x_train), seeded=seeded(config, kind)):
        if epoch != current_epoch:
            last = tally.close(current_epoch, last_step)
            yield last
            current_epoch = epoch
            error = watch.check(last.epoch, last.test_loss)
            if error:
                status = "diverged"
                break
        if should_stop():
            status = "cancelled"
            break
        t0 = time.perf_counter()
        xb, yb = x_train[idx], y_train[idx]
        grads, losses, logits = gradients(tf.constant(xb), tf.constant(yb))
        apply(grads)
        batch_loss = float(tf.reduce_sum(losses))
        seconds = time.perf_counter() - t0
        if len(idx):
            if not math.isfinite(batch_loss):
                status, error = "diverged", f"loss became {batch_loss} at step {step} (epoch {epoch})"
                break
            tally.add(batch_loss, int(np.sum(np.argmax(logits.numpy(), 1) == yb)), len(idx), seconds)
            window[0] += batch_loss
            window[1] += len(idx)
        else:
            tally.train_time += seconds
        last_step = step
        if step == 1 or step % progress_every == 0 or step == total_steps:
            loss = window[0] / window[1] if window[1] else None
            window[:] = [0.0, 0]
            yield Progress(kind, epoch, step, total_steps, loss=loss)
    if status == "completed" or (tally.seen and status != "diverged"):
        last = tally.close(current_epoch, last_step)
        yield last
        reason = watch.check(last.epoch, last.test_loss, final=True) if status == "completed" else None
        if reason:
            status, error = "diverged", reason
    report = None
    if status == "completed" and config.audit:
        report = membership_audit(model, data, config, last.epsilon if kind == "private" and last else None)
    yield Finished(
        run=kind,
        status=status,
        device=device,
        sampler=config.sampler,
        accountant=config.accountant,
        epochs_run=last.epoch if last else 0,
        steps=last_step,
        error=error,
        final=last.to_dict() if last else {},
        epsilon_assumption=ASSUMPTIONS[config.sampler] if kind == "private" else "",
        audit=report,
    )


def probabilities(model: keras.Model, x: np.ndarray) -> np.ndarray:
    return np.concatenate(
        [tf.nn.softmax(model(x[i : i + EVAL_BATCH], training=False)).numpy() for i in range(0, len(x), EVAL_BATCH)]
    )


def seeded(config: TrainConfig, kind: str) -> bool:
    """Whether a run's noise and batches follow its seed: a baseline's always (pairs stay comparable), a
    private run's only when asked for (`config.reproducible`)."""
    return kind == "baseline" or config.reproducible


def warm_up() -> None:
    """One tiny private and baseline step, and the offline data read: a warm worker pays TensorFlow's and
    scikit-learn's first-use costs (about 2 s to import sklearn here) before any run."""
    import sklearn.linear_model  # noqa: F401 - the audit's learned attack

    from dpviz.training.data import load

    load("digits")
    model = build_model("mlp", (8, 8, 1), seed=0)
    dp = DPSGD(model, clip_norm=1.0, noise_multiplier=1.0, expected_batch_size=4, seed=0)
    x, y = tf.zeros((4, 8, 8, 1), tf.float32), tf.zeros((4,), tf.int32)
    for gradients in (dp.private_gradients, dp.baseline_gradients):
        grads, losses, _ = gradients(x, y)
        float(tf.reduce_sum(losses))
    keras.optimizers.SGD(0.1).apply_gradients(zip(grads, dp.variables, strict=True))
    evaluate(model, np.zeros((4, 8, 8, 1), np.float32), np.zeros(4, np.int32))


def membership_audit(model: keras.Model, data: Data, config: TrainConfig, epsilon: float | None) -> dict:
    """Membership inference on the trained model (the same members and non-members for a pair), and
    the exposure of the run's canaries if it has any."""
    from dpviz.audit import canary_report, losses, run_audit, sample_indices

    members, nonmembers = sample_indices(data.dataset_rows, len(data.x_test), seed=config.seed)
    report = run_audit(
        probabilities(model, data.x_train[members]),
        data.y_train[members],
        probabilities(model, data.x_test[nonmembers]),
        data.y_test[nonmembers],
        delta=config.delta,
        theoretical_epsilon=epsilon,
        seed=config.seed,
    )
    if data.canaries is not None:
        c = data.canaries
        report["canaries"] = canary_report(
            losses(probabilities(model, c.x), c.y), c.copies, losses(probabilities(model, c.reference_x), c.reference_y)
        )
    return report


def train_pair(config: TrainConfig, *, data: Data | None = None, should_stop: Callable[[], bool] = lambda: False):
    """The private run and its baseline on the same data, batches and initial weights.

    Args:
      config: the validated run configuration (noise and clipping apply to the private run only).
      data: as for `train`.
      should_stop: as for `train`, shared by both runs.

    Returns:
      A generator of both runs' events, interleaved epoch by epoch; each run ends with its Finished.

    Raises:
      DatasetUnavailable: when a Keras dataset cannot be downloaded.
    """
    data = for_config(config, data)
    runs = {kind: train(config, kind, data=data, should_stop=should_stop) for kind in ("private", "baseline")}
    active = dict(runs)
    while active:
        for kind in list(active):
            for event in active[kind]:
                yield event
                if isinstance(event, EpochMetrics):
                    break
                if isinstance(event, Finished):
                    del active[kind]
                    break
            else:
                active.pop(kind, None)
