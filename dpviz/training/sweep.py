"""Sweeps: a grid over up to two hyperparameters, expanded into validated training configs.

Noise and clipping do not change non-private training, so the grid needs one baseline per
distinct schedule (see `config.SCHEDULE`), not one per cell.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, replace

from dpviz.training.config import HYPERPARAMETERS, TrainConfig, schedule_key
from dpviz.validation import ValidationError

MAX_AXES = 2
MAX_CELLS = 24


@dataclass(frozen=True)
class SweepAxis:
    name: str
    values: tuple


def parse_axis(name: str, text: str) -> SweepAxis:
    """`"0.5, 1, 2"` -> SweepAxis(name, (0.5, 1.0, 2.0)); the field named in errors is the hyperparameter."""
    if name not in HYPERPARAMETERS:
        raise ValidationError("sweep", f"can vary {', '.join(HYPERPARAMETERS)}, not {name!r}")
    values = []
    for part in filter(None, (p.strip() for p in str(text).replace(";", ",").split(","))):
        try:
            value = float(part)
        except ValueError:
            raise ValidationError(name, f"{part!r} is not a number (separate values with commas)") from None
        if not math.isfinite(value):
            raise ValidationError(name, f"{part!r} is not a finite number")
        if name == "batch_size":
            if value != int(value):
                raise ValidationError(name, f"must be whole numbers, got {part}")
            value = int(value)
        if value not in values:
            values.append(value)
    if not values:
        raise ValidationError(name, "give at least one value, separated by commas (for example 0.5, 1, 2)")
    return SweepAxis(name, tuple(values))


def expand(base: TrainConfig, axes) -> list[TrainConfig]:
    """Every combination of the axes' values applied to `base`, each validated like a single run."""
    axes = list(axes)
    if len(axes) > MAX_AXES:
        raise ValidationError("sweep", f"varies at most {MAX_AXES} hyperparameters at once, got {len(axes)}")
    names = [a.name for a in axes]
    if len(set(names)) != len(names):
        raise ValidationError(
            "sweep", f"{names[0].replace('_', ' ')} is chosen twice; pick two different hyperparameters"
        )
    cells = math.prod(len(a.values) for a in axes)
    if cells > MAX_CELLS:
        raise ValidationError("sweep", f"has {cells} runs; at most {MAX_CELLS} per sweep (fewer values, or two sweeps)")
    return [replace(base, **dict(zip(names, combo))) for combo in itertools.product(*(a.values for a in axes))]


def baseline_configs(configs) -> list[TrainConfig]:
    """One config per distinct training schedule, in first-seen order."""
    seen = {}
    for config in configs:
        seen.setdefault(schedule_key(config.to_dict()), config)
    return list(seen.values())
