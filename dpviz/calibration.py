"""Inverse questions answered by dp-accounting's calibration: how much noise, how many epochs."""

from __future__ import annotations

import math
from dataclasses import dataclass

import dp_accounting
from dp_accounting.pld import pld_privacy_accountant
from dp_accounting.rdp import rdp_privacy_accountant

from dpviz.accountant import NEIGHBOURS, ORDERS, LegacyRdpAccountant, dpsgd_event
from dpviz.accountant_names import ACCOUNTANTS
from dpviz.params import MAX_EPOCHS, PrivacyParams, steps_for
from dpviz.validation import ValidationError, require_choice, require_float

CALIBRATION_PLD_INTERVAL = 1e-3  # each PLD evaluation stays ~20 ms; error well under 1 %


def _fresh_accountant(accountant: str):
    require_choice("accountant", accountant, ACCOUNTANTS)
    if accountant == "pld":
        return lambda: pld_privacy_accountant.PLDAccountant(NEIGHBOURS, value_discretization_interval=CALIBRATION_PLD_INTERVAL)
    if accountant == "rdp-legacy":
        return lambda: LegacyRdpAccountant(ORDERS, NEIGHBOURS)
    return lambda: rdp_privacy_accountant.RdpAccountant(ORDERS, NEIGHBOURS)


def calibrate_noise(
    *, target_epsilon: float, dataset_size: int, batch_size: int, epochs: float, target_delta: float, accountant: str = "rdp"
) -> float:
    """The smallest noise multiplier whose epsilon at `target_delta` is at most `target_epsilon`."""
    target_epsilon = require_float("target_epsilon", target_epsilon, minimum=0.0, exclusive_minimum=True)
    probe = PrivacyParams(dataset_size=dataset_size, batch_size=batch_size, noise_multiplier=1.0, epochs=epochs, delta=target_delta)
    q, steps = probe.sampling_probability, probe.steps
    def calibrate(name: str, bracket) -> float:
        return float(
            dp_accounting.calibrate_dp_mechanism(
                _fresh_accountant(name), lambda s: dpsgd_event(q, s, steps), target_epsilon, probe.delta,
                bracket_interval=bracket, tol=1e-4,
            )
        )

    if accountant != "pld":
        return calibrate(accountant, dp_accounting.LowerEndpointAndGuess(1e-3, 1.0))
    # PLD at a tiny noise multiplier needs gigabytes; RDP (never tighter than PLD) brackets it first.
    upper = calibrate("rdp", dp_accounting.LowerEndpointAndGuess(1e-3, 1.0))
    lower = 0.5 * upper
    if _epsilon(accountant, dpsgd_event(q, lower, steps), probe.delta) <= target_epsilon:
        return lower
    return calibrate("pld", dp_accounting.ExplicitBracketInterval(lower, upper))


def _epsilon(accountant: str, event, delta: float) -> float:
    acc = _fresh_accountant(accountant)()
    acc.compose(event)
    return acc.get_epsilon(delta)


@dataclass(frozen=True)
class EpochBudget:
    steps: int
    epochs: float  # steps expressed in epochs: steps * batch / n


def max_epochs(
    *, target_epsilon: float, dataset_size: int, batch_size: int, noise_multiplier: float, target_delta: float, accountant: str = "rdp"
) -> EpochBudget:
    """The most DP-SGD steps (and the epochs they make) whose epsilon stays within `target_epsilon`."""
    target_epsilon = require_float("target_epsilon", target_epsilon, minimum=0.0, exclusive_minimum=True)
    probe = PrivacyParams(
        dataset_size=dataset_size, batch_size=batch_size, noise_multiplier=noise_multiplier, epochs=1, delta=target_delta
    )
    if probe.noise_multiplier == 0:
        raise ValidationError("noise_multiplier", "must be > 0 to spend a finite privacy budget")
    q, sigma, delta = probe.sampling_probability, probe.noise_multiplier, probe.delta

    def fits(name: str, steps: int) -> bool:
        return _epsilon(name, dpsgd_event(q, sigma, steps), delta) <= target_epsilon

    def calibrate(name: str, bracket) -> int:
        return int(
            dp_accounting.calibrate_dp_mechanism(
                _fresh_accountant(name), lambda k: dpsgd_event(q, sigma, int(k)), target_epsilon, delta,
                bracket_interval=bracket, discrete=True,
            )
        )

    ceiling = steps_for(MAX_EPOCHS, dataset_size, batch_size)
    # RDP first: it is cheap at any step count and never tighter than PLD, so it brackets PLD from below.
    if not fits("rdp", 1):
        steps = 0
    elif fits("rdp", ceiling):
        steps = ceiling
    else:
        steps = calibrate("rdp", dp_accounting.ExplicitBracketInterval(1, ceiling))
    if accountant == "rdp-legacy" and steps > 0:
        steps = 0 if not fits(accountant, 1) else calibrate(accountant, dp_accounting.ExplicitBracketInterval(1, steps))
    elif accountant == "pld" and steps < ceiling:
        lower = max(steps, 1)
        if fits("pld", lower):
            upper = min(ceiling, 2 * lower + 1)
            while upper < ceiling and fits("pld", upper):
                lower, upper = upper, min(ceiling, 2 * upper)
            steps = upper if fits("pld", upper) else calibrate("pld", dp_accounting.ExplicitBracketInterval(lower, upper))
    return EpochBudget(steps=steps, epochs=math.floor(steps * batch_size / dataset_size * 1000) / 1000)
