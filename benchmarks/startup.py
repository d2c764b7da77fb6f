"""Time from `streamlit run` to the first number on screen in Debian's chromium: dpviz vs hello world.

Run: .venv/bin/python benchmarks/startup.py [--breakdown]   (needs /usr/bin/chromium)
"""

import socket
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
    "hello + import dp_accounting": HELLO.replace("st.metric", "import dp_accounting\nst.metric"),
    "hello + sidebar number/text/select inputs": HELLO.replace(
        "x = st.slider", 'st.sidebar.selectbox("d", ["a"]); st.sidebar.number_input("n", value=1); st.sidebar.text_input("t")\nx = st.slider'
    ),
}
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def time_to_metric(script: Path, cwd: Path) -> float:
    port = free_port()
    start = time.perf_counter()
    server = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(script), "--server.headless", "true", "--server.port", str(port),
         "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none"],
        cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", headless=True, args=ARGS)
            page = browser.new_page()
            while True:
                try:
                    page.goto(f"http://127.0.0.1:{port}/", timeout=2000)
                    break
                except Exception:
                    time.sleep(0.05)
            page.get_by_test_id("stMetricValue").first.wait_for(timeout=60000)
            elapsed = time.perf_counter() - start
            browser.close()
        return elapsed
    finally:
        server.terminate()
        server.wait()


def median_time(script: Path, cwd: Path, repeat: int) -> float:
    return sorted(time_to_metric(script, cwd) for _ in range(repeat))[repeat // 2]


def main(repeat: int = 5):
    with tempfile.TemporaryDirectory() as tmp:
        hello = Path(tmp) / "hello.py"
        hello.write_text(HELLO)
        base = median_time(hello, Path(tmp), repeat)
        ours = median_time(ROOT / "app.py", ROOT, repeat)
        print(f"hello-world slider page: {base:.2f} s; dpviz home with epsilon: {ours:.2f} s; ratio {ours / base:.2f}x  [target <= 1.5x]")
        if "--breakdown" in sys.argv:
            for name, code in BREAKDOWN.items():
                page = Path(tmp) / "part.py"
                page.write_text(code)
                print(f"{name}: {median_time(page, Path(tmp), repeat) / base:.2f}x hello world")


if __name__ == "__main__":
    main()
