"""Plotly conventions every chart shares: log axes labelled 0.1, 0.2, 0.5, 1, 2, 5, 10, ... and
numbers on hover rounded to four significant digits (plain Python: no streamlit)."""

from __future__ import annotations

import math
from numbers import Real

import plotly.graph_objects as go

HOVER_DIGITS = 4
_STEPS = (1, 2, 5)


def tick_label(value: float) -> str:
    """0.001 -> '0.001', 0.3 -> '0.3', 20000 -> '20,000', 1e-5 -> '1e-5' (never a bare mantissa like '3')."""
    if value == 0:
        return "0"
    if 1 <= abs(value) < 1e7 and float(value).is_integer():
        return f"{int(value):,}"
    if 1e-3 <= abs(value) < 1e5:
        return f"{value:.4g}"
    mantissa, exponent = f"{value:.0e}".split("e")
    return f"{mantissa}e{int(exponent)}"


def log_ticks(low: float, high: float, *, most: int = 12) -> list[float]:
    """1-2-5 ticks covering [low, high] (powers of ten only, or every other one, when that would be too many)."""
    if not (low > 0 and high > 0 and math.isfinite(low) and math.isfinite(high)):
        return []
    low, high = min(low, high), max(low, high)
    first, last = math.floor(math.log10(low)), math.ceil(math.log10(high))
    for steps in (_STEPS, (1,)):
        ticks = [
            float(f"{m * 10.0**e:.12g}") for e in range(first, last + 1) for m in steps if low <= m * 10.0**e <= high
        ]
        if len(ticks) <= most:
            break
    while len(ticks) > most:
        ticks = ticks[::2]
    if len(ticks) < 2:  # a narrow range: its ends
        ticks = sorted({float(f"{low:.2g}"), float(f"{high:.2g}")})
    return ticks


def log_axis(fig: go.Figure, axis: str, low: float, high: float, **options) -> None:
    """Make `axis` ("x" or "y") logarithmic with 1-2-5 labels over the data's range [low, high]."""
    ticks = log_ticks(low, high)
    update = fig.update_xaxes if axis == "x" else fig.update_yaxes
    update(type="log", tickvals=ticks or None, ticktext=[tick_label(t) for t in ticks] or None, **options)


def data_range(fig: go.Figure, axis: str) -> tuple[float, float]:
    """The smallest and largest positive finite value any trace draws on `axis`."""
    values = []
    for trace in fig.data:
        drawn = getattr(trace, axis, None)
        if drawn is None:
            continue
        for v in list(drawn):  # a list, a tuple or a numpy array
            if isinstance(v, Real) and not isinstance(v, bool) and v > 0 and math.isfinite(v):
                values.append(float(v))
    return (min(values), max(values)) if values else (math.nan, math.nan)


def rounded(value, digits: int = HOVER_DIGITS):
    """A number for hover text: `digits` significant digits (integers and text unchanged)."""
    if isinstance(value, float) and math.isfinite(value) and not value.is_integer():
        return float(f"{value:.{digits}g}")
    return value
