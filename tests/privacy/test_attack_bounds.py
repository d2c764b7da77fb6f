"""Attack-risk bounds read from the privacy profile: never below the truth, tight where it is known."""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.stats import norm

from dpviz.privacy.attack_bounds import CURVE_FPR, attack_bounds, gaussian_tradeoff, tpr_bound
from dpviz.privacy.params import PrivacyParams
from dpviz.validation import ValidationError


def one_gaussian(sigma: float) -> PrivacyParams:
    """q = 1 and one step: a single Gaussian mechanism, which is exactly (1/σ)-GDP."""
    return PrivacyParams(dataset_size=1000, batch_size=1000, noise_multiplier=sigma, epochs=1, delta=1e-5)


@pytest.mark.parametrize("sigma", [0.5, 1.0, 2.0, 4.0])
def test_never_below_the_gaussian_mechanisms_exact_tradeoff_and_close_to_it(sigma):
    bounds = attack_bounds(one_gaussian(sigma))
    exact = gaussian_tradeoff(np.array(bounds.fpr), 1 / sigma)
    assert np.all(np.array(bounds.tpr) >= exact - 1e-12)  # a bound: never below what a real attack reaches
    assert np.max(np.array(bounds.tpr) - exact) < 0.01  # and tight: the profile is read in full
    for fpr, tpr in bounds.tpr_at.items():
        assert gaussian_tradeoff(fpr, 1 / sigma) <= tpr <= gaussian_tradeoff(fpr, 1 / sigma) + 2e-3


@pytest.mark.parametrize("sigma", [0.5, 1.0, 2.0])
def test_advantage_bounds_the_gaussian_mechanisms_best_test(sigma):
    best = 2 * norm.cdf(1 / sigma / 2) - 1  # TPR - FPR at the optimal threshold
    assert best - 1e-12 <= attack_bounds(one_gaussian(sigma)).advantage <= best + 1e-3


def test_one_pair_gives_the_textbook_lines():
    eps, delta = np.array([1.0]), np.array([1e-5])
    assert tpr_bound([0.01], eps, delta)[0] == pytest.approx(np.e * 0.01 + 1e-5)
    assert tpr_bound([0.9], eps, delta)[0] == pytest.approx(1 - np.exp(-1) * (1 - 1e-5 - 0.9))


def test_more_noise_less_risk_and_shuffling_bounds_less_tightly():
    mnist = dict(dataset_size=60000, batch_size=256, epochs=15, delta=1e-5)
    low, high = (attack_bounds(PrivacyParams(noise_multiplier=s, **mnist)) for s in (0.8, 2.0))
    assert high.tpr_at[0.01] < low.tpr_at[0.01] and high.advantage < low.advantage
    shuffled = attack_bounds(PrivacyParams(noise_multiplier=2.0, **mnist), sampler="shuffle")
    assert shuffled.tpr_at[0.01] >= high.tpr_at[0.01]  # no amplification: a weaker guarantee


def test_no_noise_rules_nothing_out():
    assert (
        attack_bounds(PrivacyParams(dataset_size=100, batch_size=10, noise_multiplier=0, epochs=1, delta=1e-5)) is None
    )


def test_sentence_quotes_the_numbers():
    bounds = attack_bounds(one_gaussian(1.0))
    assert f"{bounds.tpr_at[0.01]:.1%}" in bounds.sentence() and "at a 1% false-positive rate" in bounds.sentence()


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    n=st.integers(100, 100_000), fraction=st.floats(0.001, 1.0), sigma=st.floats(0.3, 20.0), epochs=st.floats(0.1, 30.0)
)
def test_every_bound_is_a_valid_tradeoff_curve(n, fraction, sigma, epochs):
    params = PrivacyParams(
        dataset_size=n, batch_size=max(1, int(n * fraction)), noise_multiplier=sigma, epochs=epochs, delta=1e-5
    )
    bounds = attack_bounds(params)
    tpr = np.array(bounds.tpr)
    assert np.all(tpr >= CURVE_FPR - 1e-12) and np.all(tpr <= 1.0)
    assert np.all(np.diff(tpr) >= -1e-12)  # more false positives never lowers the reachable TPR
    assert 0.0 <= bounds.advantage <= 1.0


def test_fixed_size_batches_get_their_own_replace_one_bound():
    params = PrivacyParams(dataset_size=60000, batch_size=256, noise_multiplier=1.1, epochs=15, delta=1e-5)
    poisson, fixed = attack_bounds(params), attack_bounds(params, sampler="fixed")
    assert fixed.profile == "rdp"
    # replace-one (epsilon 13.6) rules out less than Poisson's add/remove-one (1.28): never the tighter one
    assert all(fixed.tpr_at[f] > poisson.tpr_at[f] for f in fixed.tpr_at) and fixed.advantage > poisson.advantage
    assert np.all(np.diff(fixed.tpr) >= -1e-12) and np.all(np.array(fixed.tpr) >= np.array(fixed.fpr) - 1e-12)


@pytest.mark.parametrize("sigma", [1.0, 2.0, 4.0])
def test_a_fixed_batch_of_everything_is_bounded_as_a_gaussian_of_sensitivity_two(sigma):
    # b = n: every step sees every example, and replacing one moves the clipped sum by up to 2C
    bounds = attack_bounds(one_gaussian(sigma), sampler="fixed")
    exact = gaussian_tradeoff(np.array(bounds.fpr), 2 / sigma)
    assert np.all(np.array(bounds.tpr) >= exact - 1e-12)


def test_an_unknown_sampler_is_named():
    with pytest.raises(ValidationError, match="sampler"):
        attack_bounds(one_gaussian(1.0), sampler="poison")


def test_a_search_bound_is_looser_than_one_trial_and_holds_its_own_epsilon():
    from dpviz.privacy.attack_bounds import FPR_POINTS, search_attack_bounds
    from dpviz.privacy.tuning import TrialCount, search_cost

    params = PrivacyParams(dataset_size=60_000, batch_size=256, noise_multiplier=1.1, epochs=15, delta=1e-5)
    count = TrialCount(mean=10, shape=1)
    for sampler in ("poisson", "fixed", "shuffle"):
        search = search_attack_bounds(params, count, sampler=sampler)
        one = attack_bounds(params, sampler=sampler)
        assert all(search.tpr_at[f] >= one.tpr_at[f] - 1e-9 for f in FPR_POINTS) and search.advantage > one.advantage
        # the (ε, δ) the search states is one point of its profile: the bound never exceeds that point's lines
        total = search_cost(params, count, sampler).epsilon_total
        lines = tpr_bound(FPR_POINTS, [total], [params.delta])
        assert all(search.tpr_at[f] <= t + 1e-9 for f, t in zip(FPR_POINTS, lines))
    assert search_attack_bounds(params.replace(noise_multiplier=0), count) is None
