import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


@pytest.fixture(autouse=True, scope="session")
def _no_user_home(tmp_path_factory):
    """No test touches the user's ~/.dpviz, and an app an AppTest runs keeps no TensorFlow workers warm
    (they outlived the test and imported TensorFlow beside the next ones); a test that wants workers to
    stay sets DPVIZ_WORKER_IDLE_SECONDS itself."""
    os.environ.setdefault("DPVIZ_HOME", str(tmp_path_factory.mktemp("dpviz-home")))
    os.environ.setdefault("DPVIZ_WORKER_IDLE_SECONDS", "0")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def streamlit_app(folder: Path, env: dict):
    """`streamlit run app.py` on a free loopback port, its data in folder/home and its log in
    folder/streamlit.log (`env` adds to the environment; None unsets): yields the URL once the server is
    healthy, then stops the workers the app started and the server. A server that exits or is not healthy
    within 60 s fails with its log's tail."""
    port = free_port()
    env = {k: v for k, v in {**os.environ, "DPVIZ_HOME": str(folder / "home"), **env}.items() if v is not None}
    log_path = folder / "streamlit.log"
    log = open(log_path, "wb")  # noqa: SIM115 - the server writes it until the server stops
    process = subprocess.Popen(  # headless, loopback only, no usage stats: the project's .streamlit/config.toml
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.time() + 60
        while True:
            try:
                if urllib.request.urlopen(f"{url}/_stcore/health", timeout=2).read() == b"ok":
                    break
            except OSError:
                pass
            if time.time() > deadline or process.poll() is not None:
                raise RuntimeError(log_path.read_text()[-2000:])
            time.sleep(0.2)
        yield url
    finally:
        from dpviz.runs.store import SqliteRunStore

        for pid in SqliteRunStore(Path(env["DPVIZ_HOME"])).worker_pids():  # the warm workers the app started
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


def plot_values(values) -> list:
    """A trace's x or y from a figure's JSON: plain lists, or plotly's base64-packed typed arrays."""
    import base64

    import numpy as np

    if isinstance(values, dict) and "bdata" in values:
        return np.frombuffer(base64.b64decode(values["bdata"]), dtype=np.dtype(values["dtype"])).tolist()
    return list(values)


# A finished gradient-canary verification: consistent, bound 1.9 against a claim of 3.06.
VERIFY_CONFIG = {"kind": "gradient", "canaries": 10000, "dataset": "digits", "model": "mlp", "noise_multiplier": 1.0}


def verify_report(**changes):
    """A VerifyReport for tests of what shows or lists one; `changes` override its fields."""
    from dpviz.verify.report import VerifyReport

    values = dict(
        kind="gradient",
        theoretical_epsilon=3.06,
        delta=1e-5,
        accountant="rdp",
        empirical_epsilon=1.5,
        empirical_epsilon_fdp=1.9,
        canaries=10000,
        included=4939,
        guesses=158,
        correct=144,
        confidence=0.95,
        n=6376,
        steps=150,
        device="CPU",
        histogram={"edges": [0, 1, 2], "in": [1, 3], "out": [3, 1]},
    )
    return VerifyReport(**{**values, **changes})
