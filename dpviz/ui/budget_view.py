"""Rendering of the budget explorer (home page)."""

from __future__ import annotations

import math

import streamlit as st

from dpviz import charts
from dpviz.accountant_names import ACCOUNTANT_LABELS
from dpviz.budget import BudgetView, format_epsilon, privacy_statement
from dpviz.calibration import calibrate_noise, max_epochs
from dpviz.landscape import batch_noise_grid
from dpviz.ui.settings import set_value
from dpviz.validation import ValidationError


def show_error(err: ValidationError) -> None:
    label = err.field.replace("_", " ")
    st.error(f"**{label}**: {err.message}. Fix it in the sidebar; nothing else has changed.", icon="⚠️")


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
            figure = charts.epsilon_curve_figure(view.curves, target_epsilon=st.session_state.get("target_epsilon"), log_y=log_y)
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
            charts.landscape_figure(grid, current=(view.params.epochs, view.params.noise_multiplier)), key="landscape"
        )
        st.caption("RDP accountant; white lines: ε = 1, 3, 8; ✕ marks the current setting.")

    _target_helper(view)
    with st.expander("Landscape: batch size × noise (at the current epochs)"):
        if st.toggle("Compute (about half a second: every cell is its own sampling rate)", key="show_batch_grid"):
            grid = batch_noise_grid(view.params)
            st.plotly_chart(
                charts.landscape_figure(grid, current=(view.params.noise_multiplier, view.params.batch_size)), key="batchgrid"
            )


def _target_helper(view: BudgetView) -> None:
    st.subheader("Target epsilon")
    p, accountant = view.params, view.report.accountant
    c1, c2, c3 = st.columns([1, 2, 2])
    target = c1.number_input("Target ε", min_value=0.01, max_value=1000.0, value=3.0, step=0.5, key="target_epsilon")
    key = (p.dataset_size, p.batch_size, p.epochs, p.delta, target, accountant)
    if c1.button("Solve", key="calibrate", help="dp-accounting's calibration; takes a fraction of a second"):
        try:
            st.session_state["solved"] = (key, _solve(p, target, accountant))
        except (ValidationError, ValueError) as err:
            c2.error(f"Could not calibrate: {err}")
    solved = st.session_state.get("solved")
    if not solved or solved[0] != key:
        c2.caption("Type a target ε and press Solve: the noise multiplier that reaches it, and how many epochs fit.")
        return
    sigma, budget, at_sigma = solved[1]
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
        c3.write(f"At σ = {at_sigma:g}, at most **{budget.epochs:g} epochs** ({budget.steps:,} steps) fit within ε = {target:g}.")


def _solve(p, target: float, accountant: str):
    sigma = calibrate_noise(
        target_epsilon=target, dataset_size=p.dataset_size, batch_size=p.batch_size, epochs=p.epochs,
        target_delta=p.delta, accountant=accountant,
    )
    budget = None
    if p.noise_multiplier > 0:
        budget = max_epochs(
            target_epsilon=target, dataset_size=p.dataset_size, batch_size=p.batch_size,
            noise_multiplier=p.noise_multiplier, target_delta=p.delta, accountant=accountant,
        )
    return sigma, budget, p.noise_multiplier
