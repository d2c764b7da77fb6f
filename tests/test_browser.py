"""End to end in a real browser: `streamlit run app.py` driven by Playwright through Debian's chromium.

One test walks the product as a person would: a deep link on a fresh server, the sliders, a link
with the settings, a real (tiny) DP-SGD training pair, the Runs page's downloads, and bad input.
Screenshots go to $DPVIZ_SCREENSHOTS (`make screenshots` writes the README's into docs/).
"""

import io
import os
import re
import shutil
import time
from pathlib import Path

import pandas as pd
import pytest

from tests.conftest import streamlit_app

pytestmark = pytest.mark.browser
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture
def server(tmp_path):
    if not Path(CHROMIUM).exists():
        pytest.fail("chromium is missing: `make chromium` installs it (make test does)")
    env = {"DPVIZ_MAX_WORKERS": "2", "TMPDIR": str(tmp_path)}
    env["DPVIZ_WORKER_IDLE_SECONDS"] = "300"  # warm workers, as a user's app keeps them
    env["DPVIZ_TRAINER"] = None  # the real engine
    with streamlit_app(tmp_path, env) as url:
        yield url


@pytest.fixture
def browser(tmp_path):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=ARGS, env={**os.environ, "TMPDIR": str(tmp_path)}
        )
        yield b
        b.close()


def idle(page, timeout=60_000):
    """Wait until Streamlit has finished the current run (no 'Running...' status widget); no page may
    show an exception at any point of the walk."""
    page.wait_for_timeout(300)
    page.wait_for_function(
        "() => document.querySelectorAll('[data-testid=\"stStatusWidget\"]').length === 0", timeout=timeout
    )
    assert page.get_by_test_id("stException").count() == 0, page.get_by_test_id("stException").first.inner_text()


def download(page, button) -> bytes:
    """Click a download button and return the file. A click that lands while the page redraws (the
    Runs page polls while runs finish) can be lost, so it is retried twice before failing."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    for _ in range(3):
        try:
            with page.expect_download(timeout=15_000) as info:
                button.click()
            return Path(info.value.path()).read_bytes()
        except PlaywrightTimeout:
            idle(page)
    raise AssertionError("no download after three clicks")


def metric(page, label: str, timeout: float = 30.0) -> str:
    """The value of the metric labelled `label`. While a rerun replaces the page, Streamlit keeps the old
    elements beside the new ones for a moment (and shows its 'Running' widget only after a delay), and a
    metric being replaced can read empty for a moment (once seen on the Tune page): wait until exactly one
    is on the page, with a value."""
    value = page.get_by_test_id("stMetric").filter(has_text=label).get_by_test_id("stMetricValue")
    deadline = time.monotonic() + timeout
    while value.count() != 1 or not value.inner_text().strip():
        if time.monotonic() > deadline:
            alerts = [a.inner_text()[:300] for a in page.get_by_test_id("stAlert").all()]
            alerts += [e.inner_text()[:600] for e in page.get_by_test_id("stException").all()]
            raise AssertionError(
                f"{value.count()} metrics labelled {label!r} (or one without a value) after {timeout:.0f} s; "
                f"the page's messages: {alerts}"
            )
        page.wait_for_timeout(100)
    return value.inner_text()


def epsilon(page) -> str:
    return metric(page, "ε (epsilon)")


def report(folder, what: str, seconds: float) -> None:
    """A figure the closing note quotes: printed (pytest -s) and kept in timings.txt beside the screenshots."""
    line = f"{what}: {seconds:.2f} s"
    print(line)
    with open(Path(folder) / "timings.txt", "a") as f:
        f.write(line + "\n")


def shoot(page, name, folder):
    folder = Path(os.environ.get("DPVIZ_SCREENSHOTS") or folder)
    folder.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(folder / f"{name}.png"))


def test_dashboard_end_to_end(server, browser, tmp_path):
    page = browser.new_page(viewport={"width": 1400, "height": 1500}, accept_downloads=True)
    page.set_default_timeout(30_000)
    try:
        walk_through(page, server, browser, tmp_path)
    except Exception:
        page.screenshot(path=str(tmp_path / "failure.png"))
        print(f"screenshot of the failure: {tmp_path / 'failure.png'}; server log: {tmp_path / 'streamlit.log'}")
        print("the server log ends:\n" + (tmp_path / "streamlit.log").read_text(errors="replace")[-3000:])
        for pattern in ("*.json", "*.log"):
            for kept in sorted((tmp_path / "home" / "verifications").glob(pattern)):
                print(f"{kept.name} ends:\n" + kept.read_text(errors="replace")[-3000:])
        raise


def walk_through(page, server, browser, tmp_path):
    from playwright.sync_api import expect

    # 0. a deep link is the very first request of a fresh server: it still gets the app's navigation
    page.goto(f"{server}/runs")
    page.get_by_text("No runs stored yet").wait_for()
    assert page.get_by_test_id("stSidebarNavLink").filter(has_text="Privacy budget").count() == 1

    # 0b. the app started warm workers in the background (TensorFlow loads there, never in the server);
    # the timings below are taken once they are ready, as a user finds them after the first few seconds
    log = tmp_path / "home" / "worker.log"
    deadline = time.time() + 90
    while time.time() < deadline and (not log.exists() or log.read_text().count("warm: ready") < 2):
        time.sleep(0.2)
    assert log.read_text().count("warm: ready") == 2

    # 1. home: the noise multiplier moves epsilon; PLD is tighter than RDP
    # Streamlit sends a slider's value a moment after the last key press (debounced), so each step
    # waits for the page's privacy statement to show the new setting before reading epsilon.
    from dpviz.ui.settings import FIELDS

    sigma, clip = FIELDS["noise_multiplier"].default, FIELDS["clip_norm"].default
    page.get_by_test_id("stSidebarNavLink").filter(has_text="Privacy budget").click()
    page.get_by_text(f"σ·C = {sigma * clip:.3g} is added").wait_for()
    idle(page)
    before = float(epsilon(page))
    slider = page.get_by_test_id("stSlider").filter(has_text="Noise multiplier").get_by_role("slider")
    slider.focus()
    for _ in range(10):
        page.keyboard.press("ArrowRight")
    pressed, shown = time.perf_counter(), epsilon(page)
    while epsilon(page) == shown and time.perf_counter() - pressed < 30:  # what the user sees change
        page.wait_for_timeout(20)
    report(tmp_path, "slider -> epsilon", time.perf_counter() - pressed)
    sigma = round(sigma + 0.1, 2)  # ten steps of 0.01
    page.get_by_text(f"σ·C = {sigma * clip:.3g} is added").wait_for()
    idle(page)
    after = float(epsilon(page))
    assert after < before
    page.get_by_test_id("stRadio").get_by_text("PLD (dp-accounting, tight)").click()
    page.get_by_text("Accountant: PLD").wait_for()
    idle(page)
    pld = float(epsilon(page))
    assert pld < after
    page.locator("[data-testid=stPlotlyChart] .main-svg:visible").first.wait_for()
    shoot(page, "budget", tmp_path)

    # 2. the page's URL carries the settings: opened fresh, it shows the same epsilon
    assert "sigma=" in page.url and "acct=pld" in page.url
    again = browser.new_page()
    again.goto(page.url)
    again.get_by_test_id("stMetricValue").first.wait_for()
    idle(again)
    assert float(epsilon(again)) == pytest.approx(pld, rel=1e-6)
    again.close()

    # 3. Train: a tiny digits pair with the real engine, progress, both curves, completed
    page.get_by_test_id("stSidebarNavLink").filter(has_text="Train").click()
    page.get_by_role("button", name="Train private + baseline").wait_for()
    assert f"sigma={sigma}" in page.url and "acct=pld" in page.url  # the same settings, in this page's URL too

    # 3a. a bad learning rate is named, and nothing can be launched until it is fixed
    rate = page.get_by_test_id("stTextInput").filter(has_text="Learning rate").locator("input")
    rate.fill("0")
    rate.press("Enter")
    error = page.get_by_test_id("stAlertContentError").first
    error.wait_for()
    assert "learning rate" in error.inner_text().lower() and "> 0" in error.inner_text()
    expect(page.get_by_role("button", name="Train private + baseline")).to_be_disabled()
    rate.fill("0.25")
    rate.press("Enter")
    expect(page.get_by_role("button", name="Train private + baseline")).to_be_enabled()
    epochs = page.get_by_test_id("stSlider").filter(has_text="Epochs").get_by_role("slider")
    epochs.focus()
    page.keyboard.press("Home")
    page.keyboard.press("ArrowRight")  # 2 epochs
    expect(page.get_by_test_id("stSlider").filter(has_text="Epochs").get_by_test_id("stSliderThumbValue")).to_have_text(
        "2"
    )
    page.wait_for_timeout(600)  # past the slider's debounce, so the value reaches the server
    idle(page)
    batch = page.get_by_test_id("stTextInput").filter(has_text="Batch size").locator("input")
    batch.fill("64")
    batch.press("Enter")
    idle(page)
    deadline = time.monotonic() + 30
    while metric(page, "Steps") != "45" and time.monotonic() < deadline:  # 2 epochs at b = 64 have reached the server
        page.wait_for_timeout(100)
    planned = metric(page, "ε this run will report")
    page.wait_for_timeout(3000)  # the warm workers the app started have loaded TensorFlow by now
    idle(page)  # a click while the page still runs waits for that run: time the click alone
    page.get_by_role("button", name="Train private + baseline").click()
    clicked, clicked_at = time.perf_counter(), time.time()
    page.get_by_test_id("stPlotlyChart").get_by_text("private · train loss per step").first.wait_for(timeout=60_000)
    report(tmp_path, "click -> first chart point", time.perf_counter() - clicked)
    from dpviz.runs.store import SqliteRunStore

    private = next(r for r in SqliteRunStore(tmp_path / "home").list() if r.kind == "private")
    report(tmp_path, "  of which click -> queued", private.created_at - clicked_at)
    report(tmp_path, "  of which queued -> claimed by a worker", (private.started_at or 0) - private.created_at)

    # 3c. a reload mid-run shows the form of the run being displayed (the URL holds both)
    page.reload()
    page.get_by_role("button", name="Train private + baseline").wait_for()
    idle(page)
    expect(page.get_by_test_id("stSlider").filter(has_text="Epochs").get_by_test_id("stSliderThumbValue")).to_have_text(
        "2"
    )
    assert page.get_by_text("differs from the run shown").count() == 0
    assert "t_view=" in page.url
    step = page.get_by_text(re.compile(r"^step \d+/\d+$")).first
    page.get_by_text("privacy costs").wait_for(timeout=180_000)
    summary = page.get_by_test_id("stAlertContentSuccess").first.inner_text()
    assert f"ε = {planned} " in summary, (planned, summary)  # the epsilon shown before launch is the one reported
    done, total = step.inner_text().split()[1].split("/")
    assert done == total  # the progress bar reached the end
    accuracy = page.get_by_test_id("stPlotlyChart").first
    for name in ("private · test accuracy", "baseline · test accuracy"):
        assert accuracy.get_by_text(name).count() >= 1
    assert page.get_by_text("completed").count() >= 2
    page.get_by_text(
        re.compile("The attacker.s advantage (falls from|is|rises from)")
    ).wait_for()  # the membership-inference audit
    assert page.get_by_text("epoch 2/2").count() >= 1 and total == "45"  # 2 epochs of 1,437 digits at b = 64
    shoot(page, "train", tmp_path)

    # 3b. a sweep over the noise multiplier, queued in one action with one shared baseline
    page.get_by_role("tab", name="Sweep").click()
    page.get_by_test_id("stTextInput").filter(has_text="Values 1").locator("input").fill("0.6, 3")
    page.keyboard.press("Enter")
    page.get_by_test_id("stSelectbox").filter(has_text="Hyperparameter 2").click()
    page.get_by_role("option", name="—").click()
    idle(page)
    page.get_by_role("button", name="Queue sweep").click()
    page.get_by_text("3/3 runs completed").wait_for(timeout=60_000)

    # 3d. verify this implementation at these settings: a one-run audit in its own process, its verdict
    page.get_by_role("tab", name="Verify this implementation").click()
    canaries = page.get_by_test_id("stTextInput").filter(has_text="Number of canaries").locator("input")
    canaries.fill("5")
    canaries.press("Enter")
    page.get_by_test_id("stAlertContentError").filter(has_text="canaries").first.wait_for()
    expect(page.get_by_role("button", name="Verify this implementation")).to_be_disabled()
    canaries.fill("2000")
    canaries.press("Enter")
    idle(page)
    page.get_by_role("button", name="Verify this implementation").click()
    clicked = time.perf_counter()
    kept = tmp_path / "home" / "verifications"
    while not list(kept.glob("*.json")) and time.perf_counter() - clicked < 30:
        page.wait_for_timeout(100)
    assert list(kept.glob("*.json")), "the click on Verify started no verification within 30 s"
    page.get_by_text("Consistent with its claim").wait_for(timeout=120_000)
    report(tmp_path, "verify click -> verdict", time.perf_counter() - clicked)
    assert float(metric(page, "ε ≥ (f-DP one-run)")) < float(metric(page, "ε claimed (this run)"))
    page.get_by_test_id("stPlotlyChart").get_by_text("included canaries").first.wait_for()
    page.get_by_text("Earlier verifications (1)").wait_for()  # kept for a reload or another session
    shoot(page, "verify", tmp_path)

    # 4. Runs: the runs are listed and selected; CSV, HTML and PNG downloads hold them
    page.get_by_test_id("stSidebarNavLink").filter(has_text="Runs").click()
    page.get_by_text("5 of 5 runs shown").wait_for()
    idle(page)
    page.locator("[data-testid=stPlotlyChart] .main-svg:visible").first.wait_for()
    shoot(page, "runs", tmp_path)
    files = {
        fmt: download(page, page.get_by_test_id("stDownloadButton").filter(has_text=fmt).first)
        for fmt in ("CSV", "HTML")
    }
    page.get_by_test_id("stButton").filter(has_text="PNG").first.click()  # renders PNG and SVG on request
    png = page.get_by_test_id("stDownloadButton").filter(has_text="PNG").first
    png.wait_for()
    assert download(page, png)[:8] == b"\x89PNG\r\n\x1a\n"
    table = pd.read_csv(io.BytesIO(files["CSV"]))
    private = table[table["kind"] == "private"]
    assert len(private) == 3 and private["test_accuracy"].between(0, 1).all() and (private["epsilon"] > 0).all()
    assert sorted(private["noise_multiplier"]) == sorted([0.6, sigma, 3.0]) and (private["batch_size"] == 64).all()
    html = files["HTML"].decode()
    assert all(i in html for i in private["id"]) and not re.search(r"<script[^>]+src=[\"']?https?:", html)

    # 5. bad input: a batch larger than the dataset names the field; fixing it brings epsilon back
    page.get_by_test_id("stSidebarNavLink").filter(has_text="Privacy budget").click()
    page.get_by_test_id("stMetricValue").first.wait_for()
    batch = page.get_by_test_id("stTextInput").filter(has_text="Batch size").locator("input")
    batch.fill("70000")
    batch.press("Enter")
    error = page.get_by_test_id("stAlertContentError").first
    error.wait_for()
    assert "batch size" in error.inner_text().lower() and "1437" in error.inner_text().replace(",", "")
    assert page.get_by_text("Showing the last valid settings").count() == 1  # the results stay, marked
    assert epsilon(page) != ""
    batch.fill("256")
    batch.press("Enter")
    page.get_by_text("Showing the last valid settings").wait_for(state="detached")
    idle(page)
    assert float(epsilon(page)) > 0

    # 6. Tune: one accounted trial (a mean of 1 draws exactly one) with the real engine, planned, run, applied
    page.get_by_test_id("stSidebarNavLink").filter(has_text="Tune").click()
    # the page's first run finishes first, as a user's would: an input committed while a rerun is still
    # drawing can leave the page without its elements until the next interaction (streamlit#9188)
    metric(page, "ε of the whole search")
    idle(page)
    trials = page.get_by_test_id("stTextInput").filter(has_text="Expected number of trials").locator("input")
    trials.fill("1")
    trials.press("Enter")
    idle(page)
    assert float(metric(page, "ε of the whole search")) <= 3.0
    page.get_by_role("button", name="Start study").click()
    page.get_by_test_id("stMetric").filter(has_text="Status").get_by_text("completed").wait_for(timeout=180_000)
    idle(page)
    assert page.get_by_text("RepeatAndSelect").count() >= 1 and metric(page, "Trials run") == "1 of 1"
    shoot(page, "tune", tmp_path)
    page.get_by_role("button", name="Apply the best settings on the Train page").click()
    page.get_by_role("heading", name="Train DP-SGD against its baseline").wait_for()
    idle(page)
    page.get_by_role("tab", name="Single run").click()
    page.get_by_role("button", name="Train private + baseline").wait_for()
    assert "lr=" in page.url and "momentum=" in page.url and page.get_by_text("damaged settings").count() == 0
