"""AppTest of the Runs page over a store filled by the fake trainer."""

import json

import pytest
from streamlit.testing.v1 import AppTest

from dpviz.runs.store import SqliteRunStore
from dpviz.training.config import TrainConfig
from dpviz.training.fake import record_fake, record_pair
from dpviz.training.sweep import baseline_configs, expand, parse_axis
from tests.conftest import plot_values

PAGE = "../../pages/runs.py"
SYNTH = TrainConfig(dataset="synthetic", dataset_size=300, batch_size=60, epochs=2, model="logreg")


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("DPVIZ_HOME", str(tmp_path))
    return tmp_path


@pytest.fixture
def filled(home):
    store = SqliteRunStore(home)
    pair = record_pair(store, TrainConfig(dataset="digits", batch_size=64, epochs=2))
    configs = expand(SYNTH, [parse_axis("noise_multiplier", "0.5, 1, 2")])
    cells = [record_fake(store, c, "private", sweep_id="sweep-abc") for c in configs]
    record_fake(store, baseline_configs(configs)[0], "baseline", sweep_id="sweep-abc")
    return store, pair, cells


def page() -> AppTest:
    return AppTest.from_file(PAGE, default_timeout=60).run()


def charts(at):
    """title -> figure JSON."""
    figures = [json.loads(c.proto.spec) for c in at.get("plotly_chart")]
    return {f["layout"]["title"]["text"]: f for f in figures}


def test_empty_store_points_to_train(home):
    at = page()
    assert not at.exception and "No runs stored yet" in at.info[0].value


def test_lists_runs_and_draws_the_three_charts(filled):
    store, (private, baseline), cells = filled
    at = page()
    assert not at.exception and not at.error
    assert at.caption[0].value.startswith("6 of 6 runs shown")
    assert set(at.multiselect(key="r_selected").value) == {private, *cells}  # private runs by default
    figures = charts(at)
    assert len(figures) == 4  # frontier, hyperparameter, curves, membership-inference ROC
    frontier = next(f for t, f in figures.items() if t.startswith("Privacy-utility"))
    assert sum(len(plot_values(t["x"])) for t in frontier["data"] if t.get("mode", "").startswith("markers")) == 4
    hyper = next(f for t, f in figures.items() if "against" in t)
    assert at.selectbox(key="r_x").value == "noise_multiplier"  # the one that varies
    assert any(sorted(plot_values(t["x"])) == [0.5, 1.0, 2.0] for t in hyper["data"])
    assert "Best private run" in at.markdown[0].value
    assert at.selectbox(key="r_audit_run").value in cells + [private]
    assert any(i.value.startswith("The attacker's advantage ") for i in at.info)


def test_filters_narrow_the_table_and_selection(filled):
    store, (private, baseline), cells = filled
    at = page()
    at.multiselect(key="r_dataset").select("digits").run()
    assert not at.exception and at.caption[0].value.startswith("2 of 6")
    assert at.multiselect(key="r_selected").value == [private]
    at.multiselect(key="r_dataset").unselect("digits").run()
    at.multiselect(key="r_sweep").select("sweep-abc").run()
    assert at.caption[0].value.startswith("4 of 6")


def test_delete_asks_for_confirmation_then_deletes(filled):
    store, (private, baseline), cells = filled
    at = page()
    at.multiselect(key="r_selected").set_value([cells[0]]).run()
    at.button(key="r_delete").click().run()
    assert at.warning and "Delete 1 run" in at.warning[0].value
    assert store.get(cells[0]) is not None
    at.button(key="r_cancel_delete").click().run()
    assert store.get(cells[0]) is not None and not at.warning
    at.button(key="r_delete").click().run()
    at.button(key="r_confirm_delete").click().run()
    assert not at.exception
    assert store.get(cells[0]) is None and store.get(cells[1]) is not None
    assert at.caption[0].value.startswith("5 of 5")


def test_running_runs_are_kept_when_deleting(filled):
    store, _, cells = filled
    active = store.create_run(config=SYNTH.to_dict(), kind="private", status="queued")
    at = page()
    at.multiselect(key="r_selected").set_value([active, cells[0]]).run()
    at.button(key="r_delete").click().run()
    assert "cancel them first" in at.warning[0].value
    at.button(key="r_confirm_delete").click().run()
    assert store.get(active) is not None and store.get(cells[0]) is None


def test_unfinished_sweep_can_be_cancelled_as_a_whole(filled):
    store, _, _ = filled
    queued = [store.create_run(config=SYNTH.to_dict(), kind="private", sweep_id="sweep-live") for _ in range(2)]
    at = page()
    at.button(key="r_cancel_sweep-live").click().run()
    assert not at.exception
    assert all(store.get(i).status == "cancelled" for i in queued)


def test_epsilon_range_survives_deleting_the_largest_epsilon(filled):
    """The page must not crash when its remembered ε range outlives the runs that set it."""
    store, _, cells = filled
    at = page()
    slider = at.slider(key="r_eps")
    top = slider.value[1]
    slider.set_value((0.0, top)).run()
    largest = max(store.list(), key=lambda r: r.final.get("final", {}).get("epsilon") or 0).id
    store.delete(largest)
    at.run()
    assert not at.exception and at.slider(key="r_eps").value[1] < top


def test_images_render_on_request_or_say_what_to_install(filled, monkeypatch):
    from dpviz.compare import export

    with monkeypatch.context() as patched:
        patched.setattr(export, "find_browser", lambda: None)
        at = page()
        at.button(key="r_render_frontier_png").click().run()
        assert not at.exception
        assert at.error and "Chromium" in at.error[0].value and "HTML" in at.error[0].value
    if export.find_browser() is None:
        pytest.skip("no Chrome/Chromium: run `make chromium`")
    at.button(key="r_render_frontier_png").click().run()
    assert not at.exception and not at.error
    assert at.session_state["r_images_frontier"][1]["png"][:4] == b"\x89PNG"


def test_a_damaged_store_file_is_named_and_can_be_moved_aside(home):
    (home / "runs.sqlite3").write_bytes(b"garbage" * 100)
    at = page()
    assert not at.exception and at.error and "runs.sqlite3" in at.error[0].value
    at.button(key="move_store_aside").click().run()
    assert not at.exception and "No runs stored yet" in at.info[0].value
    assert len(list(home.glob("runs.sqlite3.damaged-*"))) == 1  # kept, never deleted


def test_a_damaged_row_is_reported_and_the_others_still_show(filled):
    import sqlite3

    store, (private, _), _ = filled
    with sqlite3.connect(store.path) as db:
        db.execute("UPDATE runs SET progress = 'oops' WHERE id = ?", (private,))
    at = page()
    assert not at.exception and any("cannot be read" in w.value and private in w.value for w in at.warning)
    assert at.caption[0].value.startswith("5 of 5 runs shown")


def test_url_round_trip_restores_filters_selection_tab_and_axis(filled):
    store, (private, baseline), cells = filled
    at = AppTest.from_file(PAGE, default_timeout=60)
    for key, value in {"r_model": ["logreg"], "r_selected": [cells[0], cells[2]], "r_x": "clip_norm"}.items():
        at.query_params[key] = value
    at.query_params["chart"] = "Hyperparameter comparison"
    at.query_params["sigma"] = "2.5"  # the shared settings ride along in every page's URL
    at.run()
    assert not at.exception
    assert at.multiselect(key="r_model").value == ["logreg"]
    assert at.caption[0].value.startswith("4 of 6 runs shown")
    assert at.multiselect(key="r_selected").value == [cells[0], cells[2]]
    assert at.selectbox(key="r_x").value == "clip_norm"
    assert at.tabs[0].label == "Privacy-utility frontier" and at.session_state["chart"] == "Hyperparameter comparison"
    assert at.query_params["sigma"] in ("2.5", ["2.5"])


def test_cancelled_and_failed_runs_are_not_selected_by_default(home):
    store = SqliteRunStore(home)
    kept = record_fake(store, SYNTH, "private")
    for status in ("cancelled", "failed"):
        run_id = record_fake(store, SYNTH, "private")
        store.finish(run_id, status, error="stopped")
    at = page()
    assert at.multiselect(key="r_selected").value == [kept]


def test_name_and_tag_selected_runs_then_filter_by_tag(filled):
    store, (private, _), cells = filled
    at = page()
    at.multiselect(key="r_selected").set_value([cells[0], cells[1]]).run()
    at.text_input(key="r_label_name").input("noise sweep")
    at.text_input(key="r_label_tags").input("synthetic, keep")
    at.button(key="r_label_apply").click().run()
    assert not at.exception
    labels = store.labels()
    assert {labels[c]["name"] for c in cells[:2]} == {"noise sweep"} and labels[cells[0]]["tags"] == [
        "synthetic",
        "keep",
    ]
    assert private not in labels
    table = at.dataframe[0].value
    assert set(table.loc[table["id"].isin(cells[:2]), "tags"]) == {"synthetic, keep"}
    at.multiselect(key="r_tag").select("keep").run()
    assert set(at.dataframe[0].value["id"]) == set(cells[:2])  # the tag filter
    assert set(at.multiselect(key="r_selected").value) == set(cells[:2])


def test_too_many_tags_are_named_and_nothing_changes(filled):
    store, _, cells = filled
    at = page()
    at.multiselect(key="r_selected").set_value([cells[0]]).run()
    at.text_input(key="r_label_tags").input(",".join(f"t{i}" for i in range(11)))
    at.button(key="r_label_apply").click().run()
    assert not at.exception and any("tags" in e.value for e in at.error)
    assert store.labels() == {}


def test_table_selection_maps_rows_to_run_ids():
    import streamlit as st

    from dpviz.ui.runs_view import _on_table

    st.session_state["t"] = {"selection": {"rows": [2, 0, 9]}}  # the callback reads and writes session state only
    _on_table("t", ["a", "b", "c"])
    assert st.session_state["r_selected"] == ["a", "c"]  # positions as drawn, out-of-range ones dropped
