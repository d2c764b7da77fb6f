"""The audit's figures against scikit-learn and against known score distributions (no TensorFlow)."""

import math

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score, roc_curve

from dpviz.audit import (
    canary_report,
    epsilon_bounds,
    exposure,
    features,
    learned_attack,
    loss_threshold_attack,
    losses,
    mean_exposure,
    run_audit,
    sample_indices,
)
from dpviz.training.fake import made_up_outputs
from dpviz.ui.audit_text import canary_explanation, canary_reading, reading

RNG = np.random.default_rng(0)


def test_loss_threshold_figures_match_sklearn():
    member, nonmember = RNG.normal(0.5, 0.5, 800), RNG.normal(1.0, 0.5, 800)
    result = loss_threshold_attack(member, nonmember, delta=1e-5)
    y = np.r_[np.ones(800), np.zeros(800)]
    scores = -np.r_[member, nonmember]
    fpr, tpr, _ = roc_curve(y, scores)
    assert result.auc == pytest.approx(roc_auc_score(y, scores), abs=1e-12)
    assert result.advantage == pytest.approx(np.max(tpr - fpr), abs=1e-12)
    assert result.tpr_at_fpr["0.01"] == pytest.approx(np.max(tpr[fpr <= 0.01]), abs=1e-12)
    assert 0.7 < result.auc < 0.8  # d' = 1: AUC = Phi(1/sqrt 2) = 0.76


def test_indistinguishable_outputs_give_chance_and_no_epsilon():
    p, labels = made_up_outputs(2000, 2.0, RNG)
    report = run_audit(p[:1000], labels[:1000], p[1000:], labels[1000:], delta=1e-5, theoretical_epsilon=1.0)
    for attack in report["attacks"].values():
        assert abs(attack["auc"] - 0.5) < 0.06
    assert report["epsilon_lower"] < 0.5


def test_memorised_members_are_detected_and_bounded():
    members, labels_m = made_up_outputs(1000, 9.0, RNG)  # confident on members
    others, labels_o = made_up_outputs(1000, 1.0, RNG)
    report = run_audit(members, labels_m, others, labels_o, delta=1e-5)
    assert all(a["auc"] > 0.95 for a in report["attacks"].values())
    assert report["epsilon_lower"] > 1.5


def test_learned_attack_is_measured_on_held_out_examples():
    m, n = features(*made_up_outputs(600, 4.0, RNG)), features(*made_up_outputs(600, 2.0, RNG))
    result = learned_attack(m, n, delta=1e-5)
    assert result.evaluated == 600 and result.auc > 0.7


def _hand_clopper_pearson(successes, trials, confidence=0.95):
    """dpviz's former hand-written interval, kept as the reference the library must agree with."""
    from scipy.stats import beta

    alpha = 1 - confidence
    low = 0.0 if successes == 0 else float(beta.ppf(alpha / 2, successes, trials - successes + 1))
    high = 1.0 if successes == trials else float(beta.ppf(1 - alpha / 2, successes + 1, trials - successes))
    return low, high


def _hand_epsilon_lower(tp, positives, fp, negatives, delta, confidence=0.95):
    tpr_low, _ = _hand_clopper_pearson(tp, positives, confidence)
    _, fpr_high = _hand_clopper_pearson(fp, negatives, confidence)
    bounds = [0.0]
    for numerator, denominator in ((tpr_low - delta, fpr_high), (1 - fpr_high - delta, 1 - tpr_low)):
        if numerator > 0:
            bounds.append(math.inf if denominator <= 0 else math.log(numerator / denominator))
    return max(bounds)


def _scores(tp, positives, fp, negatives):
    """Scores whose counts at threshold 0.5 are exactly (tp, fp)."""
    member = np.r_[np.ones(tp), np.zeros(positives - tp)]
    nonmember = np.r_[np.ones(fp), np.zeros(negatives - fp)]
    return member, nonmember


def test_clopper_pearson_and_epsilon_bounds():
    lower, estimate = epsilon_bounds(*_scores(90, 100, 10, 100), 0.5, delta=0.0)
    assert estimate == pytest.approx(math.log(9)) and 0 < lower < estimate
    assert epsilon_bounds(*_scores(50, 100, 50, 100), 0.5, delta=0.0)[0] == 0.0


@pytest.mark.parametrize(
    "counts, delta, confidence",
    [
        ((90, 100, 10, 100), 0.0, 0.95),
        ((10, 100, 90, 100), 0.0, 0.95),  # the reverse test: TNR against FNR
        ((300, 1000, 40, 1000), 1e-5, 0.975),
        ((2500, 2500, 0, 2500), 1e-5, 0.975),
        ((7, 40, 1, 40), 0.01, 0.95),
        ((500, 1000, 500, 1000), 1e-5, 0.95),
    ],
)
def test_jax_privacy_clopper_pearson_agrees_with_the_former_hand_written_bound(counts, delta, confidence):
    ours = _hand_epsilon_lower(*counts, delta, confidence)
    library, _ = epsilon_bounds(*_scores(*counts), 0.5, delta=delta, confidence=confidence)
    assert library == pytest.approx(ours, rel=1e-6, abs=1e-9)


def test_members_and_nonmembers_are_equal_in_number_and_reproducible():
    a = sample_indices(1437, 360, seed=3)
    b = sample_indices(1437, 360, seed=3)
    assert len(a[0]) == len(a[1]) == 360 and all((x == y).all() for x, y in zip(a, b))


def test_reading_sentence():
    p, labels = made_up_outputs(400, 2.0, RNG)
    private = run_audit(p[:200], labels[:200], p[200:], labels[200:], delta=1e-5, theoretical_epsilon=2.0)
    text = reading(private, private, 2.0)
    assert text.startswith("The attacker's advantage is") and "against both" in text and "theoretical ε = 2" in text


@pytest.mark.parametrize(
    "baseline, private, start",
    [
        (0.30, 0.05, "The attacker's advantage falls from 0.30 against the non-private baseline to 0.05"),
        (0.09, 0.11, "The attacker's advantage is 0.11 against the DP-SGD model and 0.09 against"),  # never "falls"
        (0.05, 0.40, "The attacker's advantage rises from 0.05"),
        (0.101, 0.099, "The attacker's advantage is 0.10 against both"),  # equal as printed
    ],
)
def test_the_verb_follows_the_printed_numbers(baseline, private, start):
    from dpviz.ui.audit_text import _compare

    assert _compare(baseline, private).startswith(start)


def test_exposure_ranks_each_canary_among_the_references():
    references = np.arange(1.0, 512.0)  # 511 references: log2(512) = 9 bits at most
    bits = exposure([0.5, 256.5, 1000.0, 1.0], references)
    assert bits[0] == pytest.approx(9.0)  # below every reference: rank 1
    assert bits[1] == pytest.approx(9.0 - math.log2(257))  # 256 references lower: rank 257, about 1 bit
    assert bits[2] == pytest.approx(0.0)  # above every reference: rank 512
    assert bits[3] == pytest.approx(9.0 - math.log2(1.5))  # a tie counts half


def test_random_canaries_average_about_one_bit_and_memorised_ones_the_maximum():
    rng = np.random.default_rng(3)
    references = rng.exponential(1.0, 500)
    fresh = exposure(rng.exponential(1.0, 4000), references)
    assert 0.9 < fresh.mean() < 1.9  # E[log2(R+1) - log2(uniform rank)] = log2(e) ≈ 1.44
    assert np.all(exposure(np.full(5, 1e-9), references) == pytest.approx(math.log2(501)))


def test_canary_report_and_reading():
    probabilities = np.full((4, 10), 0.1)
    assert losses(probabilities, [0, 1, 2, 3]) == pytest.approx(np.full(4, math.log(10)))
    references = np.linspace(0.1, 5.0, 500)
    baseline = {"canaries": canary_report([0.01, 0.01, 0.02, 0.01], (1, 4, 1, 4), references)}
    private = {"canaries": canary_report([2.5, 0.05, 2.6, 0.2], (1, 4, 1, 4), references)}
    assert baseline["canaries"]["references"] == 500 and len(baseline["canaries"]["canaries"]) == 4
    assert mean_exposure(baseline["canaries"])[1] > 8 and mean_exposure(private["canaries"])[1] < 1.5
    text = canary_reading(private, baseline)
    assert text.startswith("Canary exposure, inserted once, 9.0 bits in the baseline vs 1.0 bits in the DP-SGD model;")
    assert "inserted 4×, " in text
    assert (
        canary_reading(private, None) == "Canary exposure, inserted once, 1.0 bits in the DP-SGD model; "
        "inserted 4×, 7.2 bits in the DP-SGD model."
    )
    assert "among 500 examples" in canary_explanation(private["canaries"]) and "k·ε" in canary_explanation(
        private["canaries"]
    )
    assert canary_reading(None, None) == "" and canary_reading({"attacks": {}}, None) == ""


def test_measured_points_above_the_bound_are_counted_beyond_sampling_error():
    from dpviz.privacy.attack_bounds import attack_bounds
    from dpviz.privacy.params import PrivacyParams
    from dpviz.ui.audit_view import _versus_bound

    bound = attack_bounds(PrivacyParams(dataset_size=1000, batch_size=1000, noise_multiplier=4, epochs=1, delta=1e-5))
    noisy = {"members": 360, "nonmembers": 360, "attacks": {"a": {"roc_fpr": [0, 0, 1], "roc_tpr": [0, 1 / 360, 1]}}}
    leaky = {"members": 360, "nonmembers": 360, "attacks": {"a": {"roc_fpr": [0, 0.01, 1], "roc_tpr": [0, 0.6, 1]}}}
    assert _versus_bound(noisy, bound).startswith("The measured attacks")  # one hit at FPR 0 is sampling noise
    assert _versus_bound(leaky, bound).startswith("VIOLATION: 1 measured ROC point(s)")
