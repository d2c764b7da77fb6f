"""AppTest of the Train page's "Verify this implementation" tab."""

import time

import pytest
from streamlit.testing.v1 import AppTest

from dpviz.verify import records
from tests.conftest import VERIFY_CONFIG
from tests.conftest import verify_report as report

PAGE = "../../pages/train.py"


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("DPVIZ_HOME", str(tmp_path))
    monkeypatch.setenv("DPVIZ_TRAINER", "dpviz.training.fake:train")
    return tmp_path


def page(**params) -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=60)
    at.query_params.update({"epochs": "3", "b": "128", "tab": "Verify this implementation", **params})
    return at.run()


@pytest.mark.parametrize("text, message", [("abc", "whole number"), ("5", ">= 20"), ("1e3", "whole number")])
def test_a_bad_canary_count_names_the_field_and_disables_the_button(home, text, message):
    at = page()
    at.text_input(key="t_verify_canaries").input(text).run()
    assert not at.exception
    assert any("canaries" in e.value and message in e.value for e in at.error)
    assert at.button(key="t_verify_launch").disabled
    assert not (home / "verifications").exists()


def test_an_invalid_setting_above_disables_verification(home):
    at = page(lr="0")
    assert not at.exception and at.button(key="t_verify_launch").disabled


@pytest.mark.parametrize("violation", [False, True])
def test_a_finished_verification_shows_its_verdict_numbers_and_histogram(home, violation):
    r = report(empirical_epsilon_fdp=4.1 if violation else 1.9)
    records.write(home, "verify-t-1", status="completed", report=r.to_dict(), config={})
    at = AppTest.from_file(PAGE, default_timeout=60)
    at.query_params.update({"tab": "Verify this implementation"})
    at.session_state["t_verify_id"] = "verify-t-1"
    at.run()
    assert not at.exception
    shown = at.error if violation else at.success
    assert any(("VIOLATION" in s.value) == violation and "10,000 gradient canaries" in s.value for s in shown)
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["ε claimed (this run)"] == "3.06" and metrics["ε ≥ (f-DP one-run)"] == (
        "4.1" if violation else "1.9"
    )
    assert metrics["bound / ε"] == ("1.34" if violation else "0.62")
    assert any("144 of 158 guesses correct" in c.value for c in at.caption)
    assert len(at.get("plotly_chart")) >= 1


def test_a_verification_whose_process_died_says_so(home):
    records.write(home, "verify-t-2", status="running", progress=[3, 10], pid=2**22 + 12345, config={})
    at = AppTest.from_file(PAGE, default_timeout=60)
    at.session_state["t_verify_id"] = "verify-t-2"
    at.query_params.update({"tab": "Verify this implementation"})
    at.run()
    assert not at.exception and any("stopped before it finished" in e.value for e in at.error)


@pytest.mark.slow
def test_verify_runs_in_its_own_process_and_reports(home):
    at = page(epochs="1", b="256")
    at.text_input(key="t_verify_canaries").input("2000").run()
    at.button(key="t_verify_launch").click().run()
    assert not at.exception and not at.error
    record_id = at.session_state["t_verify_id"]
    deadline = time.time() + 120
    while time.time() < deadline and (records.read(home, record_id) or {}).get("status") in (None, "running"):
        time.sleep(0.5)
    record = records.read(home, record_id)
    assert record["status"] == "completed", record
    assert record["report"]["canaries"] == 2000 and record["config"]["batch_size"] == 256
    at.run()
    assert not at.exception
    assert any("Consistent with its claim" in s.value for s in at.success)


def test_a_new_session_finds_earlier_verifications_and_shows_one(home):
    r = report()
    records.write(home, "verify-20261201-101500-aaaaaa", status="completed", report=r.to_dict(), config=VERIFY_CONFIG)
    records.write(home, "verify-20261201-111500-bbbbbb", status="failed", error="boom", config=VERIFY_CONFIG)
    at = page()
    assert not at.exception and not at.success  # nothing chosen yet: no report
    assert any(e.label == "Earlier verifications (2)" for e in at.expander)
    (table,) = [d.value for d in at.dataframe if "started" in d.value.columns]
    assert list(table["started"]) == ["2026-12-01 11:15:00", "2026-12-01 10:15:00"]
    assert list(table["verdict"]) == ["", "consistent with its claim"]
    at.selectbox(key="t_verify_pick").select("verify-20261201-101500-aaaaaa").run()
    assert not at.exception
    assert at.session_state["t_verify_id"] == "verify-20261201-101500-aaaaaa"
    assert any("Consistent with its claim" in s.value for s in at.success)
