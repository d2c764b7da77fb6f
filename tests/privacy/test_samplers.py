"""Each sampler's own guarantee, as dp-accounting defines it."""

import dp_accounting
import numpy as np
import pytest
from dp_accounting.rdp import rdp_privacy_accountant

from dpviz.privacy.accountant import ORDERS, compute_epsilon
from dpviz.privacy.calibration import calibrate_noise
from dpviz.privacy.params import PrivacyParams
from dpviz.privacy.samplers import fixed_epsilon, fixed_rdp, guarantee
from dpviz.validation import ValidationError

MNIST = PrivacyParams(dataset_size=60000, batch_size=256, noise_multiplier=1.1, epochs=15, delta=1e-5)
FIXED_MNIST = 13.6158  # replace-one, fixed-size batches, at MNIST's settings


def test_the_issues_example_poisson_1_28_fixed_13_6():
    assert guarantee(MNIST, "poisson").epsilon == pytest.approx(1.2813, abs=1e-4)
    fixed = guarantee(MNIST, "fixed")
    # the issue's 2.44 took sigma relative to C; replace-one moves the clipped sum by 2C (see fixed_event)
    assert fixed.epsilon == pytest.approx(FIXED_MNIST, abs=1e-4)
    assert (fixed.neighboring_relation, fixed.accountant) == ("replace-one", "rdp")


@pytest.mark.parametrize("sigma", [0.8, 1.1, 3.0])
def test_a_fixed_batch_of_everything_is_a_gaussian_of_sensitivity_2c(sigma):
    # b = n: no sampling; replacing one example moves the clipped sum by 2C, so RDP(a) = a (2C)^2 / (2 sigma^2 C^2)
    params = PrivacyParams(dataset_size=500, batch_size=500, noise_multiplier=sigma, epochs=1, delta=1e-5)
    assert fixed_rdp(params) == pytest.approx(2 * np.asarray(ORDERS) / sigma**2, rel=1e-12)


def test_fixed_equals_dp_accountings_own_composition():
    for n, b, sigma, epochs in ((1437, 64, 1.1, 3), (5000, 100, 0.8, 2)):
        params = PrivacyParams(dataset_size=n, batch_size=b, noise_multiplier=sigma, epochs=epochs, delta=1e-5)
        accountant = rdp_privacy_accountant.RdpAccountant(ORDERS, dp_accounting.NeighboringRelation.REPLACE_ONE)
        event = dp_accounting.SampledWithoutReplacementDpEvent(n, b, dp_accounting.GaussianDpEvent(sigma / 2))
        accountant.compose(event, params.steps)
        assert fixed_epsilon(params) == pytest.approx(accountant.get_epsilon(1e-5), rel=1e-12)


def test_shuffle_is_the_no_amplification_guarantee_and_says_so():
    g = guarantee(MNIST, "shuffle", "pld")
    assert g.epsilon == compute_epsilon(MNIST, "pld").epsilon_no_amplification and "no sampling amplification" in g.note


def test_fixed_under_another_accountant_says_rdp_computed_it():
    g = guarantee(MNIST, "fixed", "pld")
    assert g.accountant == "rdp" and "only dp-accounting's RDP accountant" in g.note


def test_unknown_sampler_names_the_field():
    with pytest.raises(ValidationError, match="sampler"):
        guarantee(MNIST, "bootstrap")


@pytest.mark.parametrize("sampler", ["fixed", "shuffle"])
def test_calibration_per_sampler_meets_the_target(sampler):
    sigma = calibrate_noise(
        target_epsilon=3, dataset_size=60000, batch_size=256, epochs=15, target_delta=1e-5, sampler=sampler
    )
    reached = guarantee(MNIST.replace(noise_multiplier=sigma), sampler).epsilon
    assert 2.95 < reached <= 3.0
