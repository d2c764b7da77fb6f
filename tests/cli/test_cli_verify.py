"""`python -m dpviz verify`: bad arguments exit 2 with one line; a run prints the issue's JSON fields."""

import json

import pytest

from dpviz.cli.main import main
from dpviz.verify.report import JSON_FIELDS


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
