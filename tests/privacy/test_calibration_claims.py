"""Calibration never claims what it cannot deliver: the sigma it returns is checked, and a target
no noise multiplier certifies is an error naming the field and the targets that are reachable."""

import json

import pytest

from dpviz.cli.main import main
from dpviz.privacy.accountant import compute_epsilon
from dpviz.privacy.calibration import calibrate_noise
from dpviz.privacy.params import PrivacyParams
from dpviz.validation import ValidationError

SETTING = dict(dataset_size=60000, batch_size=256, epochs=2, target_delta=1e-5)


@pytest.mark.parametrize(
    "target, accountant",
    [(1e-320, "rdp"), (1e-6, "rdp"), (1e308, "rdp"), (1e-6, "rdp-legacy"), (1e308, "rdp-legacy"), (1e308, "pld")],
)
def test_unreachable_targets_name_the_field_and_the_reachable_range(target, accountant):
    with pytest.raises(ValidationError) as err:
        calibrate_noise(target_epsilon=target, accountant=accountant, **SETTING)
    assert err.value.field == "target_epsilon" and "choose a target between about" in err.value.message


@pytest.mark.parametrize("accountant", ["rdp", "pld", "rdp-legacy"])
@pytest.mark.parametrize("target", [0.05, 1.0, 8.0, 1e4])
def test_the_returned_noise_meets_the_target(accountant, target):
    sigma = calibrate_noise(target_epsilon=target, accountant=accountant, **SETTING)
    params = PrivacyParams(
        dataset_size=SETTING["dataset_size"],
        batch_size=SETTING["batch_size"],
        noise_multiplier=sigma,
        epochs=SETTING["epochs"],
        delta=SETTING["target_delta"],
    )
    achieved = compute_epsilon(params, accountant).epsilon
    assert 0 < achieved <= target * (1 + 1e-3)  # PLD's headline grid differs slightly from calibration's


@pytest.mark.parametrize("target", ["1e-320", "1e308"])
def test_cli_exits_2_with_one_line(capsys, target):
    argv = ["calibrate", "--target-epsilon", target, "--dataset-size", "60000", "--batch-size", "256", "--epochs", "2"]
    assert main(argv) == 2
    out, err = capsys.readouterr()
    assert out == "" and len(err.strip().splitlines()) == 1 and err.startswith("error: --target-epsilon:")


SMALL_SIGMA = "epsilon --dataset-size 60000 --batch-size 256 --noise-multiplier 0.05 --epochs 15 --accountant pld"


def test_pld_beyond_its_cost_bound_shows_the_rdp_bound_labelled(capsys):
    assert main([*SMALL_SIGMA.split(), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["bound"] == "rdp" and "RDP bound" in report["note"]
    assert main(SMALL_SIGMA.split()) == 0
    assert "RDP (dp-accounting, fast), in place of pld" in capsys.readouterr().out


def test_exact_computes_pld_there_and_is_tighter(capsys):
    assert main([*SMALL_SIGMA.split(), "--json"]) == 0
    bounded = json.loads(capsys.readouterr().out)["epsilon"]
    assert main([*SMALL_SIGMA.split(), "--exact", "--json"]) == 0
    exact = json.loads(capsys.readouterr().out)
    assert exact["bound"] == "pld" and 0 < exact["epsilon"] < bounded


def test_exact_needs_pld(capsys):
    argv = [
        "epsilon",
        "--dataset-size",
        "600",
        "--batch-size",
        "6",
        "--noise-multiplier",
        "1",
        "--epochs",
        "1",
        "--exact",
    ]
    assert main(argv) == 2 and capsys.readouterr().err.startswith("error: --exact:")


@pytest.mark.slow
def test_exact_stops_at_its_memory_ceiling_with_one_line(capsys):
    argv = SMALL_SIGMA.replace("0.05", "0.01").split() + ["--exact", "--memory-limit-gb", "1"]
    assert main(argv) == 1
    err = [line for line in capsys.readouterr().err.splitlines() if not line.startswith("computing")]
    assert len(err) == 1 and err[0].startswith("error: --memory-limit-gb:")
