"""AppTest of the home page: renders, reacts, and survives bad input."""

import json

import pytest
from streamlit.testing.v1 import AppTest

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
    assert len(specs) == 2
    names = {trace.get("name") for trace in specs[0]["data"]}
    assert {"RDP", "RDP, legacy conversion", "No amplification (shuffled batches)"} <= names
    assert "PLD (tight)" not in names  # PLD is computed only when it is the chosen accountant


def test_pld_curve_only_when_pld_is_chosen():
    at = fresh()
    at.sidebar.radio(key="w_budget_accountant").set_value("pld").run()
    names = {trace.get("name") for trace in json.loads(at.get("plotly_chart")[0].proto.spec)["data"]}
    assert not at.exception and "PLD (tight)" in names


def test_changing_noise_changes_epsilon():
    at = fresh()
    before = float(epsilon(at))
    at.sidebar.slider(key="w_budget_noise_multiplier").set_value(2.0).run()
    after = float(epsilon(at))
    assert after < before
    assert at.query_params["sigma"] in ("2.0", ["2.0"])


def test_query_parameters_seed_the_view():
    at = fresh({"n": "60000", "b": "250", "sigma": "1.2", "epochs": "4", "delta": "1e-5", "acct": "rdp-legacy"})
    assert epsilon(at) == "0.966"
    assert fresh({"sigma": "999", "b": "banana"}).sidebar.slider(key="w_budget_noise_multiplier").value == 10.0


def test_pld_is_smaller_than_rdp():
    at = fresh()
    rdp = float(epsilon(at))
    at.sidebar.radio(key="w_budget_accountant").set_value("pld").run()
    assert float(epsilon(at)) < rdp


def test_batch_larger_than_dataset_shows_error_and_page_survives():
    at = fresh()
    at.sidebar.text_input(key="w_budget_batch_size").input("70000").run()
    assert not at.exception
    assert at.error and "batch size" in at.error[0].value and "60000" in at.error[0].value
    at.sidebar.text_input(key="w_budget_batch_size").input("256").run()
    assert not at.error and float(epsilon(at)) > 0


def test_bad_delta_names_the_field():
    at = fresh()
    at.sidebar.text_input(key="w_budget_delta").input("abc").run()
    assert not at.exception and "delta" in at.error[0].value


def test_zero_noise_is_shown_as_infinite():
    at = fresh({"sigma": "0"})
    assert not at.exception and epsilon(at) == "∞"


def test_target_epsilon_solve_and_apply():
    at = fresh()
    at.text_input(key="target_epsilon").input("1").run()
    at.button(key="calibrate").click().run()
    assert not at.exception
    at.button(key="apply_sigma").click().run()
    assert float(epsilon(at)) <= 1.0
    assert float(epsilon(at)) > 0.95


@pytest.mark.parametrize("text", ["0", "-3", "abc", "1e3", "2.5"])
def test_bad_batch_size_names_the_field(text):
    at = fresh()
    at.sidebar.text_input(key="w_budget_batch_size").input(text).run()
    assert not at.exception and at.error and at.error[0].value.startswith("**batch size**")


@pytest.mark.parametrize("text", ["0", "abc", "5000"])
def test_bad_target_epsilon_names_the_field(text):
    at = fresh()
    at.text_input(key="target_epsilon").input(text).run()
    assert not at.exception and any(e.value.startswith("**target epsilon**") for e in at.error)
