"""The run store as the pages see it: one per server process, recovered once at start-up.

A store that cannot be used stops the page with one clear error (never a traceback) and, when the
file is damaged, a button that moves it aside: it is kept beside the new one, never deleted.
"""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st

from dpviz.runs.launcher import keep_warm, keep_warm_later, reap
from dpviz.runs.store import SqliteRunStore, StoreUnavailable, default_home, move_aside


@st.cache_resource
def _store(home: str) -> SqliteRunStore:
    store = SqliteRunStore(home)
    reap(store, startup=True)  # rows left running by a previous server's workers
    return store


WARM_CHECK_SECONDS = 20.0
_warm_checked = [0.0]


def warm_workers() -> None:
    """Keep TensorFlow-loaded workers waiting (at most one check every 20 s per server): the app calls
    this as it starts (the first warm-up comes `launcher.warm_delay()` later, once the first page is
    drawn) and the Train page on every run, so "Train" rarely waits for an import. A store that cannot
    be used is left to the page to report."""
    import time

    if time.monotonic() - _warm_checked[0] < WARM_CHECK_SECONDS:
        return
    first = _warm_checked[0] == 0.0
    _warm_checked[0] = time.monotonic()
    try:
        store = _store(str(default_home()))
        store.ensure_created()
        (keep_warm_later if first else keep_warm)(store)  # the server's first page is drawn before any import
    except (StoreUnavailable, OSError):
        pass


def _move_aside(home: str) -> None:
    target = move_aside(home)
    _store.clear()
    st.toast(f"Moved the damaged store to {target}")


def unavailable(err: StoreUnavailable) -> None:
    """Say why the store cannot be used and what to do, then stop this run of the page."""
    st.error(f"**Run store**: {err.message}", icon="⚠️")
    if err.damaged:
        st.button(
            "Move it aside and start a new store",
            key="move_store_aside",
            on_click=_move_aside,
            args=(str(default_home()),),
        )
    st.stop()


def get_store() -> SqliteRunStore:
    try:
        return _store(str(default_home()))
    except StoreUnavailable as err:
        unavailable(err)


def guarded(render: Callable, *args) -> None:
    """Run a page's body; a store fault found while it runs ends it with the same clear error."""
    try:
        render(*args)
    except StoreUnavailable as err:
        unavailable(err)


def damaged_rows_notice(store: SqliteRunStore) -> None:
    """One line for stored runs that cannot be read: they are skipped, and kept."""
    damaged = store.damaged()
    if damaged:
        ids = ", ".join(run_id for run_id, _ in damaged[:5]) + (" …" if len(damaged) > 5 else "")
        st.warning(
            f"{len(damaged)} stored run(s) cannot be read and are skipped (kept in the store): {ids}. "
            f"First reason: {damaged[0][1]}."
        )
