"""What every page shares: how run columns read, the invalid-input banner, and display labels."""

from __future__ import annotations

import streamlit as st

from dpviz.validation import ValidationError

MISSING = "—"  # how every table shows a value that does not exist (a baseline's epsilon, a run still going)
MODEL_LABELS = {"cnn": "CNN (tutorial)", "mlp": "MLP", "logreg": "Logistic regression"}
SAMPLER_LABELS = {
    "poisson": "Poisson (add/remove-one)",
    "fixed": "Fixed-size, without replacement (replace-one)",
    "shuffle": "Shuffled epochs (no amplification)",
}


def stop_polling_when_done(was_active: bool, active: bool) -> None:
    """Inside a polling fragment: once what it watched has finished, redraw the page once, whose fragment
    then no longer polls. A fragment that went on redrawing its charts every second for nothing could
    also swallow a click on the page (its redraws race the click's rerun)."""
    if was_active and not active:
        st.rerun()


def number_text(container, label: str, *, key: str, default: str = "", **options) -> str:
    """A number typed as text, returned as typed (stripped) for the server to validate.

    A `number_input` with `min_value`/`max_value` keeps its previous value when the typed one is out
    of range, while the box shows the new one: the page would then use a value nobody sees.
    """
    st.session_state.setdefault(key, default)
    return container.text_input(label, key=key, **options).strip()


def invalid_banner(err: ValidationError, consequence: str) -> None:
    """One error naming the field and its allowed range, and what the page did about it."""
    st.error(f"**{err.field.replace('_', ' ')}**: {err.message}. {consequence}", icon="⚠️")


def column_config() -> dict:
    """How run columns read in every table (Runs page and the Train page's sweep view)."""
    return {
        "id": st.column_config.TextColumn("run", width="small"),
        "noise_multiplier": st.column_config.NumberColumn("σ", format="%.3g"),
        "clip_norm": st.column_config.NumberColumn("clip C", format="%.3g"),
        "batch_size": st.column_config.NumberColumn("batch"),
        "epochs": st.column_config.NumberColumn("epochs", format="%.3g"),
        "learning_rate": st.column_config.NumberColumn("lr", format="%.3g"),
        "test_accuracy": st.column_config.ProgressColumn("test accuracy", format="percent", min_value=0, max_value=1),
        "epsilon": st.column_config.NumberColumn("ε", format="%.3f"),
        "duration_s": st.column_config.NumberColumn("time (s)", format="%.0f"),
        "created": st.column_config.DatetimeColumn("created", format="YYYY-MM-DD HH:mm"),
        "sweep_id": st.column_config.TextColumn("sweep"),
        "progress": st.column_config.ProgressColumn("progress", min_value=0, max_value=1),
    }


def seed_from_url(key: str, options, *, many: bool = False) -> None:
    """Seed widget `key` from the URL parameter of the same name (comma-separated ids when `many`) once per
    session; values that are not among `options` are dropped. For widgets whose labels are not their values
    (Streamlit's own query-parameter binding puts labels in the URL)."""
    if key in st.session_state or key not in st.query_params:
        return
    options = set(options)
    values = [v for raw in st.query_params.get_all(key) for v in str(raw).split(",") if v in options]
    if many:
        st.session_state[key] = values
    elif values:
        st.session_state[key] = values[0]


def write_url(key: str, value) -> None:
    """Keep a widget's value in the URL under its key (removed when empty)."""
    text = ",".join(map(str, value)) if isinstance(value, list | tuple) else ("" if value is None else str(value))
    if text:
        if st.query_params.get(key) != text:
            st.query_params[key] = text
    elif key in st.query_params:
        del st.query_params[key]


def statement_downloads(data: dict | None, *, key: str, stem: str) -> None:
    """The privacy statement as Markdown and JSON downloads (nothing for a run without a guarantee)."""
    if data is None:
        return
    from dpviz.privacy.statement import render

    left, right, _ = st.columns([2, 2, 3])
    for column, fmt, mime in ((left, "md", "text/markdown"), (right, "json", "application/json")):
        column.download_button(
            f"Privacy statement ({fmt.upper()})",
            data=render(data, fmt),
            file_name=f"{stem}.{fmt}",
            mime=mime,
            key=f"{key}_statement_{fmt}",
            on_click="ignore",
            icon=":material/download:",
        )
