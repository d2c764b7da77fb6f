"""`python -m dpviz train ...`: a DP-SGD run and/or its baseline from the command line."""

from __future__ import annotations

import importlib
import json
import sys
from dataclasses import fields

from dpviz.cli.common import epsilon, number, resume_queue
from dpviz.datasets import DATASETS
from dpviz.privacy.labels import ACCOUNTANTS, RELATIONS
from dpviz.training.config import MODELS, OPTIMIZERS, PRECISIONS, SAMPLERS, TrainConfig


def register(sub) -> None:
    p = sub.add_parser("train", help="train DP-SGD and its non-private baseline")
    p.add_argument(
        "--dataset",
        choices=tuple(DATASETS),
        default="digits",
        help="digits and synthetic work offline; the rest download",
    )
    p.add_argument(
        "--dataset-size", type=int, default=None, help="use the first N training examples (default: the whole split)"
    )
    p.add_argument("--model", choices=MODELS, default="mlp", help="the network trained, private and baseline alike")
    p.add_argument("--epochs", type=float, default=5, help="passes over the data (steps = ceil(epochs n / b))")
    p.add_argument("--batch-size", type=int, default=64, help="expected batch size b (Poisson: q = b/n)")
    p.add_argument("--noise-multiplier", type=float, default=1.0, help="sigma: noise std / clip norm; 0: no privacy")
    p.add_argument("--clip-norm", type=float, default=1.0, help="C: each example's gradient is clipped to this norm")
    p.add_argument("--learning-rate", type=float, default=0.25, help="greater than 0, at most 100")
    p.add_argument("--optimizer", choices=OPTIMIZERS, default="sgd", help="the optimizer both runs use")
    p.add_argument("--momentum", type=float, default=0.0, help="SGD momentum, from 0 to below 1")
    p.add_argument(
        "--sampler",
        choices=SAMPLERS,
        default="poisson",
        help="poisson (add/remove-one), fixed (b distinct per step, replace-one) or shuffle (no amplification)",
    )
    p.add_argument(
        "--mode", choices=("pair", "private", "baseline"), default="pair", help="train DP-SGD, its baseline, or both"
    )
    p.add_argument(
        "--precision",
        choices=PRECISIONS,
        default="float32",
        help="mixed_bfloat16: layers compute in bfloat16 (for GPUs); weights, clipping, norms, noise and sums "
        "stay float32; both runs use it",
    )
    p.add_argument(
        "--seed",
        type=int,
        default=None,
        help="makes the run reproducible: seeds the private run's noise and batches too (then the seed must stay "
        "secret); without it they come from the OS's entropy, and seed 0 sets the initial weights and baseline",
    )
    p.add_argument("--delta", type=float, default=1e-5, help="delta of the (epsilon, delta) guarantee")
    p.add_argument("--accountant", choices=ACCOUNTANTS, default="rdp", help="dp-accounting's accountant for epsilon")
    p.add_argument("--no-audit", action="store_true", help="skip the membership-inference audit after training")
    p.add_argument(
        "--canaries",
        type=int,
        default=0,
        help=(
            "random-label canaries added to the training set (every second one repeated); "
            "the audit reports their exposure"
        ),
    )
    p.add_argument("--json", action="store_true", help="one JSON object a line: each epoch, then a summary per run")
    p.add_argument(
        "--roc", action="store_true", help="with --json: keep the audit's ROC points in the summaries (bulky)"
    )
    p.add_argument("--store", action="store_true", help="record the run(s) in the run store (see --home)")
    p.set_defaults(func=cmd_train)


def config_from_args(args) -> TrainConfig:
    """Every flag named as a TrainConfig field is that field; `--no-audit` turns the audit off."""
    settings = {f.name: getattr(args, f.name) for f in fields(TrainConfig) if hasattr(args, f.name)}
    settings["reproducible"] = args.seed is not None
    settings["seed"] = 0 if args.seed is None else args.seed
    return TrainConfig(**settings, audit=not args.no_audit)


def without_roc(summary: dict) -> dict:
    """A run's summary without the audit's ROC point arrays (thousands of numbers); the AUC and rates stay."""
    audit = summary.get("audit")
    if not audit:
        return summary
    attacks = {
        name: {k: v for k, v in attack.items() if k not in ("roc_fpr", "roc_tpr")}
        for name, attack in audit.get("attacks", {}).items()
    }
    return {**summary, "audit": {**audit, "attacks": attacks}}


def cmd_train(args) -> int:
    config = config_from_args(args)  # ValidationError -> exit 2 before TensorFlow loads
    kinds = ("private", "baseline") if args.mode == "pair" else (args.mode,)
    recorder = None
    if args.store:
        from dpviz.runs.recorder import Recorder

        recorder = Recorder.open(args.home, config, kinds)
        resume_queue(recorder.store)
    from dpviz.audit import exposure_summary
    from dpviz.cli.common import quiet_stderr
    from dpviz.training.data import DatasetUnavailable

    try:
        with quiet_stderr(enabled=not args.verbose):  # TensorFlow's C++ start-up lines ignore its log level
            engine = importlib.import_module("dpviz.training.engine")  # sys.modules: a test's double too

            getattr(engine, "visible_devices", list)()  # CUDA reports a missing driver here, while stderr is closed
            getattr(engine, "configure_pair_threads", len)(config.model)  # before TensorFlow's first op
        EpochMetrics, Finished, train, train_pair = (
            engine.EpochMetrics,
            engine.Finished,
            engine.train,
            engine.train_pair,
        )
        events = train_pair(config) if args.mode == "pair" else train(config, args.mode)
        failed = False
        for event in events:
            if recorder:
                recorder.record(event)
            if isinstance(event, EpochMetrics):
                if args.json:
                    print(json.dumps(event.to_dict()), flush=True)
                else:
                    print(
                        f"[{event.run:8}] epoch {event.epoch:3d}  train loss {number(event.train_loss)} "
                        f"acc {number(event.train_accuracy)}"
                        f"  test loss {number(event.test_loss)} acc {number(event.test_accuracy)}"
                        f"  eps {number(event.epsilon, 3)}"
                        f"  {event.examples_per_second:,.0f} ex/s  {event.elapsed_s:.1f}s",
                        flush=True,
                    )
            elif isinstance(event, Finished):
                failed |= event.status != "completed"
                summary = {
                    "run": event.run,
                    "status": event.status,
                    **{k: v for k, v in event.to_dict().items() if k not in ("run", "status")},
                }
                summary["neighboring_relation"] = RELATIONS[event.sampler] if event.run == "private" else None
                if recorder:
                    summary["run_id"] = recorder.run_ids[event.run]
                if args.json and not args.roc:
                    summary = without_roc(summary)
                if args.json:
                    print(json.dumps(summary), flush=True)
                else:
                    final = event.final
                    print(
                        f"[{event.run:8}] {event.status}: test accuracy {number(final.get('test_accuracy'))}, epsilon "
                        f"{epsilon(final.get('epsilon'), 3)} ({event.accountant}, {event.sampler} sampling, "
                        f"delta {config.delta:g}), "
                        f"{event.steps} steps on {event.device}"
                        + (f" in {config.precision}" if config.precision != "float32" else "")
                        + (f" — {event.error}" if event.error else "")
                    )
                    if event.audit:
                        attacks = event.audit["attacks"]
                        print(
                            f"[{event.run:8}] membership inference: AUC "
                            + ", ".join(f"{name.replace('_', ' ')} {a['auc']:.3f}" for name, a in attacks.items())
                            + f"; advantage {max(a['advantage'] for a in attacks.values()):.3f}; "
                            f"measured epsilon >= {event.audit['epsilon_lower']:.2f} ({event.audit['confidence']:.0%})"
                        )
                        if event.audit.get("canaries"):
                            print(f"[{event.run:8}] {exposure_summary(event.audit['canaries'])}")
                    if event.epsilon_assumption and event.sampler != "poisson":
                        print(f"note: {event.epsilon_assumption}")
    except DatasetUnavailable as err:
        if recorder:
            recorder.fail_all(str(err))
        print(f"error: --dataset: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        if recorder:
            recorder.fail_all("interrupted from the keyboard", status="cancelled")
        return 130
    except Exception as err:  # a failure inside training: the stored runs say what it was, the CLI one line
        message = f"{type(err).__name__}: {err}"
        if recorder:
            recorder.fail_all(message)
        print(f"error: training failed: {message}", file=sys.stderr)
        return 1
    return 1 if failed else 0
