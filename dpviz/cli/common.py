"""What every command shares: how numbers print, and the run store it reads."""

from __future__ import annotations

import contextlib
import math

from dpviz.privacy.labels import format_epsilon


@contextlib.contextmanager
def quiet_stderr(*, enabled: bool = True):
    """Send file descriptor 2 to /dev/null while TensorFlow loads: its C++ start-up lines ("Could not find
    cuda drivers", "failed call to cuInit") are written before any log level applies."""
    import os
    import sys

    if not enabled:
        yield
        return
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
            try:
                yield
            finally:
                os.dup2(saved, 2)
    finally:
        os.close(saved)


def number(value, digits: int = 4) -> str:
    """A figure, or "-" when there is none (None, infinite, NaN)."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "-"
    return f"{value:.{digits}f}"


def epsilon(value, digits: int = 4) -> str:
    """Epsilon as the command line prints it; no finite guarantee reads as such."""
    return format_epsilon(value, digits, infinite="inf (no privacy)")


def open_store(args):
    """The run store under `--home`, with runs whose process died marked first."""
    from dpviz.runs.launcher import reap
    from dpviz.runs.store import SqliteRunStore

    store = SqliteRunStore(args.home)
    reap(store)
    resume_queue(store)
    return store


def resume_queue(store) -> None:
    """Queued runs whose workers died are picked up by whoever opens the store next: the app or the CLI."""
    from dpviz.runs.launcher import ensure_workers
    from dpviz.runs.store import StoreUnavailable

    if store.list(status="queued", limit=1):
        with contextlib.suppress(StoreUnavailable):  # a read-only store can still be listed
            ensure_workers(store)
