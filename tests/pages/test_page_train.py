"""AppTest of the Train page with the fast trainer double (real store, real worker processes)."""

import json
import time

import pytest
from streamlit.testing.v1 import AppTest

from dpviz.runs.store import SqliteRunStore

PAGE = "../../pages/train.py"


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("DPVIZ_HOME", str(tmp_path))
    monkeypatch.setenv("DPVIZ_TRAINER", "dpviz.training.fake:train")
    monkeypatch.setenv("DPVIZ_FAKE_STEP_SECONDS", "0.002")
    monkeypatch.setenv("DPVIZ_MAX_WORKERS", "2")
    return tmp_path


def page() -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=60)
    at.query_params["epochs"] = "3"
    at.query_params["b"] = "128"
    return at.run()


def test_launch_pair_shows_live_status_and_summary(home):
    at = page()
    assert not at.exception
    assert any("No runs yet" in i.value for i in at.info)
    at.button(key="t_launch").click().run()
    assert not at.exception and not at.error
    store = SqliteRunStore(home)
    runs = store.list()
    assert {r.kind for r in runs} == {"private", "baseline"} and len({r.group_id for r in runs}) == 1
    deadline = time.time() + 30
    while time.time() < deadline and any(r.active for r in store.list()):
        time.sleep(0.1)
    assert all(r.status == "completed" for r in store.list())
    at.run()  # the fragment's timer does not fire under AppTest: rerun as a poll would
    assert not at.exception
    assert any("privacy costs" in s.value for s in at.success)
    assert len(at.get("plotly_chart")) == 4  # accuracy, loss, epsilon, membership-inference ROC
    assert any(i.value.startswith("The attacker's advantage falls from") for i in at.info)
    roc = json.loads(at.get("plotly_chart")[3].proto.spec)
    assert roc["layout"]["xaxis"]["type"] == "log" and roc["layout"]["yaxis"]["type"] == "log"
    assert len(at.dataframe[-1].value) == 4  # private and baseline x two attacks


def test_bad_input_names_the_field_and_starts_nothing(home):
    at = page()
    at.text_input(key="t_size").input("50").run()  # 50 examples < batch size 128
    assert at.button(key="t_launch").disabled and at.button(key="t_sweep_launch").disabled  # a user cannot click
    assert not at.exception
    assert at.error and "batch size" in at.error[0].value and "50" in at.error[0].value
    assert SqliteRunStore(home).list() == []


def test_reload_shows_existing_runs(home):
    store = SqliteRunStore(home)
    run_id = store.create_run(
        config=dict(
            dataset="digits",
            model="mlp",
            epochs=2,
            batch_size=64,
            noise_multiplier=1.0,
            clip_norm=1.0,
            learning_rate=0.25,
            optimizer="sgd",
            momentum=0.0,
            sampler="poisson",
            seed=0,
            delta=1e-5,
            dataset_size=None,
            accountant="rdp",
        ),
        kind="private",
        status="running",
        pid=999_999_999,
    )
    at = page()  # start-up recovery: its process is gone
    assert not at.exception
    assert store.get(run_id).status in ("interrupted", "failed")
    assert any("restarted" in e.value or "died" in e.value for e in at.error)


def test_sweep_queues_grid_with_shared_baseline_and_shows_progress(home):
    at = page()
    at.text_input(key="t_sweep_v1").input("0.5, 2").run()
    at.selectbox(key="t_sweep_x2").set_value("none").run()
    at.button(key="t_sweep_launch").click().run()
    assert not at.exception and not at.error
    store = SqliteRunStore(home)
    runs = store.list()
    assert sorted(r.kind for r in runs) == ["baseline", "private", "private"]
    assert len({r.sweep_id for r in runs}) == 1 and runs[0].sweep_id.startswith("sweep-")
    assert at.selectbox(key="t_view").value == runs[0].sweep_id
    deadline = time.time() + 30
    while time.time() < deadline and any(r.active for r in store.list()):
        time.sleep(0.1)
    at.run()
    assert not at.exception and "3/3 runs completed" in at.get("progress")[0].proto.text


def test_bad_sweep_value_names_the_field(home):
    at = page()
    at.text_input(key="t_sweep_v1").input("1, lots").run()
    at.button(key="t_sweep_launch").click().run()
    assert not at.exception and "noise multiplier" in at.error[0].value and "lots" in at.error[0].value
    assert SqliteRunStore(home).list() == []


def test_a_second_launch_switches_the_view_to_it(home):
    at = page()
    at.button(key="t_launch").click().run()
    first = at.selectbox(key="t_view").value
    at.button(key="t_sweep_launch").click().run()
    assert not at.exception
    assert at.selectbox(key="t_view").value != first and at.selectbox(key="t_view").value.startswith("sweep-")


def test_canaries_show_their_exposure_beside_the_audit(home):
    at = page()
    at.text_input(key="t_canaries").input("4").run()
    at.button(key="t_launch").click().run()
    assert not at.exception and not at.error
    store = SqliteRunStore(home)
    assert {r.config["canaries"] for r in store.list()} == {4}
    deadline = time.time() + 30
    while time.time() < deadline and any(r.active for r in store.list()):
        time.sleep(0.1)
    at.run()
    assert any(m.value.startswith("**Canary exposure, inserted once,") for m in at.markdown)
    assert any("never trained on" in c.value for c in at.caption)
    table = at.dataframe[-1].value
    assert list(table["copies"]) == [1, 4, 1, 4]
    assert set(table.columns) >= {"exposure, DP-SGD (bits)", "exposure, non-private baseline (bits)"}


# Every typed input of the Train page: a non-number and an out-of-range number each get an error
# naming the field and its range, and launching is disabled (the value is never silently replaced).
BAD_INPUTS = [
    ("t_lr", "abc", "learning rate"),
    ("t_lr", "0", "learning rate"),
    ("t_lr", "1e9", "learning rate"),
    ("t_lr", "0,5", "learning rate"),
    ("t_seed", "-1", "seed"),
    ("t_seed", "1e3", "seed"),
    ("t_size", "0", "dataset size"),
    ("t_size", "1e9", "dataset size"),
    ("t_size", "x", "dataset size"),
    ("t_target", "-2", "target epsilon"),
    ("t_target", "abc", "target epsilon"),
    ("t_canaries", "50", "canaries"),
    ("t_canaries", "1.5", "canaries"),
]


@pytest.mark.parametrize("key, text, field", BAD_INPUTS)
def test_every_bad_input_names_its_field_and_disables_launch(home, key, text, field):
    at = page()
    at.text_input(key=key).input(text).run()
    assert not at.exception
    assert at.error and at.error[0].value.startswith(f"**{field}**"), [e.value for e in at.error]
    assert at.button(key="t_launch").disabled and at.button(key="t_sweep_launch").disabled


@pytest.mark.parametrize("text", ["0", "-3", "abc", "1e3", "2.5"])
def test_bad_sidebar_batch_size_names_the_field_and_disables_launch(home, text):
    at = page()
    at.sidebar.text_input(key="w_train_batch_size").input(text).run()
    assert not at.exception and at.error and at.error[0].value.startswith("**batch size**")
    assert at.button(key="t_launch").disabled


def test_typed_values_are_the_values_launched(home):
    at = page()
    for key, text in (("t_lr", "0.1"), ("t_seed", "7"), ("t_size", "300"), ("t_canaries", "2")):
        at.text_input(key=key).input(text).run()
    at.button(key="t_launch").click().run()
    config = SqliteRunStore(home).list()[0].config
    assert (config["learning_rate"], config["seed"], config["dataset_size"], config["canaries"]) == (0.1, 7, 300, 2)


def test_a_stored_run_with_unreadable_settings_does_not_break_the_page(home):
    store = SqliteRunStore(home)
    store.create_run(config={"dataset": "digits", "batch_size": "many"}, kind="private", status="running", pid=1)
    at = page()
    assert not at.exception
    assert any("cannot be read" in e.value for e in at.error)
