"""Empirical privacy audit: membership inference against a trained model's outputs.

Members are training examples, non-members held-out examples never trained on, equal in number.
Two attacks: the loss threshold (Yeom et al. 2018) and a learned attack (logistic regression on
loss and confidence features). Each reports ROC AUC, the attacker's advantage (max TPR - FPR),
TPR at low FPR, and the epsilon lower bound that a (TPR, FPR) point implies for any (ε, δ)-DP
training: TPR ≤ e^ε·FPR + δ and 1 - FPR ≤ e^ε·(1 - TPR) + δ. The threshold for the bound is
chosen on one half of the examples and its rates measured on the other, with Clopper-Pearson
intervals (jax-privacy's, imported in the worker only), so the bound holds at the stated confidence
instead of being an optimistic maximum.

Plain numpy/scipy/scikit-learn over probabilities: no TensorFlow here.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score, roc_curve
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

FPR_POINTS = (0.001, 0.01)
CONFIDENCE = 0.95
MAX_PER_SIDE = 5000
ROC_POINTS = 200


@dataclass
class AttackResult:
    attack: str
    auc: float
    advantage: float
    tpr_at_fpr: dict  # "0.001" -> TPR
    epsilon_lower: float  # Clopper-Pearson lower bound at CONFIDENCE on held-out examples
    epsilon_estimate: float | None  # the same (TPR, FPR) point without the interval (None: infinite)
    threshold_tpr: float
    threshold_fpr: float
    evaluated: int  # examples the figures above were measured on
    roc_fpr: list = field(default_factory=list)
    roc_tpr: list = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)


def losses(probabilities: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Per-example cross-entropy from softmax outputs."""
    p = np.clip(np.asarray(probabilities, dtype=np.float64), 1e-12, 1.0)
    return -np.log(p[np.arange(len(p)), np.asarray(labels, dtype=int)])


def exposure(canary_losses, reference_losses) -> np.ndarray:
    """Exposure in bits (Carlini et al. 2019): log2(R + 1) - log2(rank of the canary's loss among the
    R references' and its own, lowest first; ties count half). About 1 bit when the canary is no more
    likely than a fresh random example; log2(R + 1) when its loss is below every reference's."""
    reference = np.sort(np.asarray(reference_losses, dtype=np.float64))
    canary = np.asarray(canary_losses, dtype=np.float64)
    below = np.searchsorted(reference, canary, side="left")
    ties = np.searchsorted(reference, canary, side="right") - below
    return np.log2(len(reference) + 1) - np.log2(1 + below + ties / 2)


def canary_report(canary_losses, copies, reference_losses) -> dict:
    """Each canary's copies, loss and exposure; JSON-ready, stored with the run's audit."""
    bits = exposure(canary_losses, reference_losses)
    return {
        "references": len(reference_losses),
        "max_exposure": float(np.log2(len(reference_losses) + 1)),
        "canaries": [
            {"copies": int(c), "loss": float(loss), "exposure": float(e)}
            for c, loss, e in zip(copies, canary_losses, bits)
        ],
    }


def mean_exposure(report: dict) -> dict[int, float]:
    """Mean exposure per number of copies."""
    by_copies: dict[int, list[float]] = {}
    for canary in report["canaries"]:
        by_copies.setdefault(canary["copies"], []).append(canary["exposure"])
    return {copies: float(np.mean(values)) for copies, values in sorted(by_copies.items())}


def exposure_summary(report: dict) -> str:
    """One line for the command line: mean exposure per number of copies."""
    return f"canary exposure (bits, of {report['max_exposure']:.1f}): " + ", ".join(
        f"{'inserted once' if copies == 1 else f'{copies} copies'} {bits:.1f}"
        for copies, bits in mean_exposure(report).items()
    )


def features(probabilities: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Per example: loss, probability of the true class, top probability, margin, entropy."""
    p = np.clip(np.asarray(probabilities, dtype=np.float64), 1e-12, 1.0)
    labels = np.asarray(labels, dtype=int)
    loss = losses(p, labels)
    true = np.exp(-loss)
    others = p.copy()
    others[np.arange(len(p)), labels] = 0.0
    entropy = -np.sum(p * np.log(p), axis=1)
    return np.column_stack([loss, true, p.max(axis=1), true - others.max(axis=1), entropy])


def _epsilon(tpr: float, fpr: float, delta: float) -> float:
    """The largest ε a (TPR, FPR) point forces on an (ε, δ)-DP mechanism (0 if none): the point estimate."""
    bounds = [0.0]
    for numerator, denominator in ((tpr - delta, fpr), (1 - fpr - delta, 1 - tpr)):
        if numerator > 0:
            bounds.append(math.inf if denominator <= 0 else math.log(numerator / denominator))
    return max(bounds)


def epsilon_bounds(member, nonmember, threshold: float, *, delta: float, confidence: float = CONFIDENCE):
    """(lower bound at `confidence`, point estimate) for the ε implied by the scores at `threshold`.

    The lower bound is jax-privacy's Clopper-Pearson bound (`CanaryScoreAuditor.epsilon_clopper_pearson`,
    both directions of the test): the TPR's lower limit against the FPR's upper limit, each one side of
    a two-sided interval at `confidence`, so the bound holds with probability at least `confidence`.
    """
    from dpviz.verify.statistics import clopper_pearson_epsilons

    member, nonmember = np.asarray(member, float), np.asarray(nonmember, float)
    (lower,) = clopper_pearson_epsilons(member, nonmember, [threshold], delta=delta, confidence=confidence)
    tpr, fpr = float(np.mean(member >= threshold)), float(np.mean(nonmember >= threshold))
    return lower, _epsilon(tpr, fpr, delta)


def _best_threshold(member: np.ndarray, nonmember: np.ndarray, delta: float, confidence: float) -> float:
    """On the selection half: the score threshold whose Clopper-Pearson ε lower bound is largest."""
    from dpviz.verify.statistics import clopper_pearson_epsilons

    candidates = np.unique(np.quantile(np.concatenate([member, nonmember]), np.linspace(0, 1, 101)))
    lowers = clopper_pearson_epsilons(member, nonmember, candidates, delta=delta, confidence=confidence)
    return float(candidates[int(np.argmax(lowers))])  # the first of equal bounds, as before


def _result(name, member, nonmember, *, delta, threshold, confidence) -> AttackResult:
    """Figures of an attack's scores (higher = 'member') on examples it was not fitted or tuned on."""
    y = np.concatenate([np.ones(len(member)), np.zeros(len(nonmember))])
    scores = np.concatenate([member, nonmember])
    fpr, tpr, _ = roc_curve(y, scores)
    keep = np.unique(
        np.concatenate([[0, len(fpr) - 1], np.searchsorted(fpr, np.geomspace(1e-4, 1, ROC_POINTS))]).clip(
            0, len(fpr) - 1
        )
    )
    tp, fp = int(np.sum(member >= threshold)), int(np.sum(nonmember >= threshold))
    lower, estimate = epsilon_bounds(member, nonmember, threshold, delta=delta, confidence=confidence)
    return AttackResult(
        attack=name,
        auc=float(roc_auc_score(y, scores)),
        advantage=float(np.max(tpr - fpr)),
        tpr_at_fpr={f"{x:g}": float(np.max(tpr[fpr <= x])) for x in FPR_POINTS},
        epsilon_lower=lower,
        epsilon_estimate=None if math.isinf(estimate) else estimate,
        threshold_tpr=tp / len(member),
        threshold_fpr=fp / len(nonmember),
        evaluated=len(scores),
        roc_fpr=fpr[keep].tolist(),
        roc_tpr=tpr[keep].tolist(),
    )


def _halves(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    order = rng.permutation(n)
    return order[: n // 2], order[n // 2 :]


def loss_threshold_attack(
    member_loss, nonmember_loss, *, delta: float, seed: int = 0, confidence: float = CONFIDENCE
) -> AttackResult:
    """Score = -loss. ROC and AUC over all examples (nothing is fitted); the ε bound's threshold is
    picked on one half and measured on the other."""
    member, nonmember = -np.asarray(member_loss, float), -np.asarray(nonmember_loss, float)
    rng = np.random.default_rng(seed)
    (ms, me), (ns, ne) = _halves(len(member), rng), _halves(len(nonmember), rng)
    threshold = _best_threshold(member[ms], nonmember[ns], delta, confidence)
    result = _result("loss_threshold", member, nonmember, delta=delta, threshold=threshold, confidence=confidence)
    held_out = _result(
        "loss_threshold", member[me], nonmember[ne], delta=delta, threshold=threshold, confidence=confidence
    )
    result.epsilon_lower, result.epsilon_estimate = held_out.epsilon_lower, held_out.epsilon_estimate
    result.threshold_tpr, result.threshold_fpr = held_out.threshold_tpr, held_out.threshold_fpr
    return result


def learned_attack(
    member_features, nonmember_features, *, delta: float, seed: int = 0, confidence: float = CONFIDENCE
) -> AttackResult:
    """Logistic regression fitted on half the examples; every figure is measured on the other half."""
    member, nonmember = np.asarray(member_features, float), np.asarray(nonmember_features, float)
    rng = np.random.default_rng(seed + 1)
    (mf, me), (nf, ne) = _halves(len(member), rng), _halves(len(nonmember), rng)
    x_fit = np.vstack([member[mf], nonmember[nf]])
    y_fit = np.concatenate([np.ones(len(mf)), np.zeros(len(nf))])
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000, random_state=seed)).fit(x_fit, y_fit)
    score = lambda x: model.decision_function(x)  # noqa: E731
    threshold = _best_threshold(score(member[mf]), score(nonmember[nf]), delta, confidence)
    return _result(
        "learned", score(member[me]), score(nonmember[ne]), delta=delta, threshold=threshold, confidence=confidence
    )


def sample_indices(n_train: int, n_test: int, *, seed: int, limit: int = MAX_PER_SIDE) -> tuple[np.ndarray, np.ndarray]:
    """Equal numbers of members (training rows) and non-members (test rows), the same for a pair."""
    m = min(n_train, n_test, limit)
    rng = np.random.default_rng(seed + 7919)
    return np.sort(rng.choice(n_train, m, replace=False)), np.sort(rng.choice(n_test, m, replace=False))


def run_audit(
    member_probabilities,
    member_labels,
    nonmember_probabilities,
    nonmember_labels,
    *,
    delta: float,
    theoretical_epsilon: float | None = None,
    seed: int = 0,
) -> dict:
    """Membership inference against one model's outputs: both attacks, JSON-ready for the run store.

    Each attack's bound uses confidence 1 - (1 - CONFIDENCE)/2 (Bonferroni), so the larger of the
    two still holds at CONFIDENCE.

    Args:
      member_probabilities, member_labels: softmax outputs [m, classes] and labels of training examples.
      nonmember_probabilities, nonmember_labels: the same for held-out examples never trained on.
      delta: the delta of the guarantee the epsilon lower bounds are stated against.
      theoretical_epsilon: the run's accounted epsilon, stored beside the bounds (None or inf: none).
      seed: the split of examples into the attacks' fitting and measuring halves.

    Returns:
      {"members", "nonmembers", "delta", "confidence", "theoretical_epsilon", "epsilon_lower",
      "attacks": {"loss_threshold": ..., "learned": ...}}, each attack as `AttackResult.to_dict()`.

    Raises:
      ValueError: from scikit-learn when a side has fewer than two examples.
    """
    member_x = features(member_probabilities, member_labels)
    nonmember_x = features(nonmember_probabilities, nonmember_labels)
    each = 1 - (1 - CONFIDENCE) / 2
    attacks = {
        "loss_threshold": loss_threshold_attack(
            member_x[:, 0], nonmember_x[:, 0], delta=delta, seed=seed, confidence=each
        ),
        "learned": learned_attack(member_x, nonmember_x, delta=delta, seed=seed, confidence=each),
    }
    best = max(attacks.values(), key=lambda a: a.epsilon_lower)
    return {
        "members": len(member_x),
        "nonmembers": len(nonmember_x),
        "delta": delta,
        "confidence": CONFIDENCE,
        "theoretical_epsilon": theoretical_epsilon
        if theoretical_epsilon is None or math.isfinite(theoretical_epsilon)
        else None,
        "epsilon_lower": best.epsilon_lower,
        "attacks": {name: a.to_dict() for name, a in attacks.items()},
    }
