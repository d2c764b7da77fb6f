"""A run that did not finish says what happened to it: the exception, or which process died."""

import subprocess
import sys
import types

from dpviz.cli.main import main
from dpviz.runs import launcher
from dpviz.runs.store import SqliteRunStore
from dpviz.training.config import TrainConfig
from dpviz.training.events import EpochMetrics, Finished

CONFIG = TrainConfig(dataset="synthetic", dataset_size=300, batch_size=60, epochs=2, model="logreg", audit=False)


def dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def test_a_dead_cli_run_and_a_dead_worker_are_named_for_what_died(tmp_path):
    store = SqliteRunStore(tmp_path)
    cli_pid, worker_pid = dead_pid(), dead_pid()
    cli_run = store.create_run(config=CONFIG.to_dict(), kind="private", status="running", pid=cli_pid)
    worker_run = store.create_run(config=CONFIG.to_dict(), kind="private", status="running", pid=worker_pid)
    store.register_worker(worker_pid)
    launcher.reap(store)
    assert "`python -m dpviz train` process" in store.get(cli_run).error
    assert "worker process" in store.get(worker_run).error
    assert store.get(cli_run).status == store.get(worker_run).status == "failed"


def test_an_exception_in_training_fails_the_stored_runs_with_its_message(tmp_path, monkeypatch, capsys):
    def broken(*args, **kwargs):
        raise RuntimeError("out of patience")
        yield

    engine = types.ModuleType("dpviz.training.engine")
    engine.EpochMetrics, engine.Finished, engine.train, engine.train_pair = EpochMetrics, Finished, broken, broken
    monkeypatch.setitem(sys.modules, "dpviz.training.engine", engine)
    argv = ["--home", str(tmp_path), "train", "--dataset", "synthetic", "--dataset-size", "300", "--store"]
    assert main(argv) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["error: training failed: RuntimeError: out of patience"]
    runs = SqliteRunStore(tmp_path).list()
    assert len(runs) == 2 and all(r.status == "failed" and r.error == "RuntimeError: out of patience" for r in runs)


def test_queued_runs_are_picked_up_by_the_next_command_that_opens_the_store(tmp_path, monkeypatch, capsys):
    import time

    monkeypatch.setenv("DPVIZ_TRAINER", "dpviz.training.fake:train")
    monkeypatch.setenv("DPVIZ_FAKE_STEP_SECONDS", "0")
    store = SqliteRunStore(tmp_path)
    run_id = store.create_run(config=CONFIG.to_dict(), kind="private")  # queued, and no worker alive
    assert main(["--home", str(tmp_path), "runs", "list"]) == 0
    deadline = time.time() + 60
    while time.time() < deadline and store.get(run_id).status != "completed":
        time.sleep(0.1)
    assert store.get(run_id).status == "completed"


def test_the_queue_has_a_cap_per_store(tmp_path, monkeypatch):
    import pytest

    from dpviz.validation import ValidationError

    monkeypatch.setenv("DPVIZ_MAX_QUEUED", "3")
    monkeypatch.setattr(launcher, "ensure_workers", lambda store: 0)  # keep the runs queued
    store = SqliteRunStore(tmp_path)
    launcher.submit_pair(store, CONFIG)
    with pytest.raises(ValidationError) as err:
        launcher.submit_pair(store, CONFIG)
    assert err.value.field == "queue" and "at most 3" in err.value.message
    assert len(store.list(status="queued")) == 2  # nothing of the refused pair was queued
