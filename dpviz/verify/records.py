"""Verifications started from a page: one JSON file each under `<home>/verifications/`, written by the
process that trains (`python -m dpviz verify --record ID`) and read by the page that polls it."""

from __future__ import annotations

import json
import math
import os
import secrets
import subprocess
import sys
import time
from pathlib import Path

from dpviz.runs.launcher import ROOT, _children
from dpviz.runs.store import default_home
from dpviz.verify.config import VerifyConfig
from dpviz.verify.report import VerifyReport

ID_TIME = "%Y%m%d-%H%M%S"  # a record id is verify-<start time>-<random hex>


def folder(home=None) -> Path:
    return Path(home) if home is not None else default_home()


def _path(home, record_id: str) -> Path:
    if not record_id or not all(c.isalnum() or c == "-" for c in record_id):
        raise ValueError(f"record: not a verification id: {record_id!r}")
    return folder(home) / "verifications" / f"{record_id}.json"


def write(home, record_id: str, **fields) -> None:
    """Replace the record atomically, so that a reader never sees half a file."""
    path = _path(home, record_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps({"id": record_id, "updated": time.time(), **fields}))
    os.replace(tmp, path)


def read(home, record_id: str) -> dict | None:
    """The record, or None when it does not exist (yet) or cannot be read."""
    try:
        return json.loads(_path(home, record_id).read_text())
    except (OSError, ValueError):
        return None


def report(record: dict | None) -> VerifyReport | None:
    if record and record.get("status") == "completed" and record.get("report"):
        return VerifyReport.from_dict(record["report"])
    return None


def request_cancel(home, record_id: str) -> None:
    _path(home, record_id).with_suffix(".cancel").touch()


def cancel_requested(home, record_id: str) -> bool:
    return _path(home, record_id).with_suffix(".cancel").exists()


def start(home, config: VerifyConfig) -> str:
    """Launch `python -m dpviz verify` for `config` in the background; returns the record's id."""
    record_id = f"verify-{time.strftime(ID_TIME)}-{secrets.token_hex(3)}"
    write(home, record_id, status="running", progress=[0, 0], config=config.to_dict())
    command = [sys.executable, "-m", "dpviz", "--home", str(folder(home)), "verify", "--config-json"]
    command += [json.dumps(config.to_dict()), "--record", record_id]
    with open(_path(home, record_id).with_suffix(".log"), "ab") as log:
        process = subprocess.Popen(
            command, cwd=ROOT, stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True
        )
    _children.append(process)
    return record_id


def history(home=None, *, limit: int | None = 50) -> list[dict]:
    """The kept verifications, newest first (ids sort by their start time), at most `limit` (None: all);
    unreadable files are skipped, never deleted."""
    base = folder(home) / "verifications"
    found = []
    for path in sorted(base.glob("verify-*.json"), reverse=True):
        record = read(home, path.stem)
        if record is not None:
            found.append(record)
        if len(found) == limit:
            break
    return found


def started(record_id: str) -> str:
    """'2026-12-01 22:15:30' from an id made by `start` ('' for any other id)."""
    stamp = "-".join(record_id.split("-")[1:3])
    try:
        when = time.strptime(stamp, ID_TIME)
    except ValueError:
        return ""
    if stamp != time.strftime(ID_TIME, when):  # strptime also takes '2215' for 22:01:05
        return ""
    return time.strftime("%Y-%m-%d %H:%M:%S", when)


def summary(record: dict) -> dict:
    """One row of the history: when, what was audited at which settings, and what it found."""
    config = record.get("config") or {}
    result = report(record)
    claimed = result.theoretical_epsilon if result else None
    return {
        "id": record.get("id", ""),
        "started": started(str(record.get("id", ""))),
        "status": record.get("status", ""),
        "kind": config.get("kind", ""),
        "canaries": config.get("canaries"),
        "dataset": config.get("dataset", ""),
        "model": config.get("model", ""),
        "σ": config.get("noise_multiplier"),
        "epochs": config.get("epochs"),
        "b": config.get("batch_size"),
        "ε claimed": claimed if claimed is not None and math.isfinite(claimed) else None,
        "ε ≥ (f-DP)": result.empirical_epsilon_fdp if result else None,
        "verdict": result.verdict if result else "",
    }
