"""The Train page's "Verify this implementation" tab: a one-run audit at the page's settings."""

from __future__ import annotations

import math
import os

import pandas as pd
import streamlit as st

from dpviz.training.config import TrainConfig
from dpviz.ui.common import invalid_banner, stop_polling_when_done
from dpviz.validation import ValidationError, require_int
from dpviz.verify import records
from dpviz.verify.config import DEFAULT_CANARIES, KINDS, VerifyConfig
from dpviz.verify.figures import score_histogram
from dpviz.verify.report import METHOD

POLL_SECONDS = 1.0
KIND_LABELS = {"gradient": "Gradient canaries (white-box)", "input": "Input canaries (whole pipeline)"}


def verify_config(config: TrainConfig, kind: str, canaries) -> VerifyConfig:
    """The page's training settings as a verification; bad canary counts name their field."""
    text = str(canaries).strip()
    count = None if text == "" else require_int("canaries", text)
    return VerifyConfig.from_train_config(config, kind=kind, canaries=count)


def _alive(record: dict) -> bool:
    pid = record.get("pid")
    if not pid:
        return True  # not started yet
    try:
        os.kill(int(pid), 0)
    except (OSError, ValueError):
        return False
    return True


def verify_tab(home, config: TrainConfig | None) -> None:
    """Inputs, the button (disabled while any input is invalid) and the latest verification, live."""
    st.caption(
        "Audits this DP-SGD implementation in one training run (Steinke, Nasr and Jagielski 2023): canaries, "
        "each included with probability 1/2, are guessed from the trained model, and jax-privacy's one-run "
        "bounds turn the guesses into a lower bound on ε. A bound above the accounted ε is a violation."
    )
    left, right = st.columns(2)
    kind = left.radio("Canaries", tuple(KINDS), format_func=KIND_LABELS.get, key="t_verify_kind", horizontal=True)
    canaries = right.text_input(
        "Number of canaries",
        value="",
        key="t_verify_canaries",
        placeholder=f"default: {DEFAULT_CANARIES[kind]:,}",
        help="Each is included with probability 1/2 and counts in n and in the accountant's steps. "
        "Gradient canaries: at most one per model parameter.",
    )
    st.caption(
        KINDS[kind].capitalize() + ". The audit samples batches by Poisson sampling, whatever the sampler above."
    )
    verification = None
    if config is not None:
        try:
            verification = verify_config(config, kind, canaries)
        except ValidationError as err:
            invalid_banner(err, "Verification is disabled until it is fixed.")
    if (
        st.button("Verify this implementation", key="t_verify_launch", disabled=verification is None)
        and verification is not None
    ):
        st.session_state["t_verify_id"] = records.start(home, verification)
    record_id = st.session_state.get("t_verify_id")
    if record_id:
        verification_panel(home, record_id)
    earlier(home)


def _show() -> None:
    st.session_state["t_verify_id"] = st.session_state["t_verify_pick"]


def earlier(home) -> None:
    """Every kept verification, so that a reload, or another session, finds its results again."""
    rows = [records.summary(record) for record in records.history(home)]
    if not rows:
        return
    labels = {r["id"]: f"{r['started'] or r['id']} · {r['kind']} · {r['verdict'] or r['status']}" for r in rows}
    with st.expander(f"Earlier verifications ({len(rows)})", expanded=not st.session_state.get("t_verify_id")):
        st.dataframe(pd.DataFrame(rows).drop(columns="id"), hide_index=True)
        st.selectbox(
            "Show a verification",
            list(labels),
            index=None,
            format_func=labels.get,
            placeholder="Choose one to show its report above",
            key="t_verify_pick",
            on_change=_show,
        )


def verification_panel(home, record_id: str) -> None:
    record = records.read(home, record_id)
    running = record is not None and record.get("status") == "running" and _alive(record)

    @st.fragment(run_every=POLL_SECONDS if running else None)
    def panel():
        current = records.read(home, record_id)
        if current is None:
            st.info("Starting the verification…")
            return
        status = current.get("status")
        if status == "running" and not _alive(current):
            st.error("The verification's process stopped before it finished; start it again.")
            return
        if status == "running":
            step, steps = current.get("progress") or [0, 0]
            st.progress(step / steps if steps else 0.0, text=f"Training with canaries: step {step:,} of {steps:,}")
            if st.button("Cancel verification", key="t_verify_cancel"):
                records.request_cancel(home, record_id)
            if not running:
                st.rerun()
            return
        stop_polling_when_done(running, False)  # it has just finished: redraw the tab, whose poll stops
        if status == "failed":
            st.error(f"The verification failed: {current.get('error', 'unknown error')}")
        elif status == "cancelled":
            st.info("The verification was cancelled.")
        else:
            show_report(records.report(current))

    panel()


def show_report(report) -> None:
    (st.error if report.violation else st.success)(report.sentence())
    eps = report.theoretical_epsilon
    a, b, c, d = st.columns(4)
    a.metric("ε claimed (this run)", f"{eps:.3g}" if math.isfinite(eps) else "∞")
    b.metric("ε ≥ (f-DP one-run)", f"{report.empirical_epsilon_fdp:.3g}", help=METHOD)
    c.metric("ε ≥ (one-run)", f"{report.empirical_epsilon:.3g}", help="Steinke, Nasr and Jagielski 2023")
    d.metric("bound / ε", "—" if report.ratio is None else f"{report.ratio:.2f}")
    st.caption(
        f"{report.correct:,} of {report.guesses:,} guesses correct; {report.confidence:.0%} confidence; "
        f"{report.accountant} accountant, δ = {report.delta:g}, n = {report.n:,}, {report.steps:,} steps on "
        f"{report.device}."
    )
    st.plotly_chart(score_histogram(report), key="verify_histogram")
    for note in report.caveats():
        st.caption(note)
