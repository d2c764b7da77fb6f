"""AppTest of the Train page with the fast trainer double (real store, real worker processes)."""

import json
import time

import pytest
from streamlit.testing.v1 import AppTest

from dpviz.runs.store import SqliteRunStore
from dpviz.training.config import TrainConfig
from dpviz.ui.settings import FIELDS

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
    assert any(i.value.startswith("The attacker's advantage ") for i in at.info)
    loss = json.loads(at.get("plotly_chart")[1].proto.spec)
    assert loss["layout"]["title"]["text"] == "Loss · Digits / MLP"  # the legend's reader knows the task
    assert {"private · train loss per step", "baseline · train loss per step"} <= {t["name"] for t in loss["data"]}
    roc = json.loads(at.get("plotly_chart")[3].proto.spec)
    assert roc["layout"]["xaxis"]["type"] == "log" and roc["layout"]["yaxis"]["type"] == "log"
    assert roc["data"][0]["name"] == "DP-SGD guarantee: no attack above this"  # theory beside the measured attacks
    assert any("stay below it" in c.value or "lie above it" in c.value for c in at.caption)
    assert len(at.dataframe[-1].value) == 4  # private and baseline x two attacks


def test_bad_input_names_the_field_and_starts_nothing(home):
    at = page()
    at.sidebar.text_input(key="w_train_dataset_size").input("50").run()  # 50 examples < batch size 128
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
    at.text_input(key="w_train_canaries").input("4").run()
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
    ("learning_rate", "abc", "learning rate"),
    ("learning_rate", "0", "learning rate"),
    ("learning_rate", "1e9", "learning rate"),
    ("learning_rate", "0,5", "learning rate"),
    ("seed", "-1", "seed"),
    ("seed", "1e3", "seed"),
    ("dataset_size", "0", "dataset size"),
    ("dataset_size", "1e9", "dataset size"),
    ("dataset_size", "1e3", "dataset size"),
    ("dataset_size", "x", "dataset size"),
    ("batch_size", "0", "batch size"),
    ("batch_size", "-3", "batch size"),
    ("batch_size", "abc", "batch size"),
    ("batch_size", "1e3", "batch size"),
    ("batch_size", "2.5", "batch size"),
    ("delta", "abc", "delta"),
    ("delta", "1", "delta"),
    ("target_epsilon", "-2", "target epsilon"),
    ("target_epsilon", "abc", "target epsilon"),
    ("canaries", "50", "canaries"),
    ("canaries", "1.5", "canaries"),
]


@pytest.mark.parametrize("name, text, field", BAD_INPUTS)
def test_every_bad_input_names_its_field_and_disables_launch(home, name, text, field):
    at = page()
    before = at.metric[0].value
    at.text_input(key=f"w_train_{name}").input(text).run()
    assert not at.exception
    assert at.error and at.error[0].value.startswith(f"**{field}**"), [e.value for e in at.error]
    assert at.button(key="t_launch").disabled and at.button(key="t_sweep_launch").disabled
    if field != "target epsilon":  # the last valid plan stays, marked as not the inputs
        assert at.metric[0].value == before
        assert any("last valid settings" in c.value for c in at.caption)


def test_a_custom_size_is_for_planning_only(home):
    at = page()
    at.sidebar.selectbox(key="w_train_dataset").set_value("custom").run()
    assert not at.exception and at.error[0].value.startswith("**dataset**") and "planning" in at.error[0].value
    assert at.button(key="t_launch").disabled


def test_typed_values_are_the_values_launched(home):
    at = page()
    for name, text in (("learning_rate", "0.1"), ("seed", "7"), ("dataset_size", "300"), ("canaries", "2")):
        at.text_input(key=f"w_train_{name}").input(text).run()
    at.button(key="t_launch").click().run()
    config = SqliteRunStore(home).list()[0].config
    assert (config["learning_rate"], config["seed"], config["dataset_size"], config["canaries"]) == (0.1, 7, 300, 2)


def test_a_stored_run_with_unreadable_settings_does_not_break_the_page(home):
    store = SqliteRunStore(home)
    store.create_run(config={"dataset": "digits", "batch_size": "many"}, kind="private", status="running", pid=1)
    at = page()
    assert not at.exception
    assert any("cannot be read" in e.value for e in at.error)


@pytest.mark.parametrize("sampler, key", [("poisson", "epsilon"), ("fixed", "epsilon"), ("shuffle", "epsilon")])
def test_pre_launch_epsilon_equals_the_cli_for_the_same_settings_and_n(home, sampler, key):
    import subprocess
    import sys

    at = page()
    at.text_input(key="w_train_canaries").input("2").run()  # n = 1437 + 1 + 4 copies
    at.selectbox(key="w_train_sampler").set_value(sampler).run()
    assert not at.exception
    assert at.metric[1].value == "1,442"
    cli = subprocess.run(
        [sys.executable, "-m", "dpviz", "epsilon", "--dataset-size", "1442", "--batch-size", "128"]
        + ["--noise-multiplier", str(FIELDS["noise_multiplier"].default), "--epochs", "3", "--delta", "1e-5"]
        + ["--sampler", sampler, "--json"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert at.metric[0].value == f"{json.loads(cli.stdout)[key]:.3f}"


def test_pre_launch_epsilon_is_the_epsilon_the_run_reports(home):
    at = page()
    planned = at.metric[0].value
    at.button(key="t_launch").click().run()
    store = SqliteRunStore(home)
    deadline = time.time() + 30
    while time.time() < deadline and any(r.active for r in store.list()):
        time.sleep(0.1)
    private = next(r for r in store.list() if r.kind == "private")
    assert f"{private.final['final']['epsilon']:.3f}" == planned


def test_url_round_trip_restores_the_form_the_view_and_the_tab(home):
    at = page()
    for name, text in (("learning_rate", "0.1"), ("seed", "7"), ("canaries", "2"), ("target_epsilon", "4")):
        at.text_input(key=f"w_train_{name}").input(text).run()
    at.selectbox(key="w_train_model").set_value("cnn").run()
    at.sidebar.slider(key="w_train_noise_multiplier").set_value(2.5).run()
    at.button(key="t_launch").click().run()
    view = at.selectbox(key="t_view").value
    at.button(key="t_launch").click().run()  # a newer pair: the link must still name the first
    at.selectbox(key="t_view").set_value(view).run()
    query = dict(at.query_params.items())
    assert query["lr"] in ("0.1", ["0.1"]) and query["model"] in ("cnn", ["cnn"]) and query["t_view"] in (view, [view])
    assert query["sigma"] in ("2.5", ["2.5"])

    again = AppTest.from_file(PAGE, default_timeout=60)
    for k, v in query.items():
        again.query_params[k] = v
    again.run()
    assert not again.exception
    assert again.text_input(key="w_train_learning_rate").value == "0.1"
    assert again.text_input(key="w_train_seed").value == "7"
    assert again.text_input(key="w_train_target_epsilon").value == "4"
    assert again.selectbox(key="w_train_model").value == "cnn"
    assert again.sidebar.slider(key="w_train_noise_multiplier").value == 2.5
    assert again.selectbox(key="t_view").value == view
    assert not any("differs from the run shown" in i.value for i in again.info)


def test_a_form_that_differs_from_the_run_shown_says_so_and_can_load_it(home):
    at = page()
    at.button(key="t_launch").click().run()
    fresh = AppTest.from_file(PAGE, default_timeout=60).run()  # a reload without the link: the defaults
    assert not fresh.exception
    notice = next(i.value for i in fresh.info if "differs from the run shown" in i.value)
    assert "epochs" in notice and "b" in notice
    fresh.button(key="t_load_settings").click().run()
    assert fresh.sidebar.slider(key="w_train_epochs").value == 3
    assert fresh.sidebar.text_input(key="w_train_batch_size").value == "128"
    assert not any("differs from the run shown" in i.value for i in fresh.info)


def test_time_left_comes_from_the_measured_step_rate():
    from types import SimpleNamespace

    from dpviz.ui.train_view import time_left

    run = SimpleNamespace(status="running", progress={"step": 100, "total_steps": 400, "steps_per_second": 50.0})
    assert time_left(run) == 6.0
    assert time_left(SimpleNamespace(status="running", progress={"step": 1, "total_steps": 400})) is None
    assert time_left(SimpleNamespace(status="completed", progress=run.progress)) is None


def test_a_studys_trials_are_shown_as_one_batch_not_as_damaged(home):
    from dpviz.training.fake import record_fake

    store = SqliteRunStore(home)
    config = TrainConfig(epochs=1, batch_size=128, validation_size=100, audit=False)
    for kind in ("private", "private", "baseline"):
        record_fake(store, config, kind, sweep_id="study-abcd1234")
    at = page()
    assert not at.exception
    text = " ".join(str(o) for o in at.selectbox(key="t_view").options)
    assert "study-abcd1234: 2 private runs + 1 baseline(s)" in text and "damaged" not in text
