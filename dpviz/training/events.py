"""What a training run reports as it goes (plain data: no TensorFlow), and the `Trainer` contract
that the real engine and its test double both keep."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from typing import Protocol, runtime_checkable


@dataclass
class EpochMetrics:
    run: str
    epoch: int
    train_loss: float
    train_accuracy: float
    test_loss: float
    test_accuracy: float
    epsilon: float | None
    examples_per_second: float
    elapsed_s: float
    steps: int
    epsilon_no_amplification: float | None = None
    validation_loss: float | None = None  # on the split held out of the training data, when there is one
    validation_accuracy: float | None = None

    def to_dict(self) -> dict:
        data = asdict(self)
        for key in ("epsilon", "epsilon_no_amplification"):
            if data[key] is not None and not math.isfinite(data[key]):
                data[key] = None
        return data


@dataclass
class Progress:
    run: str
    epoch: int
    step: int
    total_steps: int
    loss: float | None = None  # mean training loss per example over the steps since the previous Progress


@dataclass
class Finished:
    run: str
    status: str  # completed | diverged | cancelled
    device: str
    sampler: str
    accountant: str
    epochs_run: int
    steps: int
    error: str | None = None
    final: dict = field(default_factory=dict)
    epsilon_assumption: str = ""
    audit: dict | None = None  # dpviz.audit.run_audit's report, for completed runs

    def to_dict(self) -> dict:
        return asdict(self)


@runtime_checkable
class Trainer(Protocol):
    """Trains one run of a config as `kind` ("private" or "baseline"), yielding its events.

    The contract (tests/training/test_trainer_contract.py holds every implementation to it):
    Progress events as steps finish (first a step-0 one with the untrained model's training loss, then
    one after step 1, each with the mean training loss since the previous one), one EpochMetrics per
    epoch of `config.training.run_plan`, then exactly one Finished, last. A private run's EpochMetrics
    carry epsilon; a baseline's do not.
    `should_stop` returning True ends the run early with status "cancelled".
    """

    def __call__(
        self,
        config,
        kind: str = "private",
        *,
        data=None,
        should_stop: Callable[[], bool] = ...,
        progress_every: int = ...,
    ) -> Iterator[EpochMetrics | Progress | Finished]: ...
