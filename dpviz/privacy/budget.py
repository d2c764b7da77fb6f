"""Budget explorer facade: the Budget page's one way in. `explore` turns slider values into
everything the page shows; `solve_target` answers its target-epsilon helper."""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property

from dpviz.privacy.accountant import EpsilonReport, compute_epsilon
from dpviz.privacy.attack_bounds import AttackBounds, attack_bounds
from dpviz.privacy.calibration import EpochBudget, calibrate_noise, max_epochs
from dpviz.privacy.labels import ACCOUNTANT_LABELS, ACCOUNTANTS, SAMPLERS, format_epsilon
from dpviz.privacy.landscape import Curve, Grid, batch_noise_grid, epsilon_curves, noise_epochs_grid
from dpviz.privacy.params import PrivacyParams
from dpviz.privacy.samplers import Guarantee, guarantee


@dataclass(frozen=True)
class BudgetView:
    """The headline is computed at once; curves and landscape on first use, so a page can show
    epsilon before it spends the extra few hundred milliseconds on the charts."""

    params: PrivacyParams
    report: EpsilonReport
    warnings: list[str]

    @cached_property
    def curves(self) -> list[Curve]:
        """Epsilon after each epoch: RDP and its legacy conversion always (cheap), PLD only when chosen."""
        if self.params.noise_multiplier == 0:
            return []
        chosen = tuple(name for name in ACCOUNTANTS if name != "pld" or self.report.accountant == "pld")
        return epsilon_curves(self.params, chosen)

    @cached_property
    def guarantees(self) -> dict[str, Guarantee]:
        """Each sampler's own guarantee (fixed-size: RDP under replace-one, about 0.4 s on first use)."""
        return {s: guarantee(self.params, s, self.report.accountant, report=self.report) for s in SAMPLERS}

    @cached_property
    def attack_bounds(self) -> AttackBounds | None:
        """What the guarantee rules out for any membership-inference attack (None without noise)."""
        return attack_bounds(self.params)

    @cached_property
    def landscape(self) -> Grid:
        return noise_epochs_grid(self.params)

    @cached_property
    def batch_landscape(self) -> Grid:
        """Batch size x noise at the current epochs: about half a second (each cell is its own q)."""
        return batch_noise_grid(self.params)


def explore(
    *, dataset_size: int, batch_size: int, noise_multiplier: float, epochs: float, delta: float, accountant: str = "rdp"
) -> BudgetView:
    """Validate the Budget page's settings and compute the guarantee they give.

    Args:
      dataset_size: training examples n.
      batch_size: expected batch size b.
      noise_multiplier: sigma (0: no privacy).
      epochs: passes over the data.
      delta: delta, strictly between 0 and 1.
      accountant: an accountant name from `labels.ACCOUNTANTS`.

    Returns:
      A `BudgetView`: the `EpsilonReport` at once, the curves and landscapes on first use.

    Raises:
      ValidationError: naming the first field out of range.
    """
    params = PrivacyParams(
        dataset_size=dataset_size, batch_size=batch_size, noise_multiplier=noise_multiplier, epochs=epochs, delta=delta
    )
    return explore_params(params, accountant)


def explore_params(params: PrivacyParams, accountant: str = "rdp") -> BudgetView:
    """`explore` for settings already validated (a training config's `privacy`, canaries counted in n)."""
    return BudgetView(params, compute_epsilon(params, accountant), params.warnings())


SLIDER_STEP = 0.01  # the noise slider's resolution: a solution is applied rounded up to it


@dataclass(frozen=True)
class TargetSolution:
    """What the target-epsilon helper reports, every number recomputed at the value a user can apply:
    sigma for the current epochs (rounded up to the slider's step), and whole epochs at the current sigma."""

    target_epsilon: float
    noise_multiplier: float  # as calibrated
    applied_noise_multiplier: float  # rounded up to SLIDER_STEP
    epsilon_at_applied: float
    epoch_budget: EpochBudget | None  # None when the current sigma is 0: no finite budget
    at_noise_multiplier: float
    epsilon_at_whole_epochs: float | None  # at epoch_budget.whole_epochs (None when 0 epochs fit)


def solve_target(view: BudgetView, target_epsilon: float) -> TargetSolution:
    """The noise that reaches `target_epsilon` at the view's epochs, and the epochs that fit at its noise.

    Raises:
      ValidationError: for a target out of range.
    """
    p, accountant = view.params, view.report.accountant
    sigma = calibrate_noise(
        target_epsilon=target_epsilon,
        dataset_size=p.dataset_size,
        batch_size=p.batch_size,
        epochs=p.epochs,
        target_delta=p.delta,
        accountant=accountant,
    )
    applied = math.ceil(round(sigma / SLIDER_STEP, 6)) * SLIDER_STEP
    applied_epsilon = compute_epsilon(p.replace(noise_multiplier=applied), accountant).epsilon
    budget = whole = None
    if p.noise_multiplier > 0:
        budget = max_epochs(
            target_epsilon=target_epsilon,
            dataset_size=p.dataset_size,
            batch_size=p.batch_size,
            noise_multiplier=p.noise_multiplier,
            target_delta=p.delta,
            accountant=accountant,
        )
        if budget.whole_epochs >= 1:
            whole = compute_epsilon(p.replace(epochs=budget.whole_epochs), accountant).epsilon
    return TargetSolution(target_epsilon, sigma, round(applied, 6), applied_epsilon, budget, p.noise_multiplier, whole)


def privacy_statement(view: BudgetView, *, clip_norm: float) -> str:
    """Plain-language reading of the guarantee, with every assumption it rests on."""
    p, r = view.params, view.report
    if not math.isfinite(r.epsilon):
        return (
            "**No privacy guarantee.** With noise multiplier 0, DP-SGD adds no noise and epsilon is infinite: "
            "the trained model may reveal any single training example."
        )
    bound = (
        ACCOUNTANT_LABELS[r.accountant]
        if r.bound == r.accountant
        else f"PLD (in place of {ACCOUNTANT_LABELS[r.accountant]})"
    )
    return (
        f"Training on **{p.dataset_size:,}** examples with these settings is "
        f"**({format_epsilon(r.epsilon)}, {p.delta:g})-"
        f"differentially private at the example level**: adding or removing any one training example changes the "
        f"probability of any outcome of training (the final model and every intermediate one) by at most a factor "
        f"e^{format_epsilon(r.epsilon)} ≈ {math.exp(min(r.epsilon, 700)):.3g}, except with probability {p.delta:g}.\n\n"
        f"It assumes **Poisson sampling**: at each of the {r.steps:,} steps every example "
        f"joins the batch independently "
        f"with probability q = {r.sampling_probability:.4g}; each example's gradient is clipped to "
        f"norm C = {clip_norm:g} "
        f"and Gaussian noise of standard deviation σ·C = {p.noise_multiplier * clip_norm:.3g} is added to the sum. "
        f"Only the final model and training updates are covered (not the choice of hyperparameters). "
        f"Accountant: {bound}.\n\n"
        f"With fixed-size **shuffled batches** instead (each example used once per epoch), "
        f"the sampling argument does not "
        f"hold; the guarantee that honestly applies then is ε = **{format_epsilon(r.epsilon_no_amplification)}** "
        f"(no amplification, {p.passes} passes)."
    )
