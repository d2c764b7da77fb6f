"""The search's privacy cost: dp-accounting's RepeatAndSelect, and trial counts drawn as it defines them."""

import math

import dp_accounting
import numpy as np
import pytest
from dp_accounting.rdp import rdp_privacy_accountant
from hypothesis import given, settings
from hypothesis import strategies as st

from dpviz.privacy.params import PrivacyParams
from dpviz.privacy.tuning import TrialCount, calibrate_search, parse_shape, search_cost, trial_event
from dpviz.validation import ValidationError

MNIST = PrivacyParams(dataset_size=60000, batch_size=256, noise_multiplier=1.1, epochs=15, delta=1e-5)
DIGITS = PrivacyParams(dataset_size=1150, batch_size=128, noise_multiplier=1.0, epochs=10, delta=1e-5)
SHAPES = (math.inf, 1.0, 0.0, 0.5, 3.0)


def test_search_cost_is_dp_accountings_rdp_for_repeat_and_select():
    cost = search_cost(MNIST, TrialCount(10, 1))
    accountant = rdp_privacy_accountant.RdpAccountant()
    accountant.compose(dp_accounting.dp_event.RepeatAndSelectDpEvent(trial_event(MNIST), 10, 1))
    assert cost.epsilon_total == pytest.approx(accountant.get_epsilon(1e-5), rel=1e-12)
    assert cost.epsilon_per_trial == pytest.approx(1.2813, abs=1e-3)  # the example: 1.28 and 2.66
    assert cost.epsilon_total == pytest.approx(2.6624, abs=1e-3)


@pytest.mark.parametrize("shape", SHAPES)
def test_calibrated_sigma_meets_the_target_and_barely(shape):
    cost = calibrate_search(DIGITS, TrialCount(6, shape), target_epsilon=3.0)
    assert 2.97 < cost.epsilon_total <= 3.0
    assert cost.epsilon_per_trial < cost.epsilon_total
    louder = search_cost(DIGITS.replace(noise_multiplier=cost.params.noise_multiplier - 0.01), TrialCount(6, shape))
    assert louder.epsilon_total > 3.0  # a hundredth less noise would overshoot: the calibration is tight


def test_fixed_size_sampler_is_accounted_under_replace_one():
    cost = calibrate_search(DIGITS.replace(epochs=3), TrialCount(4, 1), target_epsilon=4.0, sampler="fixed")
    assert cost.neighboring_relation == "replace-one" and cost.epsilon_total <= 4.0


def test_unreachable_target_names_the_field():
    with pytest.raises(ValidationError) as err:
        calibrate_search(DIGITS.replace(epochs=200), TrialCount(100, 1), target_epsilon=0.01)
    assert err.value.field == "target_epsilon"


@pytest.mark.parametrize("shape", SHAPES)
def test_pmf_has_the_requested_mean_and_dp_accountings_parametrisation(shape):
    count = TrialCount(8, shape)
    k = np.arange(0, 20000)
    pmf = count.pmf(k)
    assert pmf.sum() == pytest.approx(1, abs=1e-9)
    assert (k * pmf).sum() == pytest.approx(8, rel=1e-6)  # dp-accounting's conservative root: mean at or just above
    if math.isfinite(shape):
        assert pmf[0] == 0  # truncated: at least one trial
        gamma = count.gamma
        assert rdp_privacy_accountant._truncated_negative_binomial_mean(gamma, shape) == pytest.approx(8, rel=1e-6)
        if shape > 0:  # Papernot & Steinke, Definition 1, written out
            k1 = np.arange(1, 6)
            expected = [
                (1 - gamma) ** j / (gamma**-shape - 1) * math.prod((i + shape) / (i + 1) for i in range(j)) for j in k1
            ]
            assert count.pmf(k1) == pytest.approx(expected, rel=1e-9)
        else:
            k1 = np.arange(1, 6)
            assert count.pmf(k1) == pytest.approx((1 - gamma) ** k1 / (k1 * math.log(1 / gamma)), rel=1e-9)


@pytest.mark.parametrize("shape", SHAPES)
def test_sampled_counts_have_the_requested_mean(shape):
    count = TrialCount(5, shape)
    rng = np.random.default_rng(1)
    draws = np.array([count.sample(rng) for _ in range(40000)])
    k = np.arange(0, 20000)
    sd = math.sqrt((k**2 * count.pmf(k)).sum() - 25)
    assert abs(draws.mean() - 5) < 5 * sd / math.sqrt(len(draws))  # five standard errors
    assert draws.min() >= count.minimum
    # the whole law, not only its mean: the frequencies of 1, 2, 3 trials
    for j in (1, 2, 3):
        assert (draws == j).mean() == pytest.approx(count.pmf(j), abs=0.01)


def test_shapes_by_name_and_bad_values():
    assert parse_shape("poisson") == math.inf and parse_shape("geometric") == 1 and parse_shape("logarithmic") == 0
    assert parse_shape("2") == 2.0
    for bad in ("foo", "-1", "nan", "1e9", None):
        with pytest.raises(ValidationError) as err:
            parse_shape(bad)
        assert err.value.field == "trials_shape"
    for bad in (0.5, 0, 1e6, float("nan"), "x"):
        with pytest.raises(ValidationError) as err:
            TrialCount(bad, 1)
        assert err.value.field == "trials_mean"


@settings(max_examples=40, deadline=None)
@given(mean=st.floats(1, 50), shape=st.sampled_from(SHAPES))
def test_any_valid_count_samples_within_its_support(mean, shape):
    count = TrialCount(mean, shape)
    value = count.sample(np.random.default_rng(0))
    assert isinstance(value, int) and value >= count.minimum


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("mean", [1.0, 1.01, 1.3])
def test_means_near_one_sample_quickly_and_correctly(mean, shape):
    count = TrialCount(mean, shape)  # the rejection of K = 0 alone would almost never accept here
    rng = np.random.default_rng(2)
    draws = [count.sample(rng) for _ in range(4000)]
    assert np.mean(draws) == pytest.approx(mean, abs=0.06)
