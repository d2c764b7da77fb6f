"""Chart export: PNG/SVG through plotly's static export (kaleido drives a local Chrome/Chromium),
self-contained HTML that opens offline, and the chart's data as CSV or JSON."""

from __future__ import annotations

import contextlib
import io
import json
import threading
import warnings

import pandas as pd
import plotly.graph_objects as go

FORMATS = ("png", "svg", "html", "csv", "json")
IMAGE_FORMATS = ("png", "svg")
MIME = {"png": "image/png", "svg": "image/svg+xml", "html": "text/html", "csv": "text/csv", "json": "application/json"}
WIDTH, HEIGHT, SCALE = 1100, 600, 2
NO_BROWSER = (
    "PNG and SVG export needs Google Chrome or Chromium on this machine (kaleido drives it), and none was "
    "found. Install one (Debian/Ubuntu: `sudo apt-get install chromium`) or set BROWSER_PATH; meanwhile "
    "the interactive HTML export works everywhere."
)
_server_lock = threading.Lock()
_server_started = False


class ExportUnavailable(RuntimeError):
    """Static image export cannot run here; the message says what to install."""


def find_browser() -> str | None:
    """The Chrome/Chromium kaleido would use, or None (never downloads one)."""
    try:
        from choreographer.browsers.chromium import Chromium

        return Chromium.find_browser(skip_local=False)
    except Exception:  # noqa: BLE001 - any failure to look means "not found"
        return None


def _ensure_server() -> None:
    """One long-lived kaleido browser (~2 s to start, then ~0.1 s per image), without MathJax from a CDN."""
    global _server_started
    import kaleido

    with _server_lock:
        if not _server_started:
            kaleido.start_sync_server(mathjax=False, silence_warnings=True)
            _server_started = True


def stop_server() -> None:
    """Stop the kaleido browser `_ensure_server` started, if any (a command line exits cleanly)."""
    global _server_started
    with _server_lock:
        if _server_started:
            import kaleido

            with contextlib.suppress(Exception):  # nothing left to stop
                kaleido.stop_sync_server(silence_warnings=True)
            _server_started = False


def figure_bytes(fig: go.Figure, fmt: str, *, width: int = WIDTH, height: int | None = None) -> bytes:
    if fmt == "html":
        return fig.to_html(include_plotlyjs=True, full_html=True, config={"displaylogo": False}).encode()
    if fmt not in IMAGE_FORMATS:
        raise ValueError(f"format: a figure exports as png, svg or html, got {fmt!r}")
    if find_browser() is None:
        raise ExportUnavailable(NO_BROWSER)
    _ensure_server()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # "kopts ignored when using a server": intended
            return fig.to_image(format=fmt, width=width, height=height or fig.layout.height or HEIGHT, scale=SCALE)
    except RuntimeError as err:
        raise ExportUnavailable(f"{NO_BROWSER} ({err})") from err


INTEGER_COLUMNS = ("train_size", "canaries", "batch_size", "seed", "runs", "epoch")


def tidy(table: pd.DataFrame) -> pd.DataFrame:
    """The table as exported: whole-number columns as integers (not 64.0), and no column that is empty in
    every row (a CSV ending in ',,,')."""
    table = table.dropna(axis="columns", how="all").copy()
    for column in INTEGER_COLUMNS:
        if column in table and pd.api.types.is_numeric_dtype(table[column]):
            values = table[column].dropna()
            if (values == values.round()).all():
                table[column] = table[column].astype("Int64")
    return table


def table_bytes(table: pd.DataFrame, fmt: str) -> bytes:
    table = tidy(table)
    if fmt == "csv":
        return table.to_csv(index=False).encode()
    if fmt == "json":
        records = json.loads(table.to_json(orient="records", date_format="iso", double_precision=15))
        return json.dumps(records, indent=1).encode()
    raise ValueError(f"format: data exports as csv or json, got {fmt!r}")


def export_bytes(fmt: str, *, figure: go.Figure | None, table: pd.DataFrame | None) -> bytes:
    """The file of one chart in one format.

    Args:
      fmt: one of FORMATS: png, svg or html render `figure`; csv or json write `table`.
      figure: the chart (may be None for csv/json).
      table: the data behind it (may be None for png/svg/html).

    Returns:
      The file's bytes.

    Raises:
      ExportUnavailable: for png/svg when no Chrome/Chromium is found; the message says what to install.
      ValueError: for an unknown format.
    """
    if fmt not in FORMATS:
        raise ValueError(f"format: must be one of {', '.join(FORMATS)}, got {fmt!r}")
    return table_bytes(table, fmt) if fmt in ("csv", "json") else figure_bytes(figure, fmt)


def read_table(data: bytes, fmt: str) -> pd.DataFrame:
    """Inverse of table_bytes (tests and round trips)."""
    return pd.read_csv(io.BytesIO(data)) if fmt == "csv" else pd.DataFrame(json.loads(data))
