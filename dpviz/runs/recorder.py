"""Writes a training run's events into the run store (used by workers and `train --store`)."""

from __future__ import annotations

import math
import os
import time

from dpviz.runs.store import SqliteRunStore
from dpviz.training.events import EpochMetrics, Finished, Progress

HEARTBEAT_SECONDS = 0.3
MAX_TRACE = 400  # per-step loss points kept per run (thinned to every other one beyond)


class Recorder:
    def __init__(self, store: SqliteRunStore, run_ids: dict[str, str]):
        self.store = store
        self.run_ids = run_ids
        self._last_beat: dict[str, float] = {}
        self._trace: dict[str, list] = {}
        self._first: dict[str, tuple[int, float]] = {}  # (step, time) of the first Progress: the step rate

    @classmethod
    def open(cls, home, config, kinds) -> Recorder:
        """New running rows for a command-line run (it trains in this process)."""
        store = SqliteRunStore(home)
        group = None
        ids = {}
        for kind in kinds:
            ids[kind] = store.create_run(
                config=config.to_dict(), kind=kind, group_id=group, status="running", pid=os.getpid()
            )
            group = group or ids[kind]
        return cls(store, ids)

    def record(self, event) -> None:
        run_id = self.run_ids[event.run]
        if isinstance(event, Progress):
            now = time.monotonic()
            trace = self._trace.setdefault(run_id, [])
            if event.loss is not None and math.isfinite(event.loss):
                trace.append([event.step, round(event.loss, 5)])
                if len(trace) > MAX_TRACE:
                    trace[:] = trace[::2]
            # the rate counts from step 1: the step-0 point comes before the step is compiled
            first_step, first_time = self._first.setdefault(run_id, (event.step, now)) if event.step else (0, now)
            beat = now - self._last_beat.get(run_id, 0) >= HEARTBEAT_SECONDS
            if beat or event.step == event.total_steps or len(trace) <= 2:
                self._last_beat[run_id] = now
                progress = {"epoch": event.epoch, "step": event.step, "total_steps": event.total_steps, "trace": trace}
                if first_step and event.step > first_step and now > first_time:
                    # steps per second since the first step: evaluations included, start-up (imports, tracing) not
                    progress["steps_per_second"] = (event.step - first_step) / (now - first_time)
                self.store.heartbeat(run_id, progress)
        elif isinstance(event, EpochMetrics):
            values = {k: v for k, v in event.to_dict().items() if k not in ("run", "epoch")}
            self.store.add_epoch(run_id, event.epoch, values)
        elif isinstance(event, Finished):
            self.store.finish(run_id, event.status, error=event.error, final=event.to_dict(), device=event.device)

    def fail_all(self, error: str, status: str = "failed") -> None:
        for run_id in self.run_ids.values():
            self.store.finish(run_id, status, error=error, only_if_active=True)
