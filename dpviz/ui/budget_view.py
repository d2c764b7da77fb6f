"""Rendering of the budget explorer (home page)."""

from __future__ import annotations

import streamlit as st

from dpviz.privacy import figures
from dpviz.privacy.budget import BudgetView, explore, privacy_statement
from dpviz.privacy.labels import ACCOUNTANT_LABELS, SAMPLERS, format_epsilon
from dpviz.privacy.statement import statement
from dpviz.training.config import require_dataset_size
from dpviz.ui import target_view
from dpviz.ui.common import SAMPLER_LABELS, invalid_banner, statement_downloads
from dpviz.ui.settings import CUSTOM, DATASET_LABELS, parse_delta, parse_target
from dpviz.validation import ValidationError


def show_error(err: ValidationError, *, kept: bool) -> None:
    consequence = (
        "The results below are still those of the last valid settings (listed), not of the inputs in the sidebar."
        if kept
        else "Fix it in the sidebar to see epsilon."
    )
    invalid_banner(err, consequence)


def page(values: dict) -> None:
    """The whole page: the settings' guarantee, or (while an input is invalid) the last valid one, marked."""
    try:
        view = explore_settings(values)
    except ValidationError as err:
        last = st.session_state.get("b_last_valid")
        show_error(err, kept=last is not None)
        if last is not None:
            stale_notice(last[1])
            render(*last)
        return
    st.session_state["b_last_valid"] = (view, dict(values))
    render(view, values)


def explore_settings(values: dict) -> BudgetView:
    """The sidebar's settings, validated (a real dataset's n is at most its training split), explored."""
    dataset, size = values["dataset"], values["dataset_size"]
    if dataset != CUSTOM:
        size = require_dataset_size(dataset, size)
    return explore(
        dataset_size=size,
        batch_size=values["batch_size"],
        noise_multiplier=values["noise_multiplier"],
        epochs=values["epochs"],
        delta=parse_delta(values["delta"]),
        accountant=values["accountant"],
    )


def stale_notice(values: dict) -> None:
    st.info(
        f"Showing the last valid settings: {DATASET_LABELS.get(values['dataset'], values['dataset'])}, "
        f"n = {values['dataset_size']}, b = {values['batch_size']}, σ = {values['noise_multiplier']:g}, "
        f"{values['epochs']} epochs, δ = {values['delta']}, {values['accountant']}.",
        icon=":material/history:",
    )


def metrics(view: BudgetView) -> None:
    """The headline numbers, as the Budget page and the Train page's pre-launch view show them."""
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


def samplers(view: BudgetView) -> None:
    """The three samplers' guarantees side by side, each with its neighbouring relation."""
    if view.params.noise_multiplier == 0:
        return
    st.markdown("**The guarantee depends on how batches are drawn:**")
    cols = st.columns(3)
    for col, sampler in zip(cols, SAMPLERS):
        g = view.guarantees[sampler]
        col.metric(
            SAMPLER_LABELS[sampler],
            format_epsilon(g.epsilon),
            help=f"{g.neighboring_relation} neighbours; {ACCOUNTANT_LABELS.get(g.accountant, g.accountant)}"
            + (f"; {g.note}" if g.note else ""),
        )
    st.caption(
        "Poisson: every example joins each step with probability q (what DP-SGD's analysis assumes). Fixed-size: "
        "b distinct examples at every step, dp-accounting's RDP for sampling without replacement under "
        "replace-one neighbours, where replacing one example moves the clipped sum by up to 2C (so a larger ε). "
        "Shuffled epochs: no "
        "amplification. The Train page trains each one as labelled."
    )


def attack_risk(view: BudgetView) -> None:
    """The guarantee read as the strongest membership-inference attack it rules out."""
    bounds = view.attack_bounds
    if bounds is None:
        return
    st.info(f"**What this rules out.** {bounds.sentence()}", icon=":material/shield:")
    with st.expander("Attack-risk bounds: TPR at a given FPR, and the trade-off curve"):
        left, right = st.columns([1, 2])
        left.dataframe(
            {
                "false-positive rate": [f"{f:.1%}" for f in bounds.tpr_at],
                "highest true-positive rate": [f"{t:.2%}" for t in bounds.tpr_at.values()],
            },
            hide_index=True,
        )
        left.caption(
            f"Highest advantage (TPR − FPR): {bounds.advantage:.2%}. From the accountant's whole privacy profile "
            f"δ(ε) ({bounds.profile.upper()}), read as hypothesis tests (Kairouz et al. 2015): valid for any attack."
        )
        right.plotly_chart(figures.attack_bound_figure(bounds), key="attack_bound")


def render(view: BudgetView, values: dict) -> None:
    metrics(view)
    st.markdown(privacy_statement(view, clip_norm=values["clip_norm"]))
    samplers(view)
    attack_risk(view)
    statement_downloads(
        statement(view.params, sampler="poisson", accountant=view.report.accountant, clip_norm=values["clip_norm"]),
        key="b",
        stem="dpviz-privacy-statement",
    )

    left, right = st.columns(2)
    with left:
        st.subheader("Epsilon after each epoch")
        if view.curves:
            log_y = st.toggle("Log scale", value=True, key="curve_log")
            figure = figures.epsilon_curve_figure(
                view.curves, target_epsilon=_target_or_none(values["target_epsilon"]), log_y=log_y
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

    target_view.render(view, key="b_target", with_input=True)
    with st.expander("Landscape: batch size × noise (at the current epochs)"):
        if st.toggle("Compute (about half a second: every cell is its own sampling rate)", key="show_batch_grid"):
            grid = view.batch_landscape
            st.plotly_chart(
                figures.landscape_figure(grid, current=(view.params.noise_multiplier, view.params.batch_size)),
                key="batchgrid",
            )


def _target_or_none(text) -> float | None:
    try:
        return parse_target(text)
    except ValidationError:
        return None
