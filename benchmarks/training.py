"""DP-SGD throughput against the non-private baseline (examples/s), tutorial CNN and MLP, batch 256.

Run: .venv/bin/python benchmarks/training.py [--steps 40]
Targets: DP-SGD >= 0.5x the non-private throughput on the CNN and >= 0.7x on the MLP.
"""

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import tensorflow as tf

from dpviz.training.config import TrainConfig
from dpviz.training.data import synthetic
from dpviz.training.engine import DPSGD, build_model, device_name, make_optimizer

BATCH = 256


def throughput(model_name: str, kind: str, steps: int) -> float:
    x, y, _, _ = synthetic(BATCH * 8)
    model = build_model(model_name, (28, 28, 1), seed=0)
    optimizer = make_optimizer(TrainConfig(dataset="synthetic", learning_rate=0.1))
    dp = DPSGD(model, clip_norm=1.0, noise_multiplier=1.1, expected_batch_size=BATCH, seed=0)
    gradients = dp.private_gradients if kind == "private" else dp.baseline_gradients
    apply = tf.function(lambda grads: optimizer.apply_gradients(zip(grads, dp.variables)))
    rng = np.random.default_rng(0)
    batches = []
    for _ in range(steps + 3):
        size = rng.binomial(len(x), BATCH / len(x))  # Poisson batch sizes, as in training
        idx = rng.choice(len(x), size, replace=False)
        batches.append((tf.constant(x[idx].astype(np.float32)), tf.constant(y[idx].astype(np.int32))))
    for xb, yb in batches[:3]:  # trace and warm up
        apply(gradients(xb, yb)[0])
    start = time.perf_counter()
    seen = 0
    for xb, yb in batches[3:]:
        grads, losses, _ = gradients(xb, yb)
        apply(grads)
        float(tf.reduce_sum(losses))  # the engine reads the loss every step
        seen += int(xb.shape[0])
    return seen / (time.perf_counter() - start)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=40)
    args = parser.parse_args()
    print(f"device: {device_name()}, batch {BATCH} (Poisson), {args.steps} timed steps after warm-up")
    for model_name, target in (("cnn", 0.5), ("mlp", 0.7)):
        baseline = throughput(model_name, "baseline", args.steps)
        private = throughput(model_name, "private", args.steps)
        print(
            f"{model_name}: non-private {baseline:,.0f} ex/s, DP-SGD {private:,.0f} ex/s, "
            f"ratio {private / baseline:.2f}x  [target >= {target}x]"
        )


if __name__ == "__main__":
    main()
