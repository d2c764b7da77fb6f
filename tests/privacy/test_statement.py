"""The exportable privacy statement: the same facts in JSON and Markdown, for settings and for runs."""

import json
import shlex

import pytest

from dpviz.cli.main import main
from dpviz.privacy.params import PrivacyParams
from dpviz.privacy.statement import render, run_statement, statement
from dpviz.runs.store import SqliteRunStore
from dpviz.training.config import TrainConfig
from dpviz.training.fake import record_pair

MNIST = PrivacyParams(dataset_size=60000, batch_size=256, noise_multiplier=1.1, epochs=15, delta=1e-5)


@pytest.mark.parametrize(
    "sampler, relation, epsilon", [("poisson", "add/remove-one", 1.2813), ("fixed", "replace-one", 13.6158)]
)
def test_states_the_samplers_own_guarantee_and_relation(sampler, relation, epsilon):
    data = statement(MNIST, sampler=sampler, clip_norm=1.0)
    g = data["guarantee"]
    assert (g["sampler"], g["neighboring_relation"]) == (sampler, relation)
    assert g["epsilon"] == pytest.approx(epsilon, abs=1e-4) and g["delta"] == 1e-5
    assert data["mechanism"]["steps"] == 3516 and data["mechanism"]["noise_std"] == pytest.approx(1.1)
    text = render(data, "md")
    assert f"({g['epsilon']:.3f}, 1e-05)-differentially private" in text and relation in text
    assert json.loads(render(data, "json")) == json.loads(json.dumps(data))


def test_poisson_statement_carries_the_attack_bounds():
    data = statement(MNIST)
    assert data["attack_bounds"]["tpr_at_fpr"]["0.01"] == pytest.approx(0.0211, abs=5e-4)
    assert "What it rules out" in render(data, "md")


def test_a_run_statement_says_its_noise_was_seeded(tmp_path):
    store = SqliteRunStore(tmp_path)
    ids = record_pair(
        store, TrainConfig(dataset="digits", batch_size=64, epochs=2, seed=7, canaries=2, reproducible=True)
    )
    data = run_statement(store.get(ids[0]))
    assert data["subject"] == f"stored run {ids[0]}" and "seed 7" in data["randomness"]
    assert "no protection against anyone who knows the seed" in data["randomness"]
    assert data["mechanism"]["dataset_size"] == 1437 + 1 + 4  # canary copies count in n
    assert run_statement(store.get(ids[1])) is None  # a baseline has no guarantee to state


def test_cli_statement_for_a_run_and_for_settings(tmp_path, capsys):
    store = SqliteRunStore(tmp_path)
    ids = record_pair(store, TrainConfig(dataset="digits", batch_size=64, epochs=2))
    assert main(["--home", str(tmp_path), "statement", "--run", ids[0][:6], "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["run"]["id"] == ids[0]
    flags = shlex.split("--dataset-size 60000 --batch-size 256 --noise-multiplier 1.1 --epochs 15 --sampler fixed")
    assert main(["statement", *flags]) == 0
    assert "replace-one" in capsys.readouterr().out
    assert main(["statement", "--batch-size", "3"]) == 2
    assert "--dataset-size: is required without --run" in capsys.readouterr().err
    assert main(["--home", str(tmp_path), "statement", "--run", ids[1]]) == 2
    assert "--run:" in capsys.readouterr().err


def test_a_run_with_entropy_noise_says_what_the_seed_set(tmp_path):
    store = SqliteRunStore(tmp_path)
    ids = record_pair(store, TrainConfig(dataset="digits", batch_size=64, epochs=2, seed=3, reproducible=False))
    text = run_statement(store.get(ids[0]))["randomness"]
    assert "operating system's entropy" in text and "seed (3) set only the initial weights" in text


def test_runs_stored_before_the_setting_read_as_seeded():
    from dpviz.training.config import stored_config

    assert stored_config({"dataset": "digits"}).reproducible is True


CHECKLIST = ("guarantee", "mechanism", "covers", "does_not_cover", "randomness", "tuning", "software")


@pytest.mark.parametrize("sampler", ["poisson", "fixed", "shuffle"])
def test_every_sampler_statement_holds_the_checklist(tmp_path, sampler):
    store = SqliteRunStore(tmp_path)
    ids = record_pair(store, TrainConfig(dataset="digits", batch_size=64, epochs=2, sampler=sampler))
    data = run_statement(store.get(ids[0]))
    assert all(data[key] for key in CHECKLIST)
    g, m = data["guarantee"], data["mechanism"]
    assert g["unit"].startswith("one training example") and g["neighboring_relation"] and g["accountant"]
    assert all(m[k] is not None for k in ("dataset_size", "batch_size", "sampling_probability", "steps", "clip_norm"))
    assert data["software"]["dp-accounting"] != "unknown"
    assert "empirical_audit" in data["run"] and "never certify" in data["run"]["empirical_audit"]
    assert g["sampler"] == sampler


def test_epsilon_json_carries_the_attack_bounds(capsys):
    flags = ["epsilon", "--dataset-size", "60000", "--batch-size", "256", "--noise-multiplier", "1.1"]
    assert main([*flags, "--epochs", "15", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert [b["fpr"] for b in out["attack_bounds"]] == [0.001, 0.01, 0.1]
    assert out["attack_bounds"][1]["max_tpr"] == pytest.approx(0.0211, abs=5e-4) and 0 < out["max_advantage"] < 1
    assert main([*flags[:-1], "0", "--epochs", "15", "--json"]) == 0  # no noise: no bound is claimed
    assert json.loads(capsys.readouterr().out)["attack_bounds"] is None
