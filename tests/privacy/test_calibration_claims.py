"""Calibration never claims what it cannot deliver: the sigma it returns is checked, and a target
no noise multiplier certifies is an error naming the field and the targets that are reachable."""

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
