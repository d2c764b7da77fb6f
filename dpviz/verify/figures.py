"""The verification's chart: the canaries' scores, included against left out."""

from __future__ import annotations

import plotly.graph_objects as go


def score_histogram(report) -> go.Figure:
    """Overlaid histograms of the canary scores; a correct DP-SGD keeps the two close."""
    h = report.histogram
    edges = h.get("edges", [])
    centres = [(a + b) / 2 for a, b in zip(edges[:-1], edges[1:])]
    width = (edges[1] - edges[0]) if len(edges) > 1 else 1
    fig = go.Figure()
    for name, key, colour in (("included", "in", "#d62728"), ("left out", "out", "#1f77b4")):
        fig.add_bar(x=centres, y=h.get(key, []), width=width, name=f"{name} canaries", marker_color=colour, opacity=0.6)
    score = "sum of its coordinate of the released updates" if report.kind == "gradient" else "minus its final loss"
    fig.update_layout(
        barmode="overlay",
        height=320,
        margin=dict(l=10, r=10, t=40, b=10),
        title=f"Canary scores ({score})",
        xaxis_title="score (higher: looks included)",
        yaxis_title="canaries",
        legend=dict(orientation="h", y=-0.25),
    )
    return fig
