"""`python -m dpviz runs list|show` over a store of fake-trained runs (no TensorFlow)."""

import json

import pytest

from dpviz.cli.main import main as cli
from dpviz.runs.store import SqliteRunStore
from dpviz.training.config import TrainConfig
from dpviz.training.fake import record_pair

CONFIG = TrainConfig(dataset="synthetic", dataset_size=300, batch_size=60, epochs=2, model="logreg", canaries=4)


@pytest.fixture
def stored(tmp_path):
    return tmp_path, record_pair(SqliteRunStore(tmp_path), CONFIG)


def test_list_prints_each_run(stored, capsys):
    home, (private, baseline) = stored
    assert cli(["--home", str(home), "runs", "list", "--json"]) == 0
    assert {r["id"] for r in json.loads(capsys.readouterr().out)} == {private, baseline}


def test_show_accepts_a_unique_prefix_and_prints_the_audit_with_canary_exposure(stored, capsys):
    home, (private, _) = stored
    assert cli(["--home", str(home), "runs", "show", private[:5]]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"run {private} (private")
    assert "membership inference (loss threshold): AUC" in out
    assert "canary exposure (bits, of 9.0): inserted once" in out and "4 copies" in out


def test_show_of_an_unknown_or_empty_id_exits_2_naming_the_field(stored, capsys):
    home, _ = stored
    for run_id in ("zzz", ""):
        assert cli(["--home", str(home), "runs", "show", run_id]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("error: run_id:")


def test_label_names_and_tags_a_run_and_list_shows_them(stored, capsys):
    home, (private, _) = stored
    base = ["--home", str(home), "runs"]
    assert cli([*base, "label", private[:6], "--name", "first", "--tag", "a", "--tag", "b"]) == 0
    assert cli([*base, "label", private, "--untag", "a", "--tag", "c"]) == 0
    capsys.readouterr()
    assert cli([*base, "list", "--json"]) == 0
    row = next(r for r in json.loads(capsys.readouterr().out) if r["id"] == private)
    assert (row["name"], row["tags"]) == ("first", ["b", "c"])
    assert cli([*base, "label", private, "--tags", ",".join("abcdefghijk")]) == 2
    assert "--tags" in capsys.readouterr().err
