"""A worker process: claims queued runs from the store one at a time and trains them.

Started as `python -m dpviz --home DIR worker`; never touches Streamlit. TensorFlow loads only
once a run is claimed. SIGTERM cancels the current run and stops the worker.
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
DEFAULT_TRAINER = "dpviz.training.engine:train"


def load_trainer():
    """The training function; DPVIZ_TRAINER=module:function swaps in a double for tests."""
    module, _, name = os.environ.get("DPVIZ_TRAINER", DEFAULT_TRAINER).partition(":")
    return getattr(importlib.import_module(module), name)


def run_worker(home=None) -> int:
    store = SqliteRunStore(home)
    pid = os.getpid()
    terminated = {"flag": False}
    signal.signal(signal.SIGTERM, lambda *_: terminated.update(flag=True))
    store.register_worker(pid)
    done = 0
    try:
        trainer = None
        while not terminated["flag"]:
            run = store.claim_next(pid)
            if run is None:
                break
            if trainer is None:
                trainer = load_trainer()
                _configure_threads()
            execute(store, run, trainer, terminated)
            done += 1
    finally:
        store.unregister_worker(pid)
    return done


def _configure_threads() -> None:
    if os.environ.get("DPVIZ_TRAINER", DEFAULT_TRAINER) != DEFAULT_TRAINER:
        return
    from dpviz.runs.launcher import max_workers
    from dpviz.training.engine import configure_threads

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
