"""Each batch sampler with the guarantee that honestly applies to it.

DP-SGD's usual epsilon assumes Poisson sampling. The other two samplers dpviz trains get their own:

- "poisson": every example joins each step with probability q = b/n; add/remove-one neighbours;
  any accountant (`accountant.compute_epsilon`).
- "fixed": b distinct examples drawn uniformly at every step; replace-one neighbours, from
  dp-accounting's `SampledWithoutReplacementDpEvent` (sensitivity 2C: see `fixed_event`), which only its
  RDP accountant supports.
- "shuffle": a permutation per epoch cut into batches: no sampling amplification, every pass a
  Gaussian mechanism on each example (`EpsilonReport.epsilon_no_amplification`).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from dp_accounting import dp_event, privacy_accountant
from dp_accounting.rdp import rdp_privacy_accountant

from dpviz.privacy.accountant import ORDERS, EpsilonReport, compute_epsilon
from dpviz.privacy.labels import RELATIONS, SAMPLERS
from dpviz.privacy.params import PrivacyParams
from dpviz.validation import require_choice

REPLACE_ONE = privacy_accountant.NeighboringRelation.REPLACE_ONE


@dataclass(frozen=True)
class Guarantee:
    """The (epsilon, delta) a sampler's run has, with what it rests on."""

    sampler: str
    epsilon: float
    delta: float
    neighboring_relation: str
    accountant: str  # the accountant that computed it
    note: str = ""

    def to_dict(self) -> dict:
        return {
            "sampler": self.sampler,
            "epsilon": self.epsilon if np.isfinite(self.epsilon) else None,
            "delta": self.delta,
            "neighboring_relation": self.neighboring_relation,
            "accountant": self.accountant,
            "note": self.note,
        }


FIXED_2C = "fixed_epsilon_2c"  # marks figures accounted with `fixed_event`'s sensitivity of 2C


def fixed_event(n: int, b: int, noise_multiplier: float) -> dp_event.DpEvent:
    """One step of b examples drawn without replacement from n, its Gaussian at half the noise multiplier.

    Replacing one example can move the clipped sum by 2C, not C, and dp-accounting's RDP for this event
    takes the noise multiplier relative to that sensitivity: given sigma itself (std / C) it would
    under-state the RDP fourfold (google/differential-privacy issue #378, open as of dp-accounting 0.6.0).
    """
    return dp_event.SampledWithoutReplacementDpEvent(n, b, dp_event.GaussianDpEvent(noise_multiplier / 2))


@lru_cache(maxsize=1024)
def _fixed_per_step(n: int, b: int, noise_multiplier: float) -> np.ndarray:
    accountant = rdp_privacy_accountant.RdpAccountant(ORDERS, REPLACE_ONE)
    accountant.compose(fixed_event(n, b, noise_multiplier))
    rdp = accountant.rdp  # one step's RDP, reused for every step count
    rdp.setflags(write=False)
    return rdp


def fixed_epsilon(params: PrivacyParams) -> float:
    """dp-accounting's RDP epsilon (replace-one) for `params.steps` fixed-size steps without replacement.

    RDP composes additively, so this is dp-accounting's own conversion of steps x the per-step RDP
    (what `compose(event, steps)` stores), with the per-step RDP cached across step counts.
    """
    if params.noise_multiplier == 0:
        return float("inf")
    eps, _ = rdp_privacy_accountant.compute_epsilon(ORDERS, fixed_rdp(params), params.delta)
    return float(eps)


def fixed_rdp(params: PrivacyParams) -> np.ndarray:
    """The RDP (replace-one, at `accountant.ORDERS`) of `params.steps` fixed-size steps without replacement."""
    return params.steps * _fixed_per_step(params.dataset_size, params.batch_size, params.noise_multiplier)


def reported_epsilons(params: PrivacyParams, sampler: str, accountant: str) -> tuple[float, float]:
    """(epsilon, epsilon without amplification) as a training run reports them after `params.steps` steps:
    the sampler's accounted epsilon (Poisson's for shuffled runs, labelled so), and the no-amplification one."""
    report = compute_epsilon(params, accountant)
    eps = fixed_epsilon(params) if sampler == "fixed" else report.epsilon
    return eps, report.epsilon_no_amplification


def epsilons_after(params: PrivacyParams, steps: int, sampler: str, accountant: str) -> tuple[float, float]:
    """`reported_epsilons` after the first `steps` steps of a run of `params` (as each epoch reports them)."""
    spent = params.replace(epochs=steps * params.batch_size / params.dataset_size)
    return reported_epsilons(spent, sampler, accountant)


def guarantee(
    params: PrivacyParams, sampler: str, accountant: str = "rdp", *, report: EpsilonReport | None = None
) -> Guarantee:
    """The guarantee of a run of `params` trained with `sampler`.

    Args:
      params: validated settings.
      sampler: one of `labels.SAMPLERS`.
      accountant: the accountant asked for; "fixed" always uses RDP (the only one that supports it).
      report: `compute_epsilon(params, accountant)` if already computed (Poisson and shuffle read it).

    Raises:
      ValidationError: for an unknown sampler.
    """
    require_choice("sampler", sampler, SAMPLERS)
    if sampler == "fixed":
        note = "" if accountant == "rdp" else f"only dp-accounting's RDP accountant supports it (not {accountant})"
        return Guarantee("fixed", fixed_epsilon(params), params.delta, RELATIONS["fixed"], "rdp", note)
    report = report or compute_epsilon(params, accountant)
    if sampler == "shuffle":
        return Guarantee(
            "shuffle",
            report.epsilon_no_amplification,
            params.delta,
            RELATIONS["shuffle"],
            report.accountant,
            "no sampling amplification: each pass is a Gaussian mechanism on every example",
        )
    return Guarantee("poisson", report.epsilon, params.delta, RELATIONS["poisson"], report.bound, report.note or "")
