"""Training with audit canaries (TensorFlow, in the worker): the scores a one-run audit reads.

Each of m canaries is included independently with probability 1/2; included canaries count in n
and join every step's Poisson sample like an example, with q = b / n.

- Gradient canaries (white-box). Canary j is a Dirac gradient: a fixed coordinate k_j of the
  parameters (distinct for every canary), with raw norm CANARY_NORM_FACTOR * C, which the step's own
  clipping brings down to C. It is added to the clipped sum before the step's own noise and
  normalisation (`DPSGD.privatise`). Its score is the sum over steps of coordinate k_j of the released
  update, times the expected batch size, minus the examples' clipped sum at k_j. That subtraction uses
  only the data and the examples' batches, which are independent of which canaries are in, so the
  score is a valid attacker's (the claim holds for every fixed choice of the other examples), and
  the audit is not blurred by the examples' gradients.
- Input canaries (black-box). Canary j is a uniform-noise input with a random label, appended to the
  training data when included; its score is minus its loss under the final model.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from dpviz.training import engine
from dpviz.training.data import load, make_canaries
from dpviz.verify.config import INCLUSION, VerifyConfig

tf = engine.tf
CANARY_NORM_FACTOR = 4.0  # raw canary gradients are this many times C: clipping must act on them


@dataclass(frozen=True)
class CanaryScores:
    included: np.ndarray  # bool [m]
    scores: np.ndarray  # float [m], higher: more likely included
    n: int  # training examples the accountant counts: the dataset's and the included canaries
    steps: int
    device: str

    @property
    def in_scores(self) -> np.ndarray:
        return self.scores[self.included]

    @property
    def out_scores(self) -> np.ndarray:
        return self.scores[~self.included]


def _clip_canaries(dp: engine.DPSGD, raw_norms):
    """The factors the step's clipping gives the canaries' raw gradients (the tests' broken variants replace it)."""
    return dp.clip_factors(raw_norms)


def train_with_canaries(
    config: VerifyConfig,
    *,
    progress: Callable[[int, int], None] = lambda step, steps: None,
    should_stop: Callable[[], bool] = lambda: False,
    progress_every: int = 20,
) -> CanaryScores | None:
    """Train `config` with its canaries and score every canary.

    Args:
      config: the validated verification.
      progress: called with (steps done, steps) every `progress_every` steps.
      should_stop: checked every step; True returns None.

    Returns:
      The canaries' inclusion and scores, or None when stopped.
    """
    engine.devices.setup()  # before the first op, as for a training run
    seed = config.seed
    rng = np.random.default_rng(None if seed is None else [seed, 31337])
    m = config.canaries
    included = rng.random(m) < INCLUSION
    data = load(config.dataset, config.dataset_size)
    x, y = data.x_train, data.y_train
    canaries = None
    if config.kind == "input":
        canaries = make_canaries(data.input_shape, (1,) * m, seed=int(rng.integers(2**31)), references=0)
        x = np.concatenate([x, canaries.x[included]])
        y = np.concatenate([y, canaries.y[included]])
    privacy = config.privacy(int(included.sum()))
    n, b, steps = privacy.dataset_size, config.batch_size, privacy.steps
    model = engine.build_model(config.model, data.input_shape, seed=config.seed or 0)
    dp = engine.DPSGD(
        model, clip_norm=config.clip_norm, noise_multiplier=config.noise_multiplier, expected_batch_size=b, seed=seed
    )
    optimizer = engine.make_optimizer(config.train_config)
    variables = dp.variables
    sizes = [int(np.prod(v.shape)) for v in variables]
    apply = tf.function(lambda grads: optimizer.apply_gradients(zip(grads, variables, strict=True)))
    if config.kind == "gradient":
        coords = tf.constant(rng.choice(sum(sizes), size=m, replace=False).astype(np.int32))
    raw = tf.fill([m], CANARY_NORM_FACTOR * config.clip_norm)
    spec = [
        tf.TensorSpec((None, *data.input_shape), tf.float32),
        tf.TensorSpec((None,), tf.int32),
        tf.TensorSpec((m,), tf.float32),
    ]

    @tf.function(input_signature=spec)  # one trace for every Poisson batch size
    def gradient_step(xb, yb, sampled):
        summed, _, _, _ = dp.clipped_sum(xb, yb)
        flat = tf.concat([tf.reshape(s, [-1]) for s in summed], 0)
        canary = tf.scatter_nd(coords[:, None], sampled * _clip_canaries(dp, raw) * raw, tf.shape(flat))
        (released,) = dp.privatise([flat + canary])
        apply([tf.reshape(part, v.shape) for part, v in zip(tf.split(released, sizes), variables, strict=True)])
        return tf.gather(released, coords) * dp.expected_batch_size - tf.gather(flat, coords)

    scores = np.zeros(m)
    for i in range(steps):
        if should_stop():
            return None
        idx = np.flatnonzero(rng.random(len(x)) < b / n)  # Poisson: every row, canary rows included
        xb, yb = tf.constant(x[idx]), tf.constant(y[idx])
        if config.kind == "gradient":
            sampled = (included & (rng.random(m) < b / n)).astype(np.float32)
            scores += gradient_step(xb, yb, tf.constant(sampled)).numpy()
        else:
            apply(dp.private_gradients(xb, yb)[0])
        if (i + 1) % progress_every == 0 or i + 1 == steps:
            progress(i + 1, steps)
    if config.kind == "input":
        from dpviz.audit import losses

        scores = -losses(engine.probabilities(model, canaries.x), canaries.y)
    return CanaryScores(included, np.asarray(scores, float), n, steps, engine.device_name())
