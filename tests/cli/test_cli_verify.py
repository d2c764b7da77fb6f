"""`python -m dpviz verify`: bad arguments exit 2 with one line; a run prints the issue's JSON fields."""

import json

import pytest

from dpviz.cli.main import main
from dpviz.verify import records
from dpviz.verify.report import JSON_FIELDS
from tests.conftest import VERIFY_CONFIG, verify_report


@pytest.mark.parametrize(
    "argv, field",
    [
        (["--canaries", "5"], "--canaries"),
        (["--noise-multiplier", "0"], "--noise-multiplier"),
        (["--batch-size", "abc"], "--batch-size"),
        (["--kind", "box"], "--kind"),
        (["--model", "logreg", "--canaries", "700"], "--canaries"),
    ],
)
def test_bad_arguments_exit_2_naming_the_field(capsys, argv, field):
    assert main(["verify", *argv]) == 2
    out, err = capsys.readouterr()
    assert out == "" and len(err.strip().splitlines()) == 1 and field in err


@pytest.mark.slow
def test_json_report(capsys):
    argv = ["verify", "--epochs", "1", "--batch-size", "256", "--canaries", "1000", "--seed", "1", "--json"]
    assert main(argv) == 0
    data = json.loads(capsys.readouterr().out)
    assert set(JSON_FIELDS) <= set(data)
    assert data["canaries"] == 1000 and data["kind"] == "gradient" and data["verdict"] == "consistent with its claim"
    assert 0 <= data["empirical_epsilon_fdp"] < data["theoretical_epsilon"]


def test_history_lists_kept_verifications_newest_first(tmp_path, capsys):
    report = verify_report().to_dict()
    records.write(tmp_path, "verify-20261201-101500-aaaaaa", status="completed", report=report, config=VERIFY_CONFIG)
    records.write(tmp_path, "verify-20261201-111500-bbbbbb", status="running", config=VERIFY_CONFIG)
    assert main(["--home", str(tmp_path), "verify", "--history"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert [line.split()[0] for line in lines] == ["verify-20261201-111500-bbbbbb", "verify-20261201-101500-aaaaaa"]
    assert "running" in lines[0] and "eps 3.060 >= 1.900" in lines[1] and "consistent with its claim" in lines[1]
    assert main(["--home", str(tmp_path), "verify", "--history", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["verdict"] for r in rows] == ["", "consistent with its claim"] and rows[1]["ε ≥ (f-DP)"] == 1.9


def test_history_of_an_empty_home_says_so(tmp_path, capsys):
    assert main(["--home", str(tmp_path), "verify", "--history"]) == 0
    assert "no verifications kept in" in capsys.readouterr().out
