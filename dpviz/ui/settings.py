"""The one set of settings every page shares: seeded from the URL, kept in session state, written back to the URL.

Widget state is dropped by Streamlit when a page without that widget runs, so the values live in
`st.session_state["settings"]`; widgets bind to per-page `w_<page>_<name>` keys re-seeded from it on
every page. Typed numbers stay the text typed: the pages validate them (`TrainConfig`,
`PrivacyParams`) and name the field when they are wrong, instead of the browser keeping an old value.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import streamlit as st

from dpviz.datasets import DATASETS
from dpviz.privacy.labels import ACCOUNTANT_LABELS, ACCOUNTANTS
from dpviz.training.config import MAX_CANARIES, MODELS, OPTIMIZERS, PRECISIONS, SAMPLERS, max_dataset_size
from dpviz.ui.common import MODEL_LABELS, SAMPLER_LABELS
from dpviz.validation import ValidationError, require_float

CUSTOM = "custom"  # a dataset size for planning only: nothing can be trained on it
DATASET_LABELS = {
    **{name: f"{info.label} · {info.train_size:,}" for name, info in DATASETS.items()},
    CUSTOM: "Custom size (planning only)",
}


@dataclass(frozen=True)
class Field:
    param: str  # its query-parameter name
    default: object
    kind: str  # "text": typed, validated by the page; "slider": a number in [minimum, maximum]; "choice"
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple | None = None
    integer: bool = False


# The defaults are what an accounted study on digits found (MLP, whole-search ε = 3, `python -m dpviz tune`);
# trained alone on the whole split they reach 87.8 % private test accuracy at ε 1.33 (baseline 97.2 %).
FIELDS = {
    "dataset": Field("dataset", "digits", "choice", choices=tuple(DATASET_LABELS)),
    "dataset_size": Field("n", str(DATASETS["digits"].train_size), "text"),
    "batch_size": Field("b", "128", "text"),
    "noise_multiplier": Field("sigma", 5.24, "slider", 0.0, 10.0),
    "epochs": Field("epochs", 30, "slider", 1, 200, integer=True),
    "clip_norm": Field("clip", 0.5, "slider", 0.01, 10.0),
    "delta": Field("delta", "1e-5", "text"),
    "accountant": Field("acct", "rdp", "choice", choices=ACCOUNTANTS),
    "model": Field("model", "mlp", "choice", choices=MODELS),
    "optimizer": Field("opt", "sgd", "choice", choices=OPTIMIZERS),
    "sampler": Field("sampler", "poisson", "choice", choices=SAMPLERS),
    "learning_rate": Field("lr", "0.35", "text"),
    "seed": Field("seed", "0", "text"),
    "canaries": Field("canaries", "0", "text"),
    "noise": Field("noise", "entropy", "choice", choices=("entropy", "seeded")),
    "target_epsilon": Field("target", "3", "text"),
    "momentum": Field("momentum", "0.3", "text"),
    "precision": Field("prec", "float32", "choice", choices=PRECISIONS),
    # the Tune page's own
    "trials_mean": Field("trials", "8", "text"),
    "trials_shape": Field("shape", "geometric", "choice", choices=("geometric", "poisson", "logarithmic", "0.5", "2")),
    "lr_range": Field("lr_range", "0.05,2", "text"),
    "clip_range": Field("clip_range", "0.1,5", "text"),
    "momentum_range": Field("mom_range", "0,0.9", "text"),
    "search": Field("search", "random", "choice", choices=("random", "tpe")),
    "backend": Field("backend", "local", "choice", choices=("local", "ray")),
}
MAX_TEXT = 40
TARGET_RANGE = (0.01, 1000.0)


def _describe(field: Field) -> str:
    if field.choices is not None:
        return "one of " + ", ".join(field.choices)
    return f"a number from {field.minimum:g} to {field.maximum:g}"


def _parse(field: Field, raw):
    """A URL value as the widget holds it, or None (with the reason) when the widget cannot show it."""
    if isinstance(raw, list):
        raw = raw[-1] if raw else None
    if raw is None:
        return None, None
    if field.kind == "text":
        return str(raw).strip()[:MAX_TEXT], None
    if field.kind == "choice":
        return (raw, None) if raw in field.choices else (None, _describe(field))
    try:
        value = float(raw)
    except (TypeError, ValueError):
        return None, _describe(field)
    if not math.isfinite(value) or not field.minimum <= value <= field.maximum:
        return None, _describe(field)
    if field.integer:
        return (int(value), None) if value.is_integer() else (None, "a whole number" + _describe(field)[8:])
    return value, None


def full_size(dataset: str) -> str:
    return str(DATASETS[dataset].train_size) if dataset in DATASETS else ""


def settings() -> dict:
    """The shared settings, seeded once per session from the URL (then the URL follows them).

    A link value a widget cannot show (σ = 999 on a 0-10 slider, an unknown model) is not guessed
    at: the default is used and `url_problems()` says which value was dropped and why.
    """
    state = st.session_state
    if "settings" not in state:
        seeded, problems = {}, []
        for name, field in FIELDS.items():
            raw = st.query_params.get_all(field.param)
            value, problem = _parse(field, raw or None)
            if problem:
                problems.append(f"{field.param}={raw[-1]!r} (must be {problem})")
            seeded[name] = field.default if value is None else value
        if st.query_params.get("n") is None:  # the chosen dataset's whole training split
            seeded["dataset_size"] = full_size(seeded["dataset"]) or FIELDS["dataset_size"].default
        state["settings"] = seeded
        state["url_problems"] = problems
    return state["settings"]


def url_problems() -> list[str]:
    return st.session_state.get("url_problems", [])


def _key(name: str) -> str:
    # Per-page keys: a widget key reused on another page comes back at its default, not its value.
    return f"w_{st.session_state.get('_settings_page', '')}_{name}"


def _bind(name: str) -> str:
    key = _key(name)
    if key not in st.session_state:
        st.session_state[key] = settings()[name]
    return key


def _store(name: str) -> None:
    settings()[name] = st.session_state[_key(name)]
    st.session_state["url_problems"] = []  # the user has taken over from the link


def set_value(name: str, value) -> None:
    """Change a setting from a callback (e.g. 'apply the calibrated noise')."""
    if FIELDS[name].kind == "text":
        value = str(value)
    settings()[name] = value
    st.session_state[_key(name)] = value


def set_values(values: dict) -> list[str]:
    """Change several settings (e.g. 'load this run's settings'); returns those a widget cannot hold
    (0.5 epochs on a whole-epoch slider), which are left as they were."""
    skipped = []
    for name, value in values.items():
        parsed, problem = _parse(FIELDS[name], value)
        if problem or parsed is None:
            skipped.append(name)
        else:
            set_value(name, parsed)
    return skipped


def _on_dataset() -> None:
    _store("dataset")
    size = full_size(settings()["dataset"])
    if size:
        set_value("dataset_size", size)


def sync_url() -> None:
    """Write every shared setting into the URL (leaving widgets' own bound parameters alone)."""
    current = st.query_params
    for name, value in settings().items():
        param, text = FIELDS[name].param, str(value)
        if current.get(param) != text:
            current[param] = text


def sidebar(*, page: str) -> dict:
    """The DP-SGD settings in the sidebar, the same on every page; returns every shared value (raw:
    the text fields are validated by the page that uses them)."""
    st.session_state["_settings_page"] = page
    values = settings()
    sb = st.sidebar
    sb.header("DP-SGD settings")
    for problem in url_problems():
        sb.warning(f"The link's {problem} was not used; the default is shown instead.", icon=":material/link_off:")
    sb.selectbox(
        "Dataset", list(DATASET_LABELS), format_func=DATASET_LABELS.get, key=_bind("dataset"), on_change=_on_dataset
    )
    dataset = values["dataset"]
    top = max_dataset_size(dataset) if dataset in DATASETS else None
    sb.text_input(
        "Training examples n",
        key=_bind("dataset_size"),
        on_change=_store,
        args=("dataset_size",),
        help=f"A whole number from 1 to {top:,} (a subset of the training split)."
        if top
        else "A whole number from 1: a dataset size to plan for (nothing trains on a custom size).",
    )
    text_setting(
        sb,
        "batch_size",
        "Batch size b (expected)",
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
    text_setting(sb, "delta", "δ (delta)", help="Strictly between 0 and 1 (e.g. 1e-5); keep δ well below 1/n.")
    sb.radio(
        "Accountant",
        ACCOUNTANTS,
        format_func=ACCOUNTANT_LABELS.get,
        key=_bind("accountant"),
        on_change=_store,
        args=("accountant",),
    )
    return dict(values)


def training_inputs() -> dict:
    """The Train page's model and optimisation settings (shared too: they are in the URL)."""
    c = st.columns(5)
    choice_setting(
        c[4],
        "precision",
        "Precision",
        format_func={"float32": "float32", "mixed_bfloat16": "Mixed bfloat16 (GPU)"}.get,
        help="Mixed bfloat16: the layers compute in bfloat16, which pays on a GPU; weights, clipping, norms, noise "
        "and sums stay float32. Both runs of a pair use it, and the run is labelled.",
    )
    c[3].selectbox(
        "Noise and sampling",
        ("entropy", "seeded"),
        key=_bind("noise"),
        on_change=_store,
        args=("noise",),
        format_func={"entropy": "From OS entropy", "seeded": "Seeded (reproducible)"}.get,
        help="From the operating system's entropy, as a deployed DP-SGD must. Seeded: the run can be reproduced, "
        "and so protects nothing against anyone who knows the seed. The seed always sets the initial weights and "
        "the baseline's batches.",
    )
    c[0].selectbox("Model", MODELS, key=_bind("model"), on_change=_store, args=("model",), format_func=MODEL_LABELS.get)
    c[1].selectbox("Optimizer", OPTIMIZERS, key=_bind("optimizer"), on_change=_store, args=("optimizer",))
    c[2].selectbox(
        "Sampler", SAMPLERS, key=_bind("sampler"), on_change=_store, args=("sampler",), format_func=SAMPLER_LABELS.get
    )
    c = st.columns(5)
    texts = (
        ("learning_rate", "Learning rate", "Greater than 0, at most 100."),
        ("momentum", "Momentum", "SGD momentum, from 0 to below 1 (Adam ignores it)."),
        ("seed", "Seed", f"A whole number from 0 to {2**31 - 1}."),
        (
            "canaries",
            "Canaries",
            f"A whole number from 0 to {MAX_CANARIES}: random-label examples added to the "
            "training set (every second one several times); the audit measures how much each model memorised them. "
            "They count in n, so ε and the steps change slightly.",
        ),
        (
            "target_epsilon",
            "Target ε",
            f"From {TARGET_RANGE[0]:g} to {TARGET_RANGE[1]:g}; empty: none. Drawn on "
            "the ε chart; the helper below solves for it.",
        ),
    )
    for column, (name, label, help_text) in zip(c, texts):
        text_setting(column, name, label, help=help_text)
    return dict(settings())


def text_setting(container, name: str, label: str, **options) -> str:
    """A shared setting typed as text (returned as typed, for the page to validate)."""
    return container.text_input(label, key=_bind(name), on_change=_store, args=(name,), **options).strip()


def parse_delta(raw) -> float:
    """The delta text box's value as a float; ValidationError names the field when it is not a number."""
    try:
        return float(str(raw).strip())
    except ValueError:
        raise ValidationError("delta", f"must be a number strictly between 0 and 1 (e.g. 1e-5), got {raw!r}") from None


def parse_target(raw) -> float | None:
    """The target epsilon (None when empty); ValidationError names the field and its range."""
    text = str(raw).strip()
    if not text:
        return None
    return require_float("target_epsilon", text, minimum=TARGET_RANGE[0], maximum=TARGET_RANGE[1])


def choice_setting(container, name: str, label: str, *, format_func=str, radio: bool = False, **options):
    """A shared setting chosen from its field's choices."""
    widget = container.radio if radio else container.selectbox
    return widget(
        label, FIELDS[name].choices, key=_bind(name), on_change=_store, args=(name,), format_func=format_func, **options
    )
