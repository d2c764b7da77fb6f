"""Each sampler's own guarantee, as dp-accounting defines it."""

import dp_accounting
import pytest
from dp_accounting.rdp import rdp_privacy_accountant

from dpviz.privacy.accountant import ORDERS, compute_epsilon
from dpviz.privacy.calibration import calibrate_noise
from dpviz.privacy.params import PrivacyParams
from dpviz.privacy.samplers import fixed_epsilon, guarantee
from dpviz.validation import ValidationError

MNIST = PrivacyParams(dataset_size=60000, batch_size=256, noise_multiplier=1.1, epochs=15, delta=1e-5)


def test_the_issues_example_poisson_1_28_fixed_2_44():
    assert guarantee(MNIST, "poisson").epsilon == pytest.approx(1.2813, abs=1e-4)
    fixed = guarantee(MNIST, "fixed")
    assert fixed.epsilon == pytest.approx(2.4353, abs=1e-4)
    assert (fixed.neighboring_relation, fixed.accountant) == ("replace-one", "rdp")


def test_fixed_equals_dp_accountings_own_composition():
    for n, b, sigma, epochs in ((1437, 64, 1.1, 3), (5000, 100, 0.8, 2)):
        params = PrivacyParams(dataset_size=n, batch_size=b, noise_multiplier=sigma, epochs=epochs, delta=1e-5)
        accountant = rdp_privacy_accountant.RdpAccountant(ORDERS, dp_accounting.NeighboringRelation.REPLACE_ONE)
        event = dp_accounting.SampledWithoutReplacementDpEvent(n, b, dp_accounting.GaussianDpEvent(sigma))
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
