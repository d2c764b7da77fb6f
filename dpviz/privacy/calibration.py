"""Inverse questions answered by dp-accounting's calibration: how much noise, how many epochs.

RDP is cheap at any setting, so it brackets the others: PLD is never looser than RDP (its noise
is at most RDP's, its steps at least RDP's), the legacy conversion never tighter.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from dpviz.privacy.accountant import create_accountant, dpsgd_event, rdp_epsilon, searched_rdp_epsilon
from dpviz.privacy.labels import SAMPLERS
from dpviz.privacy.params import MAX_EPOCHS, PrivacyParams, steps_for
from dpviz.validation import ValidationError, require_choice, require_float

SIGMA_SEARCH = (1e-3, 100.0)  # noise multipliers searched; beyond 100 dp-accounting's RDP plateaus, then reads 0


def _epsilon(accountant: str, event, delta: float) -> float:
    acc = create_accountant(accountant).dp_accounting_accountant()
    acc.compose(event)
    return acc.get_epsilon(delta)


def _calibrate(accountant: str, make_event, target_epsilon: float, delta: float, bracket, **options) -> float:
    from dp_accounting import mechanism_calibration  # scipy.optimize: not needed for a first epsilon

    return mechanism_calibration.calibrate_dp_mechanism(
        create_accountant(accountant).dp_accounting_accountant,
        make_event,
        target_epsilon,
        delta,
        bracket_interval=bracket,
        **options,
    )


def _is_rdp(name: str) -> bool:
    return create_accountant(name).versus_rdp in ("same", "looser")


def _rdp_noise(name: str, q: float, steps: int, target_epsilon: float, delta: float) -> float:
    """Noise that reaches the target under dp-accounting's RDP, searched on its per-step RDP.

    RDP composes additively, so epsilon after `steps` is dp-accounting's conversion of steps x the
    per-step RDP; each probe evaluates only the orders near the optimum (`searched_rdp_epsilon`, never
    below the full search), which makes this ~5x faster than composing afresh at every probe.
    Raises ValueError when the bracket does not contain the target.
    """
    from scipy.optimize import brentq

    legacy = create_accountant(name).legacy
    gap = lambda s: searched_rdp_epsilon(q, s, steps, delta, legacy=legacy)[0] - target_epsilon  # noqa: E731
    low, high = SIGMA_SEARCH
    if not (gap(low) > 0 > gap(high)):
        raise ValueError("target outside the bracket")
    return brentq(gap, low, high, xtol=1e-5) + 1e-4  # a hair above the root: at or below the target


def _calibrate_fixed(probe: PrivacyParams, target_epsilon: float) -> float:
    """dp-accounting's calibration of SampledWithoutReplacement steps under its RDP, replace-one."""
    from dp_accounting import dp_event, mechanism_calibration
    from dp_accounting.rdp import rdp_privacy_accountant

    from dpviz.privacy.accountant import ORDERS
    from dpviz.privacy.samplers import REPLACE_ONE, fixed_epsilon, fixed_event

    n, b, steps, delta = probe.dataset_size, probe.batch_size, probe.steps, probe.delta
    try:
        sigma = mechanism_calibration.calibrate_dp_mechanism(
            lambda: rdp_privacy_accountant.RdpAccountant(ORDERS, REPLACE_ONE),
            lambda s: dp_event.SelfComposedDpEvent(fixed_event(n, b, s), steps),
            target_epsilon,
            delta,
            bracket_interval=mechanism_calibration.ExplicitBracketInterval(*SIGMA_SEARCH),
            tol=1e-4,
        )
    except (mechanism_calibration.NoBracketIntervalFoundError, ValueError):
        sigma = math.nan
    achieved = fixed_epsilon(probe.replace(noise_multiplier=float(sigma))) if math.isfinite(sigma) else math.nan
    if not 0 < achieved <= target_epsilon:
        raise ValidationError(
            "target_epsilon",
            f"{target_epsilon:g} cannot be certified for fixed-size sampling with a noise multiplier in "
            f"[{SIGMA_SEARCH[0]:g}, {SIGMA_SEARCH[1]:g}] at these settings",
        )
    return float(sigma)


def calibrate_noise(
    *,
    target_epsilon: float,
    dataset_size: int,
    batch_size: int,
    epochs: float,
    target_delta: float,
    accountant: str = "rdp",
    sampler: str = "poisson",
) -> float:
    """The smallest noise multiplier whose epsilon stays within a target, as dp-accounting calibrates it.

    Args:
      target_epsilon: the epsilon to reach, > 0.
      dataset_size: training examples n.
      batch_size: expected batch size b (sampling rate b / n).
      epochs: passes over the data (steps = ceil(epochs n / b)).
      target_delta: delta, strictly between 0 and 1.
      accountant: an accountant name from `labels.ACCOUNTANTS`.
      sampler: "poisson"; "fixed" (without replacement, replace-one: dp-accounting's RDP, whatever the
        accountant); "shuffle" (no amplification: ceil(epochs) Gaussian passes).

    Returns:
      The noise multiplier sigma (to dp-accounting's tolerance of 1e-4), between 0.001 and 100. Its
      epsilon is recomputed and is at most the target. Where PLD would need gigabytes (see
      `accountant.Pld.affordable`), RDP's sigma is returned: a little more noise, still a valid answer.

    Raises:
      ValidationError: naming the first field out of range, an unknown accountant, or (field
        target_epsilon) a target no noise multiplier in [0.001, 100] certifies, with the range that is.
    """
    from dp_accounting import mechanism_calibration

    target_epsilon = require_float("target_epsilon", target_epsilon, minimum=0.0, exclusive_minimum=True)
    require_choice("sampler", sampler, SAMPLERS)
    spec = create_accountant(accountant)
    probe = PrivacyParams(
        dataset_size=dataset_size, batch_size=batch_size, noise_multiplier=1.0, epochs=epochs, delta=target_delta
    )
    if sampler == "shuffle":  # q = 1 for ceil(epochs) steps: each pass a Gaussian mechanism
        return calibrate_noise(
            target_epsilon=target_epsilon,
            dataset_size=1,
            batch_size=1,
            epochs=probe.passes,
            target_delta=target_delta,
            accountant=accountant,
        )
    if sampler == "fixed":
        return _calibrate_fixed(probe, target_epsilon)
    q, steps, delta = probe.sampling_probability, probe.steps, probe.delta

    def calibrate(name: str, bracket) -> float:
        return float(_calibrate(name, lambda s: dpsgd_event(q, s, steps), target_epsilon, delta, bracket, tol=1e-4))

    search = "rdp" if spec.versus_rdp == "tighter" else spec.name  # RDP, never tighter, brackets PLD from above

    def unreachable() -> ValidationError:
        high, low = (_epsilon(search, dpsgd_event(q, s, steps), delta) for s in SIGMA_SEARCH)
        reachable = f"choose a target between about {low:.4g} and {high:.4g} for these settings"
        if target_epsilon > high:
            return ValidationError(
                "target_epsilon",
                f"{target_epsilon:g} is above the epsilon of noise multiplier {SIGMA_SEARCH[0]:g} ({high:.4g}), "
                f"so any noise meets it; {reachable}",
            )
        return ValidationError(
            "target_epsilon",
            f"{target_epsilon:g} cannot be certified with {spec.name} (noise multiplier {SIGMA_SEARCH[1]:g} "
            f"gives {low:.4g}, and dp-accounting's bound stops shrinking beyond it); {reachable}",
        )

    try:
        if _is_rdp(search):
            sigma = _rdp_noise(search, q, steps, target_epsilon, delta)
        else:
            sigma = calibrate(search, mechanism_calibration.ExplicitBracketInterval(*SIGMA_SEARCH))
    except (mechanism_calibration.NoBracketIntervalFoundError, ValueError):
        raise unreachable() from None
    checked_by = search
    if spec.versus_rdp == "tighter" and spec.affordable(sigma, steps):
        lower = 0.5 * sigma
        if _epsilon(spec.name, dpsgd_event(q, lower, steps), delta) <= target_epsilon:
            sigma, checked_by = lower, spec.name
        elif _epsilon(spec.name, dpsgd_event(q, sigma, steps), delta) <= target_epsilon:
            sigma = calibrate(spec.name, mechanism_calibration.ExplicitBracketInterval(lower, sigma))
            checked_by = spec.name
        # else: PLD's calibration grid is coarser than RDP here; RDP's sigma stands, checked by RDP
    # The claim is checked, never assumed: dp-accounting reads 0 where its series underflow.
    achieved = _epsilon(checked_by, dpsgd_event(q, sigma, steps), delta)
    if not 0 < achieved <= target_epsilon:
        raise unreachable()
    return sigma


@dataclass(frozen=True)
class EpochBudget:
    steps: int
    epochs: float  # steps expressed in epochs: steps * batch / n
    whole_epochs: int = 0  # the most whole epochs whose steps fit: what a training run can use


def max_epochs(
    *,
    target_epsilon: float,
    dataset_size: int,
    batch_size: int,
    noise_multiplier: float,
    target_delta: float,
    accountant: str = "rdp",
) -> EpochBudget:
    """The most DP-SGD steps (and the epochs they make) whose epsilon stays within a target.

    Args:
      target_epsilon: the epsilon not to exceed, > 0.
      dataset_size: training examples n.
      batch_size: expected batch size b.
      noise_multiplier: sigma, > 0.
      target_delta: delta, strictly between 0 and 1.
      accountant: an accountant name from `labels.ACCOUNTANTS`.

    Returns:
      An `EpochBudget`: the steps (0 when not even one fits; capped at MAX_EPOCHS worth) and the
      epochs they make, rounded down to 1e-3.

    Raises:
      ValidationError: naming the first field out of range (noise_multiplier 0 included).
    """
    from dp_accounting import mechanism_calibration

    target_epsilon = require_float("target_epsilon", target_epsilon, minimum=0.0, exclusive_minimum=True)
    spec = create_accountant(accountant)
    probe = PrivacyParams(
        dataset_size=dataset_size,
        batch_size=batch_size,
        noise_multiplier=noise_multiplier,
        epochs=1,
        delta=target_delta,
    )
    if probe.noise_multiplier == 0:
        raise ValidationError("noise_multiplier", "must be > 0 to spend a finite privacy budget")
    n, b = probe.dataset_size, probe.batch_size
    q, sigma, delta = probe.sampling_probability, probe.noise_multiplier, probe.delta

    def fits(name: str, steps: int) -> bool:
        if _is_rdp(name):  # RDP composes additively: dp-accounting's conversion of steps x its per-step RDP
            return rdp_epsilon(q, sigma, steps, delta, legacy=create_accountant(name).legacy)[0] <= target_epsilon
        return _epsilon(name, dpsgd_event(q, sigma, steps), delta) <= target_epsilon

    def calibrate(name: str, lower: int, upper: int) -> int:
        """The most steps in [lower, upper] that fit (`lower` fits)."""
        if _is_rdp(name):
            while upper - lower > 1:
                middle = (lower + upper) // 2
                lower, upper = (middle, upper) if fits(name, middle) else (lower, middle)
            return upper if fits(name, upper) else lower
        bracket = mechanism_calibration.ExplicitBracketInterval(lower, upper)
        return int(
            _calibrate(name, lambda k: dpsgd_event(q, sigma, int(k)), target_epsilon, delta, bracket, discrete=True)
        )

    ceiling = steps_for(MAX_EPOCHS, n, b)
    if not fits("rdp", 1):
        steps = 0
    elif fits("rdp", ceiling):
        steps = ceiling
    else:
        steps = calibrate("rdp", 1, ceiling)
    if spec.versus_rdp == "looser" and steps > 0:
        steps = calibrate(spec.name, 1, steps) if fits(spec.name, 1) else 0
    elif spec.versus_rdp == "tighter" and steps < ceiling:
        lower = max(steps, 1)
        if fits(spec.name, lower):
            upper = min(ceiling, 2 * lower + 1)
            while upper < ceiling and fits(spec.name, upper):
                lower, upper = upper, min(ceiling, 2 * upper)
            steps = upper if fits(spec.name, upper) else calibrate(spec.name, lower, upper)
    return EpochBudget(
        steps=steps, epochs=math.floor(steps * b / n * 1000) / 1000, whole_epochs=math.floor(steps * b / n + 1e-9)
    )
