"""`python -m dpviz export`: a comparison chart or its data, written to a file."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from dpviz.compare.export import FORMATS
from dpviz.compare.tables import CHARTS
from dpviz.training.config import HYPERPARAMETERS


def register(sub) -> None:
    p = sub.add_parser("export", help="write a comparison chart (png, svg, html) or its data (csv, json)")
    p.add_argument("--runs", required=True, help="comma-separated run ids (unique prefixes work), or 'all'")
    p.add_argument("--chart", choices=CHARTS, required=True, help="which comparison chart")
    p.add_argument("--x", choices=HYPERPARAMETERS, default="noise_multiplier", help="the hyperparameter chart's x axis")
    p.add_argument("--format", choices=FORMATS, default=None, help="default: the --out file's extension")
    p.add_argument("--out", required=True, help="file to write")
    p.set_defaults(func=cmd_export)


def cmd_export(args) -> int:
    from dpviz.compare.export import ExportUnavailable, export_bytes, stop_server
    from dpviz.compare.figures import chart_figure
    from dpviz.compare.tables import chart_table, resolve_runs, runs_frame, select
    from dpviz.runs.store import SqliteRunStore
    from dpviz.validation import ValidationError

    out = Path(args.out)
    if os.path.isdir(out):
        raise ValidationError("out", f"{args.out!r} is a directory; give a file name such as frontier.png")
    fmt = args.format or out.suffix.lstrip(".").lower()
    if fmt not in FORMATS:
        raise ValidationError(
            "format", f"must be one of {', '.join(FORMATS)} (or an --out file ending in one), got {fmt!r}"
        )
    store = SqliteRunStore(args.home)
    frame = runs_frame(store.list())
    if frame.empty:
        raise ValidationError("runs", f"the run store {store.path} has no runs yet")
    selection = select(frame, resolve_runs(frame, args.runs))
    rows = store.metric_rows(selection["id"]) if args.chart == "curves" else ()
    figure = chart_figure(args.chart, selection, rows, x=args.x) if fmt in ("png", "svg", "html") else None
    table = chart_table(args.chart, selection, rows, x=args.x)
    try:
        data = export_bytes(fmt, figure=figure, table=table)
    except ExportUnavailable as err:
        print(f"error: --format {fmt}: {err}", file=sys.stderr)
        return 1
    finally:
        stop_server()
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(data)
    except OSError as err:
        raise ValidationError("out", f"cannot write {str(out)[:80]!r}: {err.strerror or err}") from None
    private = int((selection["kind"] == "private").sum())
    print(
        f"wrote {out} ({len(data):,} bytes): {args.chart} chart of {private} private run(s) and "
        f"{len(selection) - private} baseline(s) as {fmt}"
    )
    return 0
