"""Rendering of the budget explorer (home page)."""

from __future__ import annotations

import math

import streamlit as st

from dpviz.privacy import figures
from dpviz.privacy.budget import BudgetView, privacy_statement, solve_target
from dpviz.privacy.labels import ACCOUNTANT_LABELS, format_epsilon
from dpviz.ui.common import invalid_banner, number_text
from dpviz.ui.settings import set_value
from dpviz.validation import ValidationError, require_float


def show_error(err: ValidationError) -> None:
    invalid_banner(err, "Fix it in the sidebar; nothing else has changed.")


def render(view: BudgetView, values: dict) -> None:
    r = view.report
    cols = st.columns([2, 1, 1, 1, 1])
    cols[0].metric("ε (epsilon)", format_epsilon(r.epsilon), help=ACCOUNTANT_LABELS[r.accountant])
    cols[1].metric("δ (delta)", f"{r.delta:g}")
    cols[2].metric("Steps", f"{r.steps:,}")
    cols[3].metric("Sampling rate q", f"{r.sampling_probability:.4g}")
    cols[4].metric("ε, shuffled batches", format_epsilon(r.epsilon_no_amplification), help="No sampling amplification")
    if r.note:
        st.warning(r.note, icon="🔎")
    for warning in view.warnings:
        st.warning(warning)
    st.markdown(privacy_statement(view, clip_norm=values["clip_norm"]))

    left, right = st.columns(2)
    with left:
        st.subheader("Epsilon after each epoch")
        if view.curves:
            log_y = st.toggle("Log scale", value=True, key="curve_log")
            figure = figures.epsilon_curve_figure(
                view.curves,
                target_epsilon=_target_or_none(st.session_state.get("target_epsilon", TARGET_DEFAULT)),
                log_y=log_y,
            )
            st.plotly_chart(figure, key="curve")
            st.caption(
                "Older TF Privacy tutorials printed the legacy RDP conversion: that is why they quote larger epsilons "
                "than dp-accounting today for the same run. PLD is sampled at a few epochs (it is the slowest)."
            )
        else:
            st.info("With no noise there is no finite epsilon to plot.")
    with right:
        st.subheader("Landscape: noise × epochs")
        grid = view.landscape
        st.plotly_chart(
            figures.landscape_figure(grid, current=(view.params.epochs, view.params.noise_multiplier)), key="landscape"
        )
        st.caption("RDP accountant; white lines: ε = 1, 3, 8; ✕ marks the current setting.")

    _target_helper(view)
    with st.expander("Landscape: batch size × noise (at the current epochs)"):
        if st.toggle("Compute (about half a second: every cell is its own sampling rate)", key="show_batch_grid"):
            grid = view.batch_landscape
            st.plotly_chart(
                figures.landscape_figure(grid, current=(view.params.noise_multiplier, view.params.batch_size)),
                key="batchgrid",
            )


TARGET_DEFAULT, TARGET_RANGE = "3", (0.01, 1000.0)


def _target(text: str) -> float:
    """The typed target epsilon; ValidationError names the field and its range."""
    return require_float("target_epsilon", text, minimum=TARGET_RANGE[0], maximum=TARGET_RANGE[1])


def _target_or_none(text: str) -> float | None:
    try:
        return _target(text)
    except ValidationError:
        return None


def _target_helper(view: BudgetView) -> None:
    st.subheader("Target epsilon")
    p, accountant = view.params, view.report.accountant
    c1, c2, c3 = st.columns([1, 2, 2])
    text = number_text(
        c1,
        "Target ε",
        key="target_epsilon",
        default=TARGET_DEFAULT,
        help=f"From {TARGET_RANGE[0]:g} to {TARGET_RANGE[1]:g}.",
    )
    try:
        target = _target(text)
    except ValidationError as err:
        with c2:
            invalid_banner(err, "Type a valid target to solve for it.")
        return
    key = (p.dataset_size, p.batch_size, p.epochs, p.delta, target, accountant)
    if c1.button("Solve", key="calibrate", help="dp-accounting's calibration; takes a fraction of a second"):
        try:
            st.session_state["solved"] = (key, solve_target(view, target))
        except (ValidationError, ValueError) as err:
            c2.error(f"Could not calibrate: {err}")
    solved = st.session_state.get("solved")
    if not solved or solved[0] != key:
        c2.caption("Type a target ε and press Solve: the noise multiplier that reaches it, and how many epochs fit.")
        return
    solution = solved[1]
    sigma, budget, at_sigma = solution.noise_multiplier, solution.epoch_budget, solution.at_noise_multiplier
    applied = math.ceil(sigma * 100) / 100
    c2.write(f"σ = **{sigma:.3f}** gives ε ≤ {target:g} at δ = {p.delta:g} over {p.epochs:g} epochs ({accountant}).")
    if applied <= 10:
        c2.button(f"Apply σ = {applied:.2f}", on_click=set_value, args=("noise_multiplier", applied), key="apply_sigma")
    else:
        c2.warning("That needs σ > 10, beyond the slider: fewer epochs or a larger dataset would help.")
    if budget is None:
        c3.write("With σ = 0 no number of epochs has a finite ε.")
    elif budget.steps == 0:
        c3.write(f"At σ = {at_sigma:g}, not even one step fits within ε = {target:g}.")
    else:
        c3.write(
            f"At σ = {at_sigma:g}, at most **{budget.epochs:g} epochs** ({budget.steps:,} steps) "
            f"fit within ε = {target:g}."
        )
