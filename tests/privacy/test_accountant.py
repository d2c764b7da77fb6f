import math

import numpy as np
import pytest

from dpviz.privacy.accountant import (
    ORDERS,
    _per_step,
    compute_epsilon,
    orders_dropped,
    pld_epsilon,
    rdp_epsilon,
    searched_rdp_epsilon,
)
from dpviz.privacy.params import PrivacyParams


def params(n=60000, b=256, sigma=1.1, epochs=60, delta=1e-5):
    return PrivacyParams(dataset_size=n, batch_size=b, noise_multiplier=sigma, epochs=epochs, delta=delta)


# Independent values: dp-accounting PLD at value_discretization_interval=1e-5 (slow, computed once),
# and the published TF Privacy tutorial figures for the legacy conversion.
@pytest.mark.parametrize(
    "setting, accountant, expected, rel",
    [
        (dict(b=256, sigma=1.1, epochs=60), "rdp", 2.597, 1e-3),
        (dict(b=256, sigma=1.1, epochs=60), "pld", 2.382, 1e-2),
        (dict(b=256, sigma=1.1, epochs=60), "rdp-legacy", 3.008, 1e-3),
        (dict(b=250, sigma=1.2, epochs=4), "rdp", 0.7037, 2e-4),
        (dict(b=250, sigma=1.2, epochs=4), "pld", 0.4889, 1e-2),
        (dict(b=250, sigma=1.2, epochs=4), "rdp-legacy", 0.9661, 2e-4),
    ],
)
def test_reference_values(setting, accountant, expected, rel):
    report = compute_epsilon(params(**setting), accountant)
    assert report.epsilon == pytest.approx(expected, rel=rel)
    assert report.bound == accountant


@pytest.mark.parametrize(
    "setting, reference",
    [
        (dict(b=256, sigma=1.1, epochs=60), 2.381690614),
        (dict(b=250, sigma=1.2, epochs=4), 0.488866429),
        (dict(b=256, sigma=3.0, epochs=1), 0.0690),
        (dict(b=256, sigma=5.0, epochs=2), 0.0552),
        (dict(n=1797, b=64, sigma=1.0, epochs=10, delta=1e-4), 3.2694),
        (dict(n=50000, b=512, sigma=0.8, epochs=30), 5.3160),
        (dict(n=1000, b=100, sigma=0.5, epochs=50, delta=1e-3), 63.369),
    ],
)
def test_pld_is_within_one_percent_of_fine_discretisation(setting, reference):
    p = params(**setting)
    eps = pld_epsilon(p.sampling_probability, p.noise_multiplier, p.steps, p.delta)
    assert reference * 0.999 <= eps <= reference * 1.01  # pessimistic: never below the fine value


def test_steps_and_sampling_probability():
    p = params(b=250, epochs=4)
    assert p.steps == 960 and p.sampling_probability == pytest.approx(250 / 60000)
    assert params(n=1000, b=300, epochs=1).steps == 4  # ceil(1000/300)


def test_no_amplification_is_the_unsampled_gaussian_over_passes():
    report = compute_epsilon(params(b=250, sigma=1.2, epochs=4))
    assert report.epsilon_no_amplification > 10 * report.epsilon
    single_pass = compute_epsilon(params(b=250, sigma=1.2, epochs=1)).epsilon_no_amplification
    assert report.epsilon_no_amplification > single_pass
    assert compute_epsilon(params(b=250, sigma=1.2, epochs=3.5)).epsilon_no_amplification == pytest.approx(
        report.epsilon_no_amplification
    )


def test_dropped_rdp_orders_are_detected_and_replaced_by_a_tighter_valid_bound():
    p = params(n=1000, b=100, sigma=0.5, epochs=50, delta=1e-3)
    raw, _ = rdp_epsilon(p.sampling_probability, p.noise_multiplier, p.steps, p.delta)
    assert raw == pytest.approx(119.0, rel=1e-2)  # dp-accounting 0.6's over-estimate
    assert orders_dropped(p.sampling_probability, p.noise_multiplier).size > 0
    report = compute_epsilon(p, "rdp")
    assert report.bound == "pld" and report.note and "over-estimates" in report.note
    assert report.epsilon == pytest.approx(63.4, rel=1e-2)
    assert report.epsilon < 70.7  # below even the exact RDP bound


def test_ordinary_settings_drop_no_orders():
    p = params()
    assert orders_dropped(p.sampling_probability, p.noise_multiplier).size == 0
    assert compute_epsilon(p).note is None


def test_zero_noise_is_infinite_epsilon_not_an_error():
    for accountant in ("rdp", "pld", "rdp-legacy"):
        report = compute_epsilon(params(sigma=0.0), accountant)
        assert math.isinf(report.epsilon) and math.isinf(report.epsilon_no_amplification)
        assert report.to_dict()["epsilon"] is None


def test_full_batch_has_no_amplification():
    report = compute_epsilon(params(n=1000, b=1000, sigma=2.0, epochs=5, delta=1e-4))
    assert report.sampling_probability == 1.0
    assert report.epsilon == pytest.approx(report.epsilon_no_amplification, rel=1e-9)


def test_unknown_accountant_names_the_field():
    with pytest.raises(ValueError, match="accountant"):
        compute_epsilon(params(), "moments")


# The landscape's order search must give exactly the full search's epsilon, in every regime.
SEARCH_CASES = [
    dict(n=60000, b=256, sigma=1.1, delta=1e-5),
    dict(n=1000, b=100, sigma=0.5, delta=1e-3),  # dp-accounting drops orders here
    dict(n=1_000_000, b=1, sigma=0.85, delta=1e-3),  # negligible RDP: dp-accounting's epsilon = 0 branch
    dict(n=1797, b=1797, sigma=2.0, delta=1e-5),  # q = 1
    dict(n=60000, b=16, sigma=8.0, delta=1e-9),  # optimum among the large orders
]


@pytest.mark.parametrize("case", SEARCH_CASES)
@pytest.mark.parametrize("legacy", [False, True])
def test_order_search_equals_the_full_search(case, legacy):
    q = case["b"] / case["n"]
    for steps in (1, 7, 100, 3000, 200_000):
        full = rdp_epsilon(q, case["sigma"], steps, case["delta"], legacy=legacy)[0]
        for start in (None, 1.1, 6.0, 1024.0):
            searched, _ = searched_rdp_epsilon(q, case["sigma"], steps, case["delta"], legacy=legacy, start_order=start)
            assert searched == pytest.approx(full, rel=1e-12, abs=0), (steps, start)


def test_epsilon_zero_branch_is_reached_by_the_search():
    q, sigma, steps, delta = 1 / 1_000_000, 0.85, 500_000, 1e-3
    assert rdp_epsilon(q, sigma, steps, delta)[0] == 0.0
    assert searched_rdp_epsilon(q, sigma, steps, delta)[0] == 0.0


def test_order_search_evaluates_only_orders_near_the_optimum():
    q, sigma = 257 / 60000, 1.3  # a (q, sigma) no other test touches: nothing cached
    for steps in (200, 400, 800):
        searched_rdp_epsilon(q, sigma, steps, 1e-5)
    evaluated = np.isfinite(_per_step(q, sigma).values).sum()
    assert evaluated < len(ORDERS) / 4


@pytest.mark.parametrize("accountant", ["rdp", "pld"])
def test_a_printed_epsilon_of_zero_is_checked_and_says_delta_protects_nothing(accountant):
    # one Gaussian step at sigma 2: delta(0) = 2 Phi(0.25) - 1 = 0.197, so (0, 0.5)-DP is true and (0, 0.1)-DP is not
    huge = compute_epsilon(
        PrivacyParams(dataset_size=1, batch_size=1, noise_multiplier=2.0, epochs=1, delta=0.5), accountant
    )
    assert huge.epsilon == 0.0 and "protects nothing" in huge.note
    small = compute_epsilon(
        PrivacyParams(dataset_size=1, batch_size=1, noise_multiplier=2.0, epochs=1, delta=0.1), accountant
    )
    assert small.epsilon > 0 and "protects nothing" not in (small.note or "")


def test_an_epsilon_of_zero_without_amplification_is_checked_too(monkeypatch):
    import dpviz.privacy.accountant as acc

    # one pass at sigma 2 without amplification: delta(0) = 0.197, so at delta 0.5 epsilon 0 holds
    params = PrivacyParams(dataset_size=1000, batch_size=10, noise_multiplier=2.0, epochs=1, delta=0.5)
    report = compute_epsilon(params)
    assert report.epsilon_no_amplification == 0.0 and "protects nothing" in report.note
    monkeypatch.setattr(acc, "pld_delta_at_zero", lambda q, sigma, steps: 1.0)  # as if PLD did not confirm it
    unconfirmed = compute_epsilon(params)
    assert unconfirmed.epsilon_no_amplification == math.inf and unconfirmed.epsilon == math.inf
    assert "does not confirm" in unconfirmed.note
