"""Every trial backend keeps one contract: submitted runs are in the store at once, reach a final status
while polled, and end cancelled when cancelled. Ray runs on a local instance (loopback, 2 CPUs)."""

import time

import pytest

from dpviz.runs.store import SqliteRunStore
from dpviz.training.config import TrainConfig
from dpviz.tuning.backends import LocalBackend, TrialBackend, create_backend
from dpviz.validation import ValidationError

CONFIG = TrainConfig(epochs=2, batch_size=128, validation_size=100, audit=False)


@pytest.fixture
def env(monkeypatch):
    monkeypatch.setenv("DPVIZ_TRAINER", "dpviz.training.fake:train")
    monkeypatch.setenv("DPVIZ_MAX_WORKERS", "2")
    monkeypatch.setenv("RAY_AUTH_MODE", "disabled")


@pytest.fixture(params=["local", pytest.param("ray", marks=pytest.mark.slow)])
def backend(request, tmp_path, env, monkeypatch):
    monkeypatch.setenv("DPVIZ_FAKE_STEP_SECONDS", "0.01")  # Ray passes its workers the environment at start
    store = SqliteRunStore(tmp_path)
    if request.param == "ray":
        from dpviz.tuning.ray_backend import RayBackend

        runner = RayBackend(store, num_cpus=2)
    else:
        runner = LocalBackend(store)
    yield runner, store
    runner.close()


def wait(runner, store, ids, timeout=90):
    deadline = time.time() + timeout
    while time.time() < deadline:
        runner.poll()
        runs = [store.get(i) for i in ids]
        if not any(r.active for r in runs):
            return runs
        time.sleep(0.1)
    raise AssertionError("runs still active")


def test_runs_are_stored_and_complete_with_their_metrics(backend):
    runner, store = backend
    assert isinstance(runner, TrialBackend) and runner.slots() >= 1
    ids = runner.submit(CONFIG, kinds=("private", "baseline"), sweep_id="study-test")
    assert {store.get(i).kind for i in ids.values()} == {"private", "baseline"}  # in the store at once
    runs = wait(runner, store, ids.values())
    assert all(r.status == "completed" and r.sweep_id == "study-test" for r in runs)
    private = store.get(ids["private"])
    assert store.get(ids["baseline"]).group_id == private.id
    assert private.final["final"]["validation_accuracy"] is not None and private.final["final"]["epsilon"] > 0
    assert [e for e, _ in store.metrics(private.id)["test_accuracy"]] == [1, 2]  # every epoch's metrics


def test_cancel_ends_the_run_cancelled(backend):
    runner, store = backend
    ids = runner.submit(TrainConfig(epochs=500, batch_size=128, audit=False), kinds=("private",), sweep_id="s")
    time.sleep(1.0)
    runner.poll()
    runner.cancel(list(ids.values()))
    (run,) = wait(runner, store, ids.values(), timeout=30)
    assert run.status == "cancelled"


def test_unknown_backend_and_unreachable_cluster_name_their_field(tmp_path):
    store = SqliteRunStore(tmp_path)
    with pytest.raises(ValidationError) as err:
        create_backend("slurm", store)
    assert err.value.field == "backend"


@pytest.mark.slow
def test_unreachable_ray_cluster_names_the_address(tmp_path, env):
    with pytest.raises(ValidationError) as err:
        create_backend("ray", SqliteRunStore(tmp_path), address="127.0.0.1:1")
    assert err.value.field == "ray_address"
