"""A study's settings: validated at the boundary, every bad value named with its range."""

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dpviz.tuning.config import TuneConfig, parse_range
from dpviz.validation import ValidationError


def test_defaults_hold_out_a_validation_split_and_share_the_schedule():
    config = TuneConfig()
    assert config.validation_size == 287 and config.train_size == 1437 - 287
    trial = config.trial_config(noise_multiplier=2.0, learning_rate=0.5, clip_norm=1.0, number=3, momentum=0.9)
    assert trial.validation_size == 287 and trial.train_size == config.train_size
    assert (trial.batch_size, trial.epochs, trial.accountant, trial.audit) == (128, 20, "rdp", False)
    assert trial.momentum == 0.9 and trial.seed == 3


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"learning_rate_range": "1,0.1"}, "learning_rate_range"),
        ({"learning_rate_range": "0,1"}, "learning_rate_range"),
        ({"learning_rate_range": "abc"}, "learning_rate_range"),
        ({"clip_norm_range": "1"}, "clip_norm_range"),
        ({"clip_norm_range": "1,2,3"}, "clip_norm_range"),
        ({"momentum_range": "0,1"}, "momentum_range"),
        ({"optimizer": "adam", "momentum_range": "0,0.5"}, "momentum_range"),
        ({"trials_mean": 0}, "trials_mean"),
        ({"trials_mean": "many"}, "trials_mean"),
        ({"trials_shape": -1}, "trials_shape"),
        ({"target_epsilon": 0}, "target_epsilon"),
        ({"batch_size": 5000}, "batch_size"),
        ({"validation_size": 0}, "validation_size"),
        ({"validation_size": 1000}, "validation_size"),
        ({"dataset_size": 1400}, "dataset_size"),  # 1437 less 287 held out
        ({"search": "grid"}, "search"),
        ({"name": "x" * 81}, "name"),
        ({"seed": -1}, "seed"),
    ],
)
def test_bad_settings_name_the_field(changes, field):
    with pytest.raises(ValidationError) as err:
        TuneConfig(**changes)
    assert err.value.field == field


def test_round_trip_through_a_dict():
    config = TuneConfig(trials_shape="poisson", momentum_range=None, name=" study ")
    assert config.name == "study" and config.trials_shape == math.inf
    assert TuneConfig.from_dict(config.to_dict()) == config
    with pytest.raises(ValidationError):
        TuneConfig.from_dict({"colour": 1})


@settings(max_examples=60, deadline=None)
@given(text=st.text(max_size=20))
def test_any_range_text_is_parsed_or_named(text):
    try:
        low, high = parse_range("clip_norm", text)
    except ValidationError as err:
        assert err.field == "clip_norm"
    else:
        assert 1e-4 <= low <= high <= 1e4
