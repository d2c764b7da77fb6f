"""The audit's bounds (jax-privacy's): valid on a mechanism whose ε is known, and able to refute a false claim."""

import numpy as np
import pytest
from scipy.optimize import brentq
from scipy.stats import norm

from dpviz.verify.statistics import guess_counts, one_run_bound


def gaussian_epsilon(mu: float, delta: float) -> float:
    """ε of μ-GDP at δ (Dong, Roth and Su 2019)."""
    return brentq(lambda e: norm.cdf(-e / mu + mu / 2) - np.exp(e) * norm.cdf(-e / mu - mu / 2) - delta, 0, 100)


def scores(mu: float, m: int, seed: int):
    rng = np.random.default_rng(seed)
    included = rng.random(m) < 0.5
    s = rng.normal(size=m) + mu * included
    return s[included], s[~included]


@pytest.mark.parametrize("mu", [0.5, 1.0, 2.0])
def test_bounds_stay_below_the_true_epsilon_of_a_gaussian_mechanism(mu):
    for seed in range(3):
        bound = one_run_bound(*scores(mu, 5000, seed), delta=1e-5)
        assert 0 <= bound.epsilon <= bound.epsilon_fdp <= gaussian_epsilon(mu, 1e-5)
        assert 0 < bound.correct <= bound.guesses <= 2500 and bound.canaries == 5000


def test_a_claim_too_small_for_the_mechanism_is_refuted():
    """Scores of 2-GDP (ε 10 at δ 1e-5) refute a claim of ε 4.4 (that of 1-GDP)."""
    bound = one_run_bound(*scores(2.0, 10000, 0), delta=1e-5)
    assert bound.epsilon_fdp > gaussian_epsilon(1.0, 1e-5)


def test_no_signal_gives_no_bound_to_speak_of():
    bound = one_run_bound(*scores(0.0, 2000, 1), delta=1e-5)
    assert bound.epsilon_fdp < 0.3


def test_guess_counts_are_fixed_in_advance_and_within_range():
    assert guess_counts(10000) == [50, 158, 500, 1581, 5000]
    for m in (20, 21, 500, 26122):
        counts = guess_counts(m)
        assert 1 <= len(counts) <= 5 and counts == sorted(set(counts)) and max(counts) <= max(5, m // 2)
