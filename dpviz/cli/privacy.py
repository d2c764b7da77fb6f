"""`python -m dpviz epsilon` and `python -m dpviz calibrate`: the budget explorer's questions."""

from __future__ import annotations

import argparse
import json

from dpviz.cli.common import epsilon
from dpviz.privacy.labels import ACCOUNTANT_LABELS, ACCOUNTANTS, RELATIONS, SAMPLERS


def register(sub) -> None:
    p = sub.add_parser("epsilon", help="epsilon for DP-SGD settings")
    _add_privacy_arguments(p)
    p.add_argument(
        "--exact",
        action="store_true",
        help="with --accountant pld: compute the tight value even where it takes long (progress on stderr)",
    )
    p.add_argument(
        "--memory-limit-gb",
        type=float,
        default=4.0,
        help="with --exact: stop with an error, instead of exhausting memory, past this many GB (default 4)",
    )
    p.set_defaults(func=cmd_epsilon)

    p = sub.add_parser("calibrate", help="the noise multiplier that meets a target epsilon")
    p.add_argument("--target-epsilon", type=float, required=True, help="the epsilon the noise must reach")
    _add_privacy_arguments(p, noise=False)
    p.set_defaults(func=cmd_calibrate)


def _add_privacy_arguments(parser: argparse.ArgumentParser, *, noise: bool = True) -> None:
    parser.add_argument("--dataset-size", type=int, required=True, help="number of training examples n")
    parser.add_argument("--batch-size", type=int, required=True, help="expected batch size b (q = b/n)")
    if noise:
        parser.add_argument("--noise-multiplier", type=float, required=True, help="sigma: noise std / clip norm")
    parser.add_argument("--epochs", type=float, required=True, help="passes over the data (steps = ceil(epochs n / b))")
    parser.add_argument("--delta", type=float, default=1e-5, help="delta of the (epsilon, delta) guarantee")
    parser.add_argument("--accountant", choices=ACCOUNTANTS, default="rdp", help="dp-accounting's accountant")
    parser.add_argument(
        "--sampler",
        choices=SAMPLERS,
        default="poisson",
        help="how batches are drawn: poisson (add/remove-one), fixed (without replacement, replace-one, RDP), "
        "shuffle (no amplification)",
    )
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
    if args.exact:
        report = _exact(params, args)
        if report is None:
            return 1
    else:
        report = compute_epsilon(params, args.accountant)
    if args.sampler != "poisson":
        return _other_sampler(params, args, report)
    if args.json:
        extra = {"sampler": "poisson", "neighboring_relation": RELATIONS["poisson"], **_attack_json(params, "poisson")}
        print(json.dumps({**report.to_dict(), **extra}))
        return 0
    print(f"epsilon = {epsilon(report.epsilon)} at delta = {report.delta:g}  [{_bound_label(report)}]")
    print(f"steps = {report.steps}, sampling probability q = {report.sampling_probability:.6g} (Poisson sampling)")
    print(
        f"without sampling amplification (fixed shuffled batches): epsilon = {epsilon(report.epsilon_no_amplification)}"
    )
    for line in ([report.note] if report.note else []) + params.warnings():
        print(f"note: {line}")
    return 0


def _attack_json(params, sampler: str) -> dict:
    """`attack_bounds` ([{fpr, max_tpr}]) and `max_advantage` for the JSON; null where none is stated
    (no noise, or a setting the profile cannot be read at)."""
    from dpviz.privacy.attack_bounds import attack_bounds

    try:
        bounds = attack_bounds(params, sampler=sampler)
    except (ValueError, OverflowError, ArithmeticError):
        bounds = None
    if bounds is None:
        return {"attack_bounds": None, "max_advantage": None}
    return {
        "attack_bounds": [{"fpr": f, "max_tpr": t} for f, t in bounds.tpr_at.items()],
        "max_advantage": bounds.advantage,
    }


def _other_sampler(params, args, report) -> int:
    """epsilon for fixed-size or shuffled batches: that sampler's own guarantee."""
    from dpviz.privacy.samplers import guarantee

    g = guarantee(params, args.sampler, args.accountant, report=report)
    if args.json:
        extra = {"steps": report.steps, "sampling_probability": report.sampling_probability}
        print(json.dumps({**g.to_dict(), **extra, **_attack_json(params, args.sampler)}))
        return 0
    print(
        f"epsilon = {epsilon(g.epsilon)} at delta = {g.delta:g}  [{args.sampler} sampling, "
        f"{g.neighboring_relation} neighbours, {ACCOUNTANT_LABELS.get(g.accountant, g.accountant)}]"
    )
    print(f"steps = {report.steps}" + (f", batches of exactly {params.batch_size}" if args.sampler == "fixed" else ""))
    for line in ([g.note] if g.note else []) + params.warnings():
        print(f"note: {line}")
    return 0


def _bound_label(report) -> str:
    """Which computation the printed epsilon comes from, when it is not the accountant asked for."""
    label = ACCOUNTANT_LABELS[report.bound]
    return label if report.bound == report.accountant else f"{label}, in place of {report.accountant}: see the note"


def cmd_calibrate(args) -> int:
    from dpviz.privacy.calibration import calibrate_noise

    sigma = calibrate_noise(
        target_epsilon=args.target_epsilon,
        dataset_size=args.dataset_size,
        batch_size=args.batch_size,
        epochs=args.epochs,
        target_delta=args.delta,
        accountant=args.accountant,
        sampler=args.sampler,
    )
    if args.json:
        print(
            json.dumps(
                {
                    "noise_multiplier": sigma,
                    "target_epsilon": args.target_epsilon,
                    "target_delta": args.delta,
                    "accountant": "rdp" if args.sampler == "fixed" else args.accountant,
                    "sampler": args.sampler,
                    "neighboring_relation": RELATIONS[args.sampler],
                    "dataset_size": args.dataset_size,
                    "batch_size": args.batch_size,
                    "epochs": args.epochs,
                }
            )
        )
    else:
        print(
            f"noise multiplier = {sigma:.4f} reaches epsilon <= {args.target_epsilon:g} "
            f"at delta = {args.delta:g} ({'rdp' if args.sampler == 'fixed' else args.accountant}, "
            f"{args.sampler} sampling)"
        )
    return 0


def _exact(params, args):
    """PLD without its cost bound, in a child process under a memory ceiling (so the ceiling binds the
    computation alone), with the elapsed time on stderr; None when it ran out of memory."""
    import dataclasses
    import subprocess
    import sys
    import time

    from dpviz.privacy.accountant import EpsilonReport
    from dpviz.validation import ValidationError, require_float

    if args.accountant != "pld":
        raise ValidationError("exact", "applies to --accountant pld only (RDP is always fast)")
    limit = require_float("memory_limit_gb", args.memory_limit_gb, minimum=0.5, maximum=1024)
    child = subprocess.Popen(
        [sys.executable, "-c", _EXACT_CHILD, json.dumps(dataclasses.asdict(params)), str(int(limit * 2**30))],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    start = time.monotonic()
    while True:
        try:
            out, err = child.communicate(timeout=5.0)
            break
        except subprocess.TimeoutExpired:
            print(f"computing the exact PLD epsilon... {time.monotonic() - start:.0f} s", file=sys.stderr, flush=True)
        except KeyboardInterrupt:
            child.kill()
            raise
    if child.returncode == 3 or "MemoryError" in err:
        print(
            f"error: --memory-limit-gb: the exact PLD needs more than {limit:g} GB here; without --exact "
            "the RDP bound is reported",
            file=sys.stderr,
        )
        return None
    if child.returncode != 0:
        last = (err.strip().splitlines() or [f"exit {child.returncode}"])[-1]
        print(f"error: --exact: the exact PLD computation failed ({last})", file=sys.stderr)
        return None
    data = json.loads(out)
    return EpsilonReport(**{k: (float("inf") if v is None and k.startswith("epsilon") else v) for k, v in data.items()})


_EXACT_CHILD = """
import json, resource, sys
resource.setrlimit(resource.RLIMIT_AS, (int(sys.argv[2]), resource.getrlimit(resource.RLIMIT_AS)[1]))
from dpviz.privacy.accountant import compute_epsilon
from dpviz.privacy.params import PrivacyParams
try:
    report = compute_epsilon(PrivacyParams(**json.loads(sys.argv[1])), "pld", exact=True)
except MemoryError:
    sys.exit(3)
print(json.dumps(report.to_dict()))
"""
