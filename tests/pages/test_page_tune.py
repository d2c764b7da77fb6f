"""AppTest of the Tune page with the trainer double: plan, start, watch, apply; bad input starts nothing."""

import json
import time

import pytest
from streamlit.testing.v1 import AppTest

from dpviz.runs.store import SqliteRunStore
from dpviz.tuning.study import list_studies

PAGE = "../../pages/tune.py"


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("DPVIZ_HOME", str(tmp_path))
    monkeypatch.setenv("DPVIZ_TRAINER", "dpviz.training.fake:train")
    monkeypatch.setenv("DPVIZ_FAKE_STEP_SECONDS", "0")
    monkeypatch.setenv("DPVIZ_MAX_WORKERS", "2")
    return tmp_path


def page(**params) -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=60)
    for key, value in {"epochs": "2", "b": "128", "trials": "3", **params}.items():
        at.query_params[key] = value
    return at.run()


def metrics(at) -> dict:
    return {m.label: m.value for m in at.metric}


def test_plan_start_watch_and_apply(home):
    at = page()
    assert not at.exception and not at.error
    shown = metrics(at)
    assert float(shown["ε of the whole search"]) <= 3.0 and float(shown["ε of one trial"]) < 3.0
    assert any("No studies yet" in i.value for i in at.info)
    at.button(key="tu_launch").click().run()
    assert not at.exception
    deadline = time.time() + 120
    while time.time() < deadline:
        studies = list_studies(home)
        if studies and studies[0].status != "running":
            break
        time.sleep(0.3)
    (record,) = list_studies(home)
    assert record.status == "completed", record.error
    at.run()  # the fragment's timer does not fire under AppTest
    assert not at.exception
    shown = metrics(at)
    assert shown["Status"] == "completed" and shown["Trials run"] == f"{record.trials_drawn} of {record.trials_drawn}"
    assert any("RepeatAndSelect" in s.value for s in at.success)
    table = at.dataframe[0].value
    assert len(table) == record.trials_drawn and set(table["run"]) == {t.run_id for t in record.trials}
    if record.trials_drawn >= 2:
        titles = {json.loads(c.proto.spec)["layout"]["title"]["text"] for c in at.get("plotly_chart")}
        assert "Optimization History Plot" in titles
    assert all(r.status == "completed" for r in SqliteRunStore(home).list())
    at.button(key="tu_apply").click().run()
    assert not at.exception
    best = record.best
    applied = at.session_state["settings"]
    assert float(applied["learning_rate"]) == pytest.approx(best.params["learning_rate"], rel=1e-3)
    assert applied["clip_norm"] == pytest.approx(best.params["clip_norm"], abs=0.005)
    assert float(applied["noise_multiplier"]) >= record.cost["noise_multiplier"]  # rounded up: never less noise
    assert any("applied" in s.value for s in at.success)


@pytest.mark.parametrize(
    ("key", "value", "named"),
    [
        ("w_tune_lr_range", "2,0.1", "learning_rate_range"),
        ("w_tune_clip_range", "abc", "clip_norm_range"),
        ("w_tune_momentum_range", "0,1", "momentum_range"),
        ("w_tune_trials_mean", "0", "trials_mean"),
        ("w_tune_target_epsilon", "0.0001", "target_epsilon"),
        ("w_tune_target_epsilon", "x", "target_epsilon"),
    ],
)
def test_bad_input_names_the_field_and_starts_nothing(home, key, value, named):
    at = page()
    at.text_input(key=key).input(value).run()
    assert not at.exception
    assert any(named.replace("_", " ") in e.value.lower() or named in e.value for e in at.error), [
        e.value for e in at.error
    ]
    assert at.button(key="tu_launch").disabled
    assert SqliteRunStore(home).list() == []


def test_sidebar_batch_size_out_of_range_is_named(home):
    at = page()
    at.sidebar.text_input(key="w_tune_batch_size").input("5000").run()
    assert any("batch" in e.value.lower() for e in at.error) and at.button(key="tu_launch").disabled
