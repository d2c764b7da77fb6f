"""The one-run audit must catch a broken DP-SGD step: negative controls made only here.

At one setting the correct step passes and deliberately broken variants of it are audited the same
way. Noise at half its scale and clipping skipped for the canaries must be flagged as violations.
"""

import numpy as np
import pytest
import tensorflow as tf

from dpviz.training import canary_audit, engine
from dpviz.verify.config import VerifyConfig, parameter_count
from dpviz.verify.run import verify

# q = b/n near 0.76 over 3 steps: where DP-SGD is close to a Gaussian mechanism and the audit is tight
SETTING = dict(
    dataset="synthetic",
    dataset_size=16000,
    batch_size=16000,
    epochs=2,
    noise_multiplier=2.0,
    accountant="pld",
    canaries=10000,
    seed=1,
)


def _half_noise(monkeypatch):
    init = engine.DPSGD.__init__

    def patched(self, *args, **kwargs):
        init(self, *args, **kwargs)
        self.noise_std /= 2

    monkeypatch.setattr(engine.DPSGD, "__init__", patched)


def _unclipped_canaries(monkeypatch):
    monkeypatch.setattr(canary_audit, "_clip_canaries", lambda dp, raw: tf.ones_like(raw))


def _realised_normalisation(monkeypatch):
    """Divide by the realised number of examples in the batch instead of the expected batch size."""
    clipped_sum, privatise = engine.DPSGD.clipped_sum, engine.DPSGD.privatise

    def counting(self, x, y, weights=None):
        self._realised = tf.cast(tf.maximum(tf.shape(x)[0], 1), tf.float32)
        return clipped_sum(self, x, y, weights)

    def by_realised(self, summed):
        return [s * self.expected_batch_size / self._realised for s in privatise(self, summed)]

    monkeypatch.setattr(engine.DPSGD, "clipped_sum", counting)
    monkeypatch.setattr(engine.DPSGD, "privatise", by_realised)


VARIANTS = {
    "correct": (None, False),
    "half noise": (_half_noise, True),
    "canaries not clipped": (_unclipped_canaries, True),
    "realised-batch normalisation": (_realised_normalisation, None),  # None: measured, not required either way
}


@pytest.mark.slow
@pytest.mark.parametrize("variant", list(VARIANTS))
def test_broken_steps_are_flagged_and_the_correct_one_passes(variant, monkeypatch):
    breaks, flagged = VARIANTS[variant]
    if breaks:
        breaks(monkeypatch)
    report = verify(VerifyConfig(**SETTING))
    print(
        f"\n{variant}: epsilon {report.theoretical_epsilon:.3f}, one-run {report.empirical_epsilon:.3f}, "
        f"f-DP {report.empirical_epsilon_fdp:.3f}, {report.correct}/{report.guesses}: {report.verdict}"
    )
    assert report.n == 16000 + report.included and report.steps == 3
    if flagged is not None:
        assert report.violation is flagged, report.sentence()
    else:
        assert np.isfinite(report.empirical_epsilon_fdp)


@pytest.mark.slow
def test_input_canaries_audit_the_whole_pipeline():
    report = verify(VerifyConfig(kind="input", canaries=200, epochs=1, batch_size=128, seed=2))
    assert report.kind == "input" and report.canaries == 200 and not report.violation
    assert report.n == 1437 + report.included
    assert sum(report.histogram["in"]) == report.included and sum(report.histogram["out"]) == 200 - report.included


@pytest.mark.parametrize("model", ["logreg", "mlp", "cnn"])
@pytest.mark.parametrize("shape", [(8, 8, 1), (28, 28, 1), (32, 32, 3)])
def test_parameter_count_matches_the_models_built(model, shape):
    assert parameter_count(model, shape) == engine.build_model(model, shape).count_params()


@pytest.mark.slow
def test_gradient_canaries_each_add_exactly_clipped_norm_when_noise_is_tiny():
    """With almost no noise a canary's score is C times the steps it was sampled in, and 0 when left out."""
    config = VerifyConfig(
        dataset_size=200, batch_size=200, epochs=1, noise_multiplier=0.001, canaries=50, clip_norm=0.5, seed=4
    )
    scores = canary_audit.train_with_canaries(config)
    assert np.allclose(scores.out_scores, 0, atol=0.05)
    counts = scores.in_scores / 0.5
    assert np.allclose(counts, np.round(counts), atol=0.1) and np.round(counts).max() <= scores.steps
