"""`python -m dpviz runs list|show` and `python -m dpviz worker`."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from dpviz.cli.common import number, open_store


def register(sub) -> None:
    p = sub.add_parser("worker", help="(internal) train queued runs from the store")
    p.add_argument("--warm", action="store_true", help="load TensorFlow before any run is queued")
    p.set_defaults(func=cmd_worker)
    p = sub.add_parser("runs", help="read the run store")
    runs = p.add_subparsers(dest="runs_command", required=True, parser_class=type(p))
    q = runs.add_parser("list", help="every run, newest first")
    q.add_argument("--json", action="store_true", help="one JSON object a line instead of a table")
    q.set_defaults(func=cmd_list)
    q = runs.add_parser("show", help="one run with its metrics")
    q.add_argument("run_id", help="a run id from `runs list` (a unique prefix works)")
    q.add_argument("--json", action="store_true", help="the run and its metrics as one JSON object")
    q.set_defaults(func=cmd_show)
    q = runs.add_parser("label", help="name and/or tag a run (shown on the Runs page and in `runs list`)")
    q.add_argument("run_id", help="a run id from `runs list` (a unique prefix works)")
    q.add_argument("--name", default=None, help="a name, at most 80 characters ('' clears it)")
    q.add_argument("--tags", default=None, help="comma-separated tags, replacing the run's ('' clears them)")
    q.add_argument("--tag", action="append", default=[], help="add one tag (repeatable)")
    q.add_argument("--untag", action="append", default=[], help="remove one tag (repeatable)")
    q.set_defaults(func=cmd_label)
    q = runs.add_parser("move-aside", help="rename a damaged run store beside itself (kept) so a new one starts")
    q.set_defaults(func=cmd_move_aside)


def cmd_worker(args) -> int:
    from dpviz.runs.worker import run_worker

    run_worker(args.home, warm=args.warm)
    return 0


def _summary(run, label: dict | None = None) -> dict:
    final = run.final.get("final", {}) if run.final else {}
    label = label or {}
    return {
        "name": label.get("name", ""),
        "tags": label.get("tags", []),
        "id": run.id,
        "kind": run.kind,
        "group_id": run.group_id,
        "sweep_id": run.sweep_id,
        "status": run.status,
        "created_at": run.created_at,
        "started_at": run.started_at,
        "finished_at": run.finished_at,
        "dataset": run.config.get("dataset"),
        "model": run.config.get("model"),
        "noise_multiplier": run.config.get("noise_multiplier"),
        "clip_norm": run.config.get("clip_norm"),
        "batch_size": run.config.get("batch_size"),
        "learning_rate": run.config.get("learning_rate"),
        "epochs": run.config.get("epochs"),
        "test_accuracy": final.get("test_accuracy"),
        "epsilon": final.get("epsilon"),
        "device": run.device,
        "error": run.error,
    }


def _cell(value) -> str:
    return f"{value:g}" if isinstance(value, (int, float)) and not isinstance(value, bool) else str(value or "-")


def cmd_list(args) -> int:
    store = open_store(args)
    labels = store.labels()
    runs = [_summary(run, labels.get(run.id)) for run in store.list()]
    if args.json:
        print(json.dumps(runs))
        return 0
    if not runs:
        print("no runs yet")
    else:
        print(
            f"{'id':12}  {'kind':8}  {'status':11}  {'dataset':9}  {'model':6}  "
            f"{'sigma':>5}  {'C':>5}  {'b':>5}  {'lr':>6}  {'acc':>6}  {'eps':>7}  created"
        )
    for r in runs:
        acc, eps = number(r["test_accuracy"], 3), number(r["epsilon"], 3)
        when = dt.datetime.fromtimestamp(r["created_at"]).strftime("%Y-%m-%d %H:%M")
        sigma, clip, batch, lr = (_cell(r[k]) for k in ("noise_multiplier", "clip_norm", "batch_size", "learning_rate"))
        print(
            f"{r['id']:12}  {r['kind']:8}  {r['status']:11}  {_cell(r['dataset']):9}  {_cell(r['model']):6}  "
            f"{sigma:>5}  {clip:>5}  {batch:>5}  {lr:>6}  {acc:>6}  {eps:>7}  {when}"
            + (f"  {r['name']}" if r["name"] else "")
            + (f"  [{', '.join(r['tags'])}]" if r["tags"] else "")
        )
    for run_id, reason in store.damaged():
        print(f"damaged, skipped: {run_id}: {reason}")
    return 0


def cmd_show(args) -> int:
    store = open_store(args)
    run = store.resolve(args.run_id)
    data = {
        **_summary(run, store.labels().get(run.id)),
        "config": run.config,
        "progress": run.progress,
        "final": run.final,
        "metrics": store.metrics(run.id),
    }
    if args.json:
        print(json.dumps(data))
        return 0
    print(f"run {run.id} ({run.kind}, group {run.group_id}): {run.status}" + (f" — {run.error}" if run.error else ""))
    print("config: " + ", ".join(f"{k}={v}" for k, v in sorted(run.config.items())))
    audit = (run.final or {}).get("audit")
    if audit:
        for name, a in audit["attacks"].items():
            print(
                f"membership inference ({name.replace('_', ' ')}): AUC {a['auc']:.3f}, advantage {a['advantage']:.3f}, "
                f"TPR at FPR 1% {a['tpr_at_fpr']['0.01']:.3f}, "
                f"epsilon >= {a['epsilon_lower']:.2f} ({audit['confidence']:.0%})"
            )
        if audit.get("canaries"):
            from dpviz.audit import exposure_summary

            print(exposure_summary(audit["canaries"]))
    metrics = data["metrics"]
    for i, (epoch, _) in enumerate(metrics.get("test_accuracy", [])):
        row = {name: values[i][1] for name, values in metrics.items() if i < len(values)}
        eps = row.get("epsilon")
        print(
            f"epoch {epoch:3d}: test acc {row.get('test_accuracy', 0):.4f}, loss {row.get('test_loss', 0):.4f}"
            + (f", epsilon {number(eps, 3)}" if eps is not None else "")
        )
    return 0


def cmd_label(args) -> int:
    from dpviz.runs.store import parse_tags

    store = open_store(args)
    run = store.resolve(args.run_id)
    current = store.labels().get(run.id, {"name": "", "tags": []})
    tags = parse_tags(args.tags) if args.tags is not None else list(current["tags"])
    tags += [t for t in parse_tags(args.tag) if t not in tags]
    tags = [t for t in tags if t not in set(parse_tags(args.untag))]
    store.set_label(run.id, name=args.name, tags=tags)
    label = store.labels()[run.id]
    print(f"run {run.id}: name {label['name'] or '-'}, tags {', '.join(label['tags']) or '-'}")
    return 0


def cmd_move_aside(args) -> int:
    from dpviz.runs.store import default_home, move_aside

    home = args.home or default_home()
    if not (Path(home) / "runs.sqlite3").exists():
        print(f"no run store in {home}: nothing to move")
        return 0
    print(f"moved the run store to {move_aside(home)} (kept); the next run starts a new one")
    return 0
