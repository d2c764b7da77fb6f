"""DP-SGD throughput against the non-private baseline (examples/s), tutorial CNN and MLP, batch 256.

Run: .venv/bin/python benchmarks/training.py [--steps 60] [--repeats 3] [--examples 12000] [--clipping]
Reports, for each model:
- the bare step: `engine.TrainStep` on pre-made Poisson batches, nothing else (the median of 3
  interleaved measurements of each);
- the whole loop, through `python -m dpviz train` itself (the private run and its baseline in one
  run, the last epoch's figures), as users run it, with its own thread rule
  (`devices.pair_threads`; the bare step keeps TensorFlow's default threads, so the loop's
  baseline is compared with the default's). The goal's command trains 12,000 examples, so its timed
  epoch is short (about 0.5 s for the CNN, 0.1 s for the MLP, on 2 cores) and single runs scatter;
  --examples 60000 times an epoch five times longer;
- with --clipping: per-layer norm rules (mixed, ghost everywhere, per-example gradients everywhere)
  on the tutorial CNN (28x28x1) and a CIFAR-shaped CNN (32x32x3), batch 256 and 512, with peak RSS.
Targets through the CLI: DP-SGD >= 0.6x the baseline on the CNN, >= 0.8x on the MLP; the loop's
baseline >= 90 % of the bare step's.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
ROOT = Path(__file__).resolve().parents[1]
CLI = ["--dataset", "synthetic", "--epochs", "2", "--batch-size", "256"]
CLI += ["--noise-multiplier", "1", "--clip-norm", "1", "--learning-rate", "0.1", "--json", "--no-audit"]


def bare(model_name: str, kind: str, steps: int, shape=(28, 28, 1), batch: int = 256) -> float:
    import numpy as np
    import tensorflow as tf

    from dpviz.training.config import TrainConfig
    from dpviz.training.engine import DPSGD, Prefetcher, TrainStep, build_model, make_optimizer

    n = batch * 8
    data = np.random.default_rng(1)
    x, y = data.random((n, *shape), dtype=np.float32), data.integers(0, 10, n).astype(np.int32)
    model = build_model(model_name, shape, seed=0)
    dp = DPSGD(model, clip_norm=1.0, noise_multiplier=1.1, expected_batch_size=batch, seed=0)
    optimizer = make_optimizer(TrainConfig(dataset="synthetic", learning_rate=0.1))
    step = TrainStep(dp, optimizer, kind, x, y, host_noise=not tf.config.list_logical_devices("GPU"))
    rng = np.random.default_rng(0)
    plan = [(1, i, np.flatnonzero(rng.random(n) < batch / n)) for i in range(steps + 5)]
    noise = (np.random.default_rng(1), step.noise_size) if step.host_noise else None
    made = list(Prefetcher(iter(plan), noise=noise))  # as in training, made before the clock starts
    for _, _, rows, wb, zb in made[:5]:
        step(rows, wb, zb)
    step.read()
    start = time.perf_counter()
    for _, _, rows, wb, zb in made[5:]:
        step(rows, wb, zb)
    seen = step.read().seen
    return seen / (time.perf_counter() - start)


def through_cli(model_name: str, *, devices: dict | None = None, examples: int = 12000) -> dict:
    """The last epoch's examples/s of each run of `python -m dpviz train`; `devices` gets each run's device."""
    out = subprocess.run(
        [sys.executable, "-m", "dpviz", "train", *CLI, "--dataset-size", str(examples), "--model", model_name],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=True,
    ).stdout
    rows = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    last = max(r["epoch"] for r in rows if "examples_per_second" in r)
    if devices is not None:
        devices.update({r["run"]: r.get("device") for r in rows if "status" in r})
    return {r["run"]: r["examples_per_second"] for r in rows if r.get("epoch") == last and "examples_per_second" in r}


def clipping_child(rule: str, shape: tuple, batch: int, steps: int) -> None:
    """In a fresh process: one rule's private throughput and this process's peak RSS."""
    import resource

    from dpviz.training import ghost

    ghost.NORM_RULE = rule
    rate = bare("cnn", "private", steps, shape=shape, batch=batch)
    print(json.dumps({"rate": rate, "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))


def clipping(steps: int) -> None:
    print("\nper-layer norm rule, tutorial CNN, private step (fresh process each; peak RSS of the process):")
    for shape in ((28, 28, 1), (32, 32, 3)):
        for batch in (256, 512):
            rates = {}
            for rule in ("mixed", "ghost", "materialise"):
                code = f"import sys; sys.path.insert(0, {str(ROOT)!r}); import benchmarks.training as t; "
                code += f"t.clipping_child({rule!r}, {shape!r}, {batch}, {steps})"
                out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
                if out.returncode:
                    rates[rule] = None
                    print(f"  {shape} b={batch} {rule}: failed ({out.stderr.strip().splitlines()[-1][:100]})")
                    continue
                rates[rule] = json.loads(out.stdout.strip().splitlines()[-1])
            base = rates["mixed"]["rate"] if rates.get("mixed") else None
            for rule, r in rates.items():
                if r:
                    ratio = f"{r['rate'] / base:.2f}x mixed" if base else ""
                    rate, rss = f"{r['rate']:8,.0f} ex/s", f"peak RSS {r['rss_mb']:,.0f} MB"
                    print(f"  {shape} b={batch} {rule:11}: {rate}  {ratio:12}  {rss}")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--repeats", type=int, default=3, help="CLI runs per model (the median ratio is printed)")
    parser.add_argument("--examples", type=int, default=12000, help="training examples of each CLI run")
    parser.add_argument("--clipping", action="store_true", help="also compare the per-layer norm rules")
    args = parser.parse_args()
    from dpviz.training.engine import device_name

    print(f"device: {device_name()}, batch 256 (Poisson, padded to multiples of 32)")
    for model_name, target in (("cnn", 0.6), ("mlp", 0.8)):
        pairs = [(bare(model_name, "baseline", args.steps), bare(model_name, "private", args.steps)) for _ in range(3)]
        b, p = statistics.median(b for b, _ in pairs), statistics.median(p for _, p in pairs)
        ran_on: dict = {}
        runs = [through_cli(model_name, devices=ran_on, examples=args.examples) for _ in range(args.repeats)]
        ratios = sorted(r["private"] / r["baseline"] for r in runs)
        loop_base = statistics.median(r["baseline"] for r in runs)
        print(
            f"{model_name}: bare step  non-private {b:,.0f} ex/s, DP-SGD {p:,.0f} ex/s, ratio {p / b:.2f}x\n"
            f"{' ' * len(model_name)}  dpviz train ({args.examples:,} examples): "
            f"ratio median {statistics.median(ratios):.2f}x "
            f"(runs: {', '.join(f'{r:.2f}' for r in ratios)})  [target >= {target}x]; "
            f"baseline {loop_base:,.0f} ex/s = {loop_base / b:.0%} of the bare step [target >= 90 %]; "
            f"on {ran_on.get('baseline')} (the bare step: TensorFlow's default threads)"
        )
    if args.clipping:
        clipping(max(10, args.steps // 3))


if __name__ == "__main__":
    main()
