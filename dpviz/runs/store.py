"""The run store: SQLite (standard library, WAL) in the data directory. Parameterised SQL only."""

from __future__ import annotations

import errno
import fcntl
import json
import os
import sqlite3
import time
import uuid
from contextlib import closing, contextmanager
from dataclasses import dataclass, fields
from pathlib import Path

from dpviz.validation import ValidationError

SCHEMA_VERSION = 1
STATUSES = ("queued", "running", "completed", "failed", "cancelled", "diverged", "interrupted")
ACTIVE = ("queued", "running")

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS runs (
    id TEXT PRIMARY KEY,
    created_at REAL NOT NULL,
    started_at REAL,
    finished_at REAL,
    kind TEXT NOT NULL CHECK (kind IN ('private', 'baseline')),
    group_id TEXT NOT NULL,
    sweep_id TEXT,
    status TEXT NOT NULL,
    config TEXT NOT NULL,
    error TEXT,
    device TEXT,
    final TEXT,
    pid INTEGER,
    heartbeat_at REAL,
    progress TEXT,
    cancel_requested INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS runs_status ON runs (status, created_at);
CREATE INDEX IF NOT EXISTS runs_group ON runs (group_id);
CREATE TABLE IF NOT EXISTS metrics (
    run_id TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    epoch INTEGER NOT NULL,
    name TEXT NOT NULL,
    value REAL,
    PRIMARY KEY (run_id, epoch, name)
);
CREATE TABLE IF NOT EXISTS workers (pid INTEGER PRIMARY KEY, started_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS labels (
    run_id TEXT PRIMARY KEY REFERENCES runs (id) ON DELETE CASCADE,
    name TEXT NOT NULL DEFAULT '',
    tags TEXT NOT NULL DEFAULT '[]'
);
"""
MAX_NAME = 80
MAX_TAGS = 10
MAX_TAG = 30


def parse_tags(value) -> list[str]:
    """ "baseline, mnist" or a list -> ["baseline", "mnist"] (stripped, without repeats); ValidationError names
    `tags` for more than 10, or a tag longer than 30 characters."""
    parts = [p for item in ([value] if isinstance(value, str) else list(value or [])) for p in str(item).split(",")]
    tags = []
    for part in (str(p).strip() for p in parts):
        if part and part not in tags:
            tags.append(part)
    if len(tags) > MAX_TAGS:
        raise ValidationError("tags", f"at most {MAX_TAGS} per run, got {len(tags)}")
    for tag in tags:
        if len(tag) > MAX_TAG:
            raise ValidationError("tags", f"each at most {MAX_TAG} characters, got {tag[:40]!r}")
    return tags


def parse_name(value) -> str:
    name = str(value or "").strip()
    if len(name) > MAX_NAME:
        raise ValidationError("name", f"must be at most {MAX_NAME} characters, got {len(name)}")
    return name


def match_ids(ids, prefix: str, *, field: str = "run_id") -> str:
    """The one id in `ids` that starts with `prefix` (ids as `runs list` prints them; prefixes welcome).

    Raises:
      ValidationError: naming `field` when no id or several ids match.
    """
    matches = [i for i in ids if prefix and i.startswith(prefix)]
    if len(matches) != 1:
        raise ValidationError(field, f"{prefix!r} matches {len(matches)} stored runs (give an id from `runs list`)")
    return matches[0]


def move_aside(home: str | os.PathLike | None = None) -> Path:
    """Rename the store in `home` to runs.sqlite3.damaged-<time> beside it (kept, never deleted).

    Works on a file that cannot be opened; returns its new path. The next write starts a new store.
    """
    path = (Path(home) if home else default_home()) / "runs.sqlite3"
    target = path.with_name(f"{path.name}.damaged-{time.strftime('%Y%m%d-%H%M%S')}")
    for suffix in ("", "-wal", "-shm"):
        source = Path(f"{path}{suffix}")
        if source.exists():
            source.rename(f"{target}{suffix}")
    return target


def default_home() -> Path:
    return Path(os.environ.get("DPVIZ_HOME") or Path.home() / ".dpviz")


@dataclass(frozen=True)
class Run:
    id: str
    created_at: float
    started_at: float | None
    finished_at: float | None
    kind: str
    group_id: str
    sweep_id: str | None
    status: str
    config: dict
    error: str | None
    device: str | None
    final: dict
    pid: int | None
    heartbeat_at: float | None
    progress: dict
    cancel_requested: bool

    @property
    def active(self) -> bool:
        return self.status in ACTIVE


class StoreUnavailable(ValidationError):
    """The run store cannot be read or written; the message names the file and what to do (field "home")."""

    def __init__(self, message: str, *, damaged: bool = False):
        super().__init__("home", message)
        self.damaged = damaged


@contextmanager
def _creation_lock(path: Path):
    """An exclusive lock on `path` while a store's schema is created. Where the file cannot be made (a
    read-only home), creation goes on unlocked, and SQLite says what cannot be written."""
    try:
        handle = open(path, "a")  # noqa: SIM115 - closed below, after the lock is released
    except OSError as err:
        if err.errno not in (errno.EACCES, errno.EPERM, errno.EROFS):
            raise
        yield
        return
    try:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield
    finally:
        handle.close()


class SqliteRunStore:
    """Many readers (the app) and writers (workers) at once: WAL, a busy timeout, short transactions.

    Reading never writes: it opens the file read-only, and a store that does not exist yet reads as
    empty. The directory (0700) and the schema are created by the first write.
    """

    def __init__(self, home: str | os.PathLike | None = None):
        """The store `runs.sqlite3` in `home` (default: $DPVIZ_HOME or ~/.dpviz); nothing is created yet.

        Raises:
          StoreUnavailable: for an empty `home`, a home that is not a directory, a file that is damaged or
            not a dpviz store, or one written by a newer dpviz (a newer schema version).
        """
        if home is not None and not str(home).strip():
            raise StoreUnavailable("must be a directory path, got an empty string")
        self.home = Path(home) if home else default_home()
        self.path = self.home / "runs.sqlite3"
        self._schema_ready = False
        if self.home.exists() and not self.home.is_dir():
            raise StoreUnavailable(f"{self.home} is not a directory")
        if self.path.exists():
            self._check()

    def _check(self) -> None:
        with self._read() as db:
            if db.execute("PRAGMA quick_check").fetchone()[0] != "ok":
                raise self._damaged("its integrity check failed")
            row = db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        if row is not None and int(row[0]) > SCHEMA_VERSION:
            raise StoreUnavailable(
                f"{self.path} was written by a newer dpviz (schema {row[0]} > {SCHEMA_VERSION}): upgrade dpviz, "
                "or point --home (or DPVIZ_HOME) at another directory"
            )

    def _damaged(self, reason) -> StoreUnavailable:
        return StoreUnavailable(
            f"{self.path} is damaged or is not a dpviz run store ({reason}). Move it aside (it is kept, never "
            "deleted) and dpviz starts a new one: `python -m dpviz runs move-aside`, or the button on the Runs page",
            damaged=True,
        )

    def _unavailable(self, err: Exception) -> StoreUnavailable:
        text = str(err)
        if isinstance(err, sqlite3.OperationalError) and ("readonly" in text or "read-only" in text):
            return StoreUnavailable(f"{self.path} is read-only: runs can be listed but not recorded ({text})")
        if isinstance(err, sqlite3.OperationalError) and "unable to open" in text:
            return StoreUnavailable(f"cannot open {self.path} ({text}): check the directory and its permissions")
        if isinstance(err, sqlite3.DatabaseError):
            return self._damaged(text)
        return StoreUnavailable(f"cannot use {self.home}: {getattr(err, 'strerror', None) or err}")

    @contextmanager
    def _read(self):
        """A read-only connection; an empty in-memory store when nothing was written yet."""
        try:
            db = None
            if self.path.exists():
                db = sqlite3.connect(
                    f"{self.path.resolve().as_uri()}?mode=ro", uri=True, timeout=30, isolation_level=None
                )
                db.execute("PRAGMA busy_timeout=30000")
                if db.execute("SELECT count(*) FROM sqlite_master").fetchone()[0] == 0:
                    # Another process has just created the file and not yet committed the schema.
                    db.close()
                    db = None
            if db is None:
                db = sqlite3.connect(":memory:", isolation_level=None)
                db.executescript(SCHEMA)
        except (sqlite3.Error, OSError) as err:
            if db is not None:
                db.close()
            raise self._unavailable(err) from None
        try:
            yield db
        except sqlite3.Error as err:
            raise self._unavailable(err) from None
        finally:
            db.close()

    def _prepare(self) -> None:
        """Create the directory (0700: runs describe private training data) and the schema, once."""
        try:
            self.home.mkdir(mode=0o700, parents=True, exist_ok=True)
            # Processes creating one store at once take turns: switching a new file to WAL can fail at once
            # with "database is locked" (SQLite skips the busy handler where waiting could deadlock).
            with _creation_lock(self.path.with_name(self.path.name + ".lock")):
                self._create_schema()
            self._correct()
        except (sqlite3.Error, OSError) as err:
            raise self._unavailable(err) from None
        self._check()
        self._schema_ready = True

    def _create_schema(self) -> None:
        with closing(sqlite3.connect(self.path, timeout=30, isolation_level=None)) as db:
            db.execute("PRAGMA busy_timeout=30000")
            db.execute("PRAGMA journal_mode=WAL")
            # One transaction, so that a process opening the store meanwhile sees all of the schema or none.
            db.executescript(
                "BEGIN IMMEDIATE;\n"
                + SCHEMA
                + "\nINSERT OR IGNORE INTO meta (key, value) VALUES ('schema_version', '"
                + str(SCHEMA_VERSION)
                + "');\nCOMMIT;"
            )

    def _correct(self) -> None:
        """Correct, once, figures an older dpviz stored wrongly (`corrections`), in one transaction."""
        from dpviz.runs import corrections

        with closing(sqlite3.connect(self.path, timeout=30, isolation_level=None)) as db:
            db.execute("PRAGMA busy_timeout=30000")
            if not corrections.needs_fixed_epsilon_2c(db):
                return
            db.execute("BEGIN IMMEDIATE")
            try:
                if corrections.needs_fixed_epsilon_2c(db):  # another process may have done it meanwhile
                    corrections.correct_fixed_epsilon_2c(db)
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise

    def ensure_created(self) -> None:
        """Create the directory and schema now (a reader never does; a first write or a worker needs them)."""
        if not self._schema_ready or not self.path.exists():
            self._prepare()

    @contextmanager
    def _transaction(self):
        if not self._schema_ready or not self.path.exists():
            self._prepare()
        try:
            db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        except sqlite3.Error as err:
            raise self._unavailable(err) from None
        try:
            db.execute("PRAGMA busy_timeout=30000")
            db.execute("PRAGMA foreign_keys=ON")
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
        except sqlite3.Error as err:
            raise self._unavailable(err) from None
        finally:
            db.close()

    # ------------------------------------------------------------ writing
    def create_run(
        self,
        *,
        config: dict,
        kind: str,
        group_id: str | None = None,
        sweep_id: str | None = None,
        status: str = "queued",
        pid: int | None = None,
    ) -> str:
        """Add a run and return its new id.

        Args:
          config: the run's `TrainConfig.to_dict()`.
          kind: "private" or "baseline".
          group_id: the private run a baseline belongs to (default: the run's own id, a new group).
          sweep_id: the sweep the run is a cell (or shared baseline) of, if any.
          status: "queued" for a worker to claim, or "running" for a run this process trains.
          pid: the training process, for a run created running.
        """
        run_id = uuid.uuid4().hex[:12]
        now = time.time()
        with self._transaction() as db:
            db.execute(
                "INSERT INTO runs (id, created_at, started_at, kind, group_id, "
                "sweep_id, status, config, pid, heartbeat_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    run_id,
                    now,
                    now if status == "running" else None,
                    kind,
                    group_id or run_id,
                    sweep_id,
                    status,
                    json.dumps(config, sort_keys=True),
                    pid,
                    now if status == "running" else None,
                ),
            )
        return run_id

    def claim_next(self, pid: int) -> Run | None:
        """Atomically move the oldest queued run to running for worker `pid`; a damaged one is marked failed."""
        while True:
            with self._transaction() as db:
                row = db.execute(
                    f"SELECT {_COLUMNS} FROM runs WHERE status = 'queued' ORDER BY created_at, rowid LIMIT 1"
                ).fetchone()
                if row is None:
                    return None
                now = time.time()
                try:
                    _run(row)
                except DamagedRow as err:
                    db.execute(
                        "UPDATE runs SET status = 'failed', error = ?, finished_at = ? WHERE id = ?",
                        (f"the stored run is damaged: {err}", now, row[0]),
                    )
                    continue
                db.execute(
                    "UPDATE runs SET status = 'running', pid = ?, started_at = ?, heartbeat_at = ? WHERE id = ?",
                    (pid, now, now, row[0]),
                )
            return self.get(row[0])

    def heartbeat(self, run_id: str, progress: dict | None = None) -> None:
        """Note that the run is alive, with its progress ({"epoch", "step", "total_steps"}) if given."""
        with self._transaction() as db:
            if progress is None:
                db.execute("UPDATE runs SET heartbeat_at = ? WHERE id = ?", (time.time(), run_id))
            else:
                db.execute(
                    "UPDATE runs SET heartbeat_at = ?, progress = ? WHERE id = ?",
                    (time.time(), json.dumps(progress), run_id),
                )

    def add_epoch(self, run_id: str, epoch: int, metrics: dict) -> None:
        """Store one epoch's numeric metrics (non-numbers are skipped; None is stored as null)."""
        rows = [
            (run_id, epoch, name, None if value is None else float(value))
            for name, value in metrics.items()
            if isinstance(value, (int, float)) or value is None
        ]
        with self._transaction() as db:
            db.executemany("INSERT OR REPLACE INTO metrics (run_id, epoch, name, value) VALUES (?, ?, ?, ?)", rows)
            db.execute("UPDATE runs SET heartbeat_at = ? WHERE id = ?", (time.time(), run_id))

    def finish(
        self,
        run_id: str,
        status: str,
        *,
        error: str | None = None,
        final: dict | None = None,
        device: str | None = None,
        only_if_active: bool = False,
    ) -> bool:
        """Give the run a final status, with its error, final figures and device.

        Args:
          status: a final status (completed, failed, cancelled, diverged, interrupted).
          only_if_active: change only a queued or running run (never overwrite a finished one).

        Returns:
          Whether a row changed.

        Raises:
          ValueError: for a status that is not final.
        """
        if status not in STATUSES or status in ACTIVE:
            raise ValueError(f"status: must be a final status, got {status!r}")
        sql = (
            "UPDATE runs SET status = ?, error = ?, final = COALESCE(?, final), device = COALESCE(?, device), "
            "finished_at = ? WHERE id = ?"
        )
        args = [status, error, json.dumps(final) if final is not None else None, device, time.time(), run_id]
        if only_if_active:
            sql += " AND status IN ('queued', 'running')"
        with self._transaction() as db:
            return db.execute(sql, args).rowcount > 0

    def request_cancel(self, run_id: str) -> None:
        """Cancel a queued run at once; ask a running one's worker to stop (it polls `cancel_requested`)."""
        with self._transaction() as db:
            db.execute("UPDATE runs SET cancel_requested = 1 WHERE id = ?", (run_id,))
            db.execute(
                "UPDATE runs SET status = 'cancelled', finished_at = ? WHERE id = ? AND status = 'queued'",
                (time.time(), run_id),
            )

    def cancel_requested(self, run_id: str) -> bool:
        with self._read() as db:
            row = db.execute("SELECT cancel_requested FROM runs WHERE id = ?", (run_id,)).fetchone()
        return bool(row and row[0])

    def set_label(self, run_id: str, *, name: str | None = None, tags=None) -> None:
        """Name and/or tag a run (None leaves that part as it was).

        Raises:
          ValidationError: (field "name" or "tags") for a value out of range; ("run_id") for an unknown run.
        """
        name = None if name is None else parse_name(name)
        tags = None if tags is None else parse_tags(tags)
        if self.get(run_id) is None:
            raise ValidationError("run_id", f"no run {run_id!r}")
        with self._transaction() as db:
            db.execute("INSERT OR IGNORE INTO labels (run_id) VALUES (?)", (run_id,))
            if name is not None:
                db.execute("UPDATE labels SET name = ? WHERE run_id = ?", (name, run_id))
            if tags is not None:
                db.execute("UPDATE labels SET tags = ? WHERE run_id = ?", (json.dumps(tags), run_id))

    def labels(self) -> dict[str, dict]:
        """{run id: {"name": ..., "tags": [...]}} for every labelled run (a store from before labels has none)."""
        out = {}
        try:
            with self._read() as db:
                rows = list(db.execute("SELECT run_id, name, tags FROM labels"))
        except StoreUnavailable:
            if not self.path.exists():
                return {}
            with self._read() as db:  # an older store without the table: nothing labelled yet
                if db.execute("SELECT 1 FROM sqlite_master WHERE name = 'labels'").fetchone() is None:
                    return {}
            raise
        for run_id, name, tags in rows:
            try:
                parsed = json.loads(tags)
            except json.JSONDecodeError:
                parsed = []
            out[run_id] = {"name": name, "tags": [str(t) for t in parsed] if isinstance(parsed, list) else []}
        return out

    def delete(self, run_id: str) -> None:
        """Remove a run, its metrics and its labels for good."""
        with self._transaction() as db:
            db.execute("DELETE FROM labels WHERE run_id = ?", (run_id,))
            db.execute("DELETE FROM metrics WHERE run_id = ?", (run_id,))
            db.execute("DELETE FROM runs WHERE id = ?", (run_id,))

    # ------------------------------------------------------------ workers
    def register_worker(self, pid: int) -> None:
        """Record a worker process, so the launcher counts it against the worker limit."""
        with self._transaction() as db:
            db.execute("INSERT OR REPLACE INTO workers (pid, started_at) VALUES (?, ?)", (pid, time.time()))

    def unregister_worker(self, pid: int) -> None:
        with self._transaction() as db:
            db.execute("DELETE FROM workers WHERE pid = ?", (pid,))

    def worker_pids(self) -> list[int]:
        with self._read() as db:
            return [row[0] for row in db.execute("SELECT pid FROM workers ORDER BY started_at")]

    # ------------------------------------------------------------ reading
    def get(self, run_id: str) -> Run | None:
        """The run with exactly this id, or None."""
        with self._read() as db:
            row = db.execute(f"SELECT {_COLUMNS} FROM runs WHERE id = ?", (run_id,)).fetchone()
        runs, _ = _runs([row] if row else [])
        return runs[0] if runs else None

    def resolve(self, prefix: str) -> Run:
        """The run whose id is `prefix` or the only one starting with it.

        Raises:
          ValidationError: (field "run_id") when none or several match.
        """
        with self._read() as db:
            ids = [row[0] for row in db.execute("SELECT id FROM runs WHERE id >= ? ORDER BY id", (prefix,))]
        return self.get(match_ids(ids, prefix))

    def list(
        self,
        *,
        status: str | None = None,
        group_id: str | None = None,
        sweep_id: str | None = None,
        limit: int | None = None,
    ) -> list[Run]:
        """Runs matching every given filter, newest first, at most `limit` of them."""
        where, args = [], []
        for column, value in (("status", status), ("group_id", group_id), ("sweep_id", sweep_id)):
            if value is not None:
                where.append(f"{column} = ?")
                args.append(value)
        sql = (
            f"SELECT {_COLUMNS} FROM runs"
            + (" WHERE " + " AND ".join(where) if where else "")
            + " ORDER BY created_at DESC, rowid DESC"
        )
        if limit is not None:
            sql += " LIMIT ?"
            args.append(int(limit))
        with self._read() as db:
            return _runs(db.execute(sql, args))[0]

    def damaged(self) -> list[tuple[str, str]]:
        """[(run id, reason)] of the stored runs that cannot be read; `list` and `get` skip them."""
        with self._read() as db:
            return _runs(db.execute(f"SELECT {_COLUMNS} FROM runs ORDER BY created_at DESC, rowid DESC"))[1]

    def metrics(self, run_id: str) -> dict[str, list[tuple[int, float | None]]]:
        """{name: [(epoch, value), ...]} in epoch order."""
        out: dict[str, list] = {}
        with self._read() as db:
            for name, epoch, value in db.execute(
                "SELECT name, epoch, value FROM metrics WHERE run_id = ? ORDER BY epoch", (run_id,)
            ):
                out.setdefault(name, []).append((epoch, value))
        return out

    def metric_rows(self, run_ids) -> list[tuple[str, int, str, float | None]]:
        """(run id, epoch, metric name, value) for every metric of these runs, in epoch order per run."""
        ids = list(run_ids)
        if not ids:
            return []
        marks = ",".join("?" for _ in ids)
        with self._read() as db:
            return list(
                db.execute(
                    f"SELECT run_id, epoch, name, value FROM metrics WHERE run_id IN ({marks}) ORDER BY run_id, epoch",
                    ids,
                )
            )


_COLUMNS = ", ".join(f.name for f in fields(Run))
_JSON = {"config": {}, "final": {}, "progress": {}}  # stored as JSON text; their value when empty


class DamagedRow(ValueError):
    """A stored run that cannot be read: its config, final figures or progress are not JSON objects.

    The store keeps configs as given; code that trains or labels a run reads them through
    `training.config.stored_config`."""


def _run(row) -> Run:
    """Decode one row (configs come back exactly as stored).

    Raises:
      DamagedRow: with the reason, for a row that cannot be read.
    """
    values = dict(zip(_COLUMNS.split(", "), row))
    try:
        for name, empty in _JSON.items():
            values[name] = json.loads(values[name]) if values[name] else empty
            if not isinstance(values[name], dict):
                raise DamagedRow(f"{name} is not a JSON object")
    except json.JSONDecodeError as err:
        raise DamagedRow(f"{name} is not valid JSON ({err.msg})") from None
    values["cancel_requested"] = bool(values["cancel_requested"])
    return Run(**values)


def _runs(rows) -> tuple[list[Run], list[tuple[str, str]]]:
    """(readable runs, [(id, reason)] of the damaged ones), in the rows' order."""
    runs, damaged = [], []
    for row in rows:
        try:
            runs.append(_run(row))
        except DamagedRow as err:
            damaged.append((row[0], str(err)))
    return runs, damaged
