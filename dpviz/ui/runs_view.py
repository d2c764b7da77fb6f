"""The Runs page: filter and select stored runs, compare them in three charts, export each chart."""

from __future__ import annotations

import functools
import hashlib
import math

import pandas as pd
import streamlit as st

from dpviz.compare.export import FORMATS, IMAGE_FORMATS, MIME, ExportUnavailable, export_bytes
from dpviz.compare.figures import chart_figure
from dpviz.compare.tables import chart_table, filter_frame, run_label, runs_frame, select, varying_hyperparameter
from dpviz.privacy.labels import format_epsilon
from dpviz.privacy.statement import run_statement
from dpviz.runs.launcher import cancel_sweep
from dpviz.runs.store import ACTIVE, STATUSES, SqliteRunStore, parse_tags
from dpviz.training.config import HYPERPARAMETER_LABELS, HYPERPARAMETERS
from dpviz.ui import audit_view
from dpviz.ui.common import (
    MISSING,
    column_config,
    invalid_banner,
    seed_from_url,
    statement_downloads,
    stop_polling_when_done,
    write_url,
)
from dpviz.validation import ValidationError

MAX_DEFAULT_SELECTION = 30
TABLE_COLUMNS = [
    "id",
    "name",
    "tags",
    "kind",
    "status",
    "dataset",
    "model",
    "noise_multiplier",
    "clip_norm",
    "batch_size",
    "epochs",
    "learning_rate",
    "test_accuracy",
    "epsilon",
    "accountant",
    "sampler",
    "duration_s",
    "created",
    "sweep_id",
]


def load(store: SqliteRunStore) -> pd.DataFrame:
    """Every run as a row, with its name and tags."""
    frame = runs_frame(store.list())
    labels = store.labels()
    if not frame.empty:
        frame["name"] = [labels.get(i, {}).get("name", "") for i in frame["id"]]
        frame["tags"] = [", ".join(labels.get(i, {}).get("tags", [])) for i in frame["id"]]
    return frame


def _tags(frame: pd.DataFrame) -> list[str]:
    return sorted({t.strip() for text in frame["tags"] for t in str(text).split(",") if t.strip()})


def filters(frame: pd.DataFrame) -> pd.DataFrame:
    """Dataset, model, status, sweep and epsilon-range filters; returns the rows that pass."""
    c = st.columns([1, 1, 1, 1, 1, 2])
    datasets = c[0].multiselect(
        "Dataset", sorted(frame["dataset"].dropna().unique()), key="r_dataset", bind="query-params", placeholder="all"
    )
    models = c[1].multiselect(
        "Model", sorted(frame["model"].dropna().unique()), key="r_model", bind="query-params", placeholder="all"
    )
    statuses = c[2].multiselect(
        "Status",
        [s for s in STATUSES if s in set(frame["status"])],
        key="r_status",
        bind="query-params",
        placeholder="all",
    )
    sweeps = sorted(frame["sweep_id"].dropna().unique(), reverse=True)
    chosen_sweeps = c[3].multiselect(
        "Sweep or study", sweeps, key="r_sweep", bind="query-params", placeholder="all runs"
    )
    tags = c[4].multiselect("Tag", _tags(frame), key="r_tag", bind="query-params", placeholder="any")
    finite = frame.loc[
        (frame["kind"] == "private") & frame["epsilon"].apply(lambda v: math.isfinite(v) if v == v else False),
        "epsilon",
    ]
    epsilon_range = None
    if len(finite):
        top = float(math.ceil(finite.max() * 1.01 * 10) / 10) or 1.0
        low, high = c[5].slider("ε range (private runs)", 0.0, top, (0.0, top), step=max(top / 200, 0.01), key="r_eps")
        if (low, high) != (0.0, top):
            epsilon_range = (low, high)
    shown = filter_frame(frame, datasets=datasets, models=models, statuses=statuses, epsilon_range=epsilon_range)
    if chosen_sweeps:
        shown = shown[shown["sweep_id"].isin(chosen_sweeps)]
    if tags:
        wanted = set(tags)
        shown = shown[[bool(wanted & {t.strip() for t in str(text).split(",")}) for text in shown["tags"]]]
    return shown


def table(shown: pd.DataFrame, total: int) -> None:
    """The runs; selecting rows here chooses the runs compared below (hundreds fit, no chip list needed)."""
    st.caption(
        f"{len(shown)} of {total} runs shown. Select rows to compare them (a private run brings its baseline). "
        "ε is for the run's accountant and δ; baselines are non-private."
    )
    ids = list(shown["id"])
    selected = set(st.session_state.get("r_selected", []))
    # the widget's identity follows the rows and the selection, so a selection made elsewhere (the list below,
    # a link, a run added by a poll) is drawn as it is instead of by stale row positions
    key = "r_table_" + hashlib.sha1("|".join(ids + ["/"] + sorted(selected)).encode()).hexdigest()[:12]
    st.dataframe(
        shown[TABLE_COLUMNS],
        hide_index=True,
        placeholder=MISSING,
        width="stretch",
        key=key,
        column_config=column_config(),
        on_select=functools.partial(_on_table, key, ids),
        selection_mode="multi-row",
        selection_default={"selection": {"rows": [i for i, run_id in enumerate(ids) if run_id in selected]}},
    )


def _on_table(key: str, ids: list[str]) -> None:
    rows = st.session_state[key]["selection"]["rows"]
    st.session_state["r_selected"] = [ids[i] for i in sorted(rows) if 0 <= i < len(ids)]


def sweeps_panel(store: SqliteRunStore, frame: pd.DataFrame) -> None:
    """One line per unfinished sweep with its progress and a cancel button for the whole sweep."""
    for sweep_id, runs in frame[frame["sweep_id"].notna()].groupby("sweep_id", sort=False):
        active = runs["status"].isin(ACTIVE).sum()
        if not active:
            continue
        done = (runs["status"] == "completed").sum()
        left, right = st.columns([4, 1])
        left.progress(
            done / len(runs), text=f"**{sweep_id}**: {done}/{len(runs)} runs completed, {active} queued or running"
        )
        if right.button("Cancel sweep", key=f"r_cancel_{sweep_id}"):
            count = cancel_sweep(store, sweep_id)
            st.toast(f"Cancelling {count} runs of {sweep_id}")
            st.rerun()


def init_selection(shown: pd.DataFrame) -> None:
    """The selection (run ids, in session state and the URL): from a link, else the newest usable runs;
    runs the filters hide leave it."""
    options = set(shown["id"])
    seed_from_url("r_selected", list(shown["id"]), many=True)
    if "r_selected" in st.session_state:
        st.session_state["r_selected"] = [i for i in st.session_state["r_selected"] if i in options]
    else:
        st.session_state["r_selected"] = default_selection(shown)


def choose(shown: pd.DataFrame) -> list[str]:
    """The selected runs, listed (and editable) in a collapsed list under the table."""
    options = list(shown["id"])
    labels = {row["id"]: f"{run_label(row)} [{row['status']}]" for _, row in shown.iterrows()}
    with st.expander(f"Selected: {len(st.session_state['r_selected'])} run(s)"):
        chosen = st.multiselect(
            "Runs to compare (a private run brings its baseline along)",
            options,
            key="r_selected",
            format_func=labels.get,
            placeholder="select rows in the table, or choose here",
        )
    write_url("r_selected", chosen)
    return chosen


def label_controls(store: SqliteRunStore, frame: pd.DataFrame, chosen: list[str]) -> None:
    """Name and tag the selected runs: the Runs page as a tracker."""
    if not chosen:
        return
    with st.expander(f"Name or tag the {len(chosen)} selected run(s)"):
        left, right, button = st.columns([2, 2, 1])
        name = left.text_input("Name", key="r_label_name", help="At most 80 characters; empty keeps each name.")
        tags = right.text_input("Add tags", key="r_label_tags", help="Comma-separated; at most 10 per run.")
        clear = st.checkbox("Replace their tags instead of adding", key="r_label_replace")
        if button.button("Apply", key="r_label_apply"):
            try:
                labels = store.labels()
                for run_id in chosen:
                    current = labels.get(run_id, {}).get("tags", [])
                    new = parse_tags(tags)
                    store.set_label(
                        run_id, name=name or None, tags=new if clear else current + [t for t in new if t not in current]
                    )
            except ValidationError as err:
                invalid_banner(err, "No run was changed after the first one that failed.")
            else:
                st.toast(f"Labelled {len(chosen)} run(s)")
                st.rerun()


def default_selection(shown: pd.DataFrame) -> list[str]:
    """The newest private runs that completed or are still going: cancelled and failed ones only on request."""
    usable = shown[(shown["kind"] == "private") & shown["status"].isin(("completed", *ACTIVE))]
    return list(usable["id"])[:MAX_DEFAULT_SELECTION]


def delete_controls(store: SqliteRunStore, frame: pd.DataFrame, chosen: list[str]) -> None:
    """Delete the selected finished runs after a confirmation; queued or running ones are kept."""
    if not chosen:
        return
    rows = frame[frame["id"].isin(chosen)]
    active = rows[rows["status"].isin(ACTIVE)]
    deletable = list(rows.loc[~rows["status"].isin(ACTIVE), "id"])
    if not st.session_state.get("r_confirming"):
        st.button(
            f"Delete {len(chosen)} selected…",
            key="r_delete",
            disabled=not deletable,
            on_click=_set_confirming,
            args=(True,),
        )
        return
    note = f" {len(active)} queued or running run(s) are kept: cancel them first." if len(active) else ""
    st.warning(f"Delete {len(deletable)} run(s) and their metrics for good?{note}")
    yes, no, _ = st.columns([1, 1, 4])
    yes.button("Yes, delete", type="primary", key="r_confirm_delete", on_click=_delete, args=(store, deletable))
    no.button("Keep them", key="r_cancel_delete", on_click=_set_confirming, args=(False,))


def _set_confirming(value: bool) -> None:
    st.session_state["r_confirming"] = value


def _delete(store: SqliteRunStore, run_ids: list[str]) -> None:
    for run_id in run_ids:
        store.delete(run_id)
    st.session_state["r_confirming"] = False
    st.session_state["r_selected"] = [i for i in st.session_state.get("r_selected", []) if i not in run_ids]
    st.toast(f"Deleted {len(run_ids)} run(s)")


def charts(store: SqliteRunStore, selection: pd.DataFrame) -> None:
    if selection.empty:
        st.info("Select runs above to compare them.")
        return
    rows = store.metric_rows(selection["id"])
    frontier, hyper, curves, audit = st.tabs(
        ["Privacy-utility frontier", "Hyperparameter comparison", "Curves by epoch", "Membership inference"],
        key="chart",
        bind="query-params",
    )
    with frontier:
        _chart_with_exports("frontier", selection, rows)
    with hyper:
        options = list(HYPERPARAMETERS)
        seed_from_url("r_x", options)
        st.session_state.setdefault("r_x", varying_hyperparameter(selection))
        x = st.selectbox("x axis", options, key="r_x", format_func=HYPERPARAMETER_LABELS.get)
        write_url("r_x", x)
        _chart_with_exports("hyperparameter", selection, rows, x=x)
    with curves:
        _chart_with_exports("curves", selection, rows)
    with audit:
        _audit(store, selection)


def _audit(store: SqliteRunStore, selection: pd.DataFrame) -> None:
    private = selection[(selection["kind"] == "private") & (selection["status"] == "completed")]
    if private.empty:
        st.info("Select a completed private run to see what a membership-inference attack learns from it.")
        return
    labels = {row["id"]: run_label(row) for _, row in private.iterrows()}
    run_id = st.selectbox("Private run", list(labels), format_func=labels.get, key="r_audit_run", bind="query-params")
    baseline_id = private.set_index("id").loc[run_id, "baseline_id"]
    private = store.get(run_id)
    statement_downloads(run_statement(private), key="r", stem=f"dpviz-statement-{run_id}")
    audit_view.render(private, store.get(baseline_id) if isinstance(baseline_id, str) else None, key="runs")


def _chart_with_exports(chart: str, selection: pd.DataFrame, rows, *, x: str = "noise_multiplier") -> None:
    figure = chart_figure(chart, selection, rows, x=x)
    st.plotly_chart(figure, key=f"r_chart_{chart}")
    table_data = chart_table(chart, selection, rows, x=x)
    stem = f"dpviz-{chart}" + (f"-{x}" if chart == "hyperparameter" else "")
    columns = st.columns(len(FORMATS) + 1)
    columns[0].markdown("**Export**")
    images = _images(chart, figure)
    for column, fmt in zip(columns[1:], FORMATS):
        if fmt in IMAGE_FORMATS:
            if images is None:
                if column.button(
                    fmt.upper(), key=f"r_render_{chart}_{fmt}", help="renders PNG and SVG (a second or two)"
                ):
                    images = _render_images(chart, figure)
                    if images is not None:
                        st.rerun()
                continue
            data = images[fmt]
        else:  # built only when clicked: HTML is ~5 MB
            data = lambda f=fmt: export_bytes(f, figure=figure, table=table_data)
        column.download_button(
            fmt.upper(),
            data=data,
            file_name=f"{stem}.{fmt}",
            mime=MIME[fmt],
            key=f"r_dl_{chart}_{fmt}",
            on_click="ignore",
            icon=":material/download:" if fmt in IMAGE_FORMATS else None,
            help="data behind the chart"
            if fmt in ("csv", "json")
            else ("self-contained, opens offline" if fmt == "html" else None),
        )


def _fingerprint(figure) -> str:
    return hashlib.sha1(figure.to_json().encode()).hexdigest()


def _images(chart: str, figure) -> dict | None:
    """PNG and SVG rendered for exactly this figure, if the user asked for them."""
    stored = st.session_state.get(f"r_images_{chart}")
    return stored[1] if stored and stored[0] == _fingerprint(figure) else None


def _render_images(chart: str, figure) -> dict | None:
    """Static export can fail (no Chrome/Chromium): say so here, where an error can be shown."""
    try:
        with st.spinner("Rendering PNG and SVG…"):
            images = {fmt: export_bytes(fmt, figure=figure, table=None) for fmt in IMAGE_FORMATS}
    except ExportUnavailable as err:
        st.error(str(err), icon="⚠️")
        return None
    st.session_state[f"r_images_{chart}"] = (_fingerprint(figure), images)
    return images


def summary(selection: pd.DataFrame) -> None:
    """One line that reads the comparison: the best private accuracy per ε band next to the baseline."""
    done = selection[
        (selection["kind"] == "private") & (selection["status"] == "completed") & selection["test_accuracy"].notna()
    ]
    if done.empty:
        return
    best = done.loc[done["test_accuracy"].idxmax()]
    base = selection[(selection["kind"] == "baseline") & (selection["status"] == "completed")]
    text = (
        f"Best private run: **{best['test_accuracy']:.1%}** at **ε = {format_epsilon(best['epsilon'])}** "
        f"({run_label(best)})."
    )
    matching = base[(base["dataset"] == best["dataset"]) & (base["model"] == best["model"])]
    if not matching.empty:
        text += f" Non-private {best['dataset']}/{best['model']}: **{matching['test_accuracy'].mean():.1%}**."
    st.markdown(text)


POLL_SECONDS = 3.0


def _any_active(runs: pd.DataFrame) -> bool:
    return not runs.empty and bool(runs["status"].isin(ACTIVE).any())


def render(store: SqliteRunStore) -> None:
    """The whole page; refreshes itself every few seconds while any run is queued or running."""
    frame = load(store)
    if frame.empty:
        st.info(
            "No runs stored yet. Train a private model and its baseline, or a sweep, on the **Train** page "
            "(sidebar); every run is kept here to compare and export."
        )
        return
    active = _any_active(frame)

    @st.fragment(run_every=POLL_SECONDS if active else None)
    def body():
        current = load(store)
        stop_polling_when_done(active, _any_active(current))
        sweeps_panel(store, current)
        shown = filters(current)
        init_selection(shown)
        table(shown, len(current))
        chosen = choose(shown)
        label_controls(store, current, chosen)
        delete_controls(store, current, chosen)
        selection = select(current, chosen)
        summary(selection)
        charts(store, selection)

    body()
