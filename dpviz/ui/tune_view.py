"""The Tune page: a search under a privacy budget, planned before it starts and watched while it runs."""

from __future__ import annotations

import math
import time

import pandas as pd
import streamlit as st

from dpviz.datasets import DATASETS
from dpviz.privacy.labels import format_epsilon
from dpviz.privacy.tuning import shape_name
from dpviz.runs.store import SqliteRunStore
from dpviz.tuning.config import TuneConfig
from dpviz.ui.common import (
    MISSING,
    MODEL_LABELS,
    SAMPLER_LABELS,
    invalid_banner,
    seed_from_url,
    statement_downloads,
    stop_polling_when_done,
    write_url,
)
from dpviz.ui.settings import CUSTOM, choice_setting, parse_delta, set_values, settings, text_setting
from dpviz.validation import ValidationError

POLL_SECONDS = 1.0
SHAPE_LABELS = {
    "geometric": "Geometric (shape 1)",
    "poisson": "Poisson (may draw 0)",
    "logarithmic": "Logarithmic (shape 0)",
    "0.5": "Truncated neg. binomial, shape 0.5",
    "2": "Truncated neg. binomial, shape 2",
}
SEARCH_LABELS = {
    "random": "Accounted: random search (Papernot–Steinke)",
    "tpe": "Exploration: TPE + pruning (not accounted)",
}


def inputs() -> dict:
    """The Tune page's own settings (shared ones come from the sidebar)."""
    c = st.columns(4)
    choice_setting(c[0], "model", "Model", format_func=MODEL_LABELS.get)
    choice_setting(c[1], "optimizer", "Optimizer")
    choice_setting(c[2], "sampler", "Sampler", format_func=SAMPLER_LABELS.get)
    choice_setting(c[3], "search", "Search", format_func=SEARCH_LABELS.get)
    c = st.columns(4)
    text_setting(c[0], "target_epsilon", "Target ε, whole search", help="Greater than 0, at most 100.")
    text_setting(c[1], "trials_mean", "Expected number of trials", help="The mean of the trial count, 1 to 1000.")
    choice_setting(
        c[2],
        "trials_shape",
        "Distribution of the trial count",
        format_func=SHAPE_LABELS.get,
        help="As dp-accounting's RepeatAndSelect names them. The number of trials is drawn from it once, and the "
        "search runs exactly that many: the randomness is what makes the best of them cheap.",
    )
    choice_setting(c[3], "backend", "Train on", format_func={"local": "This machine", "ray": "Ray"}.get)
    c = st.columns(3)
    text_setting(c[0], "lr_range", "Learning rate range", help="LOW,HIGH, searched on a log scale.")
    text_setting(c[1], "clip_range", "Clip norm range", help="LOW,HIGH, searched on a log scale.")
    text_setting(c[2], "momentum_range", "Momentum range (sgd)", help="LOW,HIGH from 0 to 0.99; empty: momentum 0.")
    name = st.text_input("Study name (optional)", key="tu_name", max_chars=80)
    return {**settings(), "name": name}


def build_config(values: dict) -> TuneConfig:
    """The inputs as a study; ValidationError names the first bad field."""
    if values["dataset"] == CUSTOM:
        raise ValidationError("dataset", "'Custom size' is for planning only: choose a dataset to tune on")
    dataset = values["dataset"]
    size = values["dataset_size"]
    whole = DATASETS[dataset].train_size
    momentum = str(values["momentum_range"]).strip()
    return TuneConfig(
        target_epsilon=values["target_epsilon"],
        delta=parse_delta(values["delta"]),
        dataset=dataset,
        dataset_size=None if str(size).strip() == str(whole) else size,
        model=values["model"],
        optimizer=values["optimizer"],
        batch_size=values["batch_size"],
        epochs=values["epochs"],
        sampler=values["sampler"],
        trials_mean=values["trials_mean"],
        trials_shape=values["trials_shape"],
        learning_rate_range=values["lr_range"],
        clip_norm_range=values["clip_range"],
        momentum_range=None if not momentum or values["optimizer"] == "adam" else momentum,
        search=values["search"],
        name=values.get("name", ""),
    )


@st.cache_data(max_entries=64, show_spinner=False)
def _plan(config: TuneConfig):
    from dpviz.tuning.study import plan

    return plan(config)


def check(values: dict):
    """(config, cost, error): the study the inputs describe and what it costs, or the first problem."""
    try:
        config = build_config(values)
        return config, _plan(config), None
    except ValidationError as err:
        return None, None, err


def plan_panel(config: TuneConfig | None, cost, error: ValidationError | None) -> None:
    if error is not None:
        invalid_banner(error, "The study cannot start until it is fixed; nothing was started.")
        return
    m = st.columns(4)
    m[0].metric("σ for every trial", f"{cost.params.noise_multiplier:.4g}", help="Calibrated so the search meets ε.")
    m[1].metric(
        "ε of one trial",
        format_epsilon(cost.epsilon_per_trial),
        help="What a single run at this σ reports: a search that reports its best of many costs more.",
    )
    if config.accounted:
        m[2].metric(
            "ε of the whole search",
            format_epsilon(cost.epsilon_total),
            help="dp-accounting's RDP for RepeatAndSelect (Papernot & Steinke 2022), the only accountant for it.",
        )
    else:
        m[2].metric("ε of the whole search", "not claimed", help="Adaptive search is not covered by the accounting.")
    m[3].metric("Trials", f"{config.trials_mean:g} expected" if config.accounted else f"{config.planned_trials}")
    count = config.count
    if config.accounted:
        st.caption(
            f"The number of trials is drawn once from the {shape_name(count.shape)} distribution with mean "
            f"{count.mean:g}; the search runs exactly that many, each with settings drawn independently (Optuna's "
            f"random sampler), and reports the best by validation accuracy. All share n = {config.train_size:,}, "
            f"b = {config.batch_size}, {config.epochs:g} epochs ({cost.params.steps} steps, q = "
            f"{cost.params.sampling_probability:.4g}), {SAMPLER_LABELS[config.sampler].lower()} sampling "
            f"({cost.neighboring_relation} neighbours), δ = {config.delta:g}. {config.validation_size:,} examples are "
            "held out of the training data to choose the best trial (not covered by ε); the test split reports it. "
            "The sidebar's σ and C are not used here: σ is calibrated, C is searched."
        )
    else:
        st.warning(
            "**Exploration mode.** TPE adapts each trial to earlier results and pruning stops trials early: the "
            "Papernot–Steinke accounting does not cover this, so no ε is claimed for the search. Use it to find "
            "ranges, then run an accounted search.",
            icon=":material/explore:",
        )


def launch(store: SqliteRunStore, config: TuneConfig, backend: str) -> None:
    from dpviz.tuning.launch import start_study

    study_id, _ = start_study(store.home, config, backend=backend)
    st.session_state["tu_study"] = study_id
    st.session_state["tu_pending"] = (study_id, time.time())
    write_url("tu_study", study_id)
    st.toast(f"Started study {study_id}")


def launcher(store: SqliteRunStore, config: TuneConfig | None, values: dict) -> None:
    if st.button("Start study", key="tu_launch", type="primary", disabled=config is None):
        launch(store, config, values["backend"])


def _studies(store: SqliteRunStore):
    from dpviz.tuning.study import list_studies

    return list_studies(store.home)


PENDING_SECONDS = 60.0


def _waiting_for(store: SqliteRunStore, ids: list[str]) -> bool:
    """A study just started is not stored until its driver has calibrated σ: say so, and poll until it is."""
    pending = st.session_state.get("tu_pending")
    if not pending or pending[0] in ids:
        st.session_state.pop("tu_pending", None)
        return False
    study_id, started = pending
    if time.time() - started > PENDING_SECONDS:
        log = store.home / f"tune-{study_id}.log"
        tail = log.read_text(errors="replace").strip().splitlines()[-1:] if log.exists() else []
        st.error(f"Study {study_id} did not start. " + (f"Its log ends: {tail[0][:300]}" if tail else f"See {log}."))
        st.session_state.pop("tu_pending", None)
        return False

    @st.fragment(run_every=POLL_SECONDS)
    def starting():
        st.info(f"Starting study {study_id}…", icon=":material/hourglass_top:")
        if study_id in {r.id for r in _studies(store)}:
            st.rerun()

    starting()
    return True


def study_panel(store: SqliteRunStore) -> None:
    records = _studies(store)
    if _waiting_for(store, [r.id for r in records]):
        return
    if not records:
        st.info("No studies yet: set the budget and ranges above, then **Start study**.")
        return
    ids = [r.id for r in records]
    seed_from_url("tu_study", ids)
    if st.session_state.get("tu_study") not in ids:
        st.session_state["tu_study"] = ids[0]
    labels = {r.id: f"{r.id} · {r.config.name or r.config.model} · {r.status}" for r in records}
    chosen = st.selectbox("Study", ids, key="tu_study", format_func=labels.get)
    write_url("tu_study", chosen)
    active = next(r for r in records if r.id == chosen).status == "running"

    @st.fragment(run_every=POLL_SECONDS if active else None)
    def panel():
        from dpviz.tuning.study import load, request_cancel

        record = load(store.home, chosen)
        render_study(record, store.home)
        if record.status == "running" and st.button("Cancel study", key="tu_cancel"):
            request_cancel(store.home, record.id)
            st.toast("Asked the study to stop; running trials are cancelled within a second.")
        stop_polling_when_done(active, record.status == "running")  # then the apply button shows

    panel()


def render_study(record, home) -> None:
    from dpviz.tuning.study import claim

    summary = record.summary()
    finished, drawn = summary["trials_run"], record.trials_drawn
    m = st.columns(4)
    m[0].metric("Status", record.status)
    m[1].metric(
        "Trials run",
        f"{finished} of {drawn}" if drawn is not None else f"{finished}",
        help="Drawn once at the start from the distribution accounted." if record.accounted else None,
    )
    m[2].metric("ε of one trial", format_epsilon(summary["epsilon_per_trial"]))
    total = summary["epsilon_total"]
    m[3].metric(
        "ε of the whole search",
        format_epsilon(total) if total is not None else ("not claimed" if record.status != "running" else "pending"),
    )
    (st.success if record.status == "completed" and record.accounted else st.info)(claim(record))
    from dpviz.tuning.study import study_statement

    statement_downloads(study_statement(record), key=f"tu_{record.id}", stem=f"dpviz-statement-{record.id}")
    if record.error:
        st.error(f"The study stopped: {record.error}")
    if record.trials_drawn == 0:
        st.warning(
            "The Poisson draw gave 0 trials: the search reports nothing. Drawing again would change the "
            "distribution the guarantee assumes; start a new study with its own budget instead."
        )
    frame = trials_frame(record)
    if not frame.empty:
        st.dataframe(frame, hide_index=True, placeholder=MISSING)
    best = record.best
    if best is not None:
        sizes = f"{record.config.validation_size:,} validation / {record.test_size:,} test examples"
        st.markdown(
            f"**Best trial {best.number}** (by validation accuracy, {sizes}): learning rate "
            f"{best.params.get('learning_rate'):.4g}, clip norm {best.params.get('clip_norm'):.4g}"
            + (f", momentum {best.params['momentum']:.3g}" if "momentum" in best.params else "")
            + f" → validation {best.validation_accuracy:.1%}, test "
            + (f"{best.test_accuracy:.1%}" if best.test_accuracy is not None else MISSING)
            + (f" (its baseline: {best.baseline_test_accuracy:.1%})" if best.baseline_test_accuracy else "")
        )
        if st.button(
            "Apply the best settings on the Train page",
            key="tu_apply",
            on_click=apply_best,
            args=(record, best),
            disabled=record.status == "running",
        ) and st.session_state.get("_switch_to_train"):
            st.rerun()  # a click reruns only this fragment: rerun the page, whose top opens the Train page
    plots(record, home)


def trials_frame(record) -> pd.DataFrame:
    rows = [
        {
            "trial": t.number,
            "state": t.state,
            "learning_rate": t.params.get("learning_rate"),
            "clip_norm": t.params.get("clip_norm"),
            **({"momentum": t.params.get("momentum")} if record.config.momentum_range is not None else {}),
            "validation_accuracy": t.validation_accuracy,
            "test_accuracy": t.test_accuracy,
            "baseline_test_accuracy": t.baseline_test_accuracy,
            "run": t.run_id,
        }
        for t in record.trials
    ]
    return pd.DataFrame(rows)


def apply_best(record, best) -> None:
    """The best trial's settings into the shared settings, then to the Train page."""
    config = record.config
    values = {
        "dataset": config.dataset,
        "model": config.model,
        "optimizer": config.optimizer,
        "sampler": config.sampler,
        "batch_size": str(config.batch_size),
        "epochs": config.epochs,
        "noise_multiplier": round(math.ceil(record.cost["noise_multiplier"] * 100) / 100, 2),
        "clip_norm": round(best.params["clip_norm"], 2),
        "learning_rate": f"{best.params['learning_rate']:.4g}",
        "momentum": f"{best.params.get('momentum', 0.0):.3g}",
        "delta": f"{config.delta:g}",
    }
    skipped = set_values(values)
    st.session_state["tu_applied"] = skipped
    st.session_state["_switch_to_train"] = True


def after_apply() -> None:
    """After "Apply": open the Train page with the settings (or say so where it is not routed, e.g. a test
    running this page alone)."""
    from streamlit.errors import StreamlitAPIException

    if not st.session_state.pop("_switch_to_train", False):
        return
    skipped = st.session_state.pop("tu_applied", [])
    try:
        st.switch_page("pages/train.py")
    except StreamlitAPIException:
        note = f" (not applied, out of the Train page's range: {', '.join(skipped)})" if skipped else ""
        st.success(f"The best settings are applied: open the **Train** page to train them{note}.")


def plots(record, home) -> None:
    """Optuna's own plotly figures, once there is something to plot."""
    complete = [t for t in record.trials if t.state == "complete"]
    if len(complete) < 2:
        return
    import optuna.visualization as vis

    from dpviz.tuning.study import optuna_study

    study = optuna_study(home, record.id)
    tabs = st.tabs(["Optimization history", "Parallel coordinates", "Parameter importance"])
    figures = (vis.plot_optimization_history, vis.plot_parallel_coordinate, vis.plot_param_importances)
    for tab, draw, key in zip(tabs, figures, ("hist", "par", "imp")):
        with tab:
            try:
                figure = draw(study)
            except (ValueError, RuntimeError) as err:  # e.g. importance with one distinct value
                st.caption(f"Not available yet: {err}")
                continue
            figure.update_layout(height=360, margin=dict(l=40, r=20, t=40, b=40))
            st.plotly_chart(figure, key=f"tu_{key}_{record.id}")
