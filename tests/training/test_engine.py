"""DP-SGD step correctness against per-example gradients computed the slow way."""

import math
import time

import keras
import numpy as np
import pytest
import tensorflow as tf

from dpviz.audit import mean_exposure
from dpviz.privacy.accountant import compute_epsilon
from dpviz.training import ghost
from dpviz.training.config import TrainConfig
from dpviz.training.data import for_config, load
from dpviz.training.engine import (
    DPSGD,
    EpochMetrics,
    Finished,
    Progress,
    TrainStep,
    batches,
    build_model,
    per_example_loss,
    train,
)
from dpviz.validation import ValidationError

L = keras.layers


def naive_per_example(model, x, y):
    """One GradientTape per example: slow, obviously right."""
    grads = []
    for i in range(len(x)):
        with tf.GradientTape() as tape:
            loss = per_example_loss(y[i : i + 1], model(x[i : i + 1], training=True))[0]
        grads.append([tf.convert_to_tensor(g).numpy() for g in tape.gradient(loss, model.trainable_variables)])
    return grads


def flat_norm(grads):
    return math.sqrt(sum(float(np.sum(g**2)) for g in grads))


def sequential(input_shape, layers, seed=1):
    keras.utils.set_random_seed(seed)
    return keras.Sequential([keras.Input(shape=input_shape)] + layers)


def random_batch(shape, n=7, classes=10, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n,) + shape).astype(np.float32), rng.integers(0, classes, n).astype(np.int32)


def ghost_norms(model, x, y):
    dp = DPSGD(model, clip_norm=1e9, noise_multiplier=0, expected_batch_size=len(x), seed=0)
    assert dp.ghost
    _, norms, _, _ = dp.clipped_sum(tf.constant(x), tf.constant(y))
    return norms.numpy()


def assert_norms_and_clipped_sum_match_naive(model, x, y, clip=0.05):
    """Ghost norms equal the naive per-example norms, and the clipped sum (at a clip norm small enough to clip
    every example) equals the sum of naively clipped per-example gradients, variable by variable."""
    naive = naive_per_example(model, x, y)
    np.testing.assert_allclose(ghost_norms(model, x, y), [flat_norm(g) for g in naive], rtol=2e-4)
    dp = DPSGD(model, clip_norm=clip, noise_multiplier=0, expected_batch_size=len(x), seed=0)
    summed, _, _, _ = dp.clipped_sum(tf.constant(x), tf.constant(y))
    for i, got in enumerate(summed):
        want = np.sum([grads[i] * min(1.0, clip / flat_norm(grads)) for grads in naive], axis=0)
        np.testing.assert_allclose(got.numpy(), want, rtol=2e-3, atol=1e-6)


CONV_CASES = [
    dict(kernel=3, strides=1, padding="same"),
    dict(kernel=3, strides=2, padding="same"),
    dict(kernel=4, strides=2, padding="valid"),
    dict(kernel=(3, 2), strides=(3, 1), padding="valid"),
    dict(kernel=8, strides=2, padding="same"),  # the tutorial CNN's first layer: direct per-example branch
    dict(kernel=5, strides=3, padding="same"),
    dict(kernel=2, strides=2, padding="valid"),  # the kernel is one block: the blocks are the patches
]


@pytest.mark.parametrize("channels", [1, 2])  # one channel: the unfolded order is already the kernel's
@pytest.mark.parametrize("case", CONV_CASES)
def test_conv2d_ghost_norms_match_naive(case, channels):
    model = sequential(
        (12, 12, channels),
        [
            L.Conv2D(4, case["kernel"], strides=case["strides"], padding=case["padding"]),
            L.ReLU(),
            L.Flatten(),
            L.Dense(10),
        ],
    )
    x, y = random_batch((12, 12, channels))
    assert_norms_and_clipped_sum_match_naive(model, x, y)  # the sum in the kernel's (kh, kw, cin) order


BLOCK_GRAM_CASES = [  # (input, filters, kernel, strides, padding): the ghost norm from the blocks' Gram matrix
    ((13, 13, 16), 4, 4, 2, "valid"),  # the tutorial CNN's second layer, smaller
    ((13, 13, 16), 16, 4, 2, "same"),  # odd size: TensorFlow pads one more row and column at the end
    ((13, 9, 16), 16, (4, 2), (2, 1), "valid"),  # unequal strides
    ((6, 6, 16), 8, 2, 2, "valid"),  # the kernel is one block
]


@pytest.mark.parametrize("shape, filters, kernel, strides, padding", BLOCK_GRAM_CASES)
def test_conv2d_norms_from_the_blocks_gram_matrix_match_naive(shape, filters, kernel, strides, padding):
    conv = L.Conv2D(filters, kernel, strides=strides, padding=padding)
    model = sequential(shape, [conv, L.ReLU(), L.Flatten(), L.Dense(10)])
    assert ghost.block_layout(conv, (None, *shape)) is not None  # the case tests what it says
    x, y = random_batch(shape)
    assert_norms_and_clipped_sum_match_naive(model, x, y)


def test_the_tutorial_cnn_unfolds_its_first_layer_and_takes_the_gram_matrix_of_its_second():
    model = build_model("cnn", (28, 28, 1))
    first, second = [layer for layer in model.layers if isinstance(layer, L.Conv2D)]
    assert ghost.block_layout(first, (None, 28, 28, 1)) is None  # T^2 > d c: per-example gradients
    assert ghost.block_layout(second, (None, 13, 13, 16)) == (6, 6, 5, 5)


@pytest.mark.parametrize("case", CONV_CASES)
def test_conv2d_patches_of_unknown_spatial_size_match_known(case):
    conv = L.Conv2D(4, case["kernel"], strides=case["strides"], padding=case["padding"])
    conv.build((None, 13, 11, 3))
    x = tf.constant(random_batch((13, 11, 3))[0])
    unknown = tf.function(lambda a: ghost.conv_patches(conv, a), input_signature=[tf.TensorSpec((None, None, None, 3))])
    np.testing.assert_array_equal(unknown(x).numpy(), ghost.conv_patches(conv, x).numpy())


@pytest.mark.parametrize("shape", [(6,), (5, 6), (20, 3)])  # (20, 3): T^2 > d c, per-example gradients
def test_dense_ghost_norms_and_clipped_sums_match_naive(shape):
    extra = [] if len(shape) == 1 else [L.Flatten()]
    units = 2 if shape == (20, 3) else 8
    model = sequential(shape, [L.Dense(units), L.ReLU(), *extra, L.Dense(10, use_bias=len(shape) == 1)])
    x, y = random_batch(shape)
    assert_norms_and_clipped_sum_match_naive(model, x, y)


def test_embedding_ghost_norms_match_naive_with_repeated_ids():
    model = sequential((6,), [L.Embedding(5, 4), L.Flatten(), L.Dense(10)])
    rng = np.random.default_rng(0)
    x = rng.integers(0, 5, (7, 6)).astype(np.float32)  # few ids: many repeats within an example
    y = rng.integers(0, 10, 7).astype(np.int32)
    dp = DPSGD(model, clip_norm=1e9, noise_multiplier=0, expected_batch_size=7, seed=0)
    _, norms, _, _ = dp.clipped_sum(tf.constant(x), tf.constant(y))
    expected = [flat_norm(g) for g in naive_per_example(model, x, y)]
    np.testing.assert_allclose(norms.numpy(), expected, rtol=2e-4)


@pytest.mark.parametrize("model_name", ["cnn", "mlp", "logreg"])
def test_clipped_sum_matches_naive_clipping_and_each_contribution_is_bounded(model_name):
    model = build_model(model_name, (28, 28, 1), seed=3)
    x, y = random_batch((28, 28, 1), n=6)
    clip = 0.05  # small enough that every example is clipped
    dp = DPSGD(model, clip_norm=clip, noise_multiplier=0, expected_batch_size=6, seed=0)
    summed, norms, _, _ = dp.clipped_sum(tf.constant(x), tf.constant(y))
    naive = naive_per_example(model, x, y)
    clipped = []
    for grads in naive:
        factor = min(1.0, clip / flat_norm(grads))
        clipped.append([g * factor for g in grads])
        assert flat_norm(clipped[-1]) <= clip * (1 + 1e-5)
    np.testing.assert_allclose(norms.numpy(), [flat_norm(g) for g in naive], rtol=5e-4)
    for got, *per_example in zip(summed, *clipped):
        np.testing.assert_allclose(got.numpy(), np.sum(per_example, axis=0), rtol=2e-3, atol=1e-6)


def test_vectorized_fallback_for_unsupported_layers_matches_naive():
    model = sequential((6,), [L.Dense(8), L.LayerNormalization(), L.Dense(10)])
    x, y = random_batch((6,))
    dp = DPSGD(model, clip_norm=0.1, noise_multiplier=0, expected_batch_size=7, seed=0)
    assert not dp.ghost
    summed, norms, _, _ = dp.clipped_sum(tf.constant(x), tf.constant(y))
    naive = naive_per_example(model, x, y)
    np.testing.assert_allclose(norms.numpy(), [flat_norm(g) for g in naive], rtol=2e-4)
    expected = [np.sum([g[i] * min(1, 0.1 / flat_norm(g)) for g in naive], axis=0) for i in range(len(naive[0]))]
    for got, want in zip(summed, expected):
        np.testing.assert_allclose(got.numpy(), want, rtol=2e-3, atol=1e-6)


def test_zero_noise_and_huge_clip_equal_the_baseline_update():
    model = build_model("cnn", (28, 28, 1), seed=5)
    x, y = random_batch((28, 28, 1), n=9)
    dp = DPSGD(model, clip_norm=1e12, noise_multiplier=0.0, expected_batch_size=8.5, seed=0)
    private, _, _ = dp.private_gradients(tf.constant(x), tf.constant(y))
    baseline, _, _ = dp.baseline_gradients(tf.constant(x), tf.constant(y))
    for p, b in zip(private, baseline):
        np.testing.assert_allclose(p.numpy(), b.numpy(), rtol=1e-3, atol=1e-7)


def test_noise_standard_deviation_is_sigma_times_clip_over_expected_batch():
    model = build_model("mlp", (28, 28, 1), seed=0)
    sigma, clip, expected = 1.7, 0.6, 32.0
    dp = DPSGD(model, clip_norm=clip, noise_multiplier=sigma, expected_batch_size=expected, seed=11)
    empty_x = tf.zeros((0, 28, 28, 1)), tf.zeros((0,), tf.int32)  # an empty Poisson batch: noise only
    grads, _, _ = dp.private_gradients(*empty_x)
    values = np.concatenate([g.numpy().ravel() for g in grads])
    assert values.size > 100_000
    assert abs(values.mean()) < 0.01 * sigma * clip / expected
    assert values.std() * expected == pytest.approx(sigma * clip, rel=0.01)


def test_poisson_batches_have_mean_qn_and_match_the_accountant_steps():
    config = TrainConfig(dataset="synthetic", dataset_size=2000, batch_size=50, epochs=3, seed=4)
    sizes = [len(idx) for _, _, idx in batches(config, 2000)]
    assert len(sizes) == config.privacy.steps == 120
    assert np.mean(sizes) == pytest.approx(50, rel=0.05)
    assert np.std(sizes) > 3  # they vary, as Poisson sampling should
    assert [idx.tolist() for *_, idx in batches(config, 2000)][:3] == [
        idx.tolist() for *_, idx in batches(config, 2000)
    ][:3]


def test_shuffle_batches_cover_each_example_once_per_epoch():
    config = TrainConfig(dataset="synthetic", dataset_size=100, batch_size=30, epochs=2, sampler="shuffle")
    epoch1 = np.concatenate([idx for e, _, idx in batches(config, 100) if e == 1])
    assert sorted(epoch1.tolist()) == list(range(100))


def test_empty_poisson_batches_are_handled():
    config = TrainConfig(dataset="synthetic", dataset_size=40, batch_size=1, epochs=1, model="logreg", seed=2)
    events = list(train(config, "private"))
    assert any(len(idx) == 0 for *_, idx in batches(config, 40))
    assert events[-1].status == "completed"


def test_reported_epsilon_equals_the_accountant_for_the_steps_run():
    config = TrainConfig(
        dataset="synthetic", dataset_size=600, batch_size=60, epochs=2.5, model="logreg", noise_multiplier=1.3
    )
    events = list(train(config, "private"))
    epochs = [e for e in events if isinstance(e, EpochMetrics)]
    assert [e.steps for e in epochs] == [10, 20, 25]
    for e in epochs:
        expected = compute_epsilon(config.privacy.replace(epochs=e.steps * 60 / 600)).epsilon
        assert e.epsilon == pytest.approx(expected, rel=1e-12)
    assert epochs[-1].epsilon == pytest.approx(compute_epsilon(config.privacy).epsilon, rel=1e-12)
    finished = events[-1]
    assert isinstance(finished, Finished) and finished.steps == config.privacy.steps and finished.device == "CPU"
    assert any(isinstance(e, Progress) for e in events)


def test_shuffled_runs_carry_the_assumption_label():
    config = TrainConfig(
        dataset="synthetic", dataset_size=200, batch_size=50, epochs=1, model="logreg", sampler="shuffle"
    )
    *epochs, finished = [e for e in train(config, "private") if not isinstance(e, Progress)]
    assert "does not strictly apply" in finished.epsilon_assumption
    assert epochs[-1].epsilon_no_amplification > epochs[-1].epsilon


@pytest.mark.parametrize("kind", ["private", "baseline"])
def test_divergence_stops_the_run_with_the_step(kind):
    config = TrainConfig(
        dataset="synthetic", dataset_size=300, batch_size=300, epochs=3, model="logreg", learning_rate=1.0
    )
    data = load("synthetic", 300)
    data.x_train[5, 0, 0, 0] = np.inf  # the first full batch meets it: the loss is not finite
    events = list(train(config, kind, data=data))
    finished = events[-1]
    assert finished.status == "diverged" and "step 1" in finished.error
    assert not any(isinstance(e, EpochMetrics) for e in events)


def test_seed_makes_runs_reproducible_only_when_asked():
    base = dict(dataset="synthetic", dataset_size=300, batch_size=50, epochs=1, model="logreg", seed=9)
    losses = lambda config, kind="private": [  # noqa: E731
        e.test_loss for e in train(config, kind) if isinstance(e, EpochMetrics)
    ]
    seeded = TrainConfig(**base, reproducible=True)
    assert losses(seeded) == losses(seeded)
    private = TrainConfig(**base)  # the default: noise and batches from the OS's entropy
    assert losses(private) != losses(private)
    assert losses(private, "baseline") == losses(private, "baseline")  # the baseline keeps its seeded batches
    assert list(batches(private, 300)) and not private.reproducible


def test_should_stop_cancels():
    config = TrainConfig(dataset="synthetic", dataset_size=300, batch_size=10, epochs=3, model="logreg")
    finished = list(train(config, should_stop=lambda: True))[-1]
    assert finished.status == "cancelled"


@pytest.mark.slow
def test_digits_mlp_learns_privately_and_as_baseline():
    config = TrainConfig(
        dataset="digits", model="mlp", epochs=8, batch_size=64, noise_multiplier=1.0, clip_norm=1.0, learning_rate=0.5
    )
    data = load("digits")
    results = {}
    for kind in ("private", "baseline"):
        results[kind] = [e for e in train(config, kind, data=data) if isinstance(e, EpochMetrics)][-1]
    assert results["baseline"].test_accuracy > 0.85
    assert results["private"].test_accuracy > 0.6  # chance is 0.1
    assert math.isfinite(results["private"].epsilon) and results["baseline"].epsilon is None


# ------------------------------------------------------------------ membership-inference audit (issue: privacy audit)

OVERFIT = TrainConfig(dataset="digits", dataset_size=200, model="mlp", epochs=80, batch_size=32, learning_rate=0.25)


def audit_of(config, kind):
    finished = [e for e in train(config, kind) if isinstance(e, Finished)][-1]
    assert finished.status == "completed" and finished.audit
    return finished.audit


def chance_spread(evaluated: int) -> float:
    """The standard deviation of a chance-level AUC over `evaluated` scores, half members (Mann-Whitney)."""
    m = n = evaluated / 2
    return math.sqrt((m + n + 1) / (12 * m * n))


@pytest.mark.slow
def test_overfit_baseline_leaks_membership():
    audit = audit_of(OVERFIT, "baseline")
    assert audit["members"] == audit["nonmembers"] == 200
    loss = audit["attacks"]["loss_threshold"]
    assert loss["auc"] > 0.5 + 3.5 * chance_spread(loss["evaluated"])  # outside the band a private model keeps
    assert audit["attacks"]["learned"]["auc"] > 0.55
    assert audit["epsilon_lower"] > 0.3 and audit["theoretical_epsilon"] is None


@pytest.mark.slow
def test_heavily_noised_private_model_is_near_chance():
    # Seeded: an OS-entropy run's learned-attack AUC, scored on only 100 + 100 examples, spreads by
    # about 0.04 around 0.5 (16 runs: 0.44-0.58), so a fixed band of 0.08 failed about 1 run in 8.
    config = OVERFIT.__class__(**{**OVERFIT.to_dict(), "noise_multiplier": 8.0, "reproducible": True})
    audit = audit_of(config, "private")
    for attack in audit["attacks"].values():
        assert abs(attack["auc"] - 0.5) < 3.5 * chance_spread(attack["evaluated"]), attack["attack"]
    assert audit["epsilon_lower"] <= audit["theoretical_epsilon"]


@pytest.mark.slow
def test_measured_lower_bound_stays_below_the_theoretical_epsilon():
    config = OVERFIT.__class__(**{**OVERFIT.to_dict(), "noise_multiplier": 1.0, "epochs": 40})
    audit = audit_of(config, "private")
    assert audit["theoretical_epsilon"] > 0
    assert audit["epsilon_lower"] <= audit["theoretical_epsilon"]


def test_canaries_are_appended_counted_in_n_and_shared_by_the_pair():
    config = TrainConfig(dataset="digits", dataset_size=300, canaries=5, batch_size=32)
    assert config.canary_copies == (1, 4, 1, 4, 1) and config.train_size == 300 + 11
    assert config.privacy.dataset_size == 311  # the accountant's n includes every copy
    data = for_config(config)
    c = data.canaries
    assert len(data.x_train) == 311 and data.dataset_rows == 300
    assert np.array_equal(data.x_train[300], c.x[0]) and np.all(data.x_train[301:305] == c.x[1])
    assert np.array_equal(data.y_train[300:], np.repeat(c.y, c.copies))
    assert len(c.reference_x) == 500 and c.reference_x.shape[1:] == data.input_shape
    again = for_config(config)
    assert np.array_equal(again.x_train, data.x_train) and np.array_equal(again.canaries.reference_y, c.reference_y)
    assert for_config(config, data) is data  # a pair shares one copy


@pytest.mark.parametrize(
    "kwargs, field",
    [(dict(canaries=21), "canaries"), (dict(canaries=-1), "canaries"), (dict(canaries=2, audit=False), "canaries")],
)
def test_bad_canary_settings_name_the_field(kwargs, field):
    with pytest.raises(ValueError, match=field):
        TrainConfig(**kwargs)


@pytest.mark.slow
def test_baseline_memorises_single_canaries_and_dp_sgd_does_not():
    config = TrainConfig(
        dataset="digits",
        dataset_size=300,
        model="mlp",
        epochs=40,
        batch_size=32,
        learning_rate=0.25,
        noise_multiplier=2.0,  # epsilon 5.1
        canaries=20,  # 10 inserted once: a mean of 3 spread too widely (16 OS-entropy runs: 0.8-4.4 bits)
        reproducible=True,
    )
    exposure = {kind: mean_exposure(audit_of(config, kind)["canaries"]) for kind in ("private", "baseline")}
    assert exposure["baseline"][1] > 5.0  # of log2(501) = 9.0 bits
    assert exposure["private"][1] < 4.5  # 16 OS-entropy runs: 1.6-3.8, mean 2.4
    assert exposure["baseline"][4] >= exposure["baseline"][1] - 0.5


def test_fixed_sampler_draws_b_distinct_examples_at_every_step_and_reports_its_own_epsilon():
    from dpviz.privacy.samplers import fixed_epsilon

    config = TrainConfig(
        dataset="synthetic", dataset_size=300, batch_size=40, epochs=2, model="logreg", sampler="fixed"
    )
    steps = list(batches(config, 300))
    assert len(steps) == config.privacy.steps
    assert all(len(idx) == 40 and len(set(idx.tolist())) == 40 for _, _, idx in steps)
    assert len({tuple(idx.tolist()) for _, _, idx in steps}) == len(steps)  # drawn afresh every step
    events = list(train(config, "private"))
    assert events[-1].final["epsilon"] == pytest.approx(fixed_epsilon(config.privacy), rel=1e-12)
    assert "replace-one" in events[-1].epsilon_assumption


@pytest.mark.slow
def test_a_real_runs_measured_roc_never_rises_above_its_guarantee():
    from dpviz.privacy.attack_bounds import attack_bounds, excess_points

    config = TrainConfig(dataset="digits", model="mlp", epochs=5, batch_size=64, noise_multiplier=1.1, seed=1)
    audit = list(train(config, "private"))[-1].audit
    bounds = attack_bounds(config.privacy)
    for attack in audit["attacks"].values():
        assert (
            excess_points(
                attack["roc_fpr"],
                attack["roc_tpr"],
                members=audit["members"],
                nonmembers=audit["nonmembers"],
                bounds=bounds,
            )
            == 0
        )


def test_mixed_precision_computes_in_bfloat16_and_clips_in_float32():
    rng = np.random.default_rng(0)
    x, y = rng.random((16, 8, 8, 1), dtype=np.float32), rng.integers(0, 10, 16).astype(np.int32)
    full = build_model("cnn", (8, 8, 1), seed=0)
    mixed = build_model("cnn", (8, 8, 1), seed=0, precision="mixed_bfloat16")
    assert mixed.layers[0].compute_dtype == "bfloat16" and mixed.trainable_variables[0].dtype == "float32"
    assert full.layers[0].compute_dtype == "float32"  # the policy does not leak into later models
    sums, norms = [], []
    for model in (full, mixed):
        dp = DPSGD(model, clip_norm=0.5, noise_multiplier=0.0, expected_batch_size=16, seed=0)
        summed, n, _, _ = dp.clipped_sum(tf.constant(x), tf.constant(y))
        assert n.dtype == tf.float32 and all(s.dtype == tf.float32 for s in summed)
        sums.append(np.concatenate([s.numpy().ravel() for s in summed]))
        norms.append(n.numpy())
    assert np.allclose(norms[1], norms[0], rtol=0.05)
    assert np.linalg.norm(sums[1] - sums[0]) <= 0.05 * np.linalg.norm(sums[0])
    assert np.linalg.norm(sums[1]) <= 16 * 0.5 * (1 + 1e-3)  # each example's contribution is clipped to C


def test_a_mixed_precision_pair_trains_and_is_labelled():
    config = TrainConfig(
        dataset="synthetic", dataset_size=96, batch_size=32, epochs=1, model="logreg", precision="mixed_bfloat16"
    )
    finished = [e for e in train_pair_events(config) if isinstance(e, Finished)]
    assert [f.status for f in finished] == ["completed", "completed"]
    assert config.to_dict()["precision"] == "mixed_bfloat16"
    with pytest.raises(ValidationError) as err:
        TrainConfig(precision="float16")
    assert err.value.field == "precision"


def test_both_steps_of_a_pair_are_traced_before_either_trains_and_never_again():
    config = TrainConfig(dataset="synthetic", dataset_size=200, model="logreg", epochs=1, batch_size=50, audit=False)
    events = train_pair_events(config)
    assert [(e.run, e.step) for e in events[:2]] == [("private", 0), ("baseline", 0)]
    assert all(isinstance(e, Progress) for e in events[:2])
    model = build_model("mlp", (8, 8, 1), seed=0)
    dp = DPSGD(model, clip_norm=1.0, noise_multiplier=1.0, expected_batch_size=4, seed=0)
    x, y = np.zeros((40, 8, 8, 1), np.float32), np.zeros(40, np.int32)
    step = TrainStep(dp, keras.optimizers.SGD(0.1), "private", x, y, host_noise=True)
    assert step._step.experimental_get_tracing_count() == 1
    for rows in (4, 32):  # another batch size: the same trace
        step(tf.range(rows, dtype=tf.int64), tf.ones(rows), tf.zeros(step.noise_size))
    assert step._step.experimental_get_tracing_count() == 1


def test_the_training_set_is_made_resident_once_and_let_go_for_the_next():
    import weakref

    from dpviz.training import engine

    x, y = np.arange(12, dtype=np.float32).reshape(6, 2), np.arange(6, dtype=np.int32)
    first = engine.resident(x, y)
    assert engine.resident(x, y) is first  # a pair's two runs: one copy
    assert np.array_equal(first[0].numpy(), x)
    gone = weakref.ref(first[0])
    del first
    engine.resident(x.copy(), y)  # the next run's data replaces it
    assert gone() is None


def train_pair_events(config):
    from dpviz.training.engine import train_pair

    return list(train_pair(config))


def test_noise_drawn_with_the_batches_has_the_accounted_scale():
    """TrainStep's host-drawn noise (CPU): with inputs of zero, a kernel's update is the noise alone,
    of standard deviation sigma C / (expected batch size) times the learning rate."""
    from dpviz.training.engine import Prefetcher, TrainStep, make_optimizer

    model = build_model("logreg", (8, 8, 1), seed=0)
    dp = DPSGD(model, clip_norm=0.5, noise_multiplier=2.0, expected_batch_size=32, seed=0)
    x, y = np.zeros((64, 8, 8, 1), np.float32), np.zeros(64, np.int32)
    step = TrainStep(dp, make_optimizer(TrainConfig(learning_rate=1.0)), "private", x, y, host_noise=True)
    plan = iter([(1, 1, np.arange(32))])
    (_, _, rows, wb, zb), *_ = list(Prefetcher(plan, noise=(np.random.default_rng(3), step.noise_size)))
    before = model.layers[-1].kernel.numpy().copy()
    step(rows, wb, zb)
    delta = model.layers[-1].kernel.numpy() - before
    assert delta.std() == pytest.approx(2.0 * 0.5 / 32, rel=0.1) and abs(delta.mean()) < 0.01


class CountingNormals:
    """A noise source that counts the batches made with it."""

    def __init__(self):
        self.made = 0

    def standard_normal(self, size, dtype):
        self.made += 1
        return np.zeros(size, dtype)


def made_by(source, count, timeout=5.0):
    deadline = time.monotonic() + timeout
    while source.made < count and time.monotonic() < deadline:
        time.sleep(0.01)
    return source.made


def test_prefetching_never_makes_an_epochs_batches_between_epochs():
    """A pair alternates epochs: what one run's thread makes while the other trains would be paid for by the
    other run's epoch, and handed free to its own next epoch."""
    from dpviz.training.engine import Prefetcher

    plan = [(1, step, np.arange(4)) for step in (1, 2, 3)] + [(2, step, np.arange(4)) for step in range(4, 12)]
    source = CountingNormals()
    feed = Prefetcher(iter(plan), noise=(source, 3))
    batches = iter(feed)
    try:
        assert next(batches)[0] == 1
        assert made_by(source, 3) == 3
        time.sleep(0.3)
        assert source.made == 3  # ahead within the epoch, never across its end
        next(batches), next(batches)
        assert next(batches)[:2] == (2, 4)  # the loop asked: the next epoch's first batch
        time.sleep(0.3)  # the other run's epoch
        assert source.made == 4
        assert next(batches)[:2] == (2, 5)  # made when asked for, inside this epoch
        assert made_by(source, 5 + Prefetcher.AHEAD) >= 5 + Prefetcher.AHEAD - 1  # then ahead again
        assert [item[1] for item in batches] == list(range(6, 12))
    finally:
        feed.close()
