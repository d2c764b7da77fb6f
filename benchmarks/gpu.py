"""GPU throughput and memory: DP-SGD against the baseline on whatever GPU TensorFlow sees.

Run: .venv/bin/python benchmarks/gpu.py [--steps 100]
Prints the bare-step throughput ratio (XLA on for the private step, as the engine does on a GPU),
the ratio through `python -m dpviz train`, and each run's peak device memory. Without a GPU it
says so and exits 0.
"""

import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=100)
    args = parser.parse_args()
    import tensorflow as tf

    from dpviz.training import devices

    gpus = tf.config.list_physical_devices("GPU")
    if not gpus:
        print("no GPU: TensorFlow sees none on this machine (install tensorflow[and-cuda] on one with a GPU)")
        return 0
    placement = devices.setup(0)
    print(f"GPU: {placement.gpu} of {placement.gpus}, memory {placement.memory}, XLA {devices.use_xla()}")
    from benchmarks.training import bare, through_cli

    for model in ("cnn", "mlp"):
        b, p = bare(model, "baseline", args.steps), bare(model, "private", args.steps)
        print(f"{model}: bare step non-private {b:,.0f} ex/s, DP-SGD {p:,.0f} ex/s, ratio {p / b:.2f}x")
        finished: dict = {}
        rates = through_cli(model, devices=finished)
        print(
            f"{' ' * len(model)}  dpviz train: ratio {rates['private'] / rates['baseline']:.2f}x; devices: {finished}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
