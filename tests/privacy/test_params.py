import dataclasses
import math

import pytest

from dpviz.privacy.params import PrivacyParams
from dpviz.validation import ValidationError

GOOD = dict(dataset_size=1000, batch_size=100, noise_multiplier=1.0, epochs=2, delta=1e-5)


@pytest.mark.parametrize(
    "field, value, words",
    [
        ("dataset_size", 0, ">= 1"),
        ("dataset_size", 10.5, "whole number"),
        ("dataset_size", "abc", "whole number"),
        ("batch_size", 0, ">= 1"),
        ("batch_size", 1001, "dataset size (1000)"),
        ("noise_multiplier", -0.1, ">= 0"),
        ("noise_multiplier", math.nan, "finite"),
        ("noise_multiplier", math.inf, "finite"),
        ("epochs", 0, "> 0"),
        ("epochs", -1, "> 0"),
        ("delta", 0, ">= 1e-300"),
        ("delta", 1, "< 1"),
        ("delta", math.nan, "finite"),
        ("delta", "x", "number"),
    ],
)
def test_bad_values_name_the_field_and_range(field, value, words):
    with pytest.raises(ValidationError) as info:
        PrivacyParams(**{**GOOD, field: value})
    assert info.value.field == field
    assert words in str(info.value)


def test_delta_not_below_one_over_n_warns():
    assert not PrivacyParams(**GOOD).warnings()
    warnings = PrivacyParams(**{**GOOD, "delta": 1e-3}).warnings()
    assert any("1/n" in w for w in warnings)


def test_params_are_frozen():
    p = PrivacyParams(**GOOD)
    with pytest.raises(dataclasses.FrozenInstanceError):
        p.batch_size = 3
    assert p.replace(batch_size=10).batch_size == 10
