"""`python -m dpviz verify ...`: audit our DP-SGD in one training run with canaries."""

from __future__ import annotations

import argparse
import json
import os
import sys

from dpviz.cli.common import number, quiet_stderr
from dpviz.datasets import DATASETS
from dpviz.privacy.labels import ACCOUNTANTS
from dpviz.training.config import MODELS, OPTIMIZERS
from dpviz.validation import ValidationError
from dpviz.verify.config import DEFAULT_CANARIES, KINDS, VerifyConfig


def register(sub) -> None:
    p = sub.add_parser(
        "verify",
        help="audit this DP-SGD implementation in one run (canaries, jax-privacy's one-run bounds)",
        description="Train once with canaries, each included with probability 1/2, and compare the empirical "
        "lower bound on epsilon (95%% confidence) with the accounted epsilon of exactly that run.",
    )
    p.add_argument("--dataset", choices=tuple(DATASETS), default="digits", help="digits and synthetic work offline")
    p.add_argument("--dataset-size", type=int, default=None, help="training examples used (default: the split)")
    p.add_argument("--model", choices=MODELS, default="mlp", help="the network trained")
    p.add_argument("--epochs", type=float, default=5, help="passes over the data, canaries counted")
    p.add_argument("--batch-size", type=int, default=64, help="expected batch size b (Poisson: q = b/n)")
    p.add_argument("--noise-multiplier", type=float, default=1.0, help="sigma: noise std / clip norm, above 0")
    p.add_argument("--clip-norm", type=float, default=1.0, help="C: per-example clipping norm")
    p.add_argument("--learning-rate", type=float, default=0.25, help="greater than 0, at most 100")
    p.add_argument("--optimizer", choices=OPTIMIZERS, default="sgd", help="the optimizer")
    p.add_argument("--momentum", type=float, default=0.0, help="SGD momentum, from 0 to below 1")
    p.add_argument(
        "--canaries",
        type=int,
        default=None,
        help=f"canaries, each included with probability 1/2 (default: {DEFAULT_CANARIES['gradient']:,} gradient "
        f"canaries, at most one per model parameter; {DEFAULT_CANARIES['input']} input canaries)",
    )
    p.add_argument(
        "--kind", choices=tuple(KINDS), default="gradient", help="; ".join(f"{k}: {v}" for k, v in KINDS.items())
    )
    p.add_argument("--delta", type=float, default=1e-5, help="delta of the claim audited")
    p.add_argument("--accountant", choices=ACCOUNTANTS, default="rdp", help="the accountant of the claim")
    p.add_argument(
        "--seed", type=int, default=None, help="reproducible noise, sampling and canaries (default: OS entropy)"
    )
    p.add_argument("--json", action="store_true", help="print the report as one JSON object")
    p.add_argument(
        "--history",
        action="store_true",
        help="list the verifications kept in the home (started from the Train page), newest first, and exit",
    )
    p.add_argument("--config-json", default=None, help=argparse.SUPPRESS)
    p.add_argument("--record", default=None, help=argparse.SUPPRESS)
    p.set_defaults(func=cmd_verify)


def config_from_args(args) -> VerifyConfig:
    if args.config_json is not None:
        try:
            data = json.loads(args.config_json)
        except ValueError:
            raise ValidationError("config_json", "is not valid JSON") from None
        if not isinstance(data, dict):
            raise ValidationError("config_json", "must be a JSON object of verification settings")
        return VerifyConfig.from_dict(data)
    names = VerifyConfig.__dataclass_fields__
    return VerifyConfig(**{name: getattr(args, name) for name in names if hasattr(args, name)})


def print_report(report) -> None:
    eps = report.theoretical_epsilon
    print(report.sentence())
    print(
        f"theoretical epsilon {number(eps, 3)} ({report.accountant}, Poisson, delta {report.delta:g}, "
        f"n = {report.n:,}, {report.steps:,} steps on {report.device})"
    )
    print(
        f"empirical epsilon >= {report.empirical_epsilon:.3f} one-run, >= {report.empirical_epsilon_fdp:.3f} "
        f"f-DP one-run ({report.confidence:.0%}); {report.correct:,} of {report.guesses:,} guesses correct; "
        f"bound / epsilon = {number(report.ratio, 2)}"
    )
    for note in report.caveats():
        print(f"note: {note}")


def print_history(args) -> int:
    from dpviz.verify import records

    rows = [records.summary(record) for record in records.history(args.home, limit=None)]
    if args.json:
        print(json.dumps(rows))
        return 0
    if not rows:
        print(f"no verifications kept in {records.folder(args.home) / 'verifications'}")
        return 0
    for r in rows:
        claim = f"eps {number(r['ε claimed'], 3)} >= {number(r['ε ≥ (f-DP)'], 3)}" if r["verdict"] else r["status"]
        print(
            f"{r['id']}  {r['started']}  {r['kind']:8} {r['canaries'] or '-':>6} canaries  {r['model']}/{r['dataset']}"
            f"  sigma {r['σ']}  {r['epochs']} epochs  b {r['b']}  {claim}  {r['verdict']}"
        )
    return 0


def cmd_verify(args) -> int:
    if args.history:
        return print_history(args)
    config = config_from_args(args)  # ValidationError -> exit 2 before TensorFlow loads
    from dpviz.training.data import DatasetUnavailable
    from dpviz.verify import records

    record = args.record
    base = {"config": config.to_dict(), "pid": os.getpid()}
    if record:
        records.write(args.home, record, status="running", progress=[0, 0], **base)

    def progress(step: int, steps: int) -> None:
        if record:
            records.write(args.home, record, status="running", progress=[step, steps], **base)

    def should_stop() -> bool:
        return bool(record) and records.cancel_requested(args.home, record)

    try:
        with quiet_stderr(enabled=not args.verbose):
            from dpviz.training import engine

            engine.visible_devices()
        from dpviz.verify.run import verify

        report = verify(config, progress=progress, should_stop=should_stop)
    except DatasetUnavailable as err:
        if record:
            records.write(args.home, record, status="failed", error=str(err), **base)
        print(f"error: --dataset: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        if record:
            records.write(args.home, record, status="cancelled", **base)
        return 130
    except Exception as err:  # noqa: BLE001 - one line for the user, the record says what failed
        message = f"{type(err).__name__}: {err}"
        if record:
            records.write(args.home, record, status="failed", error=message, **base)
        print(f"error: verification failed: {message}", file=sys.stderr)
        return 1
    if report is None:
        if record:
            records.write(args.home, record, status="cancelled", **base)
        print("cancelled", file=sys.stderr)
        return 130
    if record:
        records.write(args.home, record, status="completed", report=report.to_dict(), **base)
    if args.json:
        print(json.dumps({k: v for k, v in report.to_dict().items() if k != "histogram"}))
    else:
        print_report(report)
    return 1 if report.violation else 0
