"""The divergence rule, alone (fast) and in the engine on the issue's exploding setting (slow)."""

import math

import pytest

from dpviz.training.divergence import FACTOR, PATIENCE, DivergenceWatch


def test_a_learning_run_never_diverges():
    watch = DivergenceWatch(2.3)
    losses = [2.0, 1.2, 0.8, 0.9, 0.7]
    assert [watch.check(e, loss, final=e == len(losses)) for e, loss in enumerate(losses, 1)] == [None] * 5


def test_one_spike_is_forgiven_a_sustained_explosion_is_not():
    watch = DivergenceWatch(2.3)
    assert watch.check(1, 500.0) is None and watch.check(2, 1.0) is None  # spike, then back
    assert watch.check(3, 400.0) is None
    reason = watch.check(4, 600.0)
    assert PATIENCE == 2 and reason and "epochs 3-4" in reason and f"{FACTOR:g}x" in reason


def test_an_explosion_at_the_last_evaluation_counts():
    assert DivergenceWatch(2.3).check(1, 100.0, final=True)


def test_a_noised_run_is_held_to_finite_losses_only():
    watch = DivergenceWatch(2.3, noised=True)  # the digits MLP at sigma 8 (measured), every 8th epoch
    losses = [2.9, 20.5, 37.1, 68.2, 110.0, 143.7, 145.1, 162.3, 197.5]
    assert [watch.check(e, loss, final=e == 9) for e, loss in enumerate(losses, 1)] == [None] * 9
    assert watch.check(10, math.inf)


def test_a_non_finite_test_loss_diverges_at_once():
    assert "nan" in DivergenceWatch(2.3).check(1, math.nan)


@pytest.mark.slow
def test_the_engine_stops_an_exploding_pair_as_diverged():
    from dpviz.training.config import TrainConfig
    from dpviz.training.engine import Finished, train_pair

    config = TrainConfig(
        dataset="digits",
        dataset_size=300,
        epochs=3,
        batch_size=32,
        learning_rate=100,
        momentum=0.99,
        noise_multiplier=0,
        clip_norm=1e6,
        audit=False,
    )
    finished = [e for e in train_pair(config) if isinstance(e, Finished)]
    assert {f.run: f.status for f in finished} == {"private": "diverged", "baseline": "diverged"}
    assert all("exploded" in f.error for f in finished)
