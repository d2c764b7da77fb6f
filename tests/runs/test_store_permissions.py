"""A new data directory is private to its owner (runs describe private training data)."""

import stat

from dpviz.runs.store import SqliteRunStore


def test_new_home_is_0700(tmp_path):
    home = tmp_path / "fresh" / "dpviz"
    store = SqliteRunStore(home)
    assert not home.exists()  # reading creates nothing
    assert store.list() == []
    store.create_run(config={}, kind="private")
    assert stat.S_IMODE(home.stat().st_mode) == 0o700
