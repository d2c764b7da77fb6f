"""The queue: keeps up to K worker processes busy and notices the ones that died."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

from dpviz.runs.store import SqliteRunStore, StoreUnavailable
from dpviz.runs.worker import seconds_from_env
from dpviz.training.config import schedule_key
from dpviz.validation import ValidationError

ROOT = Path(__file__).resolve().parents[2]
STALE_HEARTBEAT_SECONDS = 600
_children: list[subprocess.Popen] = []


def max_workers() -> int:
    """Default: one worker per core (a private run and its baseline side by side on 2 cores)."""
    value = os.environ.get("DPVIZ_MAX_WORKERS")
    return max(1, int(value)) if value else max(1, os.cpu_count() or 1)


def pid_alive(pid: int | None) -> bool:
    if not pid:
        return False
    for child in list(_children):  # reap our own exited children so they do not linger as zombies
        if child.poll() is not None:
            _children.remove(child)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return True


def reap(store: SqliteRunStore, *, startup: bool = False) -> list[str]:
    """Mark runs whose process is gone: failed while the app runs, interrupted when found at start-up."""
    marked = []
    now = time.time()
    workers = set(store.worker_pids())
    for run in store.list(status="running"):
        dead = not pid_alive(run.pid)
        stale = run.heartbeat_at is not None and now - run.heartbeat_at > STALE_HEARTBEAT_SECONDS
        if dead or stale:
            # A run is trained by a worker the app started, or by `python -m dpviz train --store` itself.
            process = "worker process" if run.pid in workers else "`python -m dpviz train` process"
            if startup and run.pid in workers:
                status, error = "interrupted", "dpviz was restarted while this run was in progress"
            elif startup:
                status, error = "interrupted", f"the {process} (pid {run.pid}) that was training it died"
            elif dead:
                status, error = "failed", f"the {process} (pid {run.pid}) that was training it died"
            else:
                status, error = "failed", f"no heartbeat for {STALE_HEARTBEAT_SECONDS} s"
            if store.finish(run.id, status, error=error, only_if_active=True):
                marked.append(run.id)
    for pid in store.worker_pids():
        if not pid_alive(pid):
            store.unregister_worker(pid)
    return marked


def ensure_workers(store: SqliteRunStore) -> int:
    """Start workers for queued runs, never more than max_workers() at once. Returns how many started."""
    reap(store)
    alive = len(store.worker_pids())
    queued = len(store.list(status="queued"))
    started = 0
    for _ in range(max(0, min(max_workers() - alive, queued))):
        spawn_worker(store)
        started += 1
    return started


def keep_warm(store: SqliteRunStore) -> int:
    """Start warm workers (TensorFlow loaded, waiting for runs) up to max_workers(); returns how many started.

    Called when the app starts and on the Train page, so that "Train" does not wait for an import.
    Does nothing where workers would not stay (a trainer double, DPVIZ_WORKER_IDLE_SECONDS=0).
    """
    from dpviz.runs.worker import idle_seconds

    if idle_seconds() <= 0:
        return 0
    reap(store)
    missing = max(0, max_workers() - len(store.worker_pids()))
    for _ in range(missing):
        spawn_worker(store, warm=True)
    return missing


WARM_DELAY_SECONDS = 5.0


def warm_delay() -> float:
    """Seconds between the app's start and its first warm-up (DPVIZ_WARM_DELAY_SECONDS, default 5)."""
    return seconds_from_env("DPVIZ_WARM_DELAY_SECONDS", WARM_DELAY_SECONDS)


def keep_warm_later(store: SqliteRunStore, delay: float | None = None) -> threading.Timer | None:
    """`keep_warm` after `delay` seconds (default `warm_delay()`), on a daemon timer thread.

    The app's first page is drawn first: two workers starting Python and a 3-6 s TensorFlow import
    beside it delayed a fresh start's first epsilon by 0.1-0.6 s on 2 cores. A run submitted sooner
    does not wait for the timer: `submit_pair` starts its workers at once. None where workers would not
    stay (as `keep_warm`, decided now, not when the timer fires).
    """
    from dpviz.runs.worker import idle_seconds

    if idle_seconds() <= 0:
        return None

    def warm() -> None:
        with contextlib.suppress(StoreUnavailable, OSError):  # a store that cannot be used is the page's to report
            keep_warm(store)

    timer = threading.Timer(warm_delay() if delay is None else delay, warm)
    timer.daemon = True
    timer.start()
    return timer


def spawn_worker(store: SqliteRunStore, *, warm: bool = False) -> int:
    slot = str(len(store.worker_pids()))  # the worker's GPU, round robin, when there are GPUs
    with open(store.home / "worker.log", "ab") as log:  # the child keeps its own handle
        process = subprocess.Popen(
            [sys.executable, "-m", "dpviz", "--home", str(store.home), "worker", *(["--warm"] if warm else [])],
            cwd=ROOT,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            start_new_session=True,
            env={**os.environ, "DPVIZ_WORKER_SLOT": slot},
        )
    _children.append(process)
    store.register_worker(process.pid)
    return process.pid


def cancel(store: SqliteRunStore, run_id: str) -> None:
    """Queued: cancelled at once. Running: the worker stops within a second and marks it cancelled."""
    store.request_cancel(run_id)


def max_queued() -> int:
    """Runs that may wait in one store's queue at once (DPVIZ_MAX_QUEUED, default 200): a shared server
    cannot be made to queue unlimited work."""
    value = os.environ.get("DPVIZ_MAX_QUEUED")
    return max(1, int(value)) if value and value.isdigit() else 200


def _check_room(store: SqliteRunStore, adding: int) -> None:
    waiting = len(store.list(status="queued"))
    if waiting + adding > max_queued():
        raise ValidationError(
            "queue",
            f"holds {waiting} queued run(s) and this adds {adding}; at most {max_queued()} may wait at once "
            "(DPVIZ_MAX_QUEUED): wait for some to finish, or cancel them",
        )


def submit_pair(store: SqliteRunStore, config, *, sweep_id: str | None = None, baseline: bool = True) -> dict[str, str]:
    """Queue a private run and (optionally) its baseline as one group, then start workers.

    Raises:
      ValidationError: (field "queue") when the queue is full.
    """
    _check_room(store, 2 if baseline else 1)
    ids = {"private": store.create_run(config=config.to_dict(), kind="private", sweep_id=sweep_id)}
    if baseline:
        ids["baseline"] = store.create_run(
            config=config.to_dict(), kind="baseline", group_id=ids["private"], sweep_id=sweep_id
        )
    ensure_workers(store)
    return ids


def submit_sweep(store: SqliteRunStore, configs) -> str:
    """Queue every cell of a sweep plus one baseline per distinct schedule; returns the sweep id.

    Each baseline is queued right after the first cell that needs it, so the first finished pair
    can be compared while the rest of the grid trains.
    """
    configs = list(configs)
    _check_room(store, len(configs) + len({schedule_key(c.to_dict()) for c in configs}))
    sweep_id = "sweep-" + uuid.uuid4().hex[:8]
    queued_baselines = set()
    for config in configs:
        store.create_run(config=config.to_dict(), kind="private", sweep_id=sweep_id)
        key = schedule_key(config.to_dict())
        if key not in queued_baselines:
            queued_baselines.add(key)
            store.create_run(config=config.to_dict(), kind="baseline", sweep_id=sweep_id)
    ensure_workers(store)
    return sweep_id


def cancel_sweep(store: SqliteRunStore, sweep_id: str) -> int:
    """Cancel every unfinished run of a sweep; returns how many were asked to stop."""
    active = [run for run in store.list(sweep_id=sweep_id) if run.active]
    for run in active:
        store.request_cancel(run.id)
    return len(active)
