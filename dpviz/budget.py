"""Budget explorer facade: one call turns slider values into everything the home page shows."""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property

from dpviz.accountant import EpsilonReport, compute_epsilon
from dpviz.accountant_names import ACCOUNTANT_LABELS
from dpviz.landscape import Curve, Grid, epsilon_curves, noise_epochs_grid
from dpviz.params import PrivacyParams


@dataclass(frozen=True)
class BudgetView:
    """The headline is computed at once; curves and landscape on first use, so a page can show
    epsilon before it spends the extra few hundred milliseconds on the charts."""

    params: PrivacyParams
    report: EpsilonReport
    warnings: list[str]

    @cached_property
    def curves(self) -> list[Curve]:
        return epsilon_curves(self.params) if self.params.noise_multiplier > 0 else []

    @cached_property
    def landscape(self) -> Grid:
        return noise_epochs_grid(self.params)


def explore(
    *, dataset_size: int, batch_size: int, noise_multiplier: float, epochs: float, delta: float, accountant: str = "rdp"
) -> BudgetView:
    """Validate the settings (ValidationError names the field) and compute every view of them."""
    params = PrivacyParams(
        dataset_size=dataset_size, batch_size=batch_size, noise_multiplier=noise_multiplier, epochs=epochs, delta=delta
    )
    return BudgetView(params, compute_epsilon(params, accountant), params.warnings())


def format_epsilon(value: float | None, digits: int = 3) -> str:
    if value is None or not math.isfinite(value):
        return "∞"
    return f"{value:.{digits}f}" if value < 100 else f"{value:.1f}"


def privacy_statement(view: BudgetView, *, clip_norm: float) -> str:
    """Plain-language reading of the guarantee, with every assumption it rests on."""
    p, r = view.params, view.report
    if not math.isfinite(r.epsilon):
        return (
            "**No privacy guarantee.** With noise multiplier 0, DP-SGD adds no noise and epsilon is infinite: "
            "the trained model may reveal any single training example."
        )
    bound = ACCOUNTANT_LABELS[r.accountant] if r.bound == r.accountant else f"PLD (in place of {ACCOUNTANT_LABELS[r.accountant]})"
    return (
        f"Training on **{p.dataset_size:,}** examples with these settings is **({format_epsilon(r.epsilon)}, {p.delta:g})-"
        f"differentially private at the example level**: adding or removing any one training example changes the "
        f"probability of any outcome of training (the final model and every intermediate one) by at most a factor "
        f"e^{format_epsilon(r.epsilon)} ≈ {math.exp(min(r.epsilon, 700)):.3g}, except with probability {p.delta:g}.\n\n"
        f"It assumes **Poisson sampling**: at each of the {r.steps:,} steps every example joins the batch independently "
        f"with probability q = {r.sampling_probability:.4g}; each example's gradient is clipped to norm C = {clip_norm:g} "
        f"and Gaussian noise of standard deviation σ·C = {p.noise_multiplier * clip_norm:.3g} is added to the sum. "
        f"Only the final model and training updates are covered (not the choice of hyperparameters). "
        f"Accountant: {bound}.\n\n"
        f"With fixed-size **shuffled batches** instead (each example used once per epoch), the sampling argument does not "
        f"hold; the guarantee that honestly applies then is ε = **{format_epsilon(r.epsilon_no_amplification)}** "
        f"(no amplification, {p.passes} passes)."
    )
