"""Run store contract, workers and recovery. Workers use the fake trainer: no TensorFlow here."""

import os
import signal
import subprocess
import sys
import threading
import time

import pytest

from dpviz.runs import launcher
from dpviz.runs.store import SqliteRunStore
from dpviz.training.config import TrainConfig
from tests.conftest import ROOT

CONFIG = TrainConfig(dataset="synthetic", dataset_size=200, batch_size=50, epochs=3, model="logreg")
STORES = [SqliteRunStore]  # every implementation runs the same contract


@pytest.fixture(params=STORES)
def store(request, tmp_path):
    return request.param(tmp_path / "home")


@pytest.fixture
def fake_env(monkeypatch):
    monkeypatch.setenv("DPVIZ_TRAINER", "dpviz.training.fake:train")
    monkeypatch.setenv("DPVIZ_FAKE_STEP_SECONDS", "0.005")
    monkeypatch.setenv("DPVIZ_MAX_WORKERS", "2")


def wait_for(predicate, timeout=30.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


# ------------------------------------------------------------------ contract


def test_create_claim_record_finish(store):
    run_id = store.create_run(config=CONFIG.to_dict(), kind="private")
    assert store.get(run_id).status == "queued" and store.get(run_id).group_id == run_id
    claimed = store.claim_next(pid=123)
    assert claimed.id == run_id and claimed.status == "running" and claimed.pid == 123
    assert store.claim_next(pid=124) is None
    store.heartbeat(run_id, {"epoch": 1, "step": 2, "total_steps": 12})
    store.add_epoch(run_id, 1, {"test_accuracy": 0.5, "epsilon": 1.25, "note": "ignored"})
    store.add_epoch(run_id, 2, {"test_accuracy": 0.6, "epsilon": None})
    assert store.metrics(run_id) == {"test_accuracy": [(1, 0.5), (2, 0.6)], "epsilon": [(1, 1.25), (2, None)]}
    assert store.finish(run_id, "completed", final={"x": 1}, device="CPU")
    run = store.get(run_id)
    assert run.status == "completed" and run.final == {"x": 1} and run.device == "CPU" and run.progress["step"] == 2
    assert not store.finish(run_id, "failed", only_if_active=True)


def test_queue_is_fifo_and_groups_pairs(store):
    first = store.create_run(config={}, kind="private")
    second = store.create_run(config={}, kind="baseline", group_id=first)
    assert [store.claim_next(1).id, store.claim_next(2).id] == [first, second]
    assert {r.id for r in store.list(group_id=first)} == {first, second}


def test_cancel_queued_is_immediate_and_running_is_flagged(store):
    queued = store.create_run(config={}, kind="private")
    running = store.create_run(config={}, kind="private")
    store.claim_next(1)  # claims `queued` (oldest)
    store.request_cancel(running)
    assert store.get(running).status == "cancelled"
    store.request_cancel(queued)
    assert store.get(queued).status == "running" and store.cancel_requested(queued)


def test_parameterised_sql_survives_hostile_text(store):
    nasty = "x'); DROP TABLE runs; --"
    run_id = store.create_run(config={"dataset": nasty}, kind="private", sweep_id=nasty)
    store.finish(run_id, "failed", error=nasty)
    assert store.get(run_id).error == nasty and store.list(sweep_id=nasty)[0].id == run_id


def test_delete_removes_metrics(store):
    run_id = store.create_run(config={}, kind="private")
    store.add_epoch(run_id, 1, {"a": 1.0})
    store.delete(run_id)
    assert store.get(run_id) is None and store.metric_rows([run_id]) == []


def test_concurrent_writers_do_not_lock(store):
    ids = [store.create_run(config={}, kind="private") for _ in range(4)]
    errors = []

    def write(run_id):
        try:
            other = SqliteRunStore(store.home)
            for epoch in range(60):
                other.add_epoch(run_id, epoch, {"v": float(epoch)})
                other.heartbeat(run_id, {"step": epoch})
                other.list()
        except Exception as err:  # pragma: no cover - the assertion reports it
            errors.append(err)

    threads = [threading.Thread(target=write, args=(i,)) for i in ids]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert all(len(store.metrics(i)["v"]) == 60 for i in ids)


def test_reopening_keeps_runs_and_schema_version(store):
    run_id = store.create_run(config={"a": 1}, kind="private")
    again = SqliteRunStore(store.home)
    assert again.get(run_id).config == {"a": 1}


# ------------------------------------------------------------------ workers


def test_worker_runs_a_pair_end_to_end(tmp_path, fake_env):
    store = SqliteRunStore(tmp_path)
    ids = launcher.submit_pair(store, CONFIG)
    assert wait_for(lambda: all(store.get(i).status == "completed" for i in ids.values()))
    private = store.get(ids["private"])
    assert store.metrics(private.id)["epsilon"][-1][1] > 0
    assert len(store.metrics(private.id)["test_accuracy"]) == 3
    assert store.get(ids["baseline"]).group_id == private.id
    assert wait_for(lambda: not store.worker_pids())


def test_real_training_worker_end_to_end(tmp_path, monkeypatch):
    """The real engine in a real worker process, on a tiny synthetic job."""
    monkeypatch.delenv("DPVIZ_TRAINER", raising=False)
    monkeypatch.setenv("DPVIZ_WORKER_IDLE_SECONDS", "0")  # leave once the queue is empty, instead of staying warm
    store = SqliteRunStore(tmp_path)
    config = TrainConfig(dataset="synthetic", dataset_size=200, batch_size=50, epochs=1, model="logreg")
    run_id = store.create_run(config=config.to_dict(), kind="private")
    subprocess.run(
        [sys.executable, "-m", "dpviz", "--home", str(tmp_path), "worker"],
        cwd=ROOT,
        check=True,
        timeout=120,
        capture_output=True,
    )
    run = store.get(run_id)
    from dpviz.runs.launcher import max_workers

    threads = max(1, (os.cpu_count() or 1) // max_workers())  # a worker's share of the cores, recorded
    assert run.status == "completed" and run.device == f"CPU, {threads} thread{'s' if threads != 1 else ''} per op"
    assert store.metrics(run_id)["test_accuracy"][0][1] > 0.1


def test_killed_worker_marks_run_failed_and_other_runs_finish(tmp_path, fake_env, monkeypatch):
    monkeypatch.setenv("DPVIZ_FAKE_STEP_SECONDS", "0.05")
    store = SqliteRunStore(tmp_path)
    victim = launcher.submit_pair(store, CONFIG, baseline=False)["private"]
    survivor = launcher.submit_pair(store, CONFIG, baseline=False)["private"]
    assert wait_for(lambda: store.get(victim).status == "running" and store.get(victim).progress)
    os.kill(store.get(victim).pid, signal.SIGKILL)
    assert wait_for(lambda: launcher.reap(store) or store.get(victim).status == "failed")
    assert "died" in store.get(victim).error
    assert len(store.metrics(victim).get("test_accuracy", [])) <= 3
    assert wait_for(lambda: store.get(survivor).status == "completed")


def test_cancel_stops_a_running_run(tmp_path, fake_env, monkeypatch):
    monkeypatch.setenv("DPVIZ_FAKE_STEP_SECONDS", "0.05")
    store = SqliteRunStore(tmp_path)
    run_id = launcher.submit_pair(store, CONFIG, baseline=False)["private"]
    assert wait_for(lambda: store.get(run_id).status == "running")
    launcher.cancel(store, run_id)
    assert wait_for(lambda: store.get(run_id).status == "cancelled", timeout=10)


def test_queue_never_runs_more_than_k(tmp_path, fake_env, monkeypatch):
    monkeypatch.setenv("DPVIZ_MAX_WORKERS", "1")
    store = SqliteRunStore(tmp_path)
    ids = [launcher.submit_pair(store, CONFIG, baseline=False)["private"] for _ in range(3)]
    peak = 0
    while not all(store.get(i).status == "completed" for i in ids):
        peak = max(peak, len(store.list(status="running")))
        launcher.ensure_workers(store)
        time.sleep(0.02)
    assert peak == 1


def test_startup_recovery_marks_orphans_interrupted(tmp_path):
    store = SqliteRunStore(tmp_path)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    run_id = store.create_run(config={}, kind="private", status="running", pid=dead.pid)
    assert launcher.reap(store, startup=True) == [run_id]
    assert store.get(run_id).status == "interrupted"


# ------------------------------------------------------------------ sweeps


def test_sweep_of_four_runs_completes_grouped_with_one_shared_baseline(tmp_path, fake_env):
    from dpviz.compare.tables import runs_frame
    from dpviz.training.sweep import expand, parse_axis

    store = SqliteRunStore(tmp_path)
    configs = expand(CONFIG, [parse_axis("noise_multiplier", "0.5, 2"), parse_axis("clip_norm", "0.5, 1")])
    sweep_id = launcher.submit_sweep(store, configs)
    assert len(store.worker_pids()) <= 2
    assert wait_for(lambda: all(r.status == "completed" for r in store.list(sweep_id=sweep_id)), timeout=60)
    frame = runs_frame(store.list(sweep_id=sweep_id))
    private = frame[frame["kind"] == "private"]
    assert len(private) == 4 and (frame["kind"] == "baseline").sum() == 1
    assert set(zip(private["noise_multiplier"], private["clip_norm"])) == {
        (0.5, 0.5),
        (0.5, 1.0),
        (2.0, 0.5),
        (2.0, 1.0),
    }
    baseline = frame.loc[frame["kind"] == "baseline", "id"].item()
    assert (private["baseline_id"] == baseline).all()
    assert (
        private.set_index("noise_multiplier")["epsilon"].groupby(level=0).max()[2.0]
        < private.set_index("noise_multiplier")["epsilon"].groupby(level=0).min()[0.5]
    )


def test_cancel_sweep_stops_every_run(tmp_path, fake_env, monkeypatch):
    from dpviz.training.sweep import expand, parse_axis

    monkeypatch.setenv("DPVIZ_FAKE_STEP_SECONDS", "0.05")
    store = SqliteRunStore(tmp_path)
    sweep_id = launcher.submit_sweep(store, expand(CONFIG, [parse_axis("noise_multiplier", "0.5, 1, 2")]))
    assert wait_for(lambda: any(r.status == "running" for r in store.list(sweep_id=sweep_id)))
    assert launcher.cancel_sweep(store, sweep_id) == 4
    assert wait_for(lambda: all(r.status == "cancelled" for r in store.list(sweep_id=sweep_id)), timeout=15)


# ------------------------------------------------------------------ warm workers


def test_a_worker_waits_for_more_runs_then_leaves(store, fake_env, monkeypatch):
    monkeypatch.setenv("DPVIZ_WORKER_IDLE_SECONDS", "3")
    monkeypatch.setenv("DPVIZ_MAX_WORKERS", "1")
    first = launcher.submit_pair(store, CONFIG, baseline=False)["private"]
    assert wait_for(lambda: store.get(first).status == "completed")
    (worker,) = store.worker_pids()
    assert launcher.pid_alive(worker)  # idle, trainer loaded, waiting
    second = launcher.submit_pair(store, CONFIG, baseline=False)["private"]
    assert wait_for(lambda: store.get(second).status == "completed")
    assert store.get(second).pid == worker  # the waiting worker took it: no new process, no new import
    assert wait_for(lambda: not launcher.pid_alive(worker), timeout=15)
    assert store.worker_pids() == []


def test_keep_warm_starts_workers_before_any_run_and_only_where_they_stay(store, fake_env, monkeypatch):
    monkeypatch.delenv("DPVIZ_WORKER_IDLE_SECONDS", raising=False)
    assert launcher.keep_warm(store) == 0  # a trainer double: nothing worth keeping warm
    monkeypatch.setenv("DPVIZ_WORKER_IDLE_SECONDS", "2")
    store.ensure_created()
    assert launcher.keep_warm(store) == 2 and len(store.worker_pids()) == 2
    assert launcher.keep_warm(store) == 0  # already warm
    assert wait_for(lambda: "warm: ready" in (store.home / "worker.log").read_text())
    run_id = launcher.submit_pair(store, CONFIG, baseline=False)["private"]
    assert wait_for(lambda: store.get(run_id).status == "completed")
    assert wait_for(lambda: store.worker_pids() == [], timeout=15)


def test_the_first_warm_up_waits_so_that_the_first_page_is_drawn_first(store, fake_env, monkeypatch):
    monkeypatch.setenv("DPVIZ_WORKER_IDLE_SECONDS", "2")
    store.ensure_created()
    timer = launcher.keep_warm_later(store, delay=1.5)
    time.sleep(0.5)
    assert store.worker_pids() == []  # nothing started yet
    timer.join(timeout=10)
    assert len(store.worker_pids()) == 2
    assert wait_for(lambda: store.worker_pids() == [], timeout=15)


def test_a_run_submitted_before_the_warm_up_starts_at_once(store, fake_env, monkeypatch):
    monkeypatch.setenv("DPVIZ_WORKER_IDLE_SECONDS", "2")
    store.ensure_created()
    timer = launcher.keep_warm_later(store, delay=30)
    started = time.time()
    run_id = launcher.submit_pair(store, CONFIG, baseline=False)["private"]
    assert wait_for(lambda: store.get(run_id).status == "completed", timeout=20)
    assert time.time() - started < 20
    timer.cancel()


def test_no_warm_up_is_scheduled_where_workers_would_not_stay(store, fake_env, monkeypatch):
    monkeypatch.delenv("DPVIZ_WORKER_IDLE_SECONDS", raising=False)  # a trainer double: nothing to keep warm
    assert launcher.keep_warm_later(store, delay=0) is None


def test_the_warm_delay_is_read_from_the_environment(monkeypatch):
    monkeypatch.delenv("DPVIZ_WARM_DELAY_SECONDS", raising=False)
    assert launcher.warm_delay() == launcher.WARM_DELAY_SECONDS
    for raw, expected in (("0", 0.0), ("2.5", 2.5), ("-3", 0.0), ("soon", launcher.WARM_DELAY_SECONDS)):
        monkeypatch.setenv("DPVIZ_WARM_DELAY_SECONDS", raw)
        assert launcher.warm_delay() == expected


def test_progress_carries_a_loss_trace_and_a_step_rate(store, fake_env):
    run_id = launcher.submit_pair(store, CONFIG, baseline=False)["private"]
    assert wait_for(lambda: store.get(run_id).status == "completed")
    progress = store.get(run_id).progress
    steps = [step for step, _ in progress["trace"]]
    assert steps[:2] == [0, 1] and steps == sorted(steps) and progress["steps_per_second"] > 0
    assert all(loss > 0 for _, loss in progress["trace"])
