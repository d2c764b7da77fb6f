"""Studies end to end with the trainer double and local worker processes (real store, real Optuna)."""

import math

import numpy as np
import pytest

from dpviz.runs.store import SqliteRunStore
from dpviz.tuning.config import TuneConfig
from dpviz.tuning.study import list_studies, load, request_cancel, run_study


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("DPVIZ_TRAINER", "dpviz.training.fake:train")
    monkeypatch.setenv("DPVIZ_FAKE_STEP_SECONDS", "0")
    monkeypatch.setenv("DPVIZ_MAX_WORKERS", "2")
    return tmp_path


SMALL = dict(epochs=2, batch_size=128, trials_mean=3, seed=4)


def test_accounted_study_runs_the_drawn_number_and_chooses_by_validation(home):
    config = TuneConfig(**SMALL)
    seen = []
    record = run_study(config, home=home, on_trial=seen.append)
    assert record.status == "completed"
    assert record.trials_drawn == config.count.sample(np.random.default_rng(4))  # drawn from the seed, once
    assert len(record.finished) == record.trials_drawn == len(seen)
    best = record.best
    scored = [t for t in record.trials if t.validation_accuracy is not None]
    assert best.validation_accuracy == max(t.validation_accuracy for t in scored)  # validation, not test, chooses
    summary = record.summary()
    assert summary["epsilon_total"] == pytest.approx(3.0, abs=0.03) and summary["epsilon_total"] <= 3.0
    assert summary["epsilon_per_trial"] < summary["epsilon_total"]
    assert (summary["validation_size"], summary["train_size"], summary["test_size"]) == (287, 1150, 360)
    store = SqliteRunStore(home)
    runs = store.list(sweep_id=record.id)
    private = [r for r in runs if r.kind == "private"]
    assert len(private) == record.trials_drawn and all(r.status == "completed" for r in runs)
    assert {t.run_id for t in record.trials} == {r.id for r in private}
    assert all(r.config["noise_multiplier"] == summary["noise_multiplier"] for r in private)  # one σ for all
    # every trial's run trains on the training split only: the validation rows are held out
    assert all(r.config["validation_size"] == 287 for r in private)
    # a baseline per distinct schedule (learning rate changes it; clip norm does not)
    baselines = [r for r in runs if r.kind == "baseline"]
    assert len(baselines) == len({(r.config["learning_rate"], r.config["momentum"]) for r in private})


def test_studies_survive_a_restart_and_are_listed(home):
    record = run_study(TuneConfig(**SMALL, name="first"), home=home)
    again = load(home, record.id[:10])  # a new reader, as after a restart
    assert again.summary() == {**record.summary(), "wall_seconds": again.summary()["wall_seconds"]}
    assert [r.id for r in list_studies(home)] == [record.id] and again.config.name == "first"


def test_exploration_claims_no_total_epsilon(home):
    record = run_study(TuneConfig(**SMALL, search="tpe"), home=home)
    summary = record.summary()
    assert summary["epsilon_total"] is None and "no ε is claimed" in summary["note"]
    assert summary["trials_run"] == 3 and summary["search"] == "tpe"


def test_cancelled_study_claims_no_total_epsilon(home, monkeypatch):
    monkeypatch.setenv("DPVIZ_FAKE_STEP_SECONDS", "0.05")
    config = TuneConfig(epochs=30, batch_size=128, trials_mean=4, trials_shape="poisson", seed=1)

    def cancel_at_start(record):
        request_cancel(home, record.id)

    record = run_study(config, home=home, on_start=cancel_at_start)
    assert record.status == "cancelled" and record.epsilon_total is None
    assert "no ε is claimed" in record.summary()["note"]
    assert not any(r.active for r in SqliteRunStore(home).list())


def test_a_poisson_draw_of_zero_trials_reports_nothing(home, monkeypatch):
    import dpviz.privacy.tuning as tuning

    monkeypatch.setattr(tuning.TrialCount, "sample", lambda self, rng: 0)
    record = run_study(TuneConfig(**{**SMALL, "trials_shape": math.inf}), home=home)
    assert record.status == "completed" and record.trials_drawn == 0 and record.best is None
    assert record.summary()["best"] is None


@pytest.mark.slow
def test_a_study_on_a_local_ray_instance_writes_every_trial_into_the_store(home, monkeypatch):
    monkeypatch.setenv("RAY_AUTH_MODE", "disabled")
    record = run_study(TuneConfig(**SMALL), home=home, backend="ray")
    assert record.status == "completed" and record.backend == "ray"
    runs = SqliteRunStore(home).list(sweep_id=record.id)
    assert len([r for r in runs if r.kind == "private"]) == record.trials_drawn == len(record.finished)
    assert all(r.status == "completed" for r in runs)  # baselines too: the driver waits for them
    assert all(SqliteRunStore(home).metrics(r.id).get("test_accuracy") for r in runs)  # epoch metrics came back


def test_an_accounted_study_has_a_statement_of_the_whole_search_and_exploration_none(home):
    from dpviz.privacy.statement import render
    from dpviz.tuning.study import study_statement

    record = run_study(TuneConfig(**SMALL), home=home)
    data = study_statement(record)
    assert data["guarantee"]["epsilon"] == record.epsilon_total <= 3.0
    assert data["mechanism"]["noise_multiplier"] == record.cost["noise_multiplier"]
    assert any("validation" in item for item in data["does_not_cover"])
    # what the whole search rules out: looser than one trial's bound, never below chance
    from dpviz.privacy.attack_bounds import attack_bounds

    bounds = data["attack_bounds"]
    params = record.config.privacy.replace(noise_multiplier=record.cost["noise_multiplier"])
    one = attack_bounds(params)
    assert bounds["profile"] == "rdp" and "whole search" in bounds["reading"]
    assert 0.01 < one.tpr_at[0.01] <= bounds["tpr_at_fpr"]["0.01"] < 1 and one.advantage < bounds["advantage"] < 1
    assert "What it rules out" in render(data, "md")
    assert "RepeatAndSelect" in render(data, "md") and data["run"]["trials_drawn"] == record.trials_drawn
    assert study_statement(run_study(TuneConfig(**SMALL, search="tpe"), home=home)) is None


def _open_storage(home) -> int:
    from dpviz.tuning.study import storage

    storage(home)
    return 1


def test_processes_opening_a_new_study_storage_at_once_do_not_collide(tmp_path):
    """The Tune page polls while the first study's driver creates Optuna's tables: openings take turns."""
    import multiprocessing

    with multiprocessing.get_context("spawn").Pool(4) as pool:
        assert sum(pool.map(_open_storage, [tmp_path] * 8)) == 8


def test_a_fixed_sampler_study_stored_before_the_2c_fix_is_corrected_once(home):
    import optuna

    from dpviz.privacy.samplers import FIXED_2C
    from dpviz.privacy.tuning import search_cost
    from dpviz.tuning.study import storage, study_statement

    record = run_study(TuneConfig(**SMALL, sampler="fixed"), home=home)
    assert record.cost[FIXED_2C] and "Corrected" not in record.summary()["note"]
    sigma = record.cost["noise_multiplier"]
    # as an older dpviz stored it: no mark, and the under-stated figures
    old = {k: v for k, v in record.cost.items() if k != FIXED_2C}
    old.update(epsilon_total=1.2, epsilon_per_trial=0.6)
    raw = optuna.load_study(study_name=record.id, storage=storage(home))
    raw.set_user_attr("cost", old)

    again = load(home, record.id)
    expected = search_cost(again.config.privacy.replace(noise_multiplier=sigma), again.config.count, "fixed")
    assert again.cost["noise_multiplier"] == sigma  # what the trials trained with is kept
    assert again.epsilon_total == pytest.approx(expected.epsilon_total) and again.epsilon_total > 1.2
    assert again.cost["epsilon_per_trial"] == pytest.approx(expected.epsilon_per_trial)
    assert again.cost["epsilon_as_stored"] == {"epsilon_total": 1.2, "epsilon_per_trial": 0.6}
    note = again.summary()["note"]
    assert "Corrected" in note and "stated 1.2" in note and f"σ = {sigma:g}" in note
    assert "Corrected" in study_statement(again)["guarantee"]["note"]
    stored = optuna.load_study(study_name=record.id, storage=storage(home)).user_attrs["cost"]
    assert stored[FIXED_2C] and stored["epsilon_total"] == pytest.approx(expected.epsilon_total)  # written back
    assert load(home, record.id).cost == stored  # and not corrected again
    # a stored σ at which dp-accounting bounds the search by nothing finite: no ε is claimed at all
    raw.set_user_attr("cost", {**old, "noise_multiplier": 0.0})
    unbounded = load(home, record.id)
    assert unbounded.epsilon_total is None and study_statement(unbounded) is None
    assert "no ε is claimed" in unbounded.summary()["note"] and unbounded.summary()["epsilon_total"] is None
    assert "no finite bound" in unbounded.summary()["note"] and "given here" not in unbounded.summary()["note"]


def test_a_poisson_study_is_never_corrected(home):
    import optuna

    from dpviz.tuning.study import storage

    record = run_study(TuneConfig(**SMALL), home=home)
    raw = optuna.load_study(study_name=record.id, storage=storage(home))
    raw.set_user_attr("cost", {**record.cost, "epsilon_total": 1.0})
    assert load(home, record.id).epsilon_total == 1.0 and "epsilon_as_stored" not in load(home, record.id).cost
