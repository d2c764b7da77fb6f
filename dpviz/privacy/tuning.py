"""The privacy cost of a hyperparameter search, by Papernot & Steinke, "Hyperparameter tuning with
Renyi differential privacy" (ICLR 2022), as dp-accounting models it: `RepeatAndSelectDpEvent`.

A search that runs a random number K of independent trials and reports only the best one costs far
less than K runs' epsilon, provided K is drawn from the distribution the accountant assumes and
nothing adapts between trials. dp-accounting names the distributions by a shape parameter:
Poisson (shape = inf, K >= 0), geometric (shape = 1), logarithmic (shape = 0) or truncated negative
binomial (0 < shape < inf), the last three on K >= 1. Only its RDP accountant supports the event.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property

import numpy as np
from dp_accounting import dp_event, mechanism_calibration
from dp_accounting.rdp import rdp_privacy_accountant

from dpviz.privacy.accountant import NEIGHBOURS, dpsgd_event, no_amplification_event
from dpviz.privacy.labels import RELATIONS, SAMPLERS
from dpviz.privacy.params import PrivacyParams
from dpviz.privacy.samplers import FIXED_2C, REPLACE_ONE, fixed_event
from dpviz.validation import ValidationError, require_choice, require_float

SHAPES = {"poisson": math.inf, "geometric": 1.0, "logarithmic": 0.0}  # names for dp-accounting's shapes
MAX_TRIALS_MEAN = 1000
MAX_SHAPE = 1000.0
SIGMA_BRACKET = (0.05, 100.0)  # beyond 100 dp-accounting's RDP plateaus, then reads 0


def parse_shape(value) -> float:
    """A distribution name (`SHAPES`) or a number: 0, 1, a truncated negative binomial's shape in (0, 1000], or inf."""
    if isinstance(value, str) and value.strip().lower() in SHAPES:
        return SHAPES[value.strip().lower()]
    if isinstance(value, str) and value.strip().lower() in ("inf", "infinity"):
        return math.inf
    try:
        shape = float(value)
    except (TypeError, ValueError):
        raise ValidationError(
            "trials_shape",
            f"must be poisson, geometric, logarithmic or a number from 0 to {MAX_SHAPE:g}, got {value!r}",
        ) from None
    if shape == math.inf:
        return shape
    return require_float("trials_shape", shape, minimum=0.0, maximum=MAX_SHAPE)


def shape_name(shape: float) -> str:
    for name, value in SHAPES.items():
        if shape == value:
            return name
    return f"truncated negative binomial (shape {shape:g})"


@dataclass(frozen=True)
class TrialCount:
    """The distribution of the number of trials, exactly as dp-accounting's RepeatAndSelect assumes it.

    `gamma` is dp-accounting's own parameter for the mean (its conservative root: the true mean is at
    or just above `mean`); Poisson uses `mean` directly.
    """

    mean: float
    shape: float

    def __post_init__(self):
        object.__setattr__(self, "mean", require_float("trials_mean", self.mean, minimum=1.0, maximum=MAX_TRIALS_MEAN))
        object.__setattr__(self, "shape", parse_shape(self.shape))

    @property
    def name(self) -> str:
        return shape_name(self.shape)

    @cached_property
    def gamma(self) -> float | None:
        if self.shape == math.inf:
            return None
        return rdp_privacy_accountant._gamma_truncated_negative_binomial(self.shape, self.mean)

    @property
    def minimum(self) -> int:
        """Poisson may draw no trial at all (the search then reports nothing); the others draw at least one."""
        return 0 if self.shape == math.inf else 1

    def pmf(self, k) -> np.ndarray:
        """P[K = k], Papernot & Steinke's Definition 1 (truncated negative binomial) or Poisson."""
        from scipy import stats

        k = np.asarray(k)
        if self.shape == math.inf:
            return stats.poisson.pmf(k, self.mean)
        gamma = self.gamma
        if self.shape == 0:
            return np.where(k >= 1, stats.logser.pmf(k, 1 - gamma), 0.0)
        # negative binomial (failures before `shape` successes, success probability gamma), conditioned on K >= 1
        nb = stats.nbinom.pmf(k, self.shape, gamma)
        return np.where(k >= 1, nb / (1 - gamma**self.shape), 0.0)

    def sample(self, rng: np.random.Generator) -> int:
        """One draw of K; the search must run exactly this many trials (no redraw: it would change K's law)."""
        if self.shape == math.inf:
            return int(rng.poisson(self.mean))
        gamma = self.gamma
        if gamma >= 1.0:
            return 1
        if self.shape == 0:
            return int(rng.logseries(1 - gamma))
        if 1 - gamma**self.shape > 0.01:
            while True:  # rejection of K = 0 is the truncation in Definition 1 (at most 100 tries expected)
                k = int(rng.negative_binomial(self.shape, gamma))
                if k >= 1:
                    return k
        # gamma near 1 (a mean near 1): nearly all the mass is on the first few counts; invert the CDF
        cdf = self._cdf
        return int(1 + min(np.searchsorted(cdf, rng.random() * cdf[-1]), len(cdf) - 1))

    @cached_property
    def _cdf(self) -> np.ndarray:
        return np.cumsum(self.pmf(np.arange(1, 10_000)))


def trial_event(params: PrivacyParams, sampler: str = "poisson") -> dp_event.DpEvent:
    """One trial's DP-SGD event as its sampler trains it."""
    require_choice("sampler", sampler, SAMPLERS)
    if sampler == "fixed":
        return dp_event.SelfComposedDpEvent(
            fixed_event(params.dataset_size, params.batch_size, params.noise_multiplier), params.steps
        )
    if sampler == "shuffle":
        return no_amplification_event(params.noise_multiplier, params.passes)
    return dpsgd_event(params.sampling_probability, params.noise_multiplier, params.steps)


def search_event(params: PrivacyParams, count: TrialCount, sampler: str = "poisson") -> dp_event.DpEvent:
    return dp_event.RepeatAndSelectDpEvent(trial_event(params, sampler), count.mean, count.shape)


def _accountant(sampler: str) -> rdp_privacy_accountant.RdpAccountant:
    return rdp_privacy_accountant.RdpAccountant(neighboring_relation=REPLACE_ONE if sampler == "fixed" else NEIGHBOURS)


def _epsilon(event, delta: float, sampler: str) -> float:
    accountant = _accountant(sampler)
    accountant.compose(event)
    return float(accountant.get_epsilon(delta))


def search_accountant(params: PrivacyParams, count: TrialCount, sampler: str = "poisson"):
    """dp-accounting's RDP accountant with the whole search composed: its privacy profile, for attack bounds."""
    accountant = _accountant(sampler)
    accountant.compose(search_event(params, count, sampler))
    return accountant


@dataclass(frozen=True)
class SearchCost:
    """What a search of `count` trials of `params` costs, both from dp-accounting's RDP accountant."""

    params: PrivacyParams
    count: TrialCount
    sampler: str
    epsilon_per_trial: float
    epsilon_total: float

    @property
    def neighboring_relation(self) -> str:
        return RELATIONS[self.sampler]

    def to_dict(self) -> dict:
        return {
            "noise_multiplier": self.params.noise_multiplier,
            "sampling_probability": self.params.sampling_probability,
            "steps": self.params.steps,
            "delta": self.params.delta,
            "epsilon_per_trial": self.epsilon_per_trial,
            "epsilon_total": self.epsilon_total,
            "trials_mean": self.count.mean,
            "trials_shape": self.count.shape if math.isfinite(self.count.shape) else "inf",
            "trials_distribution": self.count.name,
            "sampler": self.sampler,
            "neighboring_relation": self.neighboring_relation,
            "accountant": "rdp",
            **({FIXED_2C: True} if self.sampler == "fixed" else {}),
        }


def _checked(cost: SearchCost) -> SearchCost:
    """dp-accounting reads 0 or a plateau at extreme settings: never report such a value as a guarantee."""
    one, total = cost.epsilon_per_trial, cost.epsilon_total
    if not (math.isfinite(one) and math.isfinite(total)) or one <= 0 or total < one * (1 - 1e-9):
        raise ValidationError(
            "noise_multiplier",
            f"gives an epsilon dp-accounting cannot bound reliably here (one trial {one:g}, search {total:g}); "
            f"choose a noise multiplier between {SIGMA_BRACKET[0]:g} and {SIGMA_BRACKET[1]:g}",
        )
    return cost


def search_cost(params: PrivacyParams, count: TrialCount, sampler: str = "poisson") -> SearchCost:
    """Epsilon of one trial and of the whole search (RDP for both, so that they compare).

    Raises:
      ValidationError: for σ = 0, or where dp-accounting's value cannot be trusted.
    """
    if params.noise_multiplier == 0:
        raise ValidationError("noise_multiplier", "is 0: a search without noise has no privacy guarantee")
    one = _epsilon(trial_event(params, sampler), params.delta, sampler)
    total = _epsilon(search_event(params, count, sampler), params.delta, sampler)
    return _checked(SearchCost(params, count, sampler, one, total))


def calibrate_search(
    params: PrivacyParams, count: TrialCount, *, target_epsilon: float, sampler: str = "poisson"
) -> SearchCost:
    """The noise multiplier at which the whole search (best of K trials of `params`' schedule) meets
    `target_epsilon`, by dp-accounting's `calibrate_dp_mechanism` on the RepeatAndSelect event.

    Args:
      params: the schedule (n, b, epochs, δ) every trial shares; its noise multiplier is ignored.
      count: the distribution of the number of trials.
      target_epsilon: the whole search's epsilon.
      sampler: how every trial draws its batches.

    Returns:
      The SearchCost at the calibrated σ (rounded up to 4 decimals, so its epsilon is at or below the target).

    Raises:
      ValidationError: (field "target_epsilon") when no σ in the searched range meets the target.
    """
    target = require_float("target_epsilon", target_epsilon, minimum=0.0, maximum=1000.0, exclusive_minimum=True)

    def event(sigma: float):
        return search_event(params.replace(noise_multiplier=sigma), count, sampler)

    low, high = SIGMA_BRACKET
    at = lambda sigma: _epsilon(event(sigma), params.delta, sampler)  # noqa: E731
    if at(high) > target:
        raise ValidationError(
            "target_epsilon",
            f"cannot be met by this search: even σ = {high:g} gives ε {at(high):.3g} for the whole search "
            "(raise the target, lower the mean number of trials, or train fewer epochs)",
        )
    if at(low) <= target:
        sigma = low
    else:
        sigma = mechanism_calibration.calibrate_dp_mechanism(
            lambda: _accountant(sampler),
            event,
            target,
            params.delta,
            bracket_interval=mechanism_calibration.ExplicitBracketInterval(low, high),
            tol=1e-4,
        )
    sigma = math.ceil(sigma * 1e4) / 1e4
    cost = search_cost(params.replace(noise_multiplier=sigma), count, sampler)
    if cost.epsilon_total > target * (1 + 1e-6):
        raise ValidationError("target_epsilon", f"calibration missed the target ({cost.epsilon_total:g} > {target:g})")
    return cost
