"""`python -m dpviz statement`: a privacy statement for a stored run or for planned settings."""

from __future__ import annotations

from dpviz.privacy.labels import ACCOUNTANTS, SAMPLERS


def register(sub) -> None:
    p = sub.add_parser("statement", help="a privacy statement (Markdown or JSON) for a run or for settings")
    p.add_argument("--run", default=None, help="a stored private run's id (a unique prefix works)")
    p.add_argument("--study", default=None, help="a stored study's id: the whole search's statement")
    p.add_argument("--format", choices=("md", "json"), default="md", help="Markdown for people, JSON for files")
    p.add_argument("--dataset-size", type=int, default=None, help="without --run: training examples n")
    p.add_argument("--batch-size", type=int, default=None, help="without --run: expected batch size b")
    p.add_argument("--noise-multiplier", type=float, default=None, help="without --run: sigma")
    p.add_argument("--epochs", type=float, default=None, help="without --run: passes over the data")
    p.add_argument("--clip-norm", type=float, default=None, help="without --run: C (scales the noise, not epsilon)")
    p.add_argument("--delta", type=float, default=1e-5, help="without --run: delta")
    p.add_argument("--accountant", choices=ACCOUNTANTS, default="rdp", help="without --run: the accountant")
    p.add_argument("--sampler", choices=SAMPLERS, default="poisson", help="without --run: how batches are drawn")
    p.set_defaults(func=cmd_statement)


SETTINGS = ("dataset_size", "batch_size", "noise_multiplier", "epochs")


def cmd_statement(args) -> int:
    from dpviz.privacy.params import PrivacyParams
    from dpviz.privacy.statement import render, run_statement, statement
    from dpviz.validation import ValidationError

    if args.study is not None:
        from dpviz.tuning.study import load, study_statement

        record = load(args.home, args.study)
        data = study_statement(record)
        if data is None:
            raise ValidationError(
                "study", f"{record.id} ({record.config.search} search, {record.status}) claims no ε for the search"
            )
    elif args.run is not None:
        from dpviz.cli.common import open_store
        from dpviz.runs.store import match_ids

        store = open_store(args)
        run_id = match_ids([r.id for r in store.list()], args.run, field="run")
        data = run_statement(store.get(run_id))
        if data is None:
            raise ValidationError(
                "run", f"{run_id} is a baseline or its settings cannot be read: no guarantee to state"
            )
    else:
        missing = [name for name in SETTINGS if getattr(args, name) is None]
        if missing:
            raise ValidationError(missing[0], "is required without --run (or give --run ID)")
        params = PrivacyParams(**{name: getattr(args, name) for name in SETTINGS}, delta=args.delta)
        data = statement(params, sampler=args.sampler, accountant=args.accountant, clip_norm=args.clip_norm)
    print(render(data, args.format))
    return 0
