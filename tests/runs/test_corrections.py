"""Stored figures an older dpviz got wrong are corrected once, and nothing else is touched."""

import json
import math
import sqlite3

import pytest

from dpviz.runs import corrections
from dpviz.runs.store import SqliteRunStore as RunStore
from dpviz.training.config import TrainConfig

FIXED = TrainConfig(dataset="synthetic", dataset_size=300, batch_size=50, epochs=2, model="logreg", sampler="fixed")
POISSON = TrainConfig(dataset="synthetic", dataset_size=300, batch_size=50, epochs=2, model="logreg")


def stored_as_before(home, config: TrainConfig, kind="private", *, audit=True) -> str:
    """A run as a dpviz before the correction stored it: epsilon 1.0 at every epoch, and in its final."""
    store = RunStore(home)
    run_id = store.create_run(config=config.to_dict(), kind=kind, status="running")
    for epoch, steps in ((1, 6), (2, 12)):
        store.add_epoch(run_id, epoch, {"epsilon": 1.0, "steps": steps, "test_accuracy": 0.5})
    final = {"final": {"epoch": 2, "steps": 12, "epsilon": 1.0, "test_accuracy": 0.5}, "sampler": config.sampler}
    if audit:
        final["audit"] = {"theoretical_epsilon": 1.0, "epsilon_lower": 0.1}
    store.finish(run_id, "completed", final=final)
    return run_id


def reopen_as_an_old_store(home):
    with sqlite3.connect(home / "runs.sqlite3") as db:
        db.execute("DELETE FROM meta WHERE key = ?", (corrections.FIXED_EPSILON_2C,))
    store = RunStore(home)
    store.ensure_created()
    return store


def test_fixed_runs_get_the_epsilon_the_engine_now_reports_and_nothing_else_changes(tmp_path):
    fixed, poisson = stored_as_before(tmp_path, FIXED), stored_as_before(tmp_path, POISSON)
    baseline = stored_as_before(tmp_path, FIXED, "baseline", audit=False)
    store = reopen_as_an_old_store(tmp_path)
    expected = {steps: corrections.fixed_epsilon_at(FIXED.to_dict(), steps) for steps in (6, 12)}
    assert expected[12] > expected[6] > 1.0
    assert store.metrics(fixed)["epsilon"] == [(1, pytest.approx(expected[6])), (2, pytest.approx(expected[12]))]
    run = store.get(fixed)
    assert run.final["final"]["epsilon"] == pytest.approx(expected[12])
    assert run.final["audit"]["theoretical_epsilon"] == pytest.approx(expected[12])
    assert run.final["audit"]["epsilon_lower"] == 0.1 and store.metrics(fixed)["test_accuracy"] == [(1, 0.5), (2, 0.5)]
    for untouched in (poisson, baseline):
        assert store.metrics(untouched)["epsilon"] == [(1, 1.0), (2, 1.0)]
        assert store.get(untouched).final["final"]["epsilon"] == 1.0


def test_the_correction_is_made_once(tmp_path):
    fixed = stored_as_before(tmp_path, FIXED)  # a new store: marked corrected at its first write
    assert RunStore(tmp_path).metrics(fixed)["epsilon"] == [(1, 1.0), (2, 1.0)]
    store = reopen_as_an_old_store(tmp_path)
    corrected = store.metrics(fixed)["epsilon"]
    store.add_epoch(fixed, 3, {"epsilon": 7.0, "steps": 18})  # written by the current dpviz
    RunStore(tmp_path).ensure_created()
    assert RunStore(tmp_path).metrics(fixed)["epsilon"] == [*corrected, (3, 7.0)]


def test_a_run_that_cannot_be_read_is_kept_as_stored_and_the_store_stays_usable(tmp_path):
    fixed = stored_as_before(tmp_path, FIXED)
    broken = stored_as_before(tmp_path, FIXED)
    with sqlite3.connect(tmp_path / "runs.sqlite3") as db:
        bad = {**FIXED.to_dict(), "batch_size": "many"}
        db.execute("UPDATE runs SET config = ? WHERE id = ?", (json.dumps(bad), broken))
    store = reopen_as_an_old_store(tmp_path)
    assert store.metrics(broken)["epsilon"] == [(1, 1.0), (2, 1.0)]
    assert store.metrics(fixed)["epsilon"][1][1] > 1.0
    assert store.create_run(config=POISSON.to_dict(), kind="private")


def test_a_study_cost_dp_accounting_cannot_bound_claims_no_epsilon():
    from dpviz.tuning.config import TuneConfig

    config = TuneConfig(epochs=2, batch_size=128, trials_mean=3, sampler="fixed")
    cost = corrections.corrected_study_cost(config, {"noise_multiplier": 0.0, "epsilon_total": 0.0})
    assert cost["epsilon_total"] == math.inf and cost["epsilon_per_trial"] == math.inf
    assert cost["epsilon_as_stored"]["epsilon_total"] == 0.0
    assert corrections.corrected_study_cost(config, cost) is None  # marked: corrected once
    assert corrections.corrected_study_cost(TuneConfig(epochs=2, batch_size=128), {"noise_multiplier": 1.0}) is None
