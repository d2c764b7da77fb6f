"""A verification's outcome: the claim, the empirical bound, and the verdict that compares them."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import numpy as np

from dpviz.verify.config import KINDS

METHOD = "one-run f-DP (Mahloujifar et al. 2024), jax-privacy CanaryScoreAuditor"
HISTOGRAM_BINS = 40
CONSISTENT, VIOLATION = "consistent with its claim", "VIOLATION: leaks more than claimed"
# what `python -m dpviz verify --json` prints first, in this order
JSON_FIELDS = (
    "theoretical_epsilon",
    "empirical_epsilon",
    "empirical_epsilon_fdp",
    "method",
    "canaries",
    "guesses",
    "correct",
    "verdict",
    "kind",
)


def histogram(in_scores, out_scores, bins: int = HISTOGRAM_BINS) -> dict:
    """Counts of the included and left-out canaries' scores on shared bins (what the page draws)."""
    both = np.concatenate([in_scores, out_scores])
    edges = np.histogram_bin_edges(both, bins=bins) if len(both) else np.array([0.0, 1.0])
    return {
        "edges": edges.tolist(),
        "in": np.histogram(in_scores, edges)[0].tolist(),
        "out": np.histogram(out_scores, edges)[0].tolist(),
    }


@dataclass(frozen=True)
class VerifyReport:
    kind: str
    theoretical_epsilon: float  # this run's accounted ε (inf: no finite claim)
    delta: float
    accountant: str
    empirical_epsilon: float  # one-run lower bound (Steinke et al. 2023) at `confidence`
    empirical_epsilon_fdp: float  # f-DP one-run lower bound (Mahloujifar et al. 2024): the verdict's
    canaries: int
    included: int
    guesses: int
    correct: int
    confidence: float
    n: int
    steps: int
    device: str
    config: dict = field(default_factory=dict)
    histogram: dict = field(default_factory=dict)

    @property
    def bound(self) -> float:
        return self.empirical_epsilon_fdp

    @property
    def violation(self) -> bool:
        return math.isfinite(self.theoretical_epsilon) and self.bound > self.theoretical_epsilon

    @property
    def verdict(self) -> str:
        return VIOLATION if self.violation else CONSISTENT

    @property
    def ratio(self) -> float | None:
        """The empirical bound over ε (None when ε is not finite or is 0)."""
        eps = self.theoretical_epsilon
        return self.bound / eps if math.isfinite(eps) and eps > 0 else None

    def sentence(self) -> str:
        """The verdict in one sentence, with its numbers."""
        eps = self.theoretical_epsilon
        claim = f"ε = {eps:.3g}" if math.isfinite(eps) else "an infinite ε"
        if self.violation:
            return (
                f"VIOLATION: leaks more than claimed. {self.canaries:,} {self.kind} canaries show ε ≥ "
                f"{self.bound:.3g} at {self.confidence:.0%} confidence, above the claimed {claim} (δ = {self.delta:g})."
            )
        return (
            f"Consistent with its claim: {self.canaries:,} {self.kind} canaries show ε ≥ {self.bound:.3g} at "
            f"{self.confidence:.0%} confidence, within the claimed {claim} (δ = {self.delta:g}). An audit "
            "can refute a claim, not prove it: a bound below ε is what a correct implementation gives."
        )

    def caveats(self) -> list[str]:
        notes = [
            f"{KINDS[self.kind].capitalize()}.",
            f"{self.included:,} of the {self.canaries:,} canaries were included (each with probability 1/2); "
            f"they count in n = {self.n:,} and in the {self.steps:,} steps accounted, so the ε claimed here "
            "differs from (usually below) the one a training run at these settings reports: a larger n, a "
            "smaller q = b/n.",
            "The bound is one-sided and loose by design: with this many canaries even an exact implementation "
            "audits well below its ε. A bound above ε cannot come from a correct one, except with probability "
            f"{1 - self.confidence:.0%}.",
        ]
        if self.kind == "input":
            notes.append("Input canaries see only the final model: a weak attacker, so a low bound says little.")
        return notes

    def to_dict(self) -> dict:
        """JSON-ready: the command line's `--json` fields first, then the rest."""
        data = {
            "theoretical_epsilon": self.theoretical_epsilon if math.isfinite(self.theoretical_epsilon) else None,
            "empirical_epsilon": self.empirical_epsilon,
            "empirical_epsilon_fdp": self.empirical_epsilon_fdp,
            "method": METHOD,
            "canaries": self.canaries,
            "guesses": self.guesses,
            "correct": self.correct,
            "verdict": self.verdict,
            "kind": self.kind,
            "ratio": self.ratio,
            "sentence": self.sentence(),
        }
        rest = asdict(self)
        rest.pop("theoretical_epsilon")
        return {**data, **{k: v for k, v in rest.items() if k not in data}}

    @classmethod
    def from_dict(cls, data: dict) -> VerifyReport:
        names = set(cls.__dataclass_fields__)
        values = {k: v for k, v in data.items() if k in names}
        if values.get("theoretical_epsilon") is None:
            values["theoretical_epsilon"] = math.inf
        return cls(**values)
