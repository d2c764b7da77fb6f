"""Time from `streamlit run` to the first number on screen in Debian's chromium: dpviz vs hello world.

Run: .venv/bin/python benchmarks/startup.py [--repeat N] [--polling] [--breakdown]   (needs /usr/bin/chromium)

The page itself records when the metric first becomes visible (a MutationObserver, then the next
painted frame) and the harness reads that time afterwards. Playwright's own `wait_for(visible)` polls
the page every frame while it renders, and on the dpviz home page that polling delayed the metric by
0.4-0.9 s and made the times bimodal (hello world, a tiny page, was unaffected); `--polling` prints
that older measurement too. Hello world and dpviz alternate so both see the same machine state.
Every dpviz start is a first start, with a data directory of its own: the app starts its warm workers
as on a new machine (they wait DPVIZ_WARM_DELAY_SECONDS before loading TensorFlow), and they are
killed after the round, so that no import carries over into the next one.
"""

import argparse
import contextlib
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parents[1]
HELLO = 'import streamlit as st\nx = st.slider("x", 0, 10, 3)\nst.metric("value", x)\n'
# Where dpviz's extra time goes: hello world plus one ingredient of the home page at a time.
BREAKDOWN = {
    "hello + import dp_accounting (the whole package)": HELLO.replace("st.metric", "import dp_accounting\nst.metric"),
    "hello + dp-accounting's RDP only (as dpviz loads it)": HELLO.replace(
        "st.metric", "import dpviz.privacy\nfrom dp_accounting.rdp import rdp_privacy_accountant\nst.metric"
    ),
    "hello + sidebar number/text/select inputs": HELLO.replace(
        "x = st.slider",
        'st.sidebar.selectbox("d", ["a"]); st.sidebar.number_input("n", value=1); '
        'st.sidebar.text_input("t")\nx = st.slider',
    ),
}
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
# Records Date.now() after the first frame painted with a visible, non-empty metric value.
OBSERVER = """
(() => {
  const check = () => {
    if (window.__metricAt) return;
    const el = document.querySelector('[data-testid="stMetricValue"]');
    if (el && el.textContent.trim() && el.offsetParent !== null) {
      window.__metricAt = -1;
      requestAnimationFrame(() => setTimeout(() => { window.__metricAt = Date.now(); }, 0));
    }
  };
  new MutationObserver(check).observe(document,
    {childList: true, subtree: true, attributes: true, characterData: true});
})();
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def time_to_metric(script: Path, cwd: Path, *, polling: bool = False, env: dict | None = None) -> float:
    port = free_port()
    start = time.time()
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "streamlit",
            "run",
            str(script),
            "--server.headless",
            "true",
            "--server.port",
            str(port),
            "--server.address",
            "127.0.0.1",
            "--browser.gatherUsageStats",
            "false",
            "--server.fileWatcherType",
            "none",
        ],
        cwd=cwd,
        env={**os.environ, **(env or {})},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", headless=True, args=ARGS)
            page = browser.new_page()
            if not polling:
                page.add_init_script(OBSERVER)
            while True:
                try:
                    page.goto(f"http://127.0.0.1:{port}/", timeout=2000)
                    break
                except Exception:
                    time.sleep(0.05)
            if polling:
                page.get_by_test_id("stMetricValue").first.wait_for(timeout=60000)
                elapsed = time.time() - start
            else:
                page.wait_for_function("window.__metricAt > 0", polling=250, timeout=60000)
                elapsed = page.evaluate("window.__metricAt") / 1000 - start
            browser.close()
        return elapsed
    finally:
        server.terminate()
        server.wait()


def stop_workers(home: Path) -> None:
    """Kill the workers a round's app started (SIGTERM waits for their TensorFlow import to finish)."""
    sys.path.insert(0, str(ROOT))
    from dpviz.runs.store import SqliteRunStore

    time.sleep(0.5)  # a worker registers itself as it starts
    for pid in SqliteRunStore(home).worker_pids():
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    time.sleep(1.0)


def compare(pages: dict[str, tuple[Path, Path]], repeat: int, polling: bool = False) -> dict[str, float]:
    """Median seconds per page, the pages taking turns in each round."""
    times = {name: [] for name in pages}
    for _ in range(repeat):
        for name, (script, cwd) in pages.items():
            if script.name != "app.py":
                times[name].append(time_to_metric(script, cwd, polling=polling))
                continue
            with tempfile.TemporaryDirectory() as home:
                times[name].append(time_to_metric(script, cwd, polling=polling, env={"DPVIZ_HOME": home}))
                stop_workers(Path(home))
    return {name: statistics.median(values) for name, values in times.items()}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--polling", action="store_true", help="also time with Playwright's visibility polling")
    parser.add_argument("--breakdown", action="store_true", help="hello world plus each ingredient of the home page")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        hello = Path(tmp) / "hello.py"
        hello.write_text(HELLO)
        pages = {"hello": (hello, Path(tmp)), "dpviz": (ROOT / "app.py", ROOT)}
        if args.breakdown:
            for i, (name, code) in enumerate(BREAKDOWN.items()):
                part = Path(tmp) / f"part{i}.py"
                part.write_text(code)
                pages[name] = (part, Path(tmp))
        for polling in (False, True) if args.polling else (False,):
            medians = compare(pages, args.repeat, polling)
            base = medians["hello"]
            how = "Playwright polling" if polling else "observed in the page"
            print(
                f"[{how}, median of {args.repeat}] hello-world slider page: {base:.2f} s; dpviz home with epsilon: "
                f"{medians['dpviz']:.2f} s; ratio {medians['dpviz'] / base:.2f}x  [target <= 1.5x]"
            )
            for name in BREAKDOWN if args.breakdown else ():
                print(f"  {name}: {medians[name] / base:.2f}x hello world")


if __name__ == "__main__":
    main()
