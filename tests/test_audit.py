"""The audit's figures against scikit-learn and against known score distributions (no TensorFlow)."""

import math

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score, roc_curve

from dpviz.audit import (
    clopper_pearson, epsilon_bounds, features, learned_attack, loss_threshold_attack, reading, run_audit, sample_indices,
)
from dpviz.runs.fake import made_up_outputs

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


def test_clopper_pearson_and_epsilon_bounds():
    low, high = clopper_pearson(50, 100)
    assert low == pytest.approx(0.3983, abs=1e-3) and high == pytest.approx(0.6017, abs=1e-3)
    assert clopper_pearson(0, 10)[0] == 0.0 and clopper_pearson(10, 10)[1] == 1.0
    lower, estimate = epsilon_bounds(90, 100, 10, 100, delta=0.0)
    assert estimate == pytest.approx(math.log(9)) and 0 < lower < estimate
    assert epsilon_bounds(50, 100, 50, 100, delta=0.0)[0] == 0.0


def test_members_and_nonmembers_are_equal_in_number_and_reproducible():
    a = sample_indices(1437, 360, seed=3)
    b = sample_indices(1437, 360, seed=3)
    assert len(a[0]) == len(a[1]) == 360 and all((x == y).all() for x, y in zip(a, b))


def test_reading_sentence():
    p, labels = made_up_outputs(400, 2.0, RNG)
    private = run_audit(p[:200], labels[:200], p[200:], labels[200:], delta=1e-5, theoretical_epsilon=2.0)
    text = reading(private, private, 2.0)
    assert text.startswith("The attacker's advantage falls from") and "theoretical ε = 2" in text
