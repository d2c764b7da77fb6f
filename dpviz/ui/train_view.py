"""The Train page: launch a DP-SGD run with its baseline and watch both live."""

from __future__ import annotations

import datetime as dt
import math
import time
from dataclasses import dataclass

import streamlit as st

from dpviz.compare import figures
from dpviz.compare.figures import hyperparameter_figure
from dpviz.compare.tables import runs_frame, varying_hyperparameter
from dpviz.datasets import DATASETS
from dpviz.privacy.budget import explore_params
from dpviz.privacy.labels import ACCOUNTANT_LABELS, format_epsilon
from dpviz.privacy.samplers import guarantee
from dpviz.privacy.statement import run_statement
from dpviz.runs.launcher import cancel, cancel_sweep, ensure_workers, submit_pair, submit_sweep
from dpviz.runs.store import SqliteRunStore
from dpviz.training.config import (
    HYPERPARAMETER_LABELS,
    HYPERPARAMETERS,
    TrainConfig,
    require_dataset_size,
    run_plan,
    stored_config,
)
from dpviz.training.sweep import MAX_CELLS, baseline_configs, expand, parse_axis
from dpviz.ui import audit_view, target_view, verify_view
from dpviz.ui.common import (
    MISSING,
    MODEL_LABELS,
    column_config,
    invalid_banner,
    seed_from_url,
    statement_downloads,
    stop_polling_when_done,
    write_url,
)
from dpviz.ui.settings import CUSTOM, parse_delta, parse_target, set_values
from dpviz.validation import ValidationError

POLL_SECONDS = 0.5
BATCH_PREFIXES = ("sweep-", "study-")  # runs grouped by their sweep_id: a sweep, or a study's trials


@dataclass(frozen=True)
class Checked:
    """The Train page's inputs, validated: the config to launch and the target line, or the first error."""

    config: TrainConfig | None
    target: float | None
    error: ValidationError | None


def check(values: dict) -> Checked:
    """Validate every input on the server (TrainConfig's bounds), on every run of the page."""
    try:
        target = parse_target(values["target_epsilon"])
        config = build_config(values)
    except ValidationError as err:
        return Checked(None, None, err)
    return Checked(config, target, None)


def show_invalid(checked: Checked) -> None:
    if checked.error is not None:
        invalid_banner(checked.error, "Training is disabled until it is fixed; nothing was started.")


def build_config(values: dict) -> TrainConfig:
    """The shared settings as the run they launch; a custom size (planning only) cannot be trained."""
    dataset = values["dataset"]
    if dataset == CUSTOM:
        raise ValidationError(
            "dataset", "'Custom size' is for planning on the Budget page only: choose a dataset to train on"
        )
    size = require_dataset_size(dataset, values["dataset_size"])
    return TrainConfig(
        dataset=dataset,
        dataset_size=None if size == DATASETS[dataset].train_size else size,
        model=values["model"],
        epochs=values["epochs"],
        batch_size=values["batch_size"],
        noise_multiplier=values["noise_multiplier"],
        clip_norm=values["clip_norm"],
        learning_rate=values["learning_rate"],
        optimizer=values["optimizer"],
        momentum=values.get("momentum", "0") if values["optimizer"] == "sgd" else 0.0,
        sampler=values["sampler"],
        seed=values["seed"],
        delta=parse_delta(values["delta"]),
        accountant=values["accountant"],
        canaries=values["canaries"],
        reproducible=values["noise"] == "seeded",
        precision=values.get("precision", "float32"),
    )


@st.cache_data(max_entries=256, show_spinner=False)
def _guarantee(params, sampler: str, accountant: str):
    return guarantee(params, sampler, accountant)


@st.cache_data(max_entries=256, show_spinner=False)
def _plan(params, accountant: str):
    """The pre-launch guarantee, cached on the settings (a rerun that changes nothing costs nothing)."""
    return explore_params(params, accountant)


def before_launch(checked: Checked):
    """What the run will spend, before it is launched: its accountant, its real n (canaries counted) and
    its sampler's guarantee. The last valid plan stays visible, marked, while an input is invalid."""
    config = checked.config
    if config is None:
        last = st.session_state.get("t_last_valid")
        if last is None:
            return None
        config = last
        st.caption("Below: the last valid settings, not those typed above.")
    else:
        st.session_state["t_last_valid"] = config
    with st.expander("Privacy before launch: what this run will spend", expanded=True):
        view = _plan(config.privacy, config.accountant)
        r = view.report
        g = _guarantee(config.privacy, config.sampler, config.accountant)
        extra = sum(config.canary_copies)
        cols = st.columns(4)
        cols[0].metric(
            "ε this run will report" if config.sampler != "shuffle" else "ε that applies (no amplification)",
            format_epsilon(g.epsilon),
            help=f"{ACCOUNTANT_LABELS[g.accountant]}, δ = {config.delta:g}, {g.neighboring_relation} neighbours",
        )
        cols[1].metric("n (training rows)", f"{config.train_size:,}", help="canary copies included" if extra else None)
        cols[2].metric("Steps", f"{r.steps:,}")
        cols[3].metric("Sampling rate q", f"{r.sampling_probability:.4g}")
        rows = f"{config.base_size:,} examples" + (f" + {extra} canary rows" if extra else "")
        text = {
            "poisson": f"Poisson sampling, add/remove-one neighbours: ({format_epsilon(g.epsilon)}, "
            f"{config.delta:g})-DP over {rows}, {config.accountant} accountant.",
            "fixed": f"Fixed-size batches of {config.batch_size} drawn without replacement at every step, replace-one "
            f"neighbours: ({format_epsilon(g.epsilon)}, {config.delta:g})-DP over {rows}, dp-accounting's RDP"
            + (f" ({g.note})." if g.note else "."),
            "shuffle": f"Shuffled fixed-size batches get no sampling amplification: ε = {format_epsilon(g.epsilon)} "
            f"over {rows}. (The Poisson analysis would say {format_epsilon(r.epsilon)}, but it does not apply to "
            "shuffled batches.)",
        }[config.sampler]
        st.caption(text)
        if r.note:
            st.warning(r.note, icon="🔎")
        for warning in view.warnings:
            st.warning(warning)
    return view


def target_helper(view) -> None:
    """The Budget page's solver at the Train page's settings (drawn last: PLD calibrates for seconds)."""
    if view is not None:
        target_view.render(view, key="t_target_helper", with_input=False)


def launch(store: SqliteRunStore, config: TrainConfig) -> None:
    try:
        ids = submit_pair(store, config)
    except ValidationError as err:
        invalid_banner(err, "Nothing was started.")
        return
    _show(ids["private"])
    st.toast("Queued: the private run and its baseline")


def _show(unit: str) -> None:
    """Point the run selector at what was just launched (runs before the selector is drawn)."""
    st.session_state["t_view"] = unit


def sweep_inputs() -> list:
    """Up to two (hyperparameter, values) axes; the sidebar's value is used for everything else."""
    st.caption(
        f"Vary one or two hyperparameters; every combination trains (at most {MAX_CELLS} runs), with one "
        "shared non-private baseline per training schedule (noise and clipping do not affect it)."
    )
    axes = []
    defaults = (("noise_multiplier", "0.5, 1, 2"), ("clip_norm", "0.5, 1"))
    for i, (name, values) in enumerate(defaults, start=1):
        left, right = st.columns([1, 2])
        choices = ("none", *HYPERPARAMETERS)
        st.session_state.setdefault(f"t_sweep_x{i}", name)
        st.session_state.setdefault(f"t_sweep_v{i}", values)
        x = left.selectbox(
            f"Hyperparameter {i}",
            choices,
            key=f"t_sweep_x{i}",
            format_func=lambda h: "—" if h == "none" else HYPERPARAMETER_LABELS[h],
        )
        text = right.text_input(f"Values {i} (comma-separated)", key=f"t_sweep_v{i}", disabled=x == "none")
        if x != "none":
            axes.append((x, text))
    return axes


def launch_sweep(store: SqliteRunStore, config: TrainConfig, axes: list) -> None:
    try:
        if not axes:
            raise ValidationError("sweep", "choose at least one hyperparameter to vary")
        configs = expand(config, [parse_axis(name, text) for name, text in axes])
        sweep_id = submit_sweep(store, configs)
    except ValidationError as err:
        invalid_banner(err, "Nothing was started.")
        return
    _show(sweep_id)
    st.toast(f"Queued {len(configs)} private runs and {len(baseline_configs(configs))} baseline(s) as {sweep_id}")


def launchers(store: SqliteRunStore, checked: Checked) -> None:
    """The Single run and Sweep tabs; both launch buttons are disabled while any input is invalid."""
    single, sweep, verify = st.tabs(
        ["Single run", "Sweep", "Verify this implementation"], key="tab", bind="query-params"
    )
    invalid = checked.config is None
    with single:
        if st.button("Train private + baseline", type="primary", key="t_launch", disabled=invalid) and not invalid:
            launch(store, checked.config)
    with sweep:
        axes = sweep_inputs()
        if st.button("Queue sweep", type="primary", key="t_sweep_launch", disabled=invalid) and not invalid:
            launch_sweep(store, checked.config, axes)
    with verify:
        verify_view.verify_tab(store.home, checked.config)


def runs_panel(store: SqliteRunStore, checked: Checked) -> None:
    """The chosen pair or sweep, live, with a word when the form above no longer matches it."""
    group = choose_group(store)
    if not group:
        return
    form_matches(store, group, checked)
    if group.startswith(BATCH_PREFIXES):
        sweep_panel(store, group)
    else:
        live_panel(store, group, checked.target)


SHOWN_SETTINGS = {  # TrainConfig field -> (shared setting, label)
    "dataset": ("dataset", "dataset"),
    "model": ("model", "model"),
    "optimizer": ("optimizer", "optimizer"),
    "sampler": ("sampler", "sampler"),
    "epochs": ("epochs", "epochs"),
    "batch_size": ("batch_size", "b"),
    "noise_multiplier": ("noise_multiplier", "σ"),
    "clip_norm": ("clip_norm", "C"),
    "learning_rate": ("learning_rate", "lr"),
    "momentum": ("momentum", "momentum"),
    "seed": ("seed", "seed"),
    "delta": ("delta", "δ"),
    "accountant": ("accountant", "accountant"),
    "canaries": ("canaries", "canaries"),
    "reproducible": ("noise", "noise"),
    "precision": ("precision", "precision"),
}


def _as_settings(config: TrainConfig) -> dict:
    values = {setting: getattr(config, field) for field, (setting, _) in SHOWN_SETTINGS.items()}
    values["noise"] = "seeded" if config.reproducible else "entropy"
    values["dataset_size"] = config.base_size
    return values


def form_matches(store: SqliteRunStore, group: str, checked: Checked) -> None:
    """After a reload, or once the form is edited, say plainly when it differs from the run shown."""
    runs = store.list(sweep_id=group) if group.startswith(BATCH_PREFIXES) else store.list(group_id=group)
    private = [r for r in runs if r.kind == "private"] or runs
    config = stored_config(private[-1].config) if private else None
    if config is None or group.startswith(BATCH_PREFIXES):
        return  # a sweep varies some settings by design; its table lists them
    shown = _as_settings(config)
    if checked.config is not None:
        current = _as_settings(checked.config)
        differ = [label for field, (setting, label) in SHOWN_SETTINGS.items() if shown[setting] != current[setting]]
        if shown["dataset_size"] != current["dataset_size"]:
            differ.append("n")
    else:
        differ = ["an invalid input"]
    if not differ:
        return
    left, right = st.columns([4, 1])
    left.info(
        f"The form above differs from the run shown below ({', '.join(differ)}): the charts are the stored run's "
        "settings, the form is what **Train** would launch next.",
        icon=":material/compare_arrows:",
    )
    right.button("Load its settings", key="t_load_settings", on_click=set_values, args=(_as_settings(config),))


def _unit(run) -> str:
    """What the Train page shows as one item: a sweep, or a private run with its baseline."""
    return run.sweep_id or run.group_id


def _group_label(store: SqliteRunStore, unit: str) -> str:
    runs = store.list(sweep_id=unit) if unit.startswith(BATCH_PREFIXES) else store.list(group_id=unit)
    if not runs:
        return unit
    c = stored_config(runs[0].config)
    when = dt.datetime.fromtimestamp(min(r.created_at for r in runs)).strftime("%H:%M:%S")
    if c is None:
        return f"{when} · {unit} (damaged settings)"
    if unit.startswith(BATCH_PREFIXES):
        private = sum(r.kind == "private" for r in runs)
        return f"{when} · {unit}: {private} private runs + {len(runs) - private} baseline(s) · {c.dataset} {c.model}"
    return (
        f"{when} · {c.dataset} {c.model} σ={c.noise_multiplier:g} C={c.clip_norm:g} "
        f"b={c.batch_size} · {c.epochs:g} epochs"
    )


def choose_group(store: SqliteRunStore) -> str | None:
    groups = list(dict.fromkeys(_unit(r) for r in store.list(limit=300)))
    if not groups:
        st.info(
            "No runs yet: choose settings and press **Train**. The private run and its baseline train side by side."
        )
        return None
    seed_from_url("t_view", groups)
    if "t_view" in st.session_state and st.session_state["t_view"] not in groups:
        st.session_state.pop("t_view")  # a deleted run: show the newest instead
    view = st.selectbox("Run pair or sweep", groups, format_func=lambda g: _group_label(store, g), key="t_view")
    write_url("t_view", view)
    return view


def sweep_panel(store: SqliteRunStore, sweep_id: str) -> None:
    """A sweep's progress, one row per run, and its hyperparameter chart as cells complete."""
    active = any(r.active for r in store.list(sweep_id=sweep_id))

    @st.fragment(run_every=POLL_SECONDS if active else None)
    def panel():
        runs = store.list(sweep_id=sweep_id)
        stop_polling_when_done(active, any(r.active for r in runs))
        if any(r.status == "queued" for r in runs):
            ensure_workers(store)
        frame = runs_frame(runs).iloc[::-1]
        done = int((frame["status"] == "completed").sum())
        left, right = st.columns([4, 1])
        left.progress(done / max(len(frame), 1), text=f"{done}/{len(frame)} runs completed")
        if any(r.active for r in runs) and right.button("Cancel sweep", key="t_cancel_sweep"):
            cancel_sweep(store, sweep_id)
            st.rerun()
        progress = {r.id: r.progress.get("step", 0) / max(r.progress.get("total_steps", 1), 1) for r in runs}
        frame = frame.assign(
            progress=[1.0 if s == "completed" else progress.get(i, 0.0) for i, s in zip(frame["id"], frame["status"])]
        )
        st.dataframe(
            frame[["id", "kind", "status", "progress", *HYPERPARAMETERS, "test_accuracy", "epsilon"]],
            placeholder=MISSING,
            hide_index=True,
            column_config=column_config(),
        )
        st.plotly_chart(hyperparameter_figure(frame, varying_hyperparameter(frame)), key="t_sweep_chart")
        st.caption("Compare, filter and export every chart on the **Runs** page.")

    panel()


def live_panel(store: SqliteRunStore, group_id: str, target: float | None) -> None:
    runs = {r.kind: r for r in store.list(group_id=group_id)}
    active = any(r.active for r in runs.values())

    @st.fragment(run_every=POLL_SECONDS if active else None)
    def panel():
        current = {r.kind: r for r in store.list(group_id=group_id)}
        stop_polling_when_done(active, any(r.active for r in current.values()))
        if any(r.status == "queued" for r in current.values()):
            ensure_workers(store)
        series = {
            kind: store.metrics(run.id) for kind, run in sorted(current.items(), key=lambda kv: kv[0] != "private")
        }
        cols = st.columns(len(current) or 1)
        for col, (kind, run) in zip(cols, sorted(current.items(), key=lambda kv: kv[0] != "private")):
            with col:
                _run_status(store, run, series[kind])
        left, middle, right = st.columns(3)
        name = _task_name(current)
        left.plotly_chart(figures.training_figure(series, "accuracy", title=f"Accuracy · {name}"), key="acc")
        middle.plotly_chart(
            figures.training_figure(series, "loss", title=f"Loss · {name}", traces=_loss_traces(current)), key="loss"
        )
        private = {k: v for k, v in series.items() if k == "private"}
        right.plotly_chart(
            figures.training_figure(private, "epsilon", title=f"ε spent · {name}", target=target), key="eps"
        )
        if current and not any(r.active for r in current.values()):
            _summary(current)
            if current.get("private") is not None:
                statement_downloads(
                    run_statement(current["private"]), key=f"t_{group_id}", stem=f"dpviz-statement-{group_id}"
                )
            with st.expander("Privacy audit: membership inference", expanded=True):
                audit_view.render(current.get("private"), current.get("baseline"), key=group_id)

    panel()


def _task_name(runs: dict) -> str:
    """'digits / MLP': what the charts show, for their titles (and so for a screenshot's reader)."""
    for run in runs.values():
        config = stored_config(run.config)
        if config is not None:
            return f"{DATASETS[config.dataset].label.split(' (')[0]} / {MODEL_LABELS[config.model]}"
    return "damaged settings"


def _loss_traces(runs: dict) -> dict[str, list]:
    """Each run's per-step training loss, in epochs (step / steps per epoch), for the loss chart."""
    traces = {}
    for kind, run in runs.items():
        config = stored_config(run.config)
        trace = run.progress.get("trace") or []
        if config is None or not trace:
            continue
        per_epoch = config.privacy.steps_per_epoch
        traces[kind] = [(step / per_epoch, loss) for step, loss in trace if isinstance(loss, int | float)]
    return traces


def time_left(run) -> float | None:
    """Seconds of training left at the measured step rate (start-up excluded), or None before it is known."""
    rate, step, total = (run.progress.get(k) for k in ("steps_per_second", "step", "total_steps"))
    if run.status != "running" or not rate or not step or not total:
        return None
    return max(0.0, (total - step) / rate)


def _run_status(store: SqliteRunStore, run, metrics: dict) -> None:
    config = stored_config(run.config)
    if config is None:
        st.error(f"Run {run.id}: its stored settings cannot be read (the row is damaged); it is kept as it is.")
        return
    plan = run_plan(config)
    total_steps = plan[-1][1]
    step = run.progress.get("step", 0) if run.status != "completed" else total_steps
    epochs_done = len(metrics.get("test_accuracy", []))
    icon = {
        "completed": ":green[:material/check_circle:]",
        "running": ":blue[:material/progress_activity:]",
        "queued": ":material/schedule:",
        "failed": ":red[:material/error:]",
        "cancelled": ":material/cancel:",
        "diverged": ":red[:material/warning:]",
        "interrupted": ":orange[:material/restart_alt:]",
    }.get(run.status, "")
    st.markdown(f"**{run.kind.capitalize()}** {icon} `{run.status}`" + (f" on {run.device}" if run.device else ""))
    st.progress(min(1.0, epochs_done / len(plan)), text=f"epoch {epochs_done}/{len(plan)}")
    st.progress(min(1.0, step / total_steps), text=f"step {step}/{total_steps}")
    last = {name: values[-1][1] for name, values in metrics.items() if values}
    elapsed = ((run.finished_at or time.time()) - run.started_at) if run.started_at else 0.0
    parts = [f"{elapsed:.0f} s elapsed"]
    left = time_left(run)
    if left is not None:
        parts.append(f"~{left:.0f} s of training left" if left >= 1 else "finishing")
    elif run.status == "running":
        parts.append("starting (loading data, compiling the step)")
    if last.get("examples_per_second"):
        parts.append(f"{last['examples_per_second']:,.0f} examples/s")
    st.caption(" · ".join(parts))
    if run.error:
        st.error(run.error)
    if run.active and st.button("Cancel", key=f"cancel_{run.id}"):
        cancel(store, run.id)
        st.rerun()


def _summary(runs: dict) -> None:
    private, baseline = runs.get("private"), runs.get("baseline")
    if not private or private.status != "completed":
        return
    pf = private.final.get("final", {})
    cfg = stored_config(private.config)
    if cfg is None:
        return
    lines = [
        f"Private run: test accuracy **{pf.get('test_accuracy', 0):.1%}** at "
        f"**ε = {format_epsilon(pf.get('epsilon'))}** (δ = {cfg.delta:g}, {cfg.accountant} accountant, "
        f"{cfg.sampler} sampling), {(private.finished_at - private.started_at):.0f} s."
    ]
    if baseline and baseline.status == "completed":
        bf = baseline.final.get("final", {})
        gap = bf.get("test_accuracy", math.nan) - pf.get("test_accuracy", math.nan)
        lines.append(
            f"Non-private baseline: **{bf.get('test_accuracy', 0):.1%}**; privacy costs "
            f"**{gap * 100:.1f} points** of accuracy."
        )
    if cfg.reproducible:
        lines.append(
            f"Noise and batches were seeded (seed {cfg.seed}): the run is reproducible, and so protects nothing "
            "against anyone who knows the seed."
        )
    if cfg.sampler == "fixed":
        lines.append(
            "Fixed-size batches without replacement: ε above is dp-accounting's RDP under replace-one neighbours."
        )
    if cfg.sampler == "shuffle":
        lines.append(
            f"Shuffled batches: the ε above assumes Poisson sampling and does not strictly apply; without "
            f"amplification ε = {format_epsilon(pf.get('epsilon_no_amplification'))}."
        )
    st.success("\n\n".join(lines))
