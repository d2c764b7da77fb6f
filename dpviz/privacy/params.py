"""DP-SGD privacy parameters: the one validated description every accountant reads."""

from __future__ import annotations

import math
from dataclasses import dataclass

from dpviz.validation import ValidationError, require_float, require_int

MAX_EPOCHS = 10_000
MAX_DATASET_SIZE = 10**12
MIN_NOISE, MAX_NOISE = 1e-3, 1e4  # besides 0 (no noise); beyond these dp-accounting divides by zero or overflows
MIN_DELTA = 1e-300


@dataclass(frozen=True)
class PrivacyParams:
    """Example-level DP-SGD settings; `steps` and `sampling_probability` follow from them.

    Bounds (a value outside gets a ValidationError naming its field): dataset_size 1 to 1e12;
    batch_size 1 to dataset_size; noise_multiplier 0 (no noise: epsilon is infinite) or 0.001 to
    10000; epochs above 0 up to 10000; delta from 1e-300 to below 1.
    """

    dataset_size: int
    batch_size: int
    noise_multiplier: float
    epochs: float
    delta: float

    def __post_init__(self):
        n = require_int("dataset_size", self.dataset_size, minimum=1, maximum=MAX_DATASET_SIZE)
        object.__setattr__(self, "dataset_size", n)
        batch = require_int("batch_size", self.batch_size, minimum=1)
        if batch > n:
            raise ValidationError("batch_size", f"must be between 1 and the dataset size ({n}), got {batch}")
        object.__setattr__(self, "batch_size", batch)
        sigma = require_float("noise_multiplier", self.noise_multiplier, minimum=0.0, maximum=MAX_NOISE)
        if 0 < sigma < MIN_NOISE:
            raise ValidationError(
                "noise_multiplier", f"must be 0 (no noise) or between {MIN_NOISE:g} and {MAX_NOISE:g}, got {sigma:g}"
            )
        object.__setattr__(self, "noise_multiplier", sigma)
        object.__setattr__(
            self,
            "epochs",
            require_float("epochs", self.epochs, minimum=0.0, maximum=MAX_EPOCHS, exclusive_minimum=True),
        )
        object.__setattr__(
            self, "delta", require_float("delta", self.delta, minimum=MIN_DELTA, maximum=1.0, exclusive_maximum=True)
        )

    @property
    def sampling_probability(self) -> float:
        return self.batch_size / self.dataset_size

    @property
    def steps_per_epoch(self) -> int:
        return math.ceil(self.dataset_size / self.batch_size)

    @property
    def steps(self) -> int:
        return steps_for(self.epochs, self.dataset_size, self.batch_size)

    @property
    def passes(self) -> int:
        """Times each example is used when batches are fixed-size shuffled (no amplification)."""
        return math.ceil(self.epochs)

    def warnings(self) -> list[str]:
        notes = []
        if self.delta >= 1 / self.dataset_size:
            notes.append(
                f"delta = {self.delta:g} is not below 1/n = {1 / self.dataset_size:.3g}: a mechanism that "
                "publishes one random example outright would meet it. Choose delta well below 1/n."
            )
        if self.noise_multiplier == 0:
            notes.append("noise_multiplier = 0 adds no noise: there is no privacy guarantee (epsilon is infinite).")
        return notes

    def replace(self, **changes) -> PrivacyParams:
        from dataclasses import replace

        return replace(self, **changes)


def steps_for(epochs: float, dataset_size: int, batch_size: int) -> int:
    """Steps of DP-SGD for `epochs` passes in expectation: ceil(epochs * n / b)."""
    return max(1, math.ceil(epochs * dataset_size / batch_size - 1e-9))
