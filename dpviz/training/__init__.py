"""DP-SGD training. `config` and `data` are plain Python; `engine` and `ghost` import TensorFlow."""
