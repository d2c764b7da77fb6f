"""Stored runs as tables for comparison: one row per run, filters, and the data behind each chart.

Plain pandas over `Run` records, so the Runs page, the exporter and the CLI share one definition
of "the frontier" or "the hyperparameter chart". A private run is compared with its baseline: the
one launched with it (same group) or, in a sweep, the shared one with the same training schedule.
"""

from __future__ import annotations

import datetime as dt
import math

import pandas as pd

from dpviz.datasets import DATASETS
from dpviz.runs.store import match_ids
from dpviz.training.config import CONFIG_DEFAULTS, HYPERPARAMETERS, UNUSED_BY_BASELINE, schedule_key
from dpviz.validation import ValidationError

CHARTS = ("frontier", "curves", "hyperparameter")
TASK = ("dataset", "model", "train_size", "canaries")
SETTINGS = (*HYPERPARAMETERS, "optimizer", "sampler", "accountant", "delta", "seed")
RESULTS = ("test_accuracy", "epsilon", "epsilon_no_amplification")
COLUMNS = ("id", "kind", "status", *TASK, *SETTINGS, *RESULTS, "duration_s", "created", "group_id", "sweep_id")
COLUMNS += ("baseline_id", "device", "error")


def runs_frame(runs) -> pd.DataFrame:
    """One row per run (newest first), with the final figures and the id of each private run's baseline."""
    rows = []
    for run in runs:
        c = run.config
        final = (run.final or {}).get("final", {}) or {}
        epsilon = final.get("epsilon")
        if run.kind == "private" and run.status == "completed" and epsilon is None and c.get("noise_multiplier") == 0:
            epsilon = math.inf  # stored as null: no noise means no guarantee
        rows.append(
            {
                "id": run.id,
                "kind": run.kind,
                "status": run.status,
                "dataset": c.get("dataset"),
                "model": c.get("model"),
                "train_size": c.get("dataset_size") or getattr(DATASETS.get(c.get("dataset")), "train_size", None),
                "canaries": c.get("canaries", CONFIG_DEFAULTS["canaries"]),
                **{
                    name: None if run.kind == "baseline" and name in UNUSED_BY_BASELINE else c.get(name)
                    for name in HYPERPARAMETERS
                },
                "optimizer": c.get("optimizer"),
                "sampler": c.get("sampler"),
                "accountant": c.get("accountant"),
                "delta": c.get("delta"),
                "seed": c.get("seed"),
                "test_accuracy": final.get("test_accuracy"),
                "epsilon": epsilon if run.kind == "private" else None,
                "epsilon_no_amplification": final.get("epsilon_no_amplification") if run.kind == "private" else None,
                "duration_s": (run.finished_at - run.started_at) if run.finished_at and run.started_at else None,
                "created": dt.datetime.fromtimestamp(run.created_at),
                "group_id": run.group_id,
                "sweep_id": run.sweep_id,
                "baseline_id": None,
                "device": run.device,
                "error": run.error,
                "_schedule": schedule_key(c),
            }
        )
    frame = pd.DataFrame(rows, columns=[*COLUMNS, "_schedule"])
    for column in ("test_accuracy", "epsilon", "epsilon_no_amplification", "duration_s", *HYPERPARAMETERS, "delta"):
        frame[column] = pd.to_numeric(frame[column], errors="coerce")
    frame["baseline_id"] = _link_baselines(frame)
    return frame.drop(columns="_schedule").reset_index(drop=True)


def _link_baselines(frame: pd.DataFrame) -> list:
    baselines = frame[frame["kind"] == "baseline"]
    by_group = dict(zip(baselines["group_id"], baselines["id"]))
    by_sweep = {(s, k): i for s, k, i in zip(baselines["sweep_id"], baselines["_schedule"], baselines["id"]) if s}
    linked = []
    for kind, group, sweep, key in zip(frame["kind"], frame["group_id"], frame["sweep_id"], frame["_schedule"]):
        if kind != "private":
            linked.append(None)
        else:
            linked.append(by_group[group] if group in by_group else by_sweep.get((sweep, key)))
    return linked


def filter_frame(
    frame: pd.DataFrame,
    *,
    datasets=None,
    models=None,
    statuses=None,
    kinds=None,
    epsilon_range: tuple[float, float] | None = None,
) -> pd.DataFrame:
    """Rows matching every given filter. The epsilon range applies to private runs; baselines have none."""
    keep = pd.Series(True, index=frame.index)
    for column, allowed in (("dataset", datasets), ("model", models), ("status", statuses), ("kind", kinds)):
        if allowed:
            keep &= frame[column].isin(list(allowed))
    if epsilon_range is not None:
        low, high = epsilon_range
        eps = frame["epsilon"]
        in_range = eps.between(low, high) | ((eps == math.inf) & (high == math.inf))
        keep &= (frame["kind"] != "private") | in_range
    return frame[keep]


def select(frame: pd.DataFrame, run_ids) -> pd.DataFrame:
    """The chosen runs plus the baselines their private runs are compared with, in table order."""
    ids = set(run_ids)
    ids |= set(frame.loc[frame["id"].isin(ids) & frame["baseline_id"].notna(), "baseline_id"])
    return frame[frame["id"].isin(ids)]


def resolve_runs(frame: pd.DataFrame, spec: str) -> list[str]:
    """`all` or comma-separated ids (unique prefixes allowed), for the command line."""
    if spec.strip().lower() == "all":
        return list(frame["id"])
    chosen = [match_ids(frame["id"], part, field="runs") for part in filter(None, (p.strip() for p in spec.split(",")))]
    if not chosen:
        raise ValidationError("runs", "give run ids separated by commas, or 'all'")
    return chosen


def require_hyperparameter(name: str) -> str:
    if name not in HYPERPARAMETERS:
        raise ValidationError("x", f"must be one of {', '.join(HYPERPARAMETERS)}, got {name!r}")
    return name


# ---------------------------------------------------------------- chart data


def frontier_data(selection: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(points, baselines): completed private runs with accuracy and epsilon; mean baseline accuracy
    per dataset and model."""
    done = selection[selection["status"] == "completed"]
    points = done[(done["kind"] == "private") & done["test_accuracy"].notna() & done["epsilon"].notna()]
    base = done[(done["kind"] == "baseline") & done["test_accuracy"].notna()]
    baselines = (
        base.groupby(["dataset", "model"], sort=True)
        .agg(
            test_accuracy=("test_accuracy", "mean"),
            runs=("id", "count"),
            ids=("id", lambda s: ",".join(s)),
            lowest=("test_accuracy", "min"),
            highest=("test_accuracy", "max"),
        )
        .reset_index()
    )
    points = points.reset_index(drop=True)
    points["pareto"] = pareto_front(points)
    varying = [h for h in HYPERPARAMETERS if points[h].nunique() > 1]
    points["point_label"] = [
        " ".join(f"{_short(h)}={_fmt(row[h])}" for h in varying) or row["id"][:6] for _, row in points.iterrows()
    ]
    return points, baselines


def pareto_front(points: pd.DataFrame) -> list[bool]:
    """Whether each run is on its dataset/model's privacy-utility front: no other run there has both a
    lower-or-equal epsilon and a higher accuracy (ties in epsilon keep the more accurate run only)."""
    on_front = [False] * len(points)
    for _, group in points.groupby(["dataset", "model"], sort=False):
        best = -math.inf
        ordered = group.sort_values(["epsilon", "test_accuracy"], ascending=[True, False])
        for index, accuracy in zip(ordered.index, ordered["test_accuracy"]):
            if accuracy > best:
                on_front[points.index.get_loc(index)] = True
                best = accuracy
    return on_front


def varying_hyperparameter(selection: pd.DataFrame) -> str:
    """The first hyperparameter that differs between the selection's private runs: the natural x axis."""
    private = selection[selection["kind"] == "private"]
    return next((h for h in HYPERPARAMETERS if private[h].nunique() > 1), "noise_multiplier")


def hyperparameter_data(selection: pd.DataFrame, x: str) -> pd.DataFrame:
    """Completed private runs sorted by `x`, with `others`: the other hyperparameters that vary in the selection."""
    require_hyperparameter(x)
    points = selection[(selection["kind"] == "private") & (selection["status"] == "completed")].copy()
    varying = [h for h in HYPERPARAMETERS if h != x and points[h].nunique() > 1]
    several_tasks = points["dataset"].nunique() > 1 or points["model"].nunique() > 1
    points["others"] = [
        " ".join(
            ([f"{row['dataset']}/{row['model']}"] if several_tasks else [])
            + [f"{_short(h)}={_fmt(row[h])}" for h in varying]
        )
        or "all runs"
        for _, row in points.iterrows()
    ]
    return points.sort_values(["others", x]).reset_index(drop=True)


def curves_data(selection: pd.DataFrame, metric_rows) -> pd.DataFrame:
    """Long format: one row per (run, epoch, metric), with the run's kind and label."""
    labels = {row["id"]: run_label(row) for _, row in selection.iterrows()}
    kinds = dict(zip(selection["id"], selection["kind"]))
    rows = [
        {"run_id": rid, "kind": kinds[rid], "label": labels[rid], "epoch": epoch, "metric": name, "value": value}
        for rid, epoch, name, value in metric_rows
        if rid in labels
    ]
    return pd.DataFrame(rows, columns=["run_id", "kind", "label", "epoch", "metric", "value"])


def chart_table(chart: str, selection: pd.DataFrame, metric_rows=(), *, x: str = "noise_multiplier") -> pd.DataFrame:
    """The data a chart draws, as one table for CSV/JSON export."""
    if chart == "frontier":
        points, baselines = frontier_data(selection)
        lines = baselines.assign(kind="baseline (mean)", id=baselines["ids"]).drop(columns=["ids"])
        return pd.concat([points[[*_EXPORT_COLUMNS, "pareto"]], lines], ignore_index=True)
    if chart == "hyperparameter":
        return hyperparameter_data(selection, x)[_EXPORT_COLUMNS + ["others"]]
    if chart == "curves":
        return curves_data(selection, metric_rows)
    raise ValidationError("chart", f"must be one of {', '.join(CHARTS)}, got {chart!r}")


_EXPORT_COLUMNS = ["id", "kind", *TASK, *SETTINGS, *RESULTS, "sweep_id", "baseline_id"]


def _short(name: str) -> str:
    return {
        "noise_multiplier": "σ",
        "clip_norm": "C",
        "batch_size": "b",
        "epochs": "epochs",
        "learning_rate": "lr",
    }.get(name, name)


def _fmt(value) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def run_label(row) -> str:
    where = f"{row['dataset']}/{row['model']}"
    if row["kind"] == "baseline":
        return f"baseline {where} b={_fmt(row['batch_size'])} e={_fmt(row['epochs'])} · {row['id'][:6]}"
    return (
        f"σ={_fmt(row['noise_multiplier'])} C={_fmt(row['clip_norm'])} b={_fmt(row['batch_size'])} "
        f"e={_fmt(row['epochs'])} lr={_fmt(row['learning_rate'])} {where} · {row['id'][:6]}"
    )
