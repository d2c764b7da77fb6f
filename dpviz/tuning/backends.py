"""Where a study's trials train. Each backend writes every trial run into the run store, so pages and
the CLI read one place whatever trained it; `create_backend(name)` is the only lookup.

- "local": the run store's queue and its worker processes (the default; see runs/launcher).
- "ray": Ray tasks on a local instance or a cluster; events flow back to this process, which writes
  them into the store on this machine (tuning/ray_backend).
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from dpviz.runs import launcher
from dpviz.runs.store import SqliteRunStore
from dpviz.training.config import TrainConfig


@runtime_checkable
class TrialBackend(Protocol):
    """The contract (tests/tuning/test_backend_contract.py holds every backend to it): `submit` creates
    the runs in the store at once and returns {kind: run id}; the runs reach a final status in the store
    while `poll` is called; `cancel` makes active runs end as cancelled."""

    name: str

    def slots(self) -> int:
        """Runs that can train at once."""
        ...

    def submit(self, config: TrainConfig, *, kinds: tuple[str, ...], sweep_id: str) -> dict[str, str]: ...

    def poll(self) -> None: ...

    def cancel(self, run_ids) -> None: ...

    def close(self) -> None: ...


class LocalBackend:
    """The worker pool of this machine, through the run store's queue."""

    name = "local"

    def __init__(self, store: SqliteRunStore, *, address: str | None = None):
        self.store = store

    def slots(self) -> int:
        return launcher.max_workers()

    def submit(self, config: TrainConfig, *, kinds: tuple[str, ...], sweep_id: str) -> dict[str, str]:
        return launcher.submit_pair(self.store, config, sweep_id=sweep_id, baseline="baseline" in kinds)

    def poll(self) -> None:
        launcher.ensure_workers(self.store)

    def cancel(self, run_ids) -> None:
        for run_id in run_ids:
            self.store.request_cancel(run_id)

    def close(self) -> None:
        pass


def _ray(store: SqliteRunStore, *, address: str | None = None) -> TrialBackend:
    from dpviz.tuning.ray_backend import RayBackend  # imports Ray (about 1 s) only when asked for

    return RayBackend(store, address=address)


REGISTRY = {"local": LocalBackend, "ray": _ray}
BACKENDS = tuple(REGISTRY)


def create_backend(name: str, store: SqliteRunStore, *, address: str | None = None) -> TrialBackend:
    """The backend called `name` ("local" or "ray"; `address`: a Ray cluster, None starts a local instance).

    Raises:
      ValidationError: (field "backend") for an unknown name; (field "ray_address") when Ray cannot connect.
    """
    from dpviz.validation import require_choice

    return REGISTRY[require_choice("backend", name, BACKENDS)](store, address=address)
