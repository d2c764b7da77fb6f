"""The most any membership-inference attack can achieve against a DP-SGD run, from its guarantee.

An attack that guesses "member" is a hypothesis test between neighbouring datasets. If training is
(ε, δ)-DP, every test's false-positive rate α and true-positive rate satisfy (Kairouz, Oh and
Viswanath 2015, Theorem 2.1)

    TPR <= e^ε α + δ      and      TPR <= 1 - e^-ε (1 - δ - α).

A run meets these for every ε of its privacy profile δ(ε) at once, so the bound is the minimum over
a grid of ε of both lines, with δ(ε) from dp-accounting's PLD (`get_delta`, a pessimistic upper
bound): each line is a valid bound, so a coarse grid can only make the result looser, never lower
than the truth. Where PLD would be too costly (`Pld.affordable`), RDP's δ(ε) is used, also valid.
Fixed-size batches have only an RDP guarantee (replace-one, `samplers.fixed_rdp`): their δ(ε) is
RDP's, and the bound is on telling a dataset from one with a single example replaced.
No library offers this reading of a profile (dp-accounting gives δ(ε); jax-privacy's auditing
bounds measured attacks), so it is written once, here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from dp_accounting.rdp import rdp_privacy_accountant

from dpviz.privacy.accountant import (
    NEIGHBOURS,
    ORDERS,
    REGISTRY,
    composed_pld,
    compute_epsilon,
    dpsgd_event,
    pld_value_discretization,
    rdp_epsilon,
)
from dpviz.privacy.params import PrivacyParams
from dpviz.privacy.samplers import fixed_epsilon, fixed_rdp
from dpviz.validation import require_choice

FPR_POINTS = (0.001, 0.01, 0.1)
EPSILON_GRID_POINTS = 160
CURVE_FPR = np.geomspace(1e-5, 1.0, 121)


@dataclass(frozen=True)
class AttackBounds:
    """Upper bounds on membership inference for one setting (TPR at given FPRs, advantage TPR - FPR)."""

    tpr_at: dict[float, float]  # FPR -> the highest TPR any attack can reach
    advantage: float  # the highest TPR - FPR any attack can reach
    fpr: tuple[float, ...]  # the trade-off curve, for a chart
    tpr: tuple[float, ...]
    profile: str  # "pld" or "rdp": whose δ(ε) it reads

    def sentence(self) -> str:
        return (
            f"No membership-inference attack can identify a training example with a true-positive rate above "
            f"{self.tpr_at[0.01]:.1%} at a 1% false-positive rate (chance: 1%), nor gain more than "
            f"{self.advantage:.1%} advantage (TPR − FPR) at any threshold."
        )


def tpr_bound(fpr, epsilons: np.ndarray, deltas: np.ndarray) -> np.ndarray:
    """The highest TPR at each false-positive rate under every (ε, δ(ε)) pair given."""
    alpha = np.atleast_1d(np.asarray(fpr, dtype=float))[:, None]
    eps, delta = np.asarray(epsilons, dtype=float)[None, :], np.asarray(deltas, dtype=float)[None, :]
    with np.errstate(over="ignore"):
        upper = np.minimum(np.exp(eps) * alpha + delta, 1 - np.exp(-eps) * (1 - delta - alpha))
    return np.clip(upper.min(axis=1), alpha[:, 0], 1.0)


def advantage_bound(epsilons: np.ndarray, deltas: np.ndarray) -> float:
    """The highest TPR - FPR: for one (ε, δ) pair it is (e^ε - 1 + 2δ) / (e^ε + 1), at the lines' crossing;
    the smallest over the profile bounds every attack (the curve's own maximum can only be lower)."""
    eps, delta = np.asarray(epsilons, dtype=float), np.asarray(deltas, dtype=float)
    with np.errstate(over="ignore", invalid="ignore"):
        per_pair = np.where(np.isfinite(np.exp(eps)), (np.expm1(eps) + 2 * delta) / (np.exp(eps) + 1), 1.0)
    return float(min(1.0, np.nanmin(per_pair)))


def _epsilon_grid(top: float) -> np.ndarray:
    """0, then a geometric grid up to `top` (where δ(ε) falls below 1e-12): the ε a profile is read at."""
    return np.concatenate([[0.0], np.geomspace(1e-3, max(top, 1e-2), EPSILON_GRID_POINTS - 1)])


def _deltas(accountant, epsilons: np.ndarray) -> np.ndarray:
    """A composed dp-accounting accountant's δ(ε) on the grid (capped at 1)."""
    return np.array([min(1.0, float(accountant.get_delta(e))) for e in epsilons])


@lru_cache(maxsize=512)
def _profile(q: float, noise_multiplier: float, steps: int) -> tuple[np.ndarray, np.ndarray, str]:
    event = dpsgd_event(q, noise_multiplier, steps)
    top = rdp_epsilon(q, noise_multiplier, steps, 1e-12)[0]  # beyond it δ(ε) < 1e-12: nothing left to bound
    epsilons = _epsilon_grid(top)
    if REGISTRY["pld"].affordable(noise_multiplier, steps):
        interval = pld_value_discretization(0.7 * rdp_epsilon(q, noise_multiplier, steps, 1e-5)[0], steps)
        accountant, name = composed_pld(event, interval), "pld"
    else:
        accountant, name = rdp_privacy_accountant.RdpAccountant(ORDERS, NEIGHBOURS), "rdp"
        accountant.compose(event)
    deltas = _deltas(accountant, epsilons)
    return epsilons, deltas, name


@lru_cache(maxsize=512)
def _fixed_profile(params: PrivacyParams) -> tuple[np.ndarray, np.ndarray, str]:
    rdp = fixed_rdp(params)
    top = rdp_privacy_accountant.compute_epsilon(ORDERS, rdp, 1e-12)[0]
    epsilons = _epsilon_grid(top)
    deltas = np.array([min(1.0, float(rdp_privacy_accountant.compute_delta(ORDERS, rdp, e)[0])) for e in epsilons])
    return epsilons, deltas, "rdp"


def _accountant_profile(accountant) -> tuple[np.ndarray, np.ndarray, str]:
    """δ(ε) on the grid from any composed RDP accountant (a RepeatAndSelect search's, for one)."""
    top = float(accountant.get_epsilon(1e-12))
    epsilons = _epsilon_grid(top)
    deltas = _deltas(accountant, epsilons)
    return epsilons, deltas, "rdp"


# sampler -> (its headline epsilon, checked finite before anything is claimed; its privacy profile)
PROFILES = {
    "poisson": (
        lambda p: compute_epsilon(p, "rdp").epsilon,
        lambda p: _profile(p.sampling_probability, p.noise_multiplier, p.steps),
    ),
    "shuffle": (
        lambda p: compute_epsilon(p, "rdp").epsilon_no_amplification,
        lambda p: _profile(1.0, p.noise_multiplier, p.passes),  # each example in one batch per pass
    ),
    "fixed": (fixed_epsilon, _fixed_profile),
}


def attack_bounds(params: PrivacyParams, *, sampler: str = "poisson") -> AttackBounds | None:
    """What the guarantee of `params` rules out; None when there is none (no noise).

    Args:
      params: validated DP-SGD settings.
      sampler: the sampler as trained, whose own guarantee is read: "poisson" the amplified one
        (add/remove-one); "shuffle" the one without amplification (`params.passes` Gaussian steps);
        "fixed" the replace-one RDP guarantee of fixed-size batches.

    Returns:
      `AttackBounds`: TPR at FPR 0.1 %, 1 % and 10 %, the advantage, and the trade-off curve.

    Raises:
      ValidationError: for an unknown sampler.
    """
    require_choice("sampler", sampler, tuple(PROFILES))
    if params.noise_multiplier == 0:
        return None
    headline, profile = PROFILES[sampler]
    if not math.isfinite(headline(params)):  # the checked guarantee: where it claims nothing, neither do we
        return None
    return _bounds(*profile(params))


def search_attack_bounds(params: PrivacyParams, count, *, sampler: str = "poisson") -> AttackBounds | None:
    """What the guarantee of a whole accounted search rules out: the best of K trials of `params`, K drawn
    from `count`, read from the RepeatAndSelect event's RDP profile (the only accountant that has it).

    Args:
      params: every trial's settings (its σ the one the trials trained with).
      count: the distribution of the number of trials (`privacy.tuning.TrialCount`).
      sampler: as in `attack_bounds`.

    Returns:
      `AttackBounds` for the released best trial and the choice of it; None without noise or where
      dp-accounting bounds the search by nothing finite.

    Raises:
      ValidationError: for an unknown sampler.
    """
    from dpviz.privacy.tuning import search_accountant

    require_choice("sampler", sampler, tuple(PROFILES))
    if params.noise_multiplier == 0:
        return None
    accountant = search_accountant(params, count, sampler)
    if not math.isfinite(accountant.get_epsilon(params.delta)):
        return None
    return _bounds(*_accountant_profile(accountant))


def _bounds(epsilons: np.ndarray, deltas: np.ndarray, name: str) -> AttackBounds:
    at = tpr_bound(FPR_POINTS, epsilons, deltas)
    curve = tpr_bound(CURVE_FPR, epsilons, deltas)
    return AttackBounds(
        tpr_at={f: float(t) for f, t in zip(FPR_POINTS, at)},
        advantage=advantage_bound(epsilons, deltas),
        fpr=tuple(float(f) for f in CURVE_FPR),
        tpr=tuple(float(t) for t in curve),
        profile=name,
    )


def excess_points(roc_fpr, roc_tpr, *, members: int, nonmembers: int, bounds: AttackBounds, confidence=0.95) -> int:
    """How many points of a measured ROC lie above the bound beyond sampling noise: the TPR's
    Clopper-Pearson lower limit above the bound at the FPR's upper limit (two-sided `confidence`).
    A correct implementation has none, whatever the sample size; a raw comparison would flag points
    such as (0, 1/members), which any finite sample shows."""
    from scipy.stats import beta

    alpha = (1 - confidence) / 2
    fpr, tpr = np.asarray(roc_fpr, dtype=float), np.asarray(roc_tpr, dtype=float)
    hits, false = np.round(tpr * members), np.round(fpr * nonmembers)
    tpr_low = np.where(hits > 0, beta.ppf(alpha, hits, members - hits + 1), 0.0)
    fpr_high = np.where(false < nonmembers, beta.ppf(1 - alpha, false + 1, nonmembers - false), 1.0)
    limit = np.interp(fpr_high, bounds.fpr, bounds.tpr)
    return int(np.sum(tpr_low > limit + 1e-12))


def gaussian_tradeoff(fpr, mu: float) -> np.ndarray:
    """The exact trade-off of one Gaussian mechanism (μ-GDP): TPR = Φ(Φ⁻¹(FPR) + μ). For tests and captions."""
    from scipy.stats import norm

    return norm.cdf(norm.ppf(np.asarray(fpr, dtype=float)) + mu)
