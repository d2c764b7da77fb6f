"""Start a study in its own process (`python -m dpviz tune --config-json ...`), so that a page never
drives training itself: the driver outlives the page's script runs and writes to the stores."""

from __future__ import annotations

import json
import subprocess
import sys

from dpviz.runs.launcher import ROOT, _children
from dpviz.runs.store import SqliteRunStore
from dpviz.tuning.config import TuneConfig
from dpviz.tuning.study import new_study_id


def start_study(
    home, config: TuneConfig, *, backend: str = "local", ray_address: str | None = None
) -> tuple[str, subprocess.Popen]:
    """Launch the study's driver in the background; returns (study id, process). Its output goes to
    `tune-<id>.log` in the dpviz home."""
    store = SqliteRunStore(home)
    store.ensure_created()
    study_id = new_study_id()
    command = [
        sys.executable,
        "-m",
        "dpviz",
        "--home",
        str(store.home),
        "tune",
        "--config-json",
        json.dumps(config.to_dict()),
        "--backend",
        backend,
        "--study-id",
        study_id,
        "--json",
        *(["--ray-address", ray_address] if ray_address else []),
    ]
    with open(store.home / f"tune-{study_id}.log", "ab") as log:
        process = subprocess.Popen(
            command, cwd=ROOT, stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True
        )
    _children.append(process)
    return study_id, process
