"""`python -m dpviz ...`: the command line. Bad arguments exit 2 with one line naming the field."""

from __future__ import annotations

import argparse
import json
import math
import sys

from dpviz.accountant_names import ACCOUNTANTS
from dpviz.validation import ValidationError

EXIT_USAGE = 2


class UsageError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    """argparse that reports a bad argument as one line instead of usage plus message."""

    def error(self, message):  # noqa: D401 - argparse hook
        raise UsageError(message)


def _format_epsilon(value: float) -> str:
    return "inf (no privacy)" if not math.isfinite(value) else f"{value:.4f}"


def _add_privacy_arguments(parser: argparse.ArgumentParser, *, noise: bool = True, epochs: bool = True) -> None:
    parser.add_argument("--dataset-size", type=int, required=True, help="number of training examples n")
    parser.add_argument("--batch-size", type=int, required=True, help="expected batch size b (q = b/n)")
    if noise:
        parser.add_argument("--noise-multiplier", type=float, required=True, help="sigma: noise std / clip norm")
    if epochs:
        parser.add_argument("--epochs", type=float, required=True)
    parser.add_argument("--delta", type=float, default=1e-5)
    parser.add_argument("--accountant", choices=ACCOUNTANTS, default="rdp")
    parser.add_argument("--json", action="store_true", help="print one JSON object")


def cmd_epsilon(args) -> int:
    from dpviz.accountant import compute_epsilon
    from dpviz.accountant_names import ACCOUNTANT_LABELS
    from dpviz.params import PrivacyParams

    params = PrivacyParams(
        dataset_size=args.dataset_size, batch_size=args.batch_size, noise_multiplier=args.noise_multiplier,
        epochs=args.epochs, delta=args.delta,
    )
    report = compute_epsilon(params, args.accountant)
    if args.json:
        print(json.dumps(report.to_dict()))
        return 0
    print(f"epsilon = {_format_epsilon(report.epsilon)} at delta = {report.delta:g}  [{ACCOUNTANT_LABELS[args.accountant]}]")
    print(f"steps = {report.steps}, sampling probability q = {report.sampling_probability:.6g} (Poisson sampling)")
    print(f"without sampling amplification (fixed shuffled batches): epsilon = {_format_epsilon(report.epsilon_no_amplification)}")
    for line in ([report.note] if report.note else []) + params.warnings():
        print(f"note: {line}")
    return 0


def cmd_calibrate(args) -> int:
    from dpviz.calibration import calibrate_noise

    sigma = calibrate_noise(
        target_epsilon=args.target_epsilon, dataset_size=args.dataset_size, batch_size=args.batch_size,
        epochs=args.epochs, target_delta=args.delta, accountant=args.accountant,
    )
    if args.json:
        print(json.dumps({
            "noise_multiplier": sigma, "target_epsilon": args.target_epsilon, "target_delta": args.delta,
            "accountant": args.accountant, "dataset_size": args.dataset_size, "batch_size": args.batch_size,
            "epochs": args.epochs,
        }))
    else:
        print(f"noise multiplier = {sigma:.4f} reaches epsilon <= {args.target_epsilon:g} at delta = {args.delta:g} ({args.accountant})")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m dpviz", description="Explore DP-SGD's privacy-utility trade-off.")
    parser.add_argument("--home", default=None, help="data directory for the run store (default: $DPVIZ_HOME or ~/.dpviz)")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    p = sub.add_parser("epsilon", help="epsilon for DP-SGD settings")
    _add_privacy_arguments(p)
    p.set_defaults(func=cmd_epsilon)

    p = sub.add_parser("calibrate", help="the noise multiplier that meets a target epsilon")
    p.add_argument("--target-epsilon", type=float, required=True)
    _add_privacy_arguments(p, noise=False)
    p.set_defaults(func=cmd_calibrate)

    for register in _extra_commands():
        register(sub)
    return parser


def _extra_commands():
    from dpviz import cli_export, cli_runs, cli_train

    return [cli_train.register, cli_runs.register, cli_export.register]


def main(argv=None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        return args.func(args)
    except UsageError as err:
        print(f"error: {err}", file=sys.stderr)
        return EXIT_USAGE
    except ValidationError as err:
        print(f"error: --{err.field.replace('_', '-')}: {err.message}", file=sys.stderr)
        return EXIT_USAGE
