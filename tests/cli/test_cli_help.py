"""`--help` explains every flag and shows its default; stderr has no library noise by default."""

import argparse
import subprocess
import sys

import pytest

from dpviz.cli.main import build_parser


def _options(parser, path=()):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, child in action.choices.items():
                yield from _options(child, (*path, name))
        elif action.option_strings and action.dest != "help":
            yield " ".join(path), action, parser


def test_every_flag_has_help_and_its_default_shows():
    for command, action, parser in _options(build_parser()):
        assert action.help, f"{command} {action.option_strings[0]} has no help"
        shown = parser._get_formatter()._get_help_string(action)
        assert "default" in shown or "required" in shown, f"{command} {action.option_strings[0]}: {shown!r}"


@pytest.mark.parametrize("command", ["epsilon", "calibrate", "train", "runs list", "export"])
def test_epochs_and_delta_show_their_defaults(command):
    out = subprocess.run([sys.executable, "-m", "dpviz", *command.split(), "--help"], capture_output=True, text=True)
    assert out.returncode == 0
    if command in ("epsilon", "calibrate", "train"):
        text = " ".join(out.stdout.split())
        assert "--delta DELTA" in text and "(default: 1e-05)" in text
        assert "--epochs EPOCHS" in text


@pytest.mark.slow
def test_train_prints_no_tensorflow_noise_on_stderr_unless_verbose(tmp_path):
    command = [sys.executable, "-m", "dpviz", "train", "--dataset", "synthetic", "--dataset-size", "200"]
    command += ["--model", "logreg", "--epochs", "1", "--batch-size", "50", "--no-audit", "--json"]
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    quiet = subprocess.run(command, capture_output=True, text=True, env=env)
    assert quiet.returncode == 0 and quiet.stderr == "", quiet.stderr[-2000:]
    loud = subprocess.run([*command[:3], "--verbose", *command[3:]], capture_output=True, text=True, env=env)
    assert loud.returncode == 0 and loud.stderr  # TensorFlow's own start-up lines


@pytest.mark.slow
@pytest.mark.parametrize("model, user_env", [("logreg", {}), ("cnn", {}), ("logreg", {"TF_NUM_INTEROP_THREADS": "2"})])
def test_train_runs_a_dense_pair_one_op_at_a_time_and_records_it(tmp_path, model, user_env):
    import json
    import os

    command = [sys.executable, "-m", "dpviz", "train", "--dataset", "synthetic", "--dataset-size", "200"]
    command += ["--model", model, "--epochs", "1", "--batch-size", "50", "--no-audit", "--json"]
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), **user_env}
    out = subprocess.run(command, capture_output=True, text=True, env=env)
    assert out.returncode == 0, out.stderr[-2000:]
    finished = [json.loads(line) for line in out.stdout.splitlines() if '"status"' in line]
    threads = max(1, (os.cpu_count() or 1) // 2)
    ruled = f"CPU, {threads} thread{'s' if threads != 1 else ''} per op, 1 op at a time"
    expected = ruled if model == "logreg" and not user_env else "CPU"  # the user's threads win over the rule
    assert [f["device"] for f in finished] == [expected, expected]


def test_json_summaries_leave_out_roc_points_unless_asked():
    from dpviz.cli.train import without_roc

    attack = {"auc": 0.6, "advantage": 0.1, "roc_fpr": [0.0, 1.0], "roc_tpr": [0.0, 1.0], "tpr_at_fpr": {"0.01": 0.02}}
    summary = {"run": "private", "audit": {"epsilon_lower": 0.1, "attacks": {"learned": attack}}}
    slim = without_roc(summary)
    assert slim["audit"]["attacks"]["learned"] == {"auc": 0.6, "advantage": 0.1, "tpr_at_fpr": {"0.01": 0.02}}
    assert summary["audit"]["attacks"]["learned"]["roc_fpr"] == [0.0, 1.0]  # the stored run keeps them
    assert without_roc({"run": "baseline", "audit": None}) == {"run": "baseline", "audit": None}
