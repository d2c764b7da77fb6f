"""Plotly figures of training runs: live curves and membership-inference ROC for a pair, and the
charts comparing stored runs (privacy-utility frontier, curve overlays, hyperparameter comparison).
The comparison charts are built from `tables`, so an export matches the page."""

from __future__ import annotations

import math

import pandas as pd
import plotly.graph_objects as go
from plotly.colors import qualitative
from plotly.subplots import make_subplots

from dpviz.compare.tables import (
    CHARTS,
    SETTINGS,
    TASK,
    curves_data,
    frontier_data,
    hyperparameter_data,
    require_hyperparameter,
)
from dpviz.plotting import data_range, log_axis, rounded
from dpviz.training.config import HYPERPARAMETER_LABELS
from dpviz.validation import require_choice

PALETTE = qualitative.Plotly
HOVER_FIELDS = ("id", *(name for name in TASK if name != "canaries"), *SETTINGS, "test_accuracy", "epsilon")
_LAYOUT = dict(margin=dict(l=10, r=10, t=50, b=10), legend=dict(orientation="h", y=-0.2), template="plotly_white")


def _hover(frame: pd.DataFrame):
    """customdata + template showing every hyperparameter of a run."""
    data = frame[list(HOVER_FIELDS)].astype(object).where(frame[list(HOVER_FIELDS)].notna(), None).values.tolist()
    data = [[rounded(v) for v in row] for row in data]
    lines = [f"{name.replace('_', ' ')}: %{{customdata[{i}]}}" for i, name in enumerate(HOVER_FIELDS)]
    return data, "<br>".join(lines) + "<extra></extra>"


def _empty(fig: go.Figure, message: str) -> go.Figure:
    fig.add_annotation(text=message, showarrow=False, xref="paper", yref="paper", x=0.5, y=0.5, font=dict(size=14))
    return fig


def frontier_figure(selection: pd.DataFrame) -> go.Figure:
    points, baselines = frontier_data(selection)
    fig = go.Figure()
    groups = sorted(set(zip(points["dataset"], points["model"])) | set(zip(baselines["dataset"], baselines["model"])))
    colors = {g: PALETTE[i % len(PALETTE)] for i, g in enumerate(groups)}
    for (dataset, model), group in points.groupby(["dataset", "model"], sort=True):
        finite = group[group["epsilon"].apply(math.isfinite)]
        customdata, template = _hover(finite)
        fig.add_trace(
            go.Scatter(
                x=finite["epsilon"],
                y=finite["test_accuracy"],
                mode="markers+text",
                text=finite["point_label"],
                textposition="top center",
                textfont=dict(size=10),
                name=f"DP-SGD · {dataset}/{model}",
                marker=dict(size=11, color=colors[(dataset, model)], line=dict(width=1, color="white")),
                customdata=customdata,
                hovertemplate=template,
            )
        )
        front = finite[finite["pareto"]].sort_values("epsilon")
        if len(front) >= 2:
            fig.add_trace(
                go.Scatter(
                    x=front["epsilon"],
                    y=front["test_accuracy"],
                    mode="lines",
                    line=dict(color=colors[(dataset, model)], width=2, shape="hv"),
                    name=f"Pareto front · {dataset}/{model}",
                    hoverinfo="skip",
                )
            )
    for _, row in baselines.iterrows():
        label = f"non-private · {row['dataset']}/{row['model']}: {row['test_accuracy']:.1%}"
        if row["runs"] > 1:
            label += f" (mean of {row['runs']}, {row['lowest']:.1%}–{row['highest']:.1%})"
        fig.add_hline(
            y=row["test_accuracy"],
            line_dash="dash",
            line_color=colors[(row["dataset"], row["model"])],
            annotation_text=label,
            annotation_position="bottom right",
        )
    fig.update_layout(
        title="Privacy-utility frontier: test accuracy vs ε (line: the Pareto front)",
        xaxis_title="ε (lower is more private)",
        yaxis_title="final test accuracy",
        height=460,
        **_LAYOUT,
    )
    if len(points) and points["epsilon"].max() / max(points["epsilon"].min(), 1e-9) > 20:
        log_axis(fig, "x", *data_range(fig, "x"))
    if points.empty:
        _empty(fig, "No completed private runs in the selection")
    return fig


def curves_figure(selection: pd.DataFrame, metric_rows) -> go.Figure:
    data = curves_data(selection, metric_rows)
    fig = make_subplots(rows=1, cols=2, subplot_titles=("Test accuracy", "ε spent"), horizontal_spacing=0.08)
    private_ids = list(selection.loc[selection["kind"] == "private", "id"])
    colors = {rid: PALETTE[i % len(PALETTE)] for i, rid in enumerate(private_ids)}
    baseline_color = dict(zip(selection["baseline_id"], selection["id"].map(colors)))
    for run_id, run in data.groupby("run_id", sort=False):
        kind, label = run["kind"].iloc[0], run["label"].iloc[0]
        color = colors.get(run_id) or baseline_color.get(run_id) or "#7f7f7f"
        dash = "dash" if kind == "baseline" else "solid"
        for col, metric in ((1, "test_accuracy"), (2, "epsilon")):
            series = run[(run["metric"] == metric) & run["value"].notna()].sort_values("epoch")
            if series.empty:
                continue
            fig.add_trace(
                go.Scatter(
                    x=series["epoch"],
                    y=series["value"],
                    name=label,
                    legendgroup=run_id,
                    showlegend=col == 1,
                    mode="lines+markers",
                    line=dict(color=color, dash=dash),
                    marker=dict(size=5),
                    hovertemplate=f"{label}<br>epoch %{{x}}<br>{metric.replace('_', ' ')} %{{y:.4g}}<extra></extra>",
                ),
                row=1,
                col=col,
            )
    fig.update_xaxes(title_text="epoch")
    fig.update_layout(title="Selected runs by epoch (baselines dashed)", height=460, **_LAYOUT)
    if data.empty:
        _empty(fig, "No epochs recorded for the selected runs yet")
    return fig


def hyperparameter_figure(selection: pd.DataFrame, x: str) -> go.Figure:
    require_hyperparameter(x)
    points = hyperparameter_data(selection, x)
    fig = make_subplots(
        rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.08, subplot_titles=("Final test accuracy", "ε")
    )
    for i, (others, group) in enumerate(points.groupby("others", sort=True)):
        color = PALETTE[i % len(PALETTE)]
        for row, metric in ((1, "test_accuracy"), (2, "epsilon")):
            shown = group[group[metric].apply(lambda v: v is not None and math.isfinite(v))]
            customdata, template = _hover(shown)
            fig.add_trace(
                go.Scatter(
                    x=shown[x],
                    y=shown[metric],
                    name=others,
                    legendgroup=others,
                    showlegend=row == 1,
                    mode="lines+markers",
                    line=dict(color=color),
                    marker=dict(size=9),
                    customdata=customdata,
                    hovertemplate=template,
                ),
                row=row,
                col=1,
            )
    _, baselines = frontier_data(selection)
    for _, base in baselines.iterrows():
        fig.add_hline(
            y=base["test_accuracy"],
            line_dash="dash",
            line_color="#7f7f7f",
            row=1,
            col=1,
            annotation_text=f"non-private {base['dataset']}/{base['model']}: {base['test_accuracy']:.1%}",
            annotation_position="bottom right",
        )
    label = HYPERPARAMETER_LABELS[x]
    fig.update_xaxes(title_text=label, row=2, col=1)
    fig.update_yaxes(title_text="accuracy", row=1, col=1)
    fig.update_yaxes(title_text="ε", row=2, col=1)
    values = points[x].dropna()
    if len(values) and values.min() > 0 and values.max() / values.min() >= 16:
        log_axis(fig, "x", values.min(), values.max(), row=2, col=1)
        log_axis(fig, "x", values.min(), values.max(), row=1, col=1)
    tasks = sorted({f"{d}/{m}" for d, m in zip(points["dataset"], points["model"])})
    where = f" · {tasks[0]}" if len(tasks) == 1 else ""  # several tasks: the legend names each
    fig.update_layout(title=f"Accuracy and ε against the {label}{where}", height=560, **_LAYOUT)
    if points.empty:
        _empty(fig, "No completed private runs in the selection")
    return fig


def chart_figure(chart: str, selection: pd.DataFrame, metric_rows=(), *, x: str = "noise_multiplier") -> go.Figure:
    require_choice("chart", chart, CHARTS)
    if chart == "frontier":
        return frontier_figure(selection)
    if chart == "curves":
        return curves_figure(selection, metric_rows)
    return hyperparameter_figure(selection, x)


RUN_COLORS = {"private": "#1f77b4", "baseline": "#7f7f7f"}


def training_figure(
    series: dict[str, dict],
    metric: str,
    *,
    title: str,
    target: float | None = None,
    traces: dict[str, list] | None = None,
) -> go.Figure:
    """One metric over epochs for a private run and its baseline (series: kind -> store.metrics()).

    `traces` (kind -> [(epoch as a fraction, training loss)]) adds the per-step loss, so the chart moves
    from the first steps instead of after the first epoch.
    """
    fig = go.Figure()
    for kind, points in (traces or {}).items():
        if points:
            fig.add_trace(
                go.Scatter(
                    x=[p[0] for p in points],
                    y=[p[1] for p in points],
                    name=f"{kind} · train loss per step",
                    mode="lines",
                    line=dict(color=RUN_COLORS.get(kind), width=1),
                    opacity=0.45,
                    hovertemplate="epoch %{x:.3g}<br>train loss %{y:.4g}<extra></extra>",
                )
            )
    for kind, metrics in series.items():
        for name, dash in (
            ((f"test_{metric}", "solid"), (f"train_{metric}", "dot"))
            if metric in ("accuracy", "loss")
            else ((metric, "solid"),)
        ):
            points = [(e, v) for e, v in metrics.get(name, []) if v is not None]
            if not points:
                continue
            label = f"{kind} · {name.replace('_', ' ')}" if metric in ("accuracy", "loss") else kind
            fig.add_trace(
                go.Scatter(
                    x=[p[0] for p in points],
                    y=[p[1] for p in points],
                    name=label,
                    mode="lines+markers",
                    line=dict(color=RUN_COLORS.get(kind), dash=dash),
                    hovertemplate=f"{label}<br>epoch %{{x}}<br>%{{y:.4g}}<extra></extra>",
                )
            )
    if target:
        fig.add_hline(y=target, line_dash="dot", line_color="red", annotation_text=f"target ε {target:g}")
    fig.update_layout(
        title=title,
        xaxis_title="epoch",
        height=320,
        margin=dict(l=10, r=10, t=40, b=10),
        legend=dict(orientation="h", y=-0.3),
    )
    return fig


def roc_figure(audits: dict[str, dict], bound=None) -> go.Figure:
    """Membership-inference ROC curves on log-log axes (low FPR is where privacy is decided), with
    `bound` (privacy.attack_bounds.AttackBounds): the most the DP-SGD run's guarantee lets any attack reach."""
    fig = go.Figure()
    floor = 1e-4
    if bound is not None:
        fig.add_trace(
            go.Scatter(
                x=[max(v, floor) for v in bound.fpr],
                y=[max(v, floor) for v in bound.tpr],
                mode="lines",
                name="DP-SGD guarantee: no attack above this",
                line=dict(color="#d62728", width=2),
                hovertemplate="FPR %{x:.3g}<br>TPR at most %{y:.3g}<extra>bound</extra>",
            )
        )
    for label, audit in audits.items():
        kind = "private" if label.startswith("DP-SGD") else "baseline"
        for name, dash in (("loss_threshold", "solid"), ("learned", "dot")):
            attack = audit["attacks"].get(name)
            if not attack:
                continue
            fpr = [max(v, floor) for v in attack["roc_fpr"]]
            tpr = [max(v, floor) for v in attack["roc_tpr"]]
            fig.add_trace(
                go.Scatter(
                    x=fpr,
                    y=tpr,
                    mode="lines",
                    name=f"{label} · {name.replace('_', ' ')} (AUC {attack['auc']:.3f})",
                    line=dict(color=RUN_COLORS[kind], dash=dash, shape="hv"),
                    hovertemplate="FPR %{x:.4f}<br>TPR %{y:.4f}<extra></extra>",
                )
            )
    fig.add_trace(
        go.Scatter(x=[floor, 1], y=[floor, 1], mode="lines", name="chance", line=dict(color="#bbbbbb", dash="dash"))
    )
    log_axis(fig, "x", 1e-3, 1, title="false positive rate", range=[-3.2, 0])
    log_axis(fig, "y", 1e-3, 1, title="true positive rate", range=[-3.2, 0])
    fig.update_layout(
        title="Membership inference ROC (log-log)",
        height=420,
        margin=dict(l=10, r=10, t=40, b=10),
        legend=dict(orientation="h", y=-0.25),
    )
    return fig
