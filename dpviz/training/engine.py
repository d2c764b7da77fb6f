"""DP-SGD on TensorFlow 2.21 / Keras 3, and its non-private baseline. The only module that trains.

Private step: per-example gradient norms by ghost clipping (one backward pass to the layer outputs),
per-example clipping to C, the clipped sum, Gaussian noise N(0, (sigma C)^2) on every coordinate,
division by the expected batch size q n, then the optimizer. The baseline takes the same steps on
the same batches from the same initial weights, with the unclipped, noiseless sum / (q n).
"""

from __future__ import annotations

import itertools
import math
import os
import queue
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np

from dpviz.privacy.samplers import epsilons_after
from dpviz.training.config import TrainConfig, run_plan
from dpviz.training.data import Data, for_config
from dpviz.training.divergence import DivergenceWatch
from dpviz.training.events import EpochMetrics, Finished, Progress

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import keras  # noqa: E402
import tensorflow as tf  # noqa: E402

from dpviz.training import devices, ghost  # noqa: E402

EVAL_BATCH = 1024
ASSUMPTIONS = {  # what a private run's reported epsilon rests on, by sampler
    "poisson": "Poisson sampling, as the accountant assumes (add/remove-one neighbours)",
    "fixed": "fixed-size batches drawn without replacement at every step: epsilon is dp-accounting's RDP for "
    "sampling without replacement, under replace-one neighbours",
    "shuffle": "shuffled fixed-size batches: the reported epsilon assumes Poisson sampling and does not strictly "
    "apply; epsilon_no_amplification is the guarantee without sampling amplification",
}


# ---------------------------------------------------------------- models


def build_model(
    name: str, input_shape: tuple[int, ...], classes: int = 10, seed: int = 0, precision: str = "float32"
) -> keras.Model:
    """The tutorial CNN, an MLP or logistic regression; activations are separate layers (ghost clipping
    needs each trainable layer's pre-activation output). `precision` "mixed_bfloat16": the layers
    compute in bfloat16 and keep float32 weights."""
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(precision)  # layers take the policy in force when they are made
    try:
        return _build_model(name, input_shape, classes, seed)
    finally:
        keras.config.set_dtype_policy(previous)


def _build_model(name: str, input_shape: tuple[int, ...], classes: int, seed: int) -> keras.Model:
    keras.utils.set_random_seed(seed)
    L = keras.layers
    layers: list = [keras.Input(shape=input_shape)]
    if name == "cnn":
        small = min(input_shape[:2]) < 20  # 8x8 digits: the 8x8 and 4x4 kernels would not fit
        layers += [
            L.Conv2D(16, 3 if small else 8, strides=1 if small else 2, padding="same"),
            L.ReLU(),
            L.MaxPool2D(2, 1),
            L.Conv2D(32, 3 if small else 4, strides=2, padding="valid"),
            L.ReLU(),
            L.MaxPool2D(2, 1),
            L.Flatten(),
            L.Dense(32),
            L.ReLU(),
            L.Dense(classes),
        ]
    elif name == "mlp":
        layers += [L.Flatten(), L.Dense(128), L.ReLU(), L.Dense(128), L.ReLU(), L.Dense(classes)]
    elif name == "logreg":
        layers += [L.Flatten(), L.Dense(classes)]
    else:
        raise ValueError(f"model: unknown model {name!r}")
    return keras.Sequential(layers, name=name)


def make_optimizer(config: TrainConfig) -> keras.optimizers.Optimizer:
    if config.optimizer == "adam":
        return keras.optimizers.Adam(learning_rate=config.learning_rate)
    return keras.optimizers.SGD(learning_rate=config.learning_rate, momentum=config.momentum)


def configure_threads(intra_op: int) -> None:
    """Keep parallel workers from oversubscribing the cores (call before the first op)."""
    tf.config.threading.set_intra_op_parallelism_threads(max(1, int(intra_op)))


def configure_pair_threads(model: str) -> devices.PairThreads | None:
    """The CPU thread rule for a process that trains one pair (`dpviz train`): `devices.configure_pair_threads`."""
    return devices.configure_pair_threads(model)


def visible_devices() -> list:
    """The devices TensorFlow sees (initialising them: the moment CUDA reports a missing driver)."""
    return tf.config.list_physical_devices()


def device_name() -> str:
    """The device this process trains on, with its peak memory on a GPU (`devices.describe`)."""
    return devices.describe()


def _float32(t):
    return tf.cast(t, tf.float32) if t.dtype.is_floating else t  # an Embedding's ids stay ids


def per_example_loss(labels, logits):
    """Cross-entropy in float32, whatever the logits' precision."""
    return tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=tf.cast(logits, tf.float32))


# ---------------------------------------------------------------- the DP-SGD step


class DPSGD:
    """Builds the compiled private and baseline gradient functions for one model."""

    def __init__(
        self,
        model: keras.Model,
        *,
        clip_norm: float,
        noise_multiplier: float,
        expected_batch_size: float,
        seed: int | None,
    ):
        self.model = model
        self.variables = list(model.trainable_variables)
        self.clip_norm = float(clip_norm)
        self.noise_std = float(noise_multiplier) * float(clip_norm)
        self.expected_batch_size = float(expected_batch_size)
        # seed None: the noise comes from the operating system's entropy, as a deployed DP-SGD's must
        self.noise = (
            tf.random.Generator.from_non_deterministic_state()
            if seed is None
            else tf.random.Generator.from_seed(seed + 7919)
        )
        self.ghost = all(ghost.supports(layer) for layer in model.layers)
        shape = (None,) + tuple(model.input_shape[1:])
        spec = [tf.TensorSpec(shape, tf.float32), tf.TensorSpec((None,), tf.int32)]
        self.private_gradients = tf.function(self._private_gradients, input_signature=spec)
        self.baseline_gradients = tf.function(self._baseline_gradients, input_signature=spec)

    # Clipped, summed gradients and per-example norms (before noise).
    def clipped_sum(self, x, y, weights=None):
        """Per-example clipped gradients summed; `weights` (0 or 1 per row) drops padding rows."""
        if self.ghost:
            return self._ghost_clipped_sum(x, y, weights)
        return self._vectorized_clipped_sum(x, y, weights)

    def _forward(self, x):
        records, h = [], x
        for layer in self.model.layers:
            a = h
            h = layer(h, training=True)
            if layer.trainable_weights:
                records.append((layer, a, h))
        return h, records

    def _ghost_clipped_sum(self, x, y, weights=None):
        with tf.GradientTape() as tape:
            logits, records = self._forward(x)
            losses = per_example_loss(y, logits)
            total = tf.reduce_sum(losses)
        outputs = [z for _, _, z in records]
        g_out = tape.gradient(total, outputs, unconnected_gradients=tf.UnconnectedGradients.ZERO)
        # norms, clipping and the sums in float32, also when the layers compute in bfloat16
        g_out = [tf.cast(g, tf.float32) for g in g_out]
        inputs = [_float32(ghost.layer_inputs(layer, a)) for layer, a, _ in records]
        sq = tf.zeros_like(losses, dtype=tf.float32)
        per_example = []
        for (layer, _, _), p, g in zip(records, inputs, g_out):
            layer_sq, cached = ghost.norms_and_per_example(layer, p, g)
            sq += layer_sq
            per_example.append(cached)
        norms = tf.sqrt(tf.maximum(sq, 0.0))
        factors = self.clip_factors(norms)
        if weights is not None:
            factors *= weights
        grads = {}
        for (layer, _, z), p, g, cached in zip(records, inputs, g_out, per_example):
            if cached is not None:  # per-example gradients made for the norm: weigh them, do not recompute
                grads.update(ghost.gradients_from_per_example(layer, cached, g, factors))
                continue
            scale = tf.reshape(factors, [-1] + [1] * (len(z.shape) - 1))
            grads.update(ghost.weighted_gradients(layer, p, g * scale))
        summed = [grads.get(id(v), tf.zeros_like(v)) for v in self.variables]
        return summed, norms, losses, logits

    def _vectorized_clipped_sum(self, x, y, weights=None):
        """Fallback for layers ghost clipping does not cover: per-example gradients by vectorized_map."""

        def one(example):
            xi, yi = example
            with tf.GradientTape() as tape:
                loss = per_example_loss(yi[None], self.model(xi[None], training=True))[0]
            return tape.gradient(loss, self.variables, unconnected_gradients=tf.UnconnectedGradients.ZERO)

        per_example = tf.vectorized_map(one, (x, y))
        sq = tf.add_n([tf.reduce_sum(tf.reshape(tf.square(g), [tf.shape(x)[0], -1]), axis=1) for g in per_example])
        norms = tf.sqrt(sq)
        factors = self.clip_factors(norms)
        if weights is not None:
            factors *= weights
        summed = [tf.tensordot(factors, g, axes=1) for g in per_example]
        logits = self.model(x, training=True)
        return summed, norms, per_example_loss(y, logits), logits

    def clip_factors(self, norms):
        """Each example's factor: its gradient, times this, has norm at most C."""
        return tf.minimum(1.0, self.clip_norm / (norms + 1e-12))

    def draw_noise(self, like):
        """N(0, (sigma C)^2) for every coordinate of tensors shaped like `like`.

        The generator (OS entropy, or the seed) draws one fresh key per tensor and step, and the Gaussian
        comes from the stateless kernel: it depends on nothing else in the step, so drawn first it runs
        beside the forward and backward passes (about 1.6 ms for an MLP's 118k parameters here)."""
        keys = self.noise.make_seeds(len(like))
        return [
            tf.random.stateless_normal(tf.shape(t), keys[:, i], dtype=t.dtype) * self.noise_std
            for i, t in enumerate(like)
        ]

    def privatise(self, summed, noise=None):
        """The released update: the clipped sum plus N(0, (sigma C)^2) per coordinate, over the expected batch size."""
        noise = self.draw_noise(summed) if noise is None else noise
        return [(s + n) / self.expected_batch_size for s, n in zip(summed, noise, strict=True)]

    def _private_gradients(self, x, y, weights=None, noise=None):
        if noise is None:
            noise = self.draw_noise(self.variables)  # first: nothing it needs comes later in the step
        summed, norms, losses, logits = self.clipped_sum(x, y, weights)
        return self.privatise(summed, noise), losses, logits

    def _baseline_gradients(self, x, y, weights=None):
        with tf.GradientTape() as tape:
            logits = self.model(x, training=True)
            losses = per_example_loss(y, logits)
            total = tf.reduce_sum(losses if weights is None else losses * weights)
        grads = tape.gradient(total, self.variables, unconnected_gradients=tf.UnconnectedGradients.ZERO)
        return [g / self.expected_batch_size for g in grads], losses, logits


@dataclass(frozen=True)
class StepSums:
    """What the steps since the last read added up to on the device."""

    loss_sum: float
    correct: int
    seen: int

    @property
    def mean_loss(self) -> float | None:
        return self.loss_sum / self.seen if self.seen else None


_RESIDENT: list = []  # [(x, y, their tensors)]: the last training set made resident


def resident(x: np.ndarray, y: np.ndarray) -> tuple[tf.Tensor, tf.Tensor]:
    """The training arrays as tensors on the training device: a pair's two runs share one copy, and a
    step gathers its batch there instead of copying it from the host. Only the last set is kept (a
    process trains one pair at a time), so a finished run's data goes with the next one's; a cache
    keyed weakly by the array could never let go, as TensorFlow may keep the array itself as the tensor."""
    if _RESIDENT and _RESIDENT[0][0] is x and _RESIDENT[0][1] is y:
        return _RESIDENT[0][2]
    _RESIDENT[:] = [(x, y, (tf.convert_to_tensor(x), tf.convert_to_tensor(y)))]
    return _RESIDENT[0][2]


class TrainStep:
    """One compiled step on a batch given by its row indices into the training set: gradients (private or
    baseline), the optimizer's update, and the loss, correct and example sums, accumulated on the device.
    Nothing leaves the device until `read`."""

    def __init__(
        self,
        dp: DPSGD,
        optimizer,
        kind: str,
        x_train: np.ndarray,
        y_train: np.ndarray,
        *,
        jit_compile: bool = False,
        host_noise: bool = False,
    ):
        gradients = dp._private_gradients if kind == "private" else dp._baseline_gradients
        # host_noise: standard normals come with each batch (drawn on the prefetching thread, beside the
        # step); the step scales them by sigma C. On a CPU that hides their cost (1.6 ms for 118k here).
        self.host_noise = host_noise and kind == "private"
        sizes = [int(np.prod(v.shape)) for v in dp.variables]
        self.noise_size = sum(sizes)
        self._sums = [
            tf.Variable(0.0, dtype=tf.float64),
            tf.Variable(0, dtype=tf.int64),
            tf.Variable(0, dtype=tf.int64),
        ]
        self._last = (0.0, 0, 0)
        optimizer.build(dp.variables)
        x_all, y_all = resident(x_train, y_train)
        spec = [tf.TensorSpec((None,), tf.int64), tf.TensorSpec((None,), tf.float32)]
        if self.host_noise:
            spec.append(tf.TensorSpec((self.noise_size,), tf.float32))

        def step(rows, weights, z=None):
            x, y = tf.gather(x_all, rows), tf.gather(y_all, rows)
            if z is None:
                grads, losses, logits = gradients(x, y, weights)
            else:
                noise = [
                    tf.reshape(part, v.shape) * dp.noise_std
                    for part, v in zip(tf.split(z, sizes), dp.variables, strict=True)
                ]
                grads, losses, logits = gradients(x, y, weights, noise)
            optimizer.apply_gradients(zip(grads, dp.variables, strict=True))
            hits = tf.cast(tf.equal(tf.argmax(logits, 1, output_type=tf.int32), y), tf.float32) * weights
            self._sums[0].assign_add(tf.reduce_sum(tf.cast(losses * weights, tf.float64)))
            self._sums[1].assign_add(tf.cast(tf.reduce_sum(hits), tf.int64))
            self._sums[2].assign_add(tf.cast(tf.reduce_sum(weights), tf.int64))

        self._step = tf.function(step, input_signature=spec, jit_compile=jit_compile or None)
        self._step.get_concrete_function()  # traced here, before any step is timed (see train_pair)

    def __call__(self, rows, weights, noise=None) -> None:
        if self.host_noise:
            self._step(rows, weights, noise)
        else:
            self._step(rows, weights)

    def read(self) -> StepSums:
        """The sums since the previous read (one host round trip)."""
        loss, correct, seen = (float(self._sums[0].numpy()), int(self._sums[1].numpy()), int(self._sums[2].numpy()))
        last, self._last = self._last, (loss, correct, seen)
        return StepSums(loss - last[0], correct - last[1], seen - last[2])


class Prefetcher:
    """Each step's row indices, weights (and host noise) made on a thread a few steps ahead of the compiled
    step (TensorFlow releases the GIL while it computes). The indices, and so the Poisson batch sizes,
    are exactly `batches`'s; each batch is padded to a multiple of BUCKET rows of weight 0, which
    count nowhere (not in the clipped sum, the loss or the accuracy). Few distinct shapes let oneDNN
    (and XLA on a GPU) reuse what they built for the first batches instead of building anew for
    nearly every Poisson batch size.

    Each epoch pays for its own batches: after the first epoch, an epoch's first ON_DEMAND batches are
    made only when the training loop asks for one and none is ready. So nothing is made while the loop
    is between epochs, where a pair's other run trains its epoch. Working ahead across that boundary
    drew a private MLP run's noise (1 ms a batch here) inside its baseline's timed epoch and handed it
    to the private run's next epoch free: with less made ahead (AHEAD 1), the baseline's last epoch ran
    1.05x faster (7 interleaved `dpviz train` runs)."""

    AHEAD = 4
    BUCKET = 32
    ON_DEMAND = 2  # an epoch's 1st batch: asked for after the last step before it; its 2nd: once the epoch runs

    def __init__(
        self, plan: Iterator[tuple[int, int, np.ndarray]], *, noise: tuple[np.random.Generator, int] | None = None
    ):
        """`noise`: (generator, size) to draw `size` standard normals with every batch (see TrainStep)."""
        self._queue: queue.Queue = queue.Queue(maxsize=self.AHEAD)
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._asked = 0  # times the loop found no batch ready and waited
        self._asked_event = threading.Event()
        self._noise = noise
        self._thread = threading.Thread(target=self._fill, args=(plan,), daemon=True, name="dpviz-prefetch")
        self._thread.start()

    def _put(self, item) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def _demanded(self, seen: int) -> bool:
        """Wait until the loop has asked for a batch since `seen`; False when closed meanwhile."""
        while not self._stop.is_set():
            with self._lock:
                if self._asked > seen:
                    return True
                self._asked_event.clear()
            self._asked_event.wait(0.05)
        return False

    def _batch(self, epoch: int, step: int, idx: np.ndarray) -> tuple:
        rows = -(-max(len(idx), 1) // self.BUCKET) * self.BUCKET
        padded = np.zeros(rows, dtype=np.int64)
        padded[: len(idx)] = idx
        weights = np.zeros(rows, dtype=np.float32)
        weights[: len(idx)] = 1.0
        z = None
        if self._noise is not None:
            rng, size = self._noise
            z = tf.constant(rng.standard_normal(size, dtype=np.float32))
        return epoch, step, tf.constant(padded), tf.constant(weights), z

    def _fill(self, plan) -> None:
        try:
            seen = 0
            for epoch_index, (_, planned) in enumerate(itertools.groupby(plan, key=lambda planned: planned[0])):
                for in_epoch, (epoch, step, idx) in enumerate(planned):
                    if epoch_index and in_epoch < self.ON_DEMAND and not self._demanded(seen):
                        return
                    item = self._batch(epoch, step, idx)
                    with self._lock:
                        seen = self._asked
                    if not self._put(item):
                        return
        except BaseException as err:  # noqa: BLE001 - raised again in the training loop's thread
            self._put(err)
            return
        self._put(None)

    def __iter__(self):
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                with self._lock:
                    self._asked += 1
                    self._asked_event.set()
                item = self._queue.get()
            if item is None:
                return
            if isinstance(item, BaseException):
                raise item
            yield item

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


# ---------------------------------------------------------------- sampling


def batches(config: TrainConfig, n: int, *, seeded: bool = True) -> Iterator[tuple[int, int, np.ndarray]]:
    """(epoch, step, indices) for every step: from `config.seed` (a baseline, or a reproducible private
    run: identical for both), or from the operating system's entropy (`seeded=False`).

    Poisson: each example joins each step independently with probability q; an epoch is
    ceil(n / b) steps and the run is ceil(epochs n / b) steps, as the accountant counts them.
    Fixed: b distinct examples drawn uniformly at every step (without replacement within a step).
    Shuffle: a new permutation each epoch cut into batches of b (the last one smaller).
    """
    rng = np.random.default_rng(config.seed if seeded else None)
    b = config.batch_size
    step = 0
    for epoch, _, steps_in_epoch in run_plan(config):
        order = rng.permutation(n) if config.sampler == "shuffle" else None
        for i in range(steps_in_epoch):
            if config.sampler == "fixed":
                idx = np.sort(rng.choice(n, size=b, replace=False))
            elif order is None:
                idx = np.flatnonzero(rng.random(n) < b / n)
            else:
                idx = order[i * b : (i + 1) * b]
            step += 1
            yield epoch, step, idx


# ---------------------------------------------------------------- training loop


START_SAMPLE = 1024  # training examples the step-0 loss is measured on


def evaluate(model: keras.Model, x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    loss_sum, correct = 0.0, 0
    for start in range(0, len(x), EVAL_BATCH):
        logits = model(x[start : start + EVAL_BATCH], training=False)
        loss_sum += float(tf.reduce_sum(per_example_loss(y[start : start + EVAL_BATCH], logits)))
        correct += int(
            tf.reduce_sum(
                tf.cast(tf.equal(tf.argmax(logits, 1, output_type=tf.int32), y[start : start + EVAL_BATCH]), tf.int32)
            )
        )
    return loss_sum / len(x), correct / len(x)


class EpochTally:
    """One run's running sums within an epoch, and the EpochMetrics they make at its end."""

    def __init__(self, config: TrainConfig, kind: str, data: Data, model: keras.Model):
        self.config, self.kind, self.data, self.model = config, kind, data, model
        self.start = time.perf_counter()
        self._reset()

    def _reset(self) -> None:
        self.seen = self.correct = 0
        self.loss_sum = self.train_time = 0.0

    def add_read(self, read: StepSums, seconds: float) -> None:
        """Add the device's sums since the last read, and the wall time the steps took."""
        self.loss_sum += read.loss_sum
        self.correct += read.correct
        self.seen += read.seen
        self.train_time += seconds

    def close(self, epoch: int, steps_done: int) -> EpochMetrics:
        """Evaluate on the test split, account epsilon for the steps so far (private runs), start afresh."""
        test_loss, test_acc = evaluate(self.model, self.data.x_test, self.data.y_test)
        val_loss = val_acc = None
        if self.data.x_val is not None and len(self.data.x_val):
            val_loss, val_acc = evaluate(self.model, self.data.x_val, self.data.y_val)
        eps = eps_na = None
        if self.kind == "private":
            c = self.config
            eps, eps_na = epsilons_after(c.privacy, steps_done, c.sampler, c.accountant)
        metrics = EpochMetrics(
            run=self.kind,
            epoch=epoch,
            train_loss=self.loss_sum / max(self.seen, 1),
            train_accuracy=self.correct / max(self.seen, 1),
            test_loss=test_loss,
            test_accuracy=test_acc,
            epsilon=eps,
            examples_per_second=self.seen / self.train_time if self.train_time > 0 else 0.0,
            elapsed_s=time.perf_counter() - self.start,
            steps=steps_done,
            epsilon_no_amplification=eps_na,
            validation_loss=val_loss,
            validation_accuracy=val_acc,
        )
        self._reset()
        return metrics


def train(
    config: TrainConfig,
    kind: str = "private",
    *,
    data: Data | None = None,
    should_stop: Callable[[], bool] = lambda: False,
    progress_every: int = 10,
) -> Iterator[EpochMetrics | Progress | Finished]:
    """Train one run of `config`: DP-SGD (`kind="private"`) or its non-private baseline.

    Args:
      config: the validated run configuration.
      kind: "private" or "baseline".
      data: the training and test arrays (default: loaded from `config`, with its canaries).
      should_stop: checked every step; True ends the run as "cancelled" (closing the generator also stops it).
      progress_every: steps between Progress events.

    Returns:
      A generator of Progress every few steps, EpochMetrics after each epoch, then one Finished
      (with the membership-inference audit for a completed run when `config.audit`).

    Raises:
      ValueError: for an unknown kind.
      DatasetUnavailable: when a Keras dataset cannot be downloaded.
    """
    if kind not in ("private", "baseline"):
        raise ValueError(f"kind: must be 'private' or 'baseline', got {kind!r}")
    devices.setup()  # before the first op: GPU visibility and memory growth bind only then
    data = for_config(config, data)
    model = build_model(config.model, data.input_shape, seed=config.seed, precision=config.precision)
    optimizer = make_optimizer(config)
    dp = DPSGD(
        model,
        clip_norm=config.clip_norm,
        noise_multiplier=config.noise_multiplier,
        expected_batch_size=config.batch_size,
        seed=config.seed if seeded(config, kind) else None,
    )
    devices.reset_peak()
    step_fn = TrainStep(
        dp,
        optimizer,
        kind,
        data.x_train,
        data.y_train,
        jit_compile=kind == "private" and devices.use_xla(),
        host_noise=not devices.on_gpu(),
    )
    total_steps = config.privacy.steps
    tally = EpochTally(config, kind, data, model)
    watch = DivergenceWatch(evaluate(model, data.x_test, data.y_test)[0], noised=kind == "private" and dp.noise_std > 0)
    current_epoch, last_step, last = 1, 0, None
    status, error = "completed", None
    x_train, y_train = data.x_train, data.y_train

    # Step 0: the untrained model's training loss, before the step is compiled: the chart's first point.
    yield Progress(kind, 1, 0, total_steps, loss=evaluate(model, x_train[:START_SAMPLE], y_train[:START_SAMPLE])[0])

    noise = None
    if step_fn.host_noise:  # the run's noise source: its seed when reproducible, else the OS's entropy
        noise = (np.random.default_rng([config.seed, 7919] if seeded(config, kind) else None), step_fn.noise_size)
    feed = Prefetcher(batches(config, len(x_train), seeded=seeded(config, kind)), noise=noise)
    window_start = 1  # the first step whose loss the next read covers
    clock = time.perf_counter()
    try:
        for epoch, step, rows, wb, zb in feed:
            if epoch != current_epoch:
                tally.add_read(step_fn.read(), time.perf_counter() - clock)
                last = tally.close(current_epoch, last_step)
                yield last
                clock = time.perf_counter()
                current_epoch = epoch
                error = watch.check(last.epoch, last.test_loss)
                if error:
                    status = "diverged"
                    break
            if should_stop():
                status = "cancelled"
                break
            step_fn(rows, wb, zb)
            last_step = step
            if step == 1 or step % progress_every == 0 or step == total_steps:
                window = step_fn.read()  # the only host round trip: once per progress update
                tally.add_read(window, time.perf_counter() - clock)
                if not math.isfinite(window.loss_sum):
                    where = f"at step {step}" if window_start == step else f"between steps {window_start} and {step}"
                    status, error = "diverged", f"loss became {window.loss_sum} {where} (epoch {epoch})"
                    break
                yield Progress(kind, epoch, step, total_steps, loss=window.mean_loss)
                clock = time.perf_counter()
                window_start = step + 1
    finally:
        feed.close()
    tally.add_read(step_fn.read(), time.perf_counter() - clock)
    if status == "completed" or (tally.seen and status != "diverged"):
        last = tally.close(current_epoch, last_step)
        yield last
        reason = watch.check(last.epoch, last.test_loss, final=True) if status == "completed" else None
        if reason:
            status, error = "diverged", reason
    report = None
    if status == "completed" and config.audit:
        report = membership_audit(model, data, config, last.epsilon if kind == "private" and last else None)
    yield Finished(
        run=kind,
        status=status,
        device=device_name(),
        sampler=config.sampler,
        accountant=config.accountant,
        epochs_run=last.epoch if last else 0,
        steps=last_step,
        error=error,
        final=last.to_dict() if last else {},
        epsilon_assumption=ASSUMPTIONS[config.sampler] if kind == "private" else "",
        audit=report,
    )


def probabilities(model: keras.Model, x: np.ndarray) -> np.ndarray:
    return np.concatenate(
        [
            tf.nn.softmax(tf.cast(model(x[i : i + EVAL_BATCH], training=False), tf.float32)).numpy()
            for i in range(0, len(x), EVAL_BATCH)
        ]
    )


def seeded(config: TrainConfig, kind: str) -> bool:
    """Whether a run's noise and batches follow its seed: a baseline's always (pairs stay comparable), a
    private run's only when asked for (`config.reproducible`)."""
    return kind == "baseline" or config.reproducible


def warm_up() -> None:
    """One tiny private and baseline step, and the offline data read: a warm worker pays TensorFlow's and
    scikit-learn's first-use costs (about 2 s to import sklearn here) before any run."""
    import sklearn.linear_model  # noqa: F401 - the audit's learned attack

    from dpviz.training.data import load

    load("digits")
    model = build_model("mlp", (8, 8, 1), seed=0)
    dp = DPSGD(model, clip_norm=1.0, noise_multiplier=1.0, expected_batch_size=4, seed=0)
    x, y = tf.zeros((4, 8, 8, 1), tf.float32), tf.zeros((4,), tf.int32)
    for gradients in (dp.private_gradients, dp.baseline_gradients):
        grads, losses, _ = gradients(x, y)
        float(tf.reduce_sum(losses))
    keras.optimizers.SGD(0.1).apply_gradients(zip(grads, dp.variables, strict=True))
    evaluate(model, np.zeros((4, 8, 8, 1), np.float32), np.zeros(4, np.int32))


def membership_audit(model: keras.Model, data: Data, config: TrainConfig, epsilon: float | None) -> dict:
    """Membership inference on the trained model (the same members and non-members for a pair), and
    the exposure of the run's canaries if it has any."""
    from dpviz.audit import canary_report, losses, run_audit, sample_indices

    members, nonmembers = sample_indices(data.dataset_rows, len(data.x_test), seed=config.seed)
    report = run_audit(
        probabilities(model, data.x_train[members]),
        data.y_train[members],
        probabilities(model, data.x_test[nonmembers]),
        data.y_test[nonmembers],
        delta=config.delta,
        theoretical_epsilon=epsilon,
        seed=config.seed,
    )
    if data.canaries is not None:
        c = data.canaries
        report["canaries"] = canary_report(
            losses(probabilities(model, c.x), c.y), c.copies, losses(probabilities(model, c.reference_x), c.reference_y)
        )
    return report


def train_pair(config: TrainConfig, *, data: Data | None = None, should_stop: Callable[[], bool] = lambda: False):
    """The private run and its baseline on the same data, batches and initial weights.

    Args:
      config: the validated run configuration (noise and clipping apply to the private run only).
      data: as for `train`.
      should_stop: as for `train`, shared by both runs.

    Returns:
      A generator of both runs' events, interleaved epoch by epoch; each run ends with its Finished.

    Raises:
      DatasetUnavailable: when a Keras dataset cannot be downloaded.
    """
    data = for_config(config, data)
    runs = {kind: train(config, kind, data=data, should_stop=should_stop) for kind in ("private", "baseline")}
    # Each run's first event (its step-0 loss) comes after its step is traced. Both are taken before
    # either trains: a step traced while the other run is under way cost that run's next step 64-91 ms.
    for run in runs.values():
        yield next(run)
    active = dict(runs)
    while active:
        for kind in list(active):
            for event in active[kind]:
                yield event
                if isinstance(event, EpochMetrics):
                    break
                if isinstance(event, Finished):
                    del active[kind]
                    break
            else:
                active.pop(kind, None)
