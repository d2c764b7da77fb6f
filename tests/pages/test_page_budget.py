"""AppTest of the home page: renders, reacts, and survives bad input."""

import json

import pytest
from streamlit.testing.v1 import AppTest

from dpviz.ui.settings import FIELDS

APP = "../../app.py"


def fresh(query=None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    for key, value in (query or {}).items():
        at.query_params[key] = value
    return at.run()


def epsilon(at) -> str:
    return at.metric[0].value


def test_renders_epsilon_statement_and_charts():
    at = fresh()
    assert not at.exception and not at.error
    assert epsilon(at) not in ("", "∞")
    assert float(epsilon(at)) > 0
    assert any("Poisson sampling" in m.value for m in at.markdown)
    specs = [json.loads(el.proto.spec) for el in at.get("plotly_chart")]
    assert len(specs) == 3  # attack-risk curve, epsilon curves, landscape
    names = {trace.get("name") for trace in specs[1]["data"]}
    assert {"RDP", "RDP, legacy conversion", "No amplification (shuffled batches)"} <= names
    assert "PLD (tight)" not in names  # PLD is computed only when it is the chosen accountant


def test_pld_curve_only_when_pld_is_chosen():
    at = fresh()
    at.sidebar.radio(key="w_budget_accountant").set_value("pld").run()
    names = {trace.get("name") for trace in json.loads(at.get("plotly_chart")[1].proto.spec)["data"]}
    assert not at.exception and "PLD (tight)" in names


def test_changing_noise_changes_epsilon():
    at = fresh()
    before = float(epsilon(at))
    at.sidebar.slider(key="w_budget_noise_multiplier").set_value(8.0).run()  # more noise than the default
    after = float(epsilon(at))
    assert after < before
    assert at.query_params["sigma"] in ("8.0", ["8.0"])


def test_query_parameters_seed_the_view():
    query = {"dataset": "mnist", "n": "60000", "b": "250", "sigma": "1.2", "epochs": "4", "acct": "rdp-legacy"}
    assert epsilon(fresh(query)) == "0.966"


def test_a_link_value_a_widget_cannot_show_is_named_not_guessed():
    at = fresh({"sigma": "999", "model": "resnet"})
    assert not at.exception
    default = FIELDS["noise_multiplier"].default
    assert at.sidebar.slider(key="w_budget_noise_multiplier").value == default  # the default, and it says so
    warnings = " ".join(w.value for w in at.sidebar.warning)
    assert "sigma='999'" in warnings and "0 to 10" in warnings and "model='resnet'" in warnings


def test_a_bad_typed_link_value_is_kept_and_named():
    at = fresh({"b": "banana"})
    assert not at.exception
    assert at.sidebar.text_input(key="w_budget_batch_size").value == "banana"
    assert at.error[0].value.startswith("**batch size**")


def test_dataset_choices_are_trainable_datasets_plus_a_planning_size():
    from dpviz.datasets import DATASETS

    at = fresh()
    assert at.sidebar.selectbox(key="w_budget_dataset").options == [
        *(label for label in (f"{d.label} · {d.train_size:,}" for d in DATASETS.values())),
        "Custom size (planning only)",
    ]
    assert at.sidebar.text_input(key="w_budget_dataset_size").value == "1437"  # digits, the default
    at.sidebar.selectbox(key="w_budget_dataset").set_value("mnist").run()
    assert at.sidebar.text_input(key="w_budget_dataset_size").value == "60000"
    at.sidebar.text_input(key="w_budget_dataset_size").input("70000").run()
    assert at.error[0].value.startswith("**dataset size**") and "60000" in at.error[0].value
    at.sidebar.selectbox(key="w_budget_dataset").set_value("custom").run()
    at.sidebar.text_input(key="w_budget_dataset_size").input("70000").run()
    assert not at.error and float(epsilon(at)) > 0


def test_pld_is_smaller_than_rdp():
    at = fresh()
    rdp = float(epsilon(at))
    at.sidebar.radio(key="w_budget_accountant").set_value("pld").run()
    assert float(epsilon(at)) < rdp


def test_batch_larger_than_dataset_shows_error_and_keeps_the_last_results():
    at = fresh()
    shown = epsilon(at)
    at.sidebar.text_input(key="w_budget_batch_size").input("7000").run()
    assert not at.exception
    assert at.error and "batch size" in at.error[0].value and "1437" in at.error[0].value
    assert "last valid settings" in at.error[0].value
    assert epsilon(at) == shown and len(at.get("plotly_chart")) == 3  # kept, not blanked
    marked = f"b = {FIELDS['batch_size'].default}"
    assert any("Showing the last valid settings" in i.value and marked in i.value for i in at.info)
    at.sidebar.text_input(key="w_budget_batch_size").input("256").run()
    assert not at.error and float(epsilon(at)) > 0 and epsilon(at) != shown


def test_bad_delta_names_the_field():
    at = fresh()
    at.sidebar.text_input(key="w_budget_delta").input("abc").run()
    assert not at.exception and "delta" in at.error[0].value


def test_zero_noise_is_shown_as_infinite():
    at = fresh({"sigma": "0"})
    assert not at.exception and epsilon(at) == "∞"


def test_target_epsilon_solves_at_once_and_applies():
    at = fresh({"dataset": "mnist", "b": "256"})
    at.text_input(key="w_budget_target_epsilon").input("1").run()
    assert not at.exception
    at.button(key="b_target_apply").click().run()
    assert 0.95 < float(epsilon(at)) <= 1.0
    # recomputed for the new sigma: it is now the current one, and the epochs are quoted at it, whole
    sigma = at.sidebar.slider(key="w_budget_noise_multiplier").value
    text = " ".join(m.value for m in at.markdown)
    assert f"Epochs at σ = {sigma:g}:" in text and "whole epochs" in text
    assert any("This is the current noise multiplier" in c.value for c in at.caption)


def test_epoch_budget_is_whole_epochs_and_its_epsilon_is_stated():
    import re

    at = fresh({"dataset": "mnist", "b": "256", "sigma": "1.1", "epochs": "15"})
    text = " ".join(m.value for m in at.markdown)
    found = re.search(r"at most \*\*([\d,]+) whole epochs\*\* fit within ε = 3: ε = \*\*([\d.]+)\*\* after", text)
    assert found, text
    whole, eps = int(found.group(1).replace(",", "")), float(found.group(2))
    assert eps <= 3
    at.button(key="b_target_apply_epochs").click().run()
    assert at.sidebar.slider(key="w_budget_epochs").value == whole and float(epsilon(at)) == eps


@pytest.mark.parametrize("text", ["0", "-3", "abc", "1e3", "2.5"])
def test_bad_batch_size_names_the_field(text):
    at = fresh()
    at.sidebar.text_input(key="w_budget_batch_size").input(text).run()
    assert not at.exception and at.error and at.error[0].value.startswith("**batch size**")


@pytest.mark.parametrize("text", ["0", "abc", "5000"])
def test_bad_target_epsilon_names_the_field(text):
    at = fresh()
    at.text_input(key="w_budget_target_epsilon").input(text).run()
    assert not at.exception and any(e.value.startswith("**target epsilon**") for e in at.error)


def test_url_round_trip_reproduces_the_view():
    at = fresh()
    at.sidebar.selectbox(key="w_budget_dataset").set_value("mnist").run()
    at.sidebar.text_input(key="w_budget_batch_size").input("512").run()
    at.sidebar.slider(key="w_budget_noise_multiplier").set_value(1.7).run()
    at.sidebar.radio(key="w_budget_accountant").set_value("pld").run()
    at.text_input(key="w_budget_target_epsilon").input("2").run()
    shown = epsilon(at)
    again = fresh(dict(at.query_params.items()))
    assert not again.exception and epsilon(again) == shown
    assert again.sidebar.selectbox(key="w_budget_dataset").value == "mnist"
    assert again.sidebar.text_input(key="w_budget_batch_size").value == "512"
    assert again.text_input(key="w_budget_target_epsilon").value == "2"


def test_states_the_attack_it_rules_out_with_its_tradeoff_curve():
    at = fresh({"dataset": "mnist", "b": "256", "sigma": "1.1", "epochs": "15"})
    sentence = next(i.value for i in at.info if "What this rules out" in i.value)
    assert "true-positive rate above 2.1% at a 1% false-positive rate" in sentence
    curve = next(json.loads(c.proto.spec) for c in at.get("plotly_chart") if "membership-inference" in c.proto.spec)
    assert curve["layout"]["xaxis"]["type"] == "log" and curve["layout"]["yaxis"]["type"] == "log"
    assert not any("What this rules out" in i.value for i in fresh({"sigma": "0"}).info)  # no noise: nothing


def test_three_samplers_side_by_side_each_with_its_relation():
    at = fresh({"dataset": "mnist", "b": "256", "sigma": "1.1", "epochs": "15"})
    values = {m.label: m.value for m in at.metric}
    assert values["Poisson (add/remove-one)"] == "1.281"
    assert values["Fixed-size, without replacement (replace-one)"] == "13.616"
    assert float(values["Shuffled epochs (no amplification)"]) > 20


def test_the_privacy_statement_can_be_downloaded():
    at = fresh()
    labels = [b.proto.label for b in at.get("download_button")]
    assert "Privacy statement (MD)" in labels and "Privacy statement (JSON)" in labels
