"""Epsilon for DP-SGD from Google's dp-accounting: RDP, PLD and the legacy RDP conversion.

The DP-SGD event is a Poisson-subsampled Gaussian (q = batch / n, sigma) self-composed over
`steps`, example-level, add/remove-one neighbours. RDP composes linearly in steps, so the
per-step RDP vector for a (q, sigma) is computed once by dp-accounting and reused.

An accountant's name selects its implementation in one table, `REGISTRY` (as Opacus'
`accountants/registry.py`); `create_accountant(name)` is the only lookup. A new accountant is one
class here with its name in `labels.ACCOUNTANTS`.
"""

from __future__ import annotations

import logging
import math
from dataclasses import asdict, dataclass
from functools import lru_cache

import numpy as np
from dp_accounting import dp_event, privacy_accountant
from dp_accounting.rdp import rdp_privacy_accountant

from dpviz.privacy.labels import ACCOUNTANTS
from dpviz.privacy.params import PrivacyParams
from dpviz.validation import require_choice

NEIGHBOURS = privacy_accountant.NeighboringRelation.ADD_OR_REMOVE_ONE
ORDERS = np.array(rdp_privacy_accountant.DEFAULT_RDP_ORDERS, dtype=float)
PLD_RELATIVE_ERROR = 0.003  # target for the adaptive PLD grid; the test holds it to 1 %
CALIBRATION_PLD_INTERVAL = 1e-3  # each PLD evaluation in a calibration stays ~20 ms; error well under 1 %
PLD_CURVE_POINTS = 8  # each PLD point costs ~10-40 ms; epsilon curves sample it
# Measured here (2 cores): PLD takes 0.1-0.9 s and < 200 MB for sigma >= 0.05 up to 1e6 steps, but 27 s and
# 2.7 GB at sigma 0.01, and 10 s at 3e6 steps. Outside these bounds the RDP bound (valid, looser) is shown.
PLD_MIN_SIGMA = 0.1
PLD_MAX_STEPS = 1_000_000

# dp-accounting logs one warning per fractional order it cannot evaluate; we report that ourselves.
logging.getLogger("absl").setLevel(logging.ERROR)


def dpsgd_event(sampling_probability: float, noise_multiplier: float, steps: int) -> dp_event.DpEvent:
    return dp_event.SelfComposedDpEvent(
        dp_event.PoissonSampledDpEvent(sampling_probability, dp_event.GaussianDpEvent(noise_multiplier)), steps
    )


def no_amplification_event(noise_multiplier: float, passes: int) -> dp_event.DpEvent:
    """Fixed shuffled batches: each example meets the Gaussian mechanism once per pass, unamplified."""
    return dp_event.SelfComposedDpEvent(dp_event.GaussianDpEvent(noise_multiplier), passes)


class LegacyRdpAccountant(rdp_privacy_accountant.RdpAccountant):
    """dp-accounting's RDP with the older conversion eps = min_a RDP(a) + log(1/delta)/(a-1).

    TF Privacy's tutorials printed this bound (e.g. 3.01 for their MNIST run); it is looser than
    the conversion dp-accounting uses today and is kept only to reconcile published numbers.
    """

    def get_epsilon_and_optimal_order(self, target_delta: float):
        return legacy_conversion(self._orders, self._rdp, target_delta)

    def get_epsilon(self, target_delta: float) -> float:
        return self.get_epsilon_and_optimal_order(target_delta)[0]


def legacy_conversion(orders: np.ndarray, rdp: np.ndarray, delta: float) -> tuple[float, float]:
    with np.errstate(invalid="ignore"):
        eps = np.asarray(rdp) + math.log(1 / delta) / (np.asarray(orders) - 1)
    eps = np.where(np.isnan(eps), np.inf, eps)
    i = int(np.argmin(eps))
    return max(0.0, float(eps[i])), float(orders[i])


class _PerStepRdp:
    """dp-accounting's per-step RDP for one (q, sigma), filled in order by order as orders are needed.

    Each order costs dp-accounting a pure-Python series (up to ~1 ms for order 1024), so grids,
    which only need the few orders near each cell's optimum, ask for those alone.
    """

    def __init__(self, q: float, noise_multiplier: float):
        self.q, self.noise_multiplier = q, noise_multiplier
        self.values = np.full(ORDERS.shape, np.nan)
        self._full: np.ndarray | None = None

    def at(self, indices: np.ndarray) -> np.ndarray:
        missing = indices[np.isnan(self.values[indices])]
        if missing.size:
            accountant = rdp_privacy_accountant.RdpAccountant(ORDERS[missing], NEIGHBOURS)
            accountant.compose(dpsgd_event(self.q, self.noise_multiplier, 1))
            self.values[missing] = accountant.rdp
        return self.values[indices]

    def full(self) -> np.ndarray:
        if self._full is None:
            self._full = self.at(np.arange(ORDERS.size)).copy()
            self._full.setflags(write=False)
        return self._full


@lru_cache(maxsize=8192)
def _per_step(q: float, noise_multiplier: float) -> _PerStepRdp:
    return _PerStepRdp(q, noise_multiplier)


def per_step_rdp(q: float, noise_multiplier: float) -> np.ndarray:
    """dp-accounting's RDP of one DP-SGD step at each order of ORDERS (read-only, cached)."""
    return _per_step(float(q), float(noise_multiplier)).full()


def orders_dropped(q: float, noise_multiplier: float) -> np.ndarray:
    """Orders whose RDP dp-accounting could not evaluate (its series did not converge)."""
    if noise_multiplier == 0 or q >= 1:
        return ORDERS[:0]
    rdp = per_step_rdp(q, noise_multiplier)
    return ORDERS[~np.isfinite(rdp)]


def rdp_epsilon(
    q: float, noise_multiplier: float, steps: int, delta: float, *, legacy: bool = False
) -> tuple[float, float]:
    """(epsilon, optimal order) from the cached per-step RDP scaled by `steps`."""
    if noise_multiplier == 0:
        return math.inf, math.nan
    rdp = steps * per_step_rdp(q, noise_multiplier)
    if legacy:
        return legacy_conversion(ORDERS, rdp, delta)
    eps, order = rdp_privacy_accountant.compute_epsilon(ORDERS, rdp, delta)
    return float(eps), float(order)


# dp-accounting computes integer orders exactly and fractional ones by a series; epsilon over each
# family falls then rises, but the integer orders dip below their fractional neighbours, so the
# search walks the two families separately.
ORDER_FAMILIES = (np.flatnonzero(np.round(ORDERS) == ORDERS), np.flatnonzero(np.round(ORDERS) != ORDERS))
SEARCH_HALF_WIDTH = 2  # orders either side of the current guess: steps over one-order numerical ripples
SEARCH_PROBES = np.searchsorted(ORDERS, [1.5, 2.0, 3.0, 5.0, 8.0, 12.0, 20.0, 32.0])  # cheap orders to start from


def _walk(memo: _PerStepRdp, family: np.ndarray, order: float, steps: int, delta: float, convert) -> np.ndarray | None:
    """Indices of ORDERS around the lowest epsilon of `family` found walking downhill from `order`."""
    last = family.size - 1
    centre = int(np.abs(ORDERS[family] - order).argmin())
    while True:
        lo, hi = max(centre - SEARCH_HALF_WIDTH, 0), min(centre + SEARCH_HALF_WIDTH, last)
        window = family[lo : hi + 1]
        rdp = memo.at(window)
        if not np.isfinite(rdp).any():  # inside a run of orders dp-accounting dropped: no slope to follow
            return None
        _, best_order = convert(ORDERS[window], steps * rdp, delta)
        best = lo + int(np.searchsorted(ORDERS[window], best_order))
        if best == centre or lo < best < hi:
            return window
        centre = best  # strictly lower than at the old centre, so the walk cannot cycle


def searched_rdp_epsilon(
    q: float,
    noise_multiplier: float,
    steps: int,
    delta: float,
    *,
    legacy: bool = False,
    start_order: float | None = None,
) -> tuple[float, float]:
    """`rdp_epsilon` (epsilon, optimal order) evaluating only the RDP orders near the optimum.

    Grids need a few orders per cell, not all 156 (each costs dp-accounting a pure-Python series).
    Each family of orders is walked downhill from `start_order` (a neighbouring cell's optimum, else
    the best of a few cheap orders) until its lowest value is inside the window. Order 1.1 is always
    tried too: it is the first to reach dp-accounting's epsilon = 0 branch (negligible RDP). Orders
    dp-accounting drops (infinite RDP) are skipped, as its conversion skips them. Every value comes
    from dp-accounting and any order gives a valid bound, so the result is never below the full
    search; tests hold it to the full search's value within 0.1 % (equal in ordinary settings).
    """
    if noise_multiplier == 0:
        return math.inf, math.nan
    memo = _per_step(float(q), float(noise_multiplier))
    convert = legacy_conversion if legacy else rdp_privacy_accountant.compute_epsilon
    if start_order is None or not math.isfinite(start_order):
        _, start_order = convert(ORDERS[SEARCH_PROBES], steps * memo.at(SEARCH_PROBES), delta)
    windows = [_walk(memo, family, start_order, steps, delta, convert) for family in ORDER_FAMILIES]
    if any(window is None for window in windows):
        return rdp_epsilon(q, noise_multiplier, steps, delta, legacy=legacy)
    candidates = np.unique(np.concatenate([[0], *windows]))
    eps, order = convert(ORDERS[candidates], steps * memo.at(candidates), delta)
    return float(eps), float(order)


def pld_value_discretization(estimate: float, steps: int) -> float:
    """A PLD grid fine enough for ~0.3 % error yet fast.

    Measured against a 1e-5 grid: the absolute error grows like 70 sqrt(steps) h^2 for many steps, and
    stays under ~0.2 % of epsilon while h <= 2e-3 epsilon; the grid satisfies both.
    """
    if not math.isfinite(estimate) or estimate <= 0:
        return 1e-3
    h = math.sqrt(PLD_RELATIVE_ERROR * estimate / (70 * math.sqrt(max(steps, 1))))
    h = min(h, 2e-3 * estimate)
    return float(min(max(h, 1e-4), 1e-2))


def composed_pld(event: dp_event.DpEvent, interval: float) -> privacy_accountant.PrivacyAccountant:
    """dp-accounting's PLD accountant (add/remove-one, grid `interval`) with `event` composed."""
    from dp_accounting.pld import pld_privacy_accountant  # scipy.signal: only once PLD is asked for

    accountant = pld_privacy_accountant.PLDAccountant(NEIGHBOURS, value_discretization_interval=interval)
    accountant.compose(event)
    return accountant


@lru_cache(maxsize=4096)
def _pld_epsilon_cached(event_key: tuple, delta: float, interval: float) -> float:
    kind, a, b, c = event_key
    event = dpsgd_event(a, b, c) if kind == "dpsgd" else no_amplification_event(b, c)
    return float(composed_pld(event, interval).get_epsilon(delta))


def pld_delta_at_zero(q: float, noise_multiplier: float, steps: int) -> float:
    """The pessimistic PLD's delta at epsilon 0 (on the grid a PLD epsilon near 0 uses): what a printed
    epsilon of 0 must be checked against."""
    accountant = composed_pld(dpsgd_event(q, noise_multiplier, steps), pld_value_discretization(0.0, steps))
    return float(accountant.get_delta(0.0))


def pld_epsilon(
    q: float, noise_multiplier: float, steps: int, delta: float, *, value_discretization_interval: float | None = None
) -> float:
    """Pessimistic (valid upper bound) PLD epsilon; the grid adapts to the expected epsilon."""
    if noise_multiplier == 0:
        return math.inf
    if value_discretization_interval is None:
        estimate = 0.7 * rdp_epsilon(q, noise_multiplier, steps, delta)[0]
        value_discretization_interval = pld_value_discretization(estimate, steps)
    return _pld_epsilon_cached(
        ("dpsgd", float(q), float(noise_multiplier), int(steps)), float(delta), value_discretization_interval
    )


def no_amplification_epsilon(noise_multiplier: float, passes: int, delta: float, accountant: str = "rdp") -> float:
    """Epsilon when every example is used once per pass in fixed-size shuffled batches."""
    return create_accountant(accountant).no_amplification(noise_multiplier, passes, delta)


ZERO_EPSILON_NOTE = (
    "epsilon 0 holds here: at delta {delta:g} the mechanism's delta at epsilon 0 is already below delta (PLD), so "
    "this delta protects nothing; choose delta well below 1/n = 1/{n:,}."
)
NO_ZERO_NOTE = "dp-accounting read epsilon 0, which its delta at epsilon 0 does not confirm: no bound is stated."


@dataclass(frozen=True)
class EpsilonReport:
    """The guarantee for one setting, with everything needed to state it honestly."""

    epsilon: float
    delta: float
    steps: int
    sampling_probability: float
    accountant: str
    epsilon_no_amplification: float
    bound: str  # which computation produced `epsilon`
    optimal_order: float | None = None
    note: str | None = None

    def to_dict(self) -> dict:
        data = asdict(self)
        for key in ("epsilon", "epsilon_no_amplification"):
            if not math.isfinite(data[key]):
                data[key] = None  # JSON has no infinity; null means "no finite guarantee"
        if data["optimal_order"] is not None and not math.isfinite(data["optimal_order"]):
            data["optimal_order"] = None
        return data


class Rdp:
    """dp-accounting's RDP accountant; `legacy` swaps in the older RDP-to-(epsilon, delta) conversion."""

    curve_points = None  # cheap: every epoch of a curve

    def __init__(self, name: str = "rdp", *, legacy: bool = False):
        self.name, self.legacy = name, legacy
        self.versus_rdp = "looser" if legacy else "same"  # how calibration brackets it with RDP

    def affordable(self, noise_multiplier: float, steps: int) -> bool:
        return True

    def epsilon(self, q: float, noise_multiplier: float, steps: int, delta: float) -> float:
        return rdp_epsilon(q, noise_multiplier, steps, delta, legacy=self.legacy)[0]

    def no_amplification(self, noise_multiplier: float, passes: int, delta: float) -> float:
        return rdp_epsilon(1.0, noise_multiplier, passes, delta, legacy=self.legacy)[0]

    def dp_accounting_accountant(self) -> privacy_accountant.PrivacyAccountant:
        return (LegacyRdpAccountant if self.legacy else rdp_privacy_accountant.RdpAccountant)(ORDERS, NEIGHBOURS)

    def headline(self, q: float, noise_multiplier: float, steps: int, delta: float, *, exact: bool = False) -> dict:
        eps, order = rdp_epsilon(q, noise_multiplier, steps, delta, legacy=self.legacy)
        pld = REGISTRY["pld"]
        if eps <= 0:  # dp-accounting's series underflow at huge noise: 0 is no guarantee
            note = "dp-accounting's RDP reads epsilon 0 at this noise, which is no guarantee."
            if not pld.affordable(noise_multiplier, steps):
                return dict(epsilon=math.inf, bound=self.name, note=note + " PLD would be too costly here: no bound.")
            return dict(
                epsilon=pld.epsilon(q, noise_multiplier, steps, delta),
                bound="pld",
                note=note + " Shown instead: the PLD bound, a valid upper bound.",
            )
        dropped = orders_dropped(q, noise_multiplier)
        if self.legacy or not dropped.size:
            return dict(epsilon=eps, bound=self.name, optimal_order=order)
        note = (
            f"dp-accounting could not evaluate RDP at orders {dropped.min():g}-{dropped.max():g} for this "
            f"(q, sigma) and its RDP bound ({eps:.4g}) over-estimates."
        )
        tight = pld.epsilon(q, noise_multiplier, steps, delta) if pld.affordable(noise_multiplier, steps) else math.inf
        if tight < eps:
            note += " Shown instead: the PLD bound, also a valid upper bound and tighter here."
            return dict(epsilon=tight, bound="pld", optimal_order=None, note=note)
        return dict(epsilon=eps, bound="rdp", optimal_order=order, note=note)


class Pld:
    """dp-accounting's privacy-loss-distribution accountant: the tightest bound, on an adaptive grid."""

    name = "pld"
    curve_points = PLD_CURVE_POINTS
    versus_rdp = "tighter"

    def affordable(self, noise_multiplier: float, steps: int) -> bool:
        """Whether PLD answers within about a second and a few hundred MB (measured bounds above)."""
        return noise_multiplier >= PLD_MIN_SIGMA and steps <= PLD_MAX_STEPS

    def epsilon(self, q: float, noise_multiplier: float, steps: int, delta: float) -> float:
        return pld_epsilon(q, noise_multiplier, steps, delta)

    def no_amplification(self, noise_multiplier: float, passes: int, delta: float) -> float:
        if noise_multiplier == 0:
            return math.inf
        if not self.affordable(noise_multiplier, passes):
            return REGISTRY["rdp"].no_amplification(noise_multiplier, passes, delta)
        estimate = 0.7 * rdp_epsilon(1.0, noise_multiplier, passes, delta)[0]
        interval = pld_value_discretization(estimate, passes)
        return _pld_epsilon_cached(("gaussian", 1.0, float(noise_multiplier), int(passes)), float(delta), interval)

    def dp_accounting_accountant(self) -> privacy_accountant.PrivacyAccountant:
        from dp_accounting.pld import pld_privacy_accountant

        return pld_privacy_accountant.PLDAccountant(NEIGHBOURS, value_discretization_interval=CALIBRATION_PLD_INTERVAL)

    def headline(self, q: float, noise_multiplier: float, steps: int, delta: float, *, exact: bool = False) -> dict:
        """`exact`: compute PLD even where it is costly (the command line's --exact), never on a page."""
        if not exact and not self.affordable(noise_multiplier, steps):
            eps, order = rdp_epsilon(q, noise_multiplier, steps, delta)
            note = (
                f"PLD would take many seconds and gigabytes here (noise multiplier below {PLD_MIN_SIGMA:g} or more "
                f"than {PLD_MAX_STEPS:,} steps). Shown instead: the RDP bound, also a valid upper bound, looser."
            )
            return dict(epsilon=eps, bound="rdp", optimal_order=order, note=note)
        return dict(epsilon=self.epsilon(q, noise_multiplier, steps, delta), bound=self.name)


REGISTRY = {"rdp": Rdp(), "pld": Pld(), "rdp-legacy": Rdp("rdp-legacy", legacy=True)}
assert tuple(REGISTRY) == ACCOUNTANTS, "labels.ACCOUNTANTS and REGISTRY must name the same accountants"


def create_accountant(name: str) -> Rdp | Pld:
    """The accountant called `name`.

    Args:
      name: one of `labels.ACCOUNTANTS` ("rdp", "pld", "rdp-legacy").

    Returns:
      The accountant: `epsilon`, `no_amplification`, `headline` and a fresh `dp_accounting_accountant`.

    Raises:
      ValidationError: (field "accountant") for any other name.
    """
    return REGISTRY[require_choice("accountant", name, ACCOUNTANTS)]


def compute_epsilon(params: PrivacyParams, accountant: str = "rdp", *, exact: bool = False) -> EpsilonReport:
    """The guarantee of Poisson-sampled DP-SGD with these settings.

    Args:
      params: validated settings; `params.steps` steps at sampling rate `params.sampling_probability`.
      accountant: an accountant name from `labels.ACCOUNTANTS`.
      exact: for PLD, compute the tight value even beyond its measured cost bounds (seconds to minutes,
        gigabytes); by default the RDP bound is reported there, labelled.

    Returns:
      An `EpsilonReport`: epsilon at `params.delta` (infinite when the noise multiplier is 0), the
      epsilon without sampling amplification, and which computation produced the headline (`bound`),
      with a `note` when dp-accounting's RDP had to be replaced by the PLD bound.

    Raises:
      ValidationError: for an unknown accountant.
    """
    spec = create_accountant(accountant)
    q, sigma, steps, delta = params.sampling_probability, params.noise_multiplier, params.steps, params.delta
    no_amp, no_amp_note = _checked_zero(spec.no_amplification(sigma, params.passes, delta), 1.0, params, params.passes)
    common = dict(
        delta=delta, steps=steps, sampling_probability=q, accountant=accountant, epsilon_no_amplification=no_amp
    )
    if sigma == 0:
        return EpsilonReport(epsilon=math.inf, bound=accountant, **common)
    headline = spec.headline(q, sigma, steps, delta, exact=exact)
    epsilon, zero = _checked_zero(headline["epsilon"], q, params, steps)
    note = " ".join(dict.fromkeys(filter(None, [headline.get("note"), zero, no_amp_note])))
    return EpsilonReport(**{**headline, "epsilon": epsilon, "note": note or None}, **common)


def _checked_zero(epsilon: float, q: float, params: PrivacyParams, steps: int) -> tuple[float, str]:
    """An epsilon of 0 is checked, never printed on trust: (0, delta) holds only where the mechanism's delta
    at epsilon 0 is already at most delta. Returns (the epsilon to state, a note for a 0)."""
    if epsilon != 0:
        return epsilon, ""
    sigma, delta = params.noise_multiplier, params.delta
    holds = REGISTRY["pld"].affordable(sigma, steps) and pld_delta_at_zero(q, sigma, steps) <= delta
    if holds:
        return 0.0, ZERO_EPSILON_NOTE.format(delta=delta, n=params.dataset_size)
    return math.inf, NO_ZERO_NOTE
