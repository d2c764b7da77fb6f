"""The run store as the pages see it: one per server process, recovered once at start-up."""

from __future__ import annotations

import streamlit as st

from dpviz.runs.launcher import reap
from dpviz.runs.store import SqliteRunStore, default_home


@st.cache_resource
def _store(home: str) -> SqliteRunStore:
    store = SqliteRunStore(home)
    reap(store, startup=True)  # rows left running by a previous server's workers
    return store


def get_store() -> SqliteRunStore:
    return _store(str(default_home()))
