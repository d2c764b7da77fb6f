"""The target-epsilon helper, the same on the Budget and Train pages: recomputed for every setting, in
whole epochs and at the noise a user can apply."""

from __future__ import annotations

import streamlit as st

from dpviz.privacy.budget import BudgetView, TargetSolution, explore_params, solve_target
from dpviz.privacy.labels import format_epsilon
from dpviz.privacy.params import PrivacyParams
from dpviz.ui.common import invalid_banner
from dpviz.ui.settings import TARGET_RANGE, parse_target, set_value, settings, text_setting
from dpviz.validation import ValidationError

SLIDER_MAX = 10.0


@st.cache_data(max_entries=512, show_spinner=False)
def _solve(params: PrivacyParams, accountant: str, target: float) -> TargetSolution | str:
    """Cached on the settings: a rerun that changes nothing costs nothing. A string is the reason it failed."""
    try:
        return solve_target(explore_params(params, accountant), target)
    except (ValidationError, ValueError) as err:
        return str(err)


def render(view: BudgetView, *, key: str, with_input: bool) -> None:
    """Solve for the shared target epsilon at the view's settings: the noise for its epochs, and the whole
    epochs at its noise. `with_input` draws the target's text box here (the Train page has it above)."""
    st.subheader("Solve for a target ε")
    if with_input:
        column, _ = st.columns([1, 3])
        text_setting(column, "target_epsilon", "Target ε", help=f"From {TARGET_RANGE[0]:g} to {TARGET_RANGE[1]:g}.")

    try:
        target, error = parse_target(settings()["target_epsilon"]), None
    except ValidationError as err:
        target, error = None, err
    if error is not None:
        invalid_banner(error, "Type a valid target to solve for it.")
        return
    if target is None:
        st.caption("Type a target ε to see the noise that reaches it and how many whole epochs fit.")
        return
    p, accountant = view.params, view.report.accountant
    with st.spinner("Calibrating with dp-accounting…"):
        solution = _solve(p, accountant, target)
    if isinstance(solution, str):
        st.warning(f"Could not solve for ε = {target:g}: {solution}")
        return
    left, right = st.columns(2)
    applied = solution.applied_noise_multiplier
    left.markdown(
        f"**Noise for {p.epochs:g} epochs:** σ = **{applied:.2f}** gives ε = "
        f"**{format_epsilon(solution.epsilon_at_applied)}** ≤ {target:g} at δ = {p.delta:g} ({accountant}; "
        f"calibrated σ = {solution.noise_multiplier:.4f}, rounded up to the slider's step)."
    )
    if applied > SLIDER_MAX:
        left.warning(f"That needs σ > {SLIDER_MAX:g}, beyond the slider: fewer epochs or a larger n would help.")
    elif abs(applied - p.noise_multiplier) > 1e-9:
        left.button(
            f"Apply σ = {applied:.2f}", on_click=set_value, args=("noise_multiplier", applied), key=f"{key}_apply"
        )
    else:
        left.caption("This is the current noise multiplier.")
    budget, sigma = solution.epoch_budget, solution.at_noise_multiplier
    if budget is None:
        right.markdown("**Epochs at the current noise:** with σ = 0 no number of epochs has a finite ε.")
    elif budget.whole_epochs < 1:
        right.markdown(
            f"**Epochs at σ = {sigma:g}:** not even one whole epoch fits within ε = {target:g}"
            + (f" (at most {budget.steps:,} steps)." if budget.steps else ".")
        )
    else:
        whole = budget.whole_epochs
        right.markdown(
            f"**Epochs at σ = {sigma:g}:** at most **{whole:,} whole epochs** fit within ε = {target:g}: "
            f"ε = **{format_epsilon(solution.epsilon_at_whole_epochs)}** after {whole:,} epochs."
        )
        if whole <= 200 and whole != p.epochs:
            right.button(f"Apply {whole} epochs", on_click=set_value, args=("epochs", whole), key=f"{key}_apply_epochs")
