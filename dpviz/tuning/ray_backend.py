"""Trials as Ray tasks (Ray schedules them; dpviz has no scheduler of its own).

Each run is one task that requests a CPU (or a GPU when the cluster has them) and trains with the same
trainer the local workers load. Its events come back through a Ray queue to this process, which writes
them into the run store here, so the store stays on the user's machine. Cancelling a run is
`ray.cancel` on its task. Without an address a local Ray instance is started (loopback only).
"""

from __future__ import annotations

import contextlib
import os
import time

from dpviz.runs.recorder import Recorder
from dpviz.runs.store import SqliteRunStore
from dpviz.training.config import TrainConfig
from dpviz.validation import ValidationError

HEARTBEAT_SECONDS = 5.0
FORWARDED_ENV = ("DPVIZ_TRAINER", "DPVIZ_FAKE_STEP_SECONDS", "TF_CPP_MIN_LOG_LEVEL", "DPVIZ_MAX_WORKERS")


def _train_task(config: dict, kind: str, run_id: str, queue) -> str:
    """Runs in a Ray worker: train one run and send each event back as (run id, event)."""
    from dpviz.runs.worker import load_trainer

    trainer = load_trainer()
    _configure_threads(trainer)
    import ray

    status, sent = "failed", None
    for event in trainer(TrainConfig.from_dict(config), kind):
        # not `queue.put`, which waits for the queue's actor at every event: calls from one caller to an actor
        # arrive in order, so the events are sent without waiting, and the last one is awaited
        sent = queue.actor.put_nowait.remote((run_id, event))
        status = getattr(event, "status", status)
    if sent is not None:
        ray.get(sent)
    return status


def _check_reachable(address: str, timeout: float = 3.0) -> None:
    """Ray retries an unreachable head for a minute or more: say at once when nothing listens there."""
    import socket

    target = address.removeprefix("ray://")
    host, _, port = target.rpartition(":")
    if address == "auto" or not host or not port.isdigit():
        return
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=timeout):
            pass
    except OSError as err:
        raise ValidationError(
            "ray_address",
            f"nothing answers at {address} ({err.strerror or err}): start the head with `ray start --head` "
            "and pass the address it prints",
        ) from None


_threads_set = []


def _configure_threads(trainer) -> None:
    """TensorFlow would use every core of the node in each task: keep it to the CPUs Ray assigned (once
    per worker process, before its first op), as local workers do."""
    if _threads_set or trainer.__module__ != "dpviz.training.engine":
        return
    import ray

    from dpviz.training.engine import configure_threads

    cpus = ray.get_runtime_context().get_assigned_resources().get("CPU", 1)
    with contextlib.suppress(RuntimeError):  # already initialised in this worker
        configure_threads(max(1, int(cpus)))
        import tensorflow as tf

        tf.config.threading.set_inter_op_parallelism_threads(max(1, int(cpus)))
    _threads_set.append(True)


class RayBackend:
    name = "ray"

    def __init__(self, store: SqliteRunStore, *, address: str | None = None, num_cpus: int | None = None):
        """Connect to the cluster at `address` (or $DPVIZ_RAY_ADDRESS), or start a local instance.

        Raises:
          ValidationError: (field "ray_address") when Ray cannot connect or start.
        """
        os.environ.setdefault("RAY_AUTH_MODE", "disabled")  # Ray 2.60 otherwise writes ~/.ray/auth_token
        import ray
        from ray.util.queue import Queue

        self.ray, self.store = ray, store
        address = address or os.environ.get("DPVIZ_RAY_ADDRESS") or None
        env = {name: os.environ[name] for name in FORWARDED_ENV if name in os.environ}
        if address:
            _check_reachable(address)
        try:
            if not ray.is_initialized():
                ray.init(
                    address=address,
                    num_cpus=None if address else (num_cpus or os.cpu_count() or 1),
                    include_dashboard=False,
                    log_to_driver=False,
                    configure_logging=False,
                    runtime_env={"env_vars": env} if env else None,
                )
        except Exception as err:  # ConnectionError, RuntimeError, ... from Ray
            where = f"the Ray cluster at {address}" if address else "a local Ray instance"
            raise ValidationError("ray_address", f"could not connect to {where}: {err}") from None
        self.address = address
        self.queue = Queue()
        self._remote = ray.remote(_train_task)
        self.tasks: dict[str, object] = {}  # run id -> ObjectRef
        self.recorders: dict[str, Recorder] = {}
        self._beat = 0.0
        gpus = ray.cluster_resources().get("GPU", 0)
        self.gpus_per_run = float(os.environ.get("DPVIZ_RAY_GPUS_PER_RUN", 1 if gpus else 0))

    def slots(self) -> int:
        resources = self.ray.cluster_resources()
        if self.gpus_per_run:
            return max(1, int(resources.get("GPU", 0) / self.gpus_per_run))
        return max(1, int(resources.get("CPU", 1)))

    def submit(self, config: TrainConfig, *, kinds: tuple[str, ...], sweep_id: str) -> dict[str, str]:
        ids: dict[str, str] = {}
        for kind in kinds:
            run_id = self.store.create_run(
                config=config.to_dict(),
                kind=kind,
                sweep_id=sweep_id,
                group_id=ids.get("private"),
                status="running",
                pid=os.getpid(),  # this process writes the run: if it dies, the run is marked so
            )
            ids[kind] = run_id
            self.recorders[run_id] = Recorder(self.store, {kind: run_id})
            options = {"num_cpus": 1, "num_gpus": self.gpus_per_run}
            self.tasks[run_id] = self._remote.options(**options).remote(config.to_dict(), kind, run_id, self.queue)
        return ids

    def poll(self) -> None:
        """Write the events that arrived, note tasks that ended, and pass on cancellations."""
        self._drain()
        if not self.tasks:
            return
        refs = list(self.tasks.values())
        done, _ = self.ray.wait(refs, num_returns=len(refs), timeout=0)
        for run_id, ref in list(self.tasks.items()):
            if ref in done:
                self._drain_and_close(run_id, ref)
            elif self.store.cancel_requested(run_id):
                self.ray.cancel(ref)
                self.store.finish(run_id, "cancelled", error="cancelled (Ray task cancelled)", only_if_active=True)
                del self.tasks[run_id]
        now = time.monotonic()
        if now - self._beat >= HEARTBEAT_SECONDS:  # a task that is still starting or evaluating is alive
            self._beat = now
            for run_id in self.tasks:
                self.store.heartbeat(run_id)

    def _drain(self) -> None:
        """Write every event that has arrived into the store."""
        while not self.queue.empty():
            for run_id, event in self.queue.get_nowait_batch(self.queue.qsize()):
                self.recorders[run_id].record(event)

    def _drain_and_close(self, run_id: str, ref) -> None:
        self._drain()
        try:
            self.ray.get(ref)
        except Exception as err:  # the task raised: the run fails with its reason
            cause = getattr(err, "cause", None) or err
            self.store.finish(run_id, "failed", error=f"{type(cause).__name__}: {cause}"[:500], only_if_active=True)
        self.store.finish(run_id, "failed", error="the Ray task ended without a final status", only_if_active=True)
        del self.tasks[run_id]

    def cancel(self, run_ids) -> None:
        for run_id in run_ids:
            ref = self.tasks.pop(run_id, None)
            if ref is not None:
                self.ray.cancel(ref)
            self.store.finish(run_id, "cancelled", error="cancelled (Ray task cancelled)", only_if_active=True)

    def close(self) -> None:
        self.cancel(list(self.tasks))
        with contextlib.suppress(Exception):  # the queue's actor may already be gone with the cluster
            self.queue.shutdown()
        self.ray.shutdown()
