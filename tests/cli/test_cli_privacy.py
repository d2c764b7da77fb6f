import json
import subprocess
import sys

import pytest

from dpviz.cli.main import main
from tests.conftest import ROOT


def cli(capsys, command: str):
    code = main(command.split())
    out, err = capsys.readouterr()
    return code, out, err


def test_epsilon_json(capsys):
    code, out, _ = cli(capsys, "epsilon --dataset-size 60000 --batch-size 250 --noise-multiplier 1.2 --epochs 4 --json")
    data = json.loads(out)
    assert code == 0
    assert set(data) >= {"epsilon", "delta", "steps", "sampling_probability", "accountant", "epsilon_no_amplification"}
    assert data["epsilon"] == pytest.approx(0.7037, rel=2e-4) and data["steps"] == 960 and data["accountant"] == "rdp"


@pytest.mark.parametrize("accountant, expected", [("pld", 0.4889), ("rdp-legacy", 0.9661)])
def test_epsilon_accountants(capsys, accountant, expected):
    command = (
        f"epsilon --dataset-size 60000 --batch-size 250 --noise-multiplier 1.2 --epochs 4 --accountant {accountant}"
    )
    code, out, _ = cli(capsys, command + " --json")
    assert json.loads(out)["epsilon"] == pytest.approx(expected, rel=1e-2)


def test_calibrate_json(capsys):
    code, out, _ = cli(capsys, "calibrate --target-epsilon 3 --dataset-size 60000 --batch-size 256 --epochs 60 --json")
    sigma = json.loads(out)["noise_multiplier"]
    assert code == 0 and 0.9 < sigma < 1.1
    code, out, _ = cli(
        capsys, f"epsilon --dataset-size 60000 --batch-size 256 --noise-multiplier {sigma} --epochs 60 --json"
    )
    assert json.loads(out)["epsilon"] == pytest.approx(3.0, abs=1e-3)


EPSILON = "epsilon --dataset-size 100 --batch-size 10 --noise-multiplier 1 --epochs 1"


@pytest.mark.parametrize(
    "command, field",
    [
        ("epsilon --dataset-size 100 --batch-size 256 --noise-multiplier 1 --epochs 1", "--batch-size"),
        ("epsilon --dataset-size 100 --batch-size 10 --noise-multiplier nan --epochs 1", "--noise-multiplier"),
        ("epsilon --dataset-size 100 --batch-size 10 --noise-multiplier 1 --epochs 0", "--epochs"),
        (f"{EPSILON} --delta 2", "--delta"),
        ("epsilon --dataset-size x --batch-size 10 --noise-multiplier 1 --epochs 1", "--dataset-size"),
        ("calibrate --target-epsilon -1 --dataset-size 100 --batch-size 10 --epochs 1", "--target-epsilon"),
        (f"{EPSILON} --accountant x", "--accountant"),
        ("train --canaries 21", "--canaries"),  # rejected before TensorFlow loads
        ("train --canaries 2 --no-audit", "--canaries"),
    ],
)
def test_bad_arguments_exit_2_with_one_line_naming_the_field(capsys, command, field):
    code, out, err = cli(capsys, command)
    assert code == 2 and out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and field in lines[0]


def test_module_entry_point_exit_code():
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "dpviz",
            "epsilon",
            "--dataset-size",
            "10",
            "--batch-size",
            "20",
            "--noise-multiplier",
            "1",
            "--epochs",
            "1",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2 and "Traceback" not in result.stderr and "--batch-size" in result.stderr


def test_sampler_flag_names_the_sampler_and_its_neighbouring_relation(capsys):
    import json as _json
    import shlex

    from dpviz.cli.main import main as _main

    base = shlex.split(
        "epsilon --dataset-size 60000 --batch-size 256 --noise-multiplier 1.1 --epochs 15 --json --sampler"
    )
    for sampler, relation, eps in (("poisson", "add/remove-one", 1.2813), ("fixed", "replace-one", 13.6158)):
        assert _main([*base, sampler]) == 0
        out = _json.loads(capsys.readouterr().out)
        assert (out["sampler"], out["neighboring_relation"]) == (sampler, relation)
        assert abs(out["epsilon"] - eps) < 1e-4
