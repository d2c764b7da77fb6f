"""Plotly figures of the privacy budget: epsilon curves and landscapes (plain Python: no streamlit)."""

from __future__ import annotations

import math

import numpy as np
import plotly.graph_objects as go

from dpviz.plotting import data_range, log_axis
from dpviz.privacy.landscape import Curve, Grid

CURVE_STYLE = {
    "rdp": dict(name="RDP", color="#1f77b4", dash="solid"),
    "pld": dict(name="PLD (tight)", color="#2ca02c", dash="solid"),
    "rdp-legacy": dict(name="RDP, legacy conversion", color="#ff7f0e", dash="dot"),
    "no-amplification": dict(name="No amplification (shuffled batches)", color="#d62728", dash="dash"),
}
CONTOUR_LEVELS = (1.0, 3.0, 8.0)


def _finite(values):
    return [v if v is not None and math.isfinite(v) else None for v in values]


def epsilon_curve_figure(curves: list[Curve], *, target_epsilon: float | None = None, log_y: bool = False) -> go.Figure:
    fig = go.Figure()
    for curve in curves:
        style = CURVE_STYLE.get(curve.name, dict(name=curve.name, color=None, dash="solid"))
        fig.add_trace(
            go.Scatter(
                x=list(curve.epochs),
                y=_finite(curve.epsilon),
                name=style["name"],
                mode="lines+markers" if len(curve.epochs) <= 12 else "lines",
                line=dict(color=style["color"], dash=style["dash"]),
                hovertemplate="epoch %{x:g}<br>epsilon %{y:.3f}<extra>" + style["name"] + "</extra>",
            )
        )
    if target_epsilon and curves:
        # a trace, not add_hline: on a log axis plotly reads a shape's y as log10(y) (3 would be drawn at 1000)
        epochs = [e for curve in curves for e in curve.epochs]
        fig.add_trace(
            go.Scatter(
                x=[min(epochs), max(epochs)],
                y=[target_epsilon, target_epsilon],
                mode="lines",
                name=f"target ε {target_epsilon:g}",
                line=dict(color="grey", dash="dot"),
                hovertemplate=f"target ε {target_epsilon:g}<extra></extra>",
            )
        )
    fig.update_layout(
        xaxis_title="epoch",
        yaxis_title="epsilon",
        legend=dict(orientation="h", y=-0.25),
        margin=dict(l=10, r=10, t=30, b=10),
        height=380,
    )
    if log_y:
        low, high = data_range(fig, "y")
        if target_epsilon:
            low, high = min(low, target_epsilon), max(high, target_epsilon)
        log_axis(fig, "y", low, high)
    return fig


def landscape_figure(grid: Grid, *, current: tuple[float, float] | None = None, levels=CONTOUR_LEVELS) -> go.Figure:
    """Heatmap of log10(epsilon) with iso-epsilon contours; `current` = (column value, row value)."""
    eps = np.array(grid.epsilon, dtype=float)
    eps[~np.isfinite(eps)] = np.nan
    log_eps = np.log10(np.clip(eps, 1e-3, None))
    ticks = (
        [v for v in (0.01, 0.1, 0.3, 1, 3, 10, 30, 100, 1000) if np.nanmin(eps) <= v <= np.nanmax(eps)]
        if np.isfinite(eps).any()
        else []
    )
    fig = go.Figure(
        go.Heatmap(
            x=list(grid.columns),
            y=list(grid.rows),
            z=log_eps,
            customdata=eps,
            colorscale="Viridis_r",
            colorbar=dict(title="epsilon", tickvals=[math.log10(t) for t in ticks], ticktext=[f"{t:g}" for t in ticks]),
            hovertemplate=(
                f"{grid.column_name} %{{x:g}}<br>{grid.row_name} %{{y:g}}<br>epsilon %{{customdata:.3g}}<extra></extra>"
            ),
        )
    )
    for level in levels:
        fig.add_trace(
            go.Contour(
                x=list(grid.columns),
                y=list(grid.rows),
                z=eps,
                showscale=False,
                hoverinfo="skip",
                contours=dict(
                    start=level, end=level, size=1, coloring="none", showlabels=True, labelfont=dict(color="white")
                ),
                line=dict(color="white", width=2),
                name=f"epsilon = {level:g}",
            )
        )
    if current is not None:
        fig.add_trace(
            go.Scatter(
                x=[current[0]],
                y=[current[1]],
                mode="markers",
                name="current setting",
                marker=dict(symbol="x", size=14, color="red", line=dict(width=2, color="white")),
                hovertemplate="current setting<extra></extra>",
            )
        )
    fig.update_layout(
        xaxis_title=grid.column_name.replace("_", " "),
        yaxis_title=grid.row_name.replace("_", " "),
        showlegend=False,
        margin=dict(l=10, r=10, t=30, b=10),
        height=380,
    )
    if grid.row_name in ("noise_multiplier", "batch_size"):
        log_axis(fig, "y", min(grid.rows), max(grid.rows))
    if grid.column_name == "noise_multiplier":
        log_axis(fig, "x", min(grid.columns), max(grid.columns))
    return fig


def attack_bound_figure(bounds, *, title: str = "The most any membership-inference attack can achieve") -> go.Figure:
    """The guarantee's trade-off curve on log axes: no attack's ROC can rise above it."""
    fig = go.Figure()
    fig.add_trace(
        go.Scatter(
            x=list(bounds.fpr),
            y=list(bounds.tpr),
            mode="lines",
            name="upper bound from the guarantee",
            line=dict(color="#d62728", width=2),
            hovertemplate="FPR %{x:.3g}<br>TPR at most %{y:.3g}<extra></extra>",
        )
    )
    fig.add_trace(
        go.Scatter(x=[1e-5, 1], y=[1e-5, 1], mode="lines", name="chance", line=dict(color="#bbbbbb", dash="dash"))
    )
    log_axis(fig, "x", 1e-5, 1, title="false positive rate", range=[-5, 0])
    log_axis(fig, "y", 1e-5, 1, title="true positive rate (at most)", range=[-5, 0])
    fig.update_layout(
        title=title, height=380, margin=dict(l=10, r=10, t=40, b=10), legend=dict(orientation="h", y=-0.25)
    )
    return fig
