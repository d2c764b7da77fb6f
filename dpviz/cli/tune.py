"""`python -m dpviz tune ...`: a hyperparameter search under a privacy budget; `studies` lists and shows them."""

from __future__ import annotations

import argparse
import json
import sys

from dpviz.cli.common import number
from dpviz.datasets import DATASETS
from dpviz.training.config import MODELS, OPTIMIZERS, SAMPLERS
from dpviz.tuning.backends import BACKENDS
from dpviz.tuning.config import SEARCHES, TuneConfig


def register(sub) -> None:
    p = sub.add_parser(
        "tune",
        help="search learning rate and clip norm under a privacy budget (Optuna; the search's own cost accounted)",
        description="Every trial is a stored run. In the default random search, the number of trials is drawn at "
        "random and sigma is calibrated so that the best of them meets --target-epsilon for the whole search "
        "(Papernot & Steinke, dp-accounting's RepeatAndSelect). --search tpe explores adaptively and claims no "
        "total epsilon.",
    )
    p.add_argument("--dataset", choices=tuple(DATASETS), default="digits", help="digits and synthetic work offline")
    p.add_argument(
        "--dataset-size", type=int, default=None, help="training examples used (default: all but validation)"
    )
    p.add_argument("--model", choices=MODELS, default="logreg", help="the network every trial trains")
    p.add_argument("--optimizer", choices=OPTIMIZERS, default="sgd", help="the optimizer every trial uses")
    p.add_argument("--epochs", type=float, default=20, help="passes over the data, shared by every trial")
    p.add_argument("--batch-size", type=int, default=128, help="expected batch size, shared by every trial")
    p.add_argument("--sampler", choices=SAMPLERS, default="poisson", help="how every trial draws its batches")
    p.add_argument("--target-epsilon", type=float, default=3.0, help="epsilon of the whole search")
    p.add_argument("--delta", type=float, default=1e-5, help="delta of the guarantee")
    p.add_argument("--trials-mean", type=float, default=8, help="expected number of trials (at least 1)")
    p.add_argument(
        "--trials-shape",
        default="geometric",
        help="distribution of the number of trials: poisson, geometric (1), logarithmic (0), or a truncated "
        "negative binomial's shape",
    )
    p.add_argument("--learning-rate-range", default="0.05,2", help="LOW,HIGH searched on a log scale")
    p.add_argument("--clip-norm-range", default="0.1,5", help="LOW,HIGH searched on a log scale")
    p.add_argument("--momentum-range", default="0,0.9", help="LOW,HIGH for sgd, or 'none' to keep momentum 0")
    p.add_argument("--validation-size", type=int, default=None, help="examples held out to choose the best trial")
    p.add_argument("--search", choices=SEARCHES, default="random", help="random: accounted; tpe: exploration only")
    p.add_argument("--backend", choices=BACKENDS, default="local", help="local worker processes, or Ray")
    p.add_argument("--ray-address", default=None, help="a Ray cluster (default: $DPVIZ_RAY_ADDRESS, else local)")
    p.add_argument("--seed", type=int, default=None, help="seeds the number of trials and their draws (reproducible)")
    p.add_argument("--no-baselines", action="store_true", help="skip the non-private baseline of each schedule")
    p.add_argument("--name", default="", help="a name for the study, shown on the Tune and Runs pages")
    p.add_argument("--study-id", default=None, help=argparse.SUPPRESS)  # set by the Tune page
    p.add_argument("--config-json", default=None, help=argparse.SUPPRESS)  # the Tune page's TuneConfig
    p.add_argument(
        "--store",
        action="store_true",
        help="accepted for symmetry with train: a study's trials are always stored runs (see --home)",
    )
    p.add_argument("--json", action="store_true", help="one JSON line per finished trial, then a summary line")
    p.set_defaults(func=cmd_tune)

    s = sub.add_parser("studies", help="list, show or cancel stored studies")
    actions = s.add_subparsers(dest="action", required=True)
    ls = actions.add_parser("list", help="every stored study, newest first")
    ls.add_argument("--json", action="store_true", help="one JSON summary per line")
    ls.set_defaults(func=cmd_studies_list)
    show = actions.add_parser("show", help="one study's trials and summary")
    show.add_argument("study", help="a study id or a unique prefix")
    show.add_argument("--json", action="store_true", help="the trials, then the summary, one JSON object a line")
    show.set_defaults(func=cmd_studies_show)
    cancel = actions.add_parser("cancel", help="ask a running study to stop")
    cancel.add_argument("study", help="a study id or a unique prefix")
    cancel.set_defaults(func=cmd_studies_cancel)


def config_from_args(args) -> TuneConfig:
    if args.config_json:
        return TuneConfig.from_dict(json.loads(args.config_json))  # ranges come back as pairs (parse_range)
    momentum = None if str(args.momentum_range).strip().lower() in ("none", "") else args.momentum_range
    return TuneConfig(
        target_epsilon=args.target_epsilon,
        delta=args.delta,
        dataset=args.dataset,
        dataset_size=args.dataset_size,
        model=args.model,
        optimizer=args.optimizer,
        batch_size=args.batch_size,
        epochs=args.epochs,
        sampler=args.sampler,
        trials_mean=args.trials_mean,
        trials_shape=args.trials_shape,
        learning_rate_range=args.learning_rate_range,
        clip_norm_range=args.clip_norm_range,
        momentum_range=None if args.optimizer == "adam" else momentum,
        search=args.search,
        seed=args.seed,
        validation_size=args.validation_size,
        baselines=not args.no_baselines,
        name=args.name,
    )


def _trial_line(row) -> str:
    params = f"lr {number(row.params.get('learning_rate'))}  C {number(row.params.get('clip_norm'))}"
    if "momentum" in row.params:
        params += f"  momentum {number(row.params['momentum'], 3)}"
    return (
        f"trial {row.number:3d}  {row.state:8}  {params}  validation acc {number(row.validation_accuracy)}  "
        f"test acc {number(row.test_accuracy)}  (run {row.run_id})"
    )


def _summary_lines(summary: dict) -> list[str]:
    best = summary["best"]
    lines = [
        f"study {summary['study']} ({summary['search']} search, {summary['backend']}): {summary['status']}, "
        f"{summary['trials_run']} trial(s) run"
        + (f" of {summary['trials_drawn']} drawn" if summary["search"] == "random" else ""),
        f"sigma {summary['noise_multiplier']:g}, q {summary['sampling_probability']:.4g}, {summary['steps']} steps; "
        f"epsilon of one trial {summary['epsilon_per_trial']:.3f}, of the whole search "
        + (f"{summary['epsilon_total']:.3f}" if summary["epsilon_total"] is not None else "not claimed")
        + f" (delta {summary['delta']:g})",
        f"splits: {summary['train_size']:,} training, {summary['validation_size']:,} validation (chooses the best), "
        f"{summary['test_size']:,} test (reports it)",
    ]
    if best:
        lines.append(
            f"best: trial {best['trial']} (run {best['run_id']}): lr {number(best['learning_rate'])}, "
            f"C {number(best['clip_norm'])}"
            + (f", momentum {number(best['momentum'], 3)}" if best.get("momentum") is not None else "")
            + f"; validation accuracy {number(best['validation_accuracy'])}, test accuracy "
            f"{number(best['test_accuracy'])}"
        )
    else:
        lines.append("best: none (no trial completed)")
    lines.append(summary["note"])
    return lines


def cmd_tune(args) -> int:
    from dpviz.tuning.study import run_study  # it calibrates σ first: an unreachable target exits 2 untrained

    config = config_from_args(args)  # ValidationError -> exit 2, before anything trains

    def printer(row) -> None:
        print(json.dumps(row.to_dict()) if args.json else _trial_line(row), flush=True)

    def started(record) -> None:
        if not args.json:
            drawn = record.trials_drawn
            print(
                f"study {record.id}: sigma {record.cost['noise_multiplier']:g} for every trial; "
                + (f"{drawn} trial(s) drawn" if record.accounted else f"{drawn} trial(s), exploration"),
                flush=True,
            )

    record = run_study(
        config,
        home=args.home,
        backend=args.backend,
        ray_address=args.ray_address,
        study_id=args.study_id,
        on_trial=printer,
        on_start=started,
    )
    summary = record.summary()
    if args.json:
        print(json.dumps(summary), flush=True)
    else:
        print("\n".join(_summary_lines(summary)))
    return 0 if record.status == "completed" else 1


def cmd_studies_list(args) -> int:
    from dpviz.tuning.study import list_studies

    records = list_studies(args.home)
    for record in records:
        summary = record.summary()
        if args.json:
            print(json.dumps(summary))
        else:
            best = summary["best"]
            print(
                f"{record.id}  {record.status:11} {record.config.search:6} "
                f"{record.config.dataset}/{record.config.model}"
                f"  {summary['trials_run']} trial(s)  best test acc "
                f"{number(best['test_accuracy']) if best else '-'}  search epsilon "
                f"{number(summary['epsilon_total'], 3)}  {record.config.name}"
            )
    if not records and not args.json:
        print("no studies yet: python -m dpviz tune ...", file=sys.stderr)
    return 0


def cmd_studies_show(args) -> int:
    from dpviz.tuning.study import load

    record = load(args.home, args.study)
    if args.json:
        for row in record.trials:
            print(json.dumps(row.to_dict()))
        print(json.dumps(record.summary()))
    else:
        for row in record.trials:
            print(_trial_line(row))
        print("\n".join(_summary_lines(record.summary())))
    return 0


def cmd_studies_cancel(args) -> int:
    from dpviz.tuning.study import load, request_cancel

    record = load(args.home, args.study)
    if record.status != "running":
        print(f"study {record.id} is {record.status}: nothing to cancel")
        return 0
    request_cancel(args.home, record.id)
    print(f"study {record.id}: asked to stop; its running trials are cancelled within a second")
    return 0
