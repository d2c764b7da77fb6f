"""`python -m dpviz epsilon` and `python -m dpviz calibrate`: the budget explorer's questions."""

from __future__ import annotations

import argparse
import json

from dpviz.cli.common import epsilon
from dpviz.privacy.labels import ACCOUNTANT_LABELS, ACCOUNTANTS


def register(sub) -> None:
    p = sub.add_parser("epsilon", help="epsilon for DP-SGD settings")
    _add_privacy_arguments(p)
    p.set_defaults(func=cmd_epsilon)

    p = sub.add_parser("calibrate", help="the noise multiplier that meets a target epsilon")
    p.add_argument("--target-epsilon", type=float, required=True)
    _add_privacy_arguments(p, noise=False)
    p.set_defaults(func=cmd_calibrate)


def _add_privacy_arguments(parser: argparse.ArgumentParser, *, noise: bool = True) -> None:
    parser.add_argument("--dataset-size", type=int, required=True, help="number of training examples n")
    parser.add_argument("--batch-size", type=int, required=True, help="expected batch size b (q = b/n)")
    if noise:
        parser.add_argument("--noise-multiplier", type=float, required=True, help="sigma: noise std / clip norm")
    parser.add_argument("--epochs", type=float, required=True)
    parser.add_argument("--delta", type=float, default=1e-5)
    parser.add_argument("--accountant", choices=ACCOUNTANTS, default="rdp")
    parser.add_argument("--json", action="store_true", help="print one JSON object")


def cmd_epsilon(args) -> int:
    from dpviz.privacy.accountant import compute_epsilon
    from dpviz.privacy.params import PrivacyParams

    params = PrivacyParams(
        dataset_size=args.dataset_size,
        batch_size=args.batch_size,
        noise_multiplier=args.noise_multiplier,
        epochs=args.epochs,
        delta=args.delta,
    )
    report = compute_epsilon(params, args.accountant)
    if args.json:
        print(json.dumps(report.to_dict()))
        return 0
    print(f"epsilon = {epsilon(report.epsilon)} at delta = {report.delta:g}  [{ACCOUNTANT_LABELS[args.accountant]}]")
    print(f"steps = {report.steps}, sampling probability q = {report.sampling_probability:.6g} (Poisson sampling)")
    print(
        f"without sampling amplification (fixed shuffled batches): epsilon = {epsilon(report.epsilon_no_amplification)}"
    )
    for line in ([report.note] if report.note else []) + params.warnings():
        print(f"note: {line}")
    return 0


def cmd_calibrate(args) -> int:
    from dpviz.privacy.calibration import calibrate_noise

    sigma = calibrate_noise(
        target_epsilon=args.target_epsilon,
        dataset_size=args.dataset_size,
        batch_size=args.batch_size,
        epochs=args.epochs,
        target_delta=args.delta,
        accountant=args.accountant,
    )
    if args.json:
        print(
            json.dumps(
                {
                    "noise_multiplier": sigma,
                    "target_epsilon": args.target_epsilon,
                    "target_delta": args.delta,
                    "accountant": args.accountant,
                    "dataset_size": args.dataset_size,
                    "batch_size": args.batch_size,
                    "epochs": args.epochs,
                }
            )
        )
    else:
        print(
            f"noise multiplier = {sigma:.4f} reaches epsilon <= {args.target_epsilon:g} "
            f"at delta = {args.delta:g} ({args.accountant})"
        )
    return 0
