"""The `Trainer` contract, held against every implementation: the engine (slow) and its double."""

import importlib

import pytest

from dpviz.privacy.accountant import compute_epsilon
from dpviz.training.config import TrainConfig, run_plan
from dpviz.training.events import EpochMetrics, Finished, Progress, Trainer

TRAINERS = [
    pytest.param("dpviz.training.fake:train", id="fake"),
    pytest.param("dpviz.training.engine:train", id="engine", marks=pytest.mark.slow),
]
CONFIG = TrainConfig(dataset="synthetic", dataset_size=200, batch_size=50, epochs=2, model="logreg", audit=False)


def load(path: str):
    module, _, name = path.partition(":")
    return getattr(importlib.import_module(module), name)


@pytest.fixture(params=TRAINERS)
def trainer(request, monkeypatch):
    monkeypatch.setenv("DPVIZ_FAKE_STEP_SECONDS", "0")
    return load(request.param)


def test_is_a_trainer(trainer):
    assert isinstance(trainer, Trainer)


@pytest.mark.parametrize("kind", ["private", "baseline"])
def test_one_epoch_metrics_per_planned_epoch_then_one_finished(trainer, kind):
    events = list(trainer(CONFIG, kind))
    plan = run_plan(CONFIG)
    epochs = [e for e in events if isinstance(e, EpochMetrics)]
    assert [e.epoch for e in epochs] == [epoch for epoch, _, _ in plan]
    assert [e.steps for e in epochs] == [done for _, done, _ in plan]
    assert isinstance(events[-1], Finished) and sum(isinstance(e, Finished) for e in events) == 1
    finished = events[-1]
    assert finished.run == kind and finished.status == "completed" and finished.steps == plan[-1][1]
    assert all(isinstance(e, (Progress, EpochMetrics)) for e in events[:-1])
    assert all(e.run == kind for e in events)
    if kind == "private":
        expected = compute_epsilon(CONFIG.privacy, CONFIG.accountant).epsilon
        assert epochs[-1].epsilon == pytest.approx(expected, rel=1e-9)
        assert finished.final["epsilon"] == pytest.approx(expected, rel=1e-9)
    else:
        assert all(e.epsilon is None for e in epochs)


def test_should_stop_cancels(trainer):
    events = list(trainer(CONFIG, "private", should_stop=lambda: True))
    assert isinstance(events[-1], Finished) and events[-1].status == "cancelled"
    assert not any(isinstance(e, EpochMetrics) and e.epoch == len(run_plan(CONFIG)) for e in events)


def test_progress_starts_at_step_one_with_the_loss_so_far(trainer):
    progress = [e for e in trainer(CONFIG, "private") if isinstance(e, Progress)]
    assert [p.step for p in progress[:2]] == [0, 1]  # the first chart points come before any epoch ends
    assert [p.step for p in progress] == sorted({p.step for p in progress})
    assert all(p.loss is not None and p.loss > 0 for p in progress)


@pytest.mark.parametrize("accountant", ["pld", "rdp-legacy"])
def test_epsilon_uses_the_configured_accountant(trainer, accountant):
    from dataclasses import replace

    config = replace(CONFIG, accountant=accountant)
    finished = list(trainer(config, "private"))[-1]
    assert finished.final["epsilon"] == pytest.approx(compute_epsilon(config.privacy, accountant).epsilon, rel=1e-9)
