"""`python -m dpviz tune` and `studies`: JSON lines as documented, bad arguments exit 2 before anything trains."""

import json

import pytest

from dpviz.cli.main import main
from dpviz.runs.store import SqliteRunStore

SUMMARY_KEYS = {
    "study", "search", "trials_run", "trials_mean", "trials_shape", "noise_multiplier", "sampling_probability",
    "steps", "delta", "epsilon_total", "epsilon_per_trial", "backend", "best",
}  # fmt: skip


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("DPVIZ_TRAINER", "dpviz.training.fake:train")
    monkeypatch.setenv("DPVIZ_FAKE_STEP_SECONDS", "0")
    monkeypatch.setenv("DPVIZ_MAX_WORKERS", "2")
    return tmp_path


def run(capsys, home, command: str):
    code = main(["--home", str(home), *command.split()])
    out, err = capsys.readouterr()
    return code, out, err


def test_tune_json_prints_each_trial_then_the_summary(capsys, home):
    code, out, err = run(
        capsys, home, "tune --epochs 2 --batch-size 128 --target-epsilon 3 --trials-mean 3 --seed 4 --json"
    )
    lines = [json.loads(line) for line in out.splitlines()]
    summary, trials = lines[-1], lines[:-1]
    assert code == 0 and err == ""
    assert set(summary) >= SUMMARY_KEYS and summary["trials_run"] == len(trials) == summary["trials_drawn"]
    assert summary["epsilon_total"] <= 3 and summary["backend"] == "local" and summary["search"] == "random"
    assert set(summary["best"]) >= {"run_id", "learning_rate", "clip_norm", "validation_accuracy", "test_accuracy"}
    assert all({"trial", "run_id", "learning_rate", "clip_norm", "validation_accuracy"} <= set(t) for t in trials)
    code, out, _ = run(capsys, home, f"studies show {summary['study'][:9]} --json")
    assert code == 0 and json.loads(out.splitlines()[-1])["best"] == summary["best"]
    code, out, _ = run(capsys, home, "studies list")
    assert summary["study"] in out


@pytest.mark.parametrize(
    ("arguments", "named"),
    [
        ("--learning-rate-range 1,0.1", "--learning-rate-range"),
        ("--clip-norm-range x,1", "--clip-norm-range"),
        ("--trials-mean 0", "--trials-mean"),
        ("--trials-shape sometimes", "--trials-shape"),
        ("--target-epsilon -1", "--target-epsilon"),
        ("--target-epsilon 0.001", "--target-epsilon"),  # no σ meets it
        ("--batch-size 0", "--batch-size"),
        ("--epochs 0", "--epochs"),
        ("--delta 2", "--delta"),
        ("--momentum-range 0,1", "--momentum-range"),
        ("--validation-size 5000", "--validation-size"),
        ("--backend slurm", "--backend"),
    ],
)
def test_bad_arguments_exit_2_naming_the_field_and_train_nothing(capsys, home, arguments, named):
    code, out, err = run(capsys, home, f"tune {arguments}")
    assert code == 2 and named in err and len(err.strip().splitlines()) == 1
    assert SqliteRunStore(home).list() == []


def test_show_an_unknown_study_names_it(capsys, home):
    code, _, err = run(capsys, home, "studies show nothing-like-it")
    assert code == 2 and "study" in err


def test_statement_of_a_study(capsys, home):
    code, out, _ = run(capsys, home, "tune --epochs 2 --batch-size 128 --trials-mean 2 --seed 1 --json")
    study = json.loads(out.splitlines()[-1])["study"]
    code, out, _ = run(capsys, home, f"statement --study {study} --format json")
    data = json.loads(out)
    assert code == 0 and data["subject"].startswith(f"stored study {study}") and data["guarantee"]["epsilon"] <= 3
    code, out, err = run(capsys, home, "tune --epochs 2 --batch-size 128 --trials-mean 2 --seed 1 --search tpe --json")
    tpe = json.loads(out.splitlines()[-1])["study"]
    code, _, err = run(capsys, home, f"statement --study {tpe}")
    assert code == 2 and "claims no ε" in err
