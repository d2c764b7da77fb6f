"""A worker process: claims queued runs from the store one at a time and trains them.

Started as `python -m dpviz --home DIR worker [--warm]`; never touches Streamlit. A worker keeps
TensorFlow loaded for `idle_seconds()` after its last run (a warm worker loads it before any run
is queued), so the next "Train" starts at once instead of after a 3-6 s import. SIGTERM cancels the
current run and stops the worker.
"""

from __future__ import annotations

import importlib
import os
import signal
import time
import traceback

from dpviz.runs.recorder import Recorder
from dpviz.runs.store import SqliteRunStore
from dpviz.training.config import TrainConfig

CANCEL_POLL_SECONDS = 0.5
QUEUE_POLL_SECONDS = 0.1
DEFAULT_TRAINER = "dpviz.training.engine:train"
IDLE_SECONDS = 300.0


def seconds_from_env(name: str, default: float) -> float:
    """A duration from the environment variable `name`: at least 0, `default` when unset or not a number."""
    try:
        return max(0.0, float(os.environ[name]))
    except (KeyError, ValueError):
        return default


def idle_seconds() -> float:
    """How long a worker waits for more runs with its trainer loaded (DPVIZ_WORKER_IDLE_SECONDS, default
    300). A trainer double loads nothing worth keeping warm, so with one the default is 0."""
    real = os.environ.get("DPVIZ_TRAINER", DEFAULT_TRAINER) == DEFAULT_TRAINER
    return seconds_from_env("DPVIZ_WORKER_IDLE_SECONDS", IDLE_SECONDS if real else 0.0)


def load_trainer():
    """The training function; DPVIZ_TRAINER=module:function swaps in a double for tests."""
    module, _, name = os.environ.get("DPVIZ_TRAINER", DEFAULT_TRAINER).partition(":")
    return getattr(importlib.import_module(module), name)


def run_worker(home=None, *, warm: bool = False) -> int:
    """Train queued runs until none has been queued for `idle_seconds()`; returns how many it trained.

    `warm` loads the trainer (TensorFlow) and runs one tiny step before any run is queued.
    """
    store = SqliteRunStore(home)
    pid = os.getpid()
    terminated = {"flag": False}
    signal.signal(signal.SIGTERM, lambda *_: terminated.update(flag=True))
    store.register_worker(pid)
    done = 0
    try:
        trainer = None
        if warm:
            trainer = _load()
            print(f"worker {pid} warm: ready", flush=True)
        idle_since = time.monotonic()
        while not terminated["flag"]:
            run = store.claim_next(pid) if store.list(status="queued", limit=1) else None
            if run is None:
                if time.monotonic() - idle_since >= idle_seconds():
                    break
                time.sleep(QUEUE_POLL_SECONDS)
                continue
            if trainer is None:
                trainer = _load()
            execute(store, run, trainer, terminated)
            done += 1
            idle_since = time.monotonic()
    finally:
        store.unregister_worker(pid)
    return done


def _load():
    trainer = load_trainer()
    _configure_threads()
    warm_up = getattr(importlib.import_module(trainer.__module__), "warm_up", None)
    if warm_up is not None:
        warm_up()
    return trainer


def _configure_threads() -> None:
    if os.environ.get("DPVIZ_TRAINER", DEFAULT_TRAINER) != DEFAULT_TRAINER:
        return
    from dpviz.runs.launcher import max_workers
    from dpviz.training import devices
    from dpviz.training.engine import configure_threads

    devices.setup()  # one GPU per worker, round robin on $DPVIZ_WORKER_SLOT; memory growth
    configure_threads((os.cpu_count() or 1) // max_workers() or 1)


def execute(store: SqliteRunStore, run, trainer, terminated: dict) -> None:
    recorder = Recorder(store, {run.kind: run.id})
    last_check = [0.0, False]

    def should_stop() -> bool:
        if terminated["flag"]:
            return True
        now = time.monotonic()
        if now - last_check[0] >= CANCEL_POLL_SECONDS:
            last_check[0], last_check[1] = now, store.cancel_requested(run.id)
        return last_check[1]

    try:
        config = TrainConfig.from_dict(run.config)
        for event in trainer(config, run.kind, should_stop=should_stop):
            recorder.record(event)
    except Exception as err:  # the run fails; the worker and the store carry on
        store.finish(run.id, "failed", error=f"{type(err).__name__}: {err}", only_if_active=True)
        traceback.print_exc()
    else:
        store.finish(run.id, "failed", error="the trainer stopped without a final status", only_if_active=True)
