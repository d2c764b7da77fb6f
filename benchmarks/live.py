"""Click -> first chart point: seconds from queueing a digits pair to the first per-step loss in the store.

Through the path the Train page takes (`submit_pair`, worker processes, the run store), with warm
workers (TensorFlow already loaded, as the app keeps them) and cold ones (started for the run).

    .venv/bin/python benchmarks/live.py [--repeats 3]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import statistics
import tempfile
import time

from dpviz.runs.launcher import keep_warm, submit_pair
from dpviz.runs.store import SqliteRunStore
from dpviz.training.config import TrainConfig

CONFIG = TrainConfig(dataset="digits", model="mlp", epochs=2, batch_size=64, noise_multiplier=1.1)


def first_point(store: SqliteRunStore) -> tuple[float, float]:
    """Seconds to the private run's first loss point, and to both runs' end."""
    start = time.perf_counter()
    ids = submit_pair(store, CONFIG)
    first = None
    while True:
        runs = [store.get(i) for i in ids.values()]
        if first is None and runs[0].progress.get("trace"):
            first = time.perf_counter() - start
        if not any(r.active for r in runs):
            return first, time.perf_counter() - start
        time.sleep(0.02)


def wait_warm(store: SqliteRunStore, workers: int) -> None:
    """Until every warm worker has loaded TensorFlow (its log says so)."""
    deadline = time.time() + 60
    while time.time() < deadline:
        log = (store.home / "worker.log").read_text() if (store.home / "worker.log").exists() else ""
        if log.count("warm: ready") >= workers:
            return
        time.sleep(0.1)
    raise SystemExit("warm workers did not become ready within 60 s")


def stop_workers(store: SqliteRunStore) -> None:
    from dpviz.runs.launcher import pid_alive

    pids = store.worker_pids()
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    deadline = time.time() + 30
    while time.time() < deadline and any(pid_alive(pid) for pid in pids):
        time.sleep(0.05)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    results = {}
    for mode in ("cold", "warm"):
        firsts, totals = [], []
        for _ in range(args.repeats):
            with tempfile.TemporaryDirectory(ignore_cleanup_errors=True) as home:
                store = SqliteRunStore(home)
                store.ensure_created()
                if mode == "warm":
                    os.environ.pop("DPVIZ_WORKER_IDLE_SECONDS", None)
                    started = keep_warm(store)
                    wait_warm(store, started)
                else:
                    os.environ["DPVIZ_WORKER_IDLE_SECONDS"] = "0"
                first, total = first_point(store)
                firsts.append(first)
                totals.append(total)
                stop_workers(store)
        results[mode] = (statistics.median(firsts), statistics.median(totals))
        print(
            f"{mode:>4} workers: first loss point after {results[mode][0]:.2f} s, pair done after "
            f"{results[mode][1]:.2f} s (median of {args.repeats})"
        )
    print(f"warm / cold, time to first point: {results['warm'][0] / results['cold'][0]:.2f}x")


if __name__ == "__main__":
    main()
