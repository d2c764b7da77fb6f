"""Faults in the run store end in one clear line naming the file, never a traceback, never lost runs."""

import sqlite3

import pytest

from dpviz.cli.main import main
from dpviz.runs.store import SqliteRunStore, StoreUnavailable, move_aside
from dpviz.training.config import TrainConfig, stored_config

CONFIG = TrainConfig(dataset="synthetic", dataset_size=300, batch_size=60, epochs=2, model="logreg").to_dict()


def one_error_line(capsys, argv) -> str:
    assert main(argv) == 2
    out, err = capsys.readouterr()
    lines = err.strip().splitlines()
    assert out == "" and len(lines) == 1 and "Traceback" not in err
    return lines[0]


def test_a_file_that_is_no_database_is_named_and_moved_aside_never_deleted(tmp_path, capsys):
    (tmp_path / "runs.sqlite3").write_bytes(b"not a database at all" * 50)
    with pytest.raises(StoreUnavailable) as err:
        SqliteRunStore(tmp_path)
    assert err.value.damaged and str(tmp_path / "runs.sqlite3") in err.value.message
    line = one_error_line(capsys, ["--home", str(tmp_path), "runs", "list"])
    assert line.startswith("error: --home:") and "runs.sqlite3" in line and "move-aside" in line
    assert main(["--home", str(tmp_path), "runs", "move-aside"]) == 0
    kept = list(tmp_path.glob("runs.sqlite3.damaged-*"))
    assert len(kept) == 1 and kept[0].read_bytes() == b"not a database at all" * 50
    store = SqliteRunStore(tmp_path)
    store.create_run(config=CONFIG, kind="private")
    assert len(store.list()) == 1


def test_a_truncated_store_is_named(tmp_path, capsys):
    store = SqliteRunStore(tmp_path)
    for _ in range(50):
        store.create_run(config=CONFIG, kind="private")
    with sqlite3.connect(store.path) as db:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    data = store.path.read_bytes()
    store.path.write_bytes(data[: len(data) // 2])
    line = one_error_line(capsys, ["--home", str(tmp_path), "runs", "list"])
    assert "runs.sqlite3" in line and store.path.exists()


def test_one_bad_row_is_skipped_and_reported_the_others_still_list(tmp_path, capsys):
    store = SqliteRunStore(tmp_path)
    good = store.create_run(config=CONFIG, kind="private")
    bad = store.create_run(config=CONFIG, kind="private")
    with sqlite3.connect(store.path) as db:
        db.execute("UPDATE runs SET config = '{not json' WHERE id = ?", (bad,))
    assert [r.id for r in store.list()] == [good] and store.get(bad) is None
    assert [run_id for run_id, _ in store.damaged()] == [bad]
    assert main(["--home", str(tmp_path), "runs", "list"]) == 0
    out = capsys.readouterr().out
    assert good in out and f"damaged, skipped: {bad}" in out


def test_a_damaged_queued_row_is_failed_not_claimed(tmp_path):
    store = SqliteRunStore(tmp_path)
    bad = store.create_run(config=CONFIG, kind="private")
    good = store.create_run(config=CONFIG, kind="baseline")
    with sqlite3.connect(store.path) as db:
        db.execute("UPDATE runs SET final = '[1, 2]' WHERE id = ?", (bad,))
    assert store.claim_next(pid=1).id == good
    with sqlite3.connect(store.path) as db:
        status, error = db.execute("SELECT status, error FROM runs WHERE id = ?", (bad,)).fetchone()
    assert status == "failed" and "damaged" in error


def test_a_config_with_bad_values_reads_as_none_not_an_exception():
    assert stored_config({**CONFIG, "batch_size": "many"}) is None
    assert stored_config({"dataset": "digits"}).model == "mlp"  # settings it lacks take their defaults


def test_a_newer_schema_is_a_clear_error(tmp_path, capsys):
    store = SqliteRunStore(tmp_path)
    store.create_run(config=CONFIG, kind="private")
    with sqlite3.connect(store.path) as db:
        db.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    line = one_error_line(capsys, ["--home", str(tmp_path), "runs", "list"])
    assert "newer dpviz" in line and "schema 99" in line


@pytest.mark.parametrize("home", ["", "   ", "/dev/null"])
def test_a_home_that_is_no_directory_is_a_clear_error(capsys, home):
    assert one_error_line(capsys, ["--home", home, "runs", "list"]).startswith("error: --home:")


def test_reading_changes_nothing(tmp_path):
    store = SqliteRunStore(tmp_path)
    store.create_run(config=CONFIG, kind="private")
    with sqlite3.connect(store.path) as db:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    before = store.path.read_bytes()
    again = SqliteRunStore(tmp_path)
    again.list(), again.damaged(), again.metric_rows(["x"])
    assert store.path.read_bytes() == before


def test_move_aside_of_a_missing_store_is_harmless(tmp_path):
    assert not move_aside(tmp_path).exists()


def test_a_store_another_process_is_still_creating_reads_as_empty_not_damaged(tmp_path):
    """The first writer's file exists before its schema is committed; a reader in that window sees no runs."""
    creator = sqlite3.connect(tmp_path / "runs.sqlite3", isolation_level=None)
    creator.execute("PRAGMA journal_mode=WAL")
    creator.execute("BEGIN IMMEDIATE")
    creator.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
    try:
        reader = SqliteRunStore(tmp_path)
        assert reader.list() == []
    finally:
        creator.execute("ROLLBACK")
        creator.close()
    store = SqliteRunStore(tmp_path)
    store.create_run(config=CONFIG, kind="private")
    assert len(SqliteRunStore(tmp_path).list()) == 1


def test_a_store_with_other_tables_but_no_dpviz_schema_is_still_damaged(tmp_path):
    with sqlite3.connect(tmp_path / "runs.sqlite3") as db:
        db.execute("CREATE TABLE photos (id INTEGER)")
    with pytest.raises(StoreUnavailable) as err:
        SqliteRunStore(tmp_path)
    assert err.value.damaged


def _create_and_list(home) -> int:
    store = SqliteRunStore(home)
    store.list()
    store.create_run(config=CONFIG, kind="private")
    return len(SqliteRunStore(home).list())


def test_processes_creating_one_new_store_at_once_all_succeed(tmp_path):
    import multiprocessing

    homes = [tmp_path / f"home{i}" for i in range(6)]
    with multiprocessing.get_context("spawn").Pool(4) as pool:
        for home in homes:
            assert min(pool.map(_create_and_list, [home] * 4)) >= 1
    assert all(len(SqliteRunStore(home).list()) == 4 for home in homes)


def test_a_home_where_the_creation_lock_cannot_be_made_still_creates_the_store(tmp_path, monkeypatch):
    import builtins
    import errno

    real_open = builtins.open

    def refuse_lock(path, *args, **kwargs):
        if str(path).endswith(".lock"):
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", refuse_lock)
    store = SqliteRunStore(tmp_path)
    store.create_run(config=CONFIG, kind="private")
    assert len(store.list()) == 1 and not (tmp_path / "runs.sqlite3.lock").exists()
