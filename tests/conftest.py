import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def record_fake(store, config, kind, *, sweep_id=None, group_id=None):
    """Train `config` with the fake trainer in this process and record it: a finished run in milliseconds."""
    from dpviz.runs.fake import train
    from dpviz.runs.recorder import Recorder

    os.environ.setdefault("DPVIZ_FAKE_STEP_SECONDS", "0")
    run_id = store.create_run(config=config.to_dict(), kind=kind, sweep_id=sweep_id, group_id=group_id, status="running")
    recorder = Recorder(store, {kind: run_id})
    for event in train(config, kind):
        recorder.record(event)
    return run_id


def record_pair(store, config):
    private = record_fake(store, config, "private")
    return private, record_fake(store, config, "baseline", group_id=private)


def plot_values(values) -> list:
    """A trace's x or y from a figure's JSON: plain lists, or plotly's base64-packed typed arrays."""
    import base64

    import numpy as np

    if isinstance(values, dict) and "bdata" in values:
        return np.frombuffer(base64.b64decode(values["bdata"]), dtype=np.dtype(values["dtype"])).tolist()
    return list(values)
