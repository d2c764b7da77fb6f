"""Settings shared across pages: seeded from the URL, kept in session state, written back to the URL.

Widget state is dropped by Streamlit when a page without that widget runs, so the values live in
`st.session_state["settings"]`; widgets bind to `w_<name>` keys re-seeded from it on every page.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import streamlit as st

from dpviz.datasets import DATASETS
from dpviz.privacy.labels import ACCOUNTANT_LABELS, ACCOUNTANTS

PRESETS = {name: info.train_size for name, info in DATASETS.items() if name != "synthetic"}
PRESET_LABELS = {
    **{name: f"{DATASETS[name].label} · {size:,}" for name, size in PRESETS.items()},
    "custom": "Custom size",
}


@dataclass(frozen=True)
class Field:
    param: str  # query-parameter name
    default: object
    kind: type
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple | None = None


FIELDS = {
    "dataset": Field("dataset", "mnist", str, choices=tuple(PRESET_LABELS)),
    "dataset_size": Field("n", 60000, int, 1, 100_000_000),
    "batch_size": Field("b", 256, int, 1, 100_000_000),
    "noise_multiplier": Field("sigma", 1.1, float, 0.0, 10.0),
    "clip_norm": Field("clip", 1.0, float, 0.01, 10.0),
    "epochs": Field("epochs", 15, int, 1, 200),
    "delta": Field("delta", "1e-5", str),
    "accountant": Field("acct", "rdp", str, choices=ACCOUNTANTS),
    "learning_rate": Field("lr", 0.25, float, 1e-5, 10.0),
}


def _parse(field: Field, raw):
    """A URL value, clamped into the widget's range; None when it cannot be read."""
    if raw is None:
        return None
    if field.choices is not None:
        return raw if raw in field.choices else None
    if field.kind is str:
        return str(raw)[:32]
    try:
        value = float(raw)
    except (TypeError, ValueError):
        return None
    if not math.isfinite(value):
        return None
    value = min(max(value, field.minimum), field.maximum)
    return int(round(value)) if field.kind is int else value


def settings() -> dict:
    """The shared settings, seeded once per session from the URL (then the URL follows them)."""
    state = st.session_state
    if "settings" not in state:
        seeded = {}
        for name, field in FIELDS.items():
            value = _parse(field, st.query_params.get(field.param))
            seeded[name] = field.default if value is None else value
        state["settings"] = seeded
    return state["settings"]


# Typed numbers are text boxes: every value typed reaches the server, which validates it and names the
# field. (A number_input with min_value silently keeps its previous value when the typed one is out of range.)
TEXT_FIELDS = ("dataset_size", "batch_size", "delta")


def _widget_value(name: str, value):
    return str(value) if name in TEXT_FIELDS else value


def _key(name: str) -> str:
    # Per-page keys: a widget key reused on another page comes back at its default, not its value.
    return f"w_{st.session_state.get('_settings_page', '')}_{name}"


def _bind(name: str) -> str:
    key = _key(name)
    if key not in st.session_state:
        st.session_state[key] = _widget_value(name, settings()[name])
    return key


def _store(name: str) -> None:
    settings()[name] = st.session_state[_key(name)]


def set_value(name: str, value) -> None:
    """Change a setting from a callback (e.g. 'apply the calibrated noise')."""
    settings()[name] = value
    st.session_state[_key(name)] = _widget_value(name, value)


def _on_preset() -> None:
    preset = st.session_state[_key("dataset")]
    settings()["dataset"] = preset
    if preset in PRESETS:
        set_value("dataset_size", PRESETS[preset])


def sync_url() -> None:
    st.query_params.from_dict({FIELDS[name].param: str(value) for name, value in settings().items()})


def privacy_inputs(*, page: str, dataset: bool = True) -> dict:
    """The DP-SGD inputs in the sidebar; returns the current values (raw: validate before use).

    `dataset=False` leaves out the dataset preset and size (the Train page picks a real dataset).
    """
    st.session_state["_settings_page"] = page
    sb = st.sidebar
    sb.header("DP-SGD settings")
    if dataset:
        sb.selectbox(
            "Dataset", list(PRESET_LABELS), format_func=PRESET_LABELS.get, key=_bind("dataset"), on_change=_on_preset
        )
        sb.text_input(
            "Dataset size n",
            key=_bind("dataset_size"),
            on_change=_store,
            args=("dataset_size",),
            disabled=settings()["dataset"] != "custom",
            help="Training examples, a whole number from 1. Choose 'Custom size' to type your own.",
        )
    sb.text_input(
        "Batch size b (expected)",
        key=_bind("batch_size"),
        on_change=_store,
        args=("batch_size",),
        help="A whole number from 1 to n. With Poisson sampling each step's batch size varies around b; q = b / n.",
    )
    sb.slider(
        "Noise multiplier σ",
        0.0,
        10.0,
        step=0.01,
        key=_bind("noise_multiplier"),
        on_change=_store,
        args=("noise_multiplier",),
        help="Noise standard deviation divided by the clip norm. 0 means no privacy.",
    )
    sb.slider("Epochs", 1, 200, step=1, key=_bind("epochs"), on_change=_store, args=("epochs",))
    sb.slider(
        "Clip norm C",
        0.01,
        10.0,
        step=0.01,
        key=_bind("clip_norm"),
        on_change=_store,
        args=("clip_norm",),
        help="Does not change epsilon: the noise is σ·C, so it scales with C. It matters for accuracy.",
    )
    sb.caption("Clip norm C does not change epsilon (the noise σ·C scales with it); it changes accuracy.")
    sb.text_input("δ (delta)", key=_bind("delta"), on_change=_store, args=("delta",), help="Keep δ well below 1/n.")
    sb.radio(
        "Accountant",
        ACCOUNTANTS,
        format_func=ACCOUNTANT_LABELS.get,
        key=_bind("accountant"),
        on_change=_store,
        args=("accountant",),
    )
    for name in FIELDS:
        if _key(name) in st.session_state:
            settings()[name] = st.session_state[_key(name)]
    return dict(settings())


def parse_delta(raw) -> float:
    """The delta text box's value as a float; ValidationError names the field when it is not a number."""
    from dpviz.validation import ValidationError

    try:
        return float(str(raw).strip())
    except ValueError:
        raise ValidationError("delta", f"must be a number strictly between 0 and 1 (e.g. 1e-5), got {raw!r}") from None
