"""The one entry point that verifies: train with canaries (in this process), bound, compare with ε."""

from __future__ import annotations

from collections.abc import Callable

from dpviz.privacy.samplers import reported_epsilons
from dpviz.verify.config import VerifyConfig
from dpviz.verify.report import VerifyReport, histogram
from dpviz.verify.statistics import CONFIDENCE, one_run_bound


def verify(
    config: VerifyConfig,
    *,
    progress: Callable[[int, int], None] = lambda step, steps: None,
    should_stop: Callable[[], bool] = lambda: False,
) -> VerifyReport | None:
    """Audit our DP-SGD at `config`'s settings in one training run.

    Args:
      config: the validated verification (settings, canary kind and number, seed).
      progress: called with (steps done, steps) while training.
      should_stop: checked every step; True abandons the verification.

    Returns:
      The report (claim, bounds, verdict, score histograms), or None when stopped.

    Raises:
      DatasetUnavailable: when a Keras dataset cannot be downloaded.
    """
    from dpviz.training.canary_audit import train_with_canaries  # TensorFlow: the worker's, not the UI's

    scores = train_with_canaries(config, progress=progress, should_stop=should_stop)
    if scores is None:
        return None
    included = int(scores.included.sum())
    epsilon, _ = reported_epsilons(config.privacy(included), "poisson", config.accountant)
    bound = one_run_bound(scores.in_scores, scores.out_scores, delta=config.delta, confidence=CONFIDENCE)
    return VerifyReport(
        kind=config.kind,
        theoretical_epsilon=float(epsilon),
        delta=config.delta,
        accountant=config.accountant,
        empirical_epsilon=bound.epsilon,
        empirical_epsilon_fdp=bound.epsilon_fdp,
        canaries=config.canaries,
        included=included,
        guesses=bound.guesses,
        correct=bound.correct,
        confidence=bound.confidence,
        n=scores.n,
        steps=scores.steps,
        device=scores.device,
        config=config.to_dict(),
        histogram=histogram(scores.in_scores, scores.out_scores),
    )
