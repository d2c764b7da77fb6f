"""Sweep specs: parsing, expansion and validation (plain Python)."""

import pytest

from dpviz.training.config import TrainConfig
from dpviz.training.sweep import MAX_CELLS, baseline_configs, expand, parse_axis
from dpviz.validation import ValidationError

BASE = TrainConfig(dataset="digits", batch_size=64, epochs=2)


def test_parse_and_expand_grid():
    axes = [parse_axis("noise_multiplier", "0.5, 1,2 ,1"), parse_axis("batch_size", "32; 64")]
    assert axes[0].values == (0.5, 1.0, 2.0) and axes[1].values == (32, 64)
    configs = expand(BASE, axes)
    assert len(configs) == 6 and {c.epochs for c in configs} == {2}
    assert [(c.noise_multiplier, c.batch_size) for c in configs][:2] == [(0.5, 32), (0.5, 64)]
    assert len(baseline_configs(configs)) == 2  # noise does not change the baseline; batch size does


@pytest.mark.parametrize(
    "name, text, field, words",
    [
        ("noise_multiplier", "1, abc", "noise_multiplier", "abc"),
        ("noise_multiplier", "", "noise_multiplier", "at least one"),
        ("batch_size", "32.5", "batch_size", "whole"),
        ("clip_norm", "nan", "clip_norm", "finite"),
        ("momentum", "0.9", "sweep", "noise_multiplier"),
    ],
)
def test_bad_axis_names_the_field(name, text, field, words):
    with pytest.raises(ValidationError) as err:
        parse_axis(name, text)
    assert err.value.field == field and words in err.value.message


def test_each_cell_is_validated_like_a_single_run():
    with pytest.raises(ValidationError) as err:
        expand(BASE, [parse_axis("batch_size", "64, 5000")])
    assert err.value.field == "batch_size" and "1437" in err.value.message.replace(",", "")
    with pytest.raises(ValidationError) as err:
        expand(BASE, [parse_axis("noise_multiplier", "1"), parse_axis("noise_multiplier", "2")])
    assert err.value.field == "sweep"
    with pytest.raises(ValidationError) as err:
        expand(BASE, [parse_axis("noise_multiplier", ",".join(str(i + 1) for i in range(MAX_CELLS + 1)))])
    assert "at most" in err.value.message
