"""A study's settings, validated before anything trains, and the trial configs they expand into."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields

from dpviz.datasets import DATASETS
from dpviz.privacy.labels import SAMPLERS
from dpviz.privacy.params import PrivacyParams
from dpviz.privacy.tuning import TrialCount, parse_shape
from dpviz.training.config import (
    MODELS,
    OPTIMIZERS,
    TrainConfig,
    max_dataset_size,
    require_dataset_size,
    require_validation_size,
)
from dpviz.validation import ValidationError, require_choice, require_float, require_int

SEARCHES = ("random", "tpe")  # random: accounted (Papernot-Steinke); tpe: adaptive exploration, not accounted
VALIDATION_FRACTION = 0.2
MAX_VALIDATION = 10_000
RANGES = {  # the widest range each tuned setting may be given
    "learning_rate": (1e-5, 100.0),
    "clip_norm": (1e-4, 1e4),
    "momentum": (0.0, 0.99),
}


def default_validation_size(dataset: str, dataset_size: int | None = None) -> int:
    """A fifth of the training data, at most 10,000 examples."""
    whole = max_dataset_size(dataset)
    if dataset_size:
        whole = min(whole, int(dataset_size / (1 - VALIDATION_FRACTION)))
    return min(MAX_VALIDATION, max(1, round(whole * VALIDATION_FRACTION)))


def parse_range(field: str, text) -> tuple[float, float]:
    """`"0.01,1"` (or a pair) -> (0.01, 1.0), within RANGES[field], low <= high."""
    if isinstance(text, str):
        parts = [p.strip() for p in text.replace(";", ",").split(",")]
    else:
        try:
            parts = list(text)
        except TypeError:
            parts = [text]
    if len(parts) != 2:
        raise ValidationError(field, f"must be two numbers LOW,HIGH (for example 0.01,1), got {text!r}")
    low_bound, high_bound = RANGES[field.removesuffix("_range")]
    low, high = (require_float(field, p, minimum=low_bound, maximum=high_bound) for p in parts)
    if low > high:
        raise ValidationError(field, f"must be LOW,HIGH with LOW <= HIGH, got {low:g},{high:g}")
    return low, high


@dataclass(frozen=True)
class TuneConfig:
    """Everything a study needs. The schedule (n, b, epochs, δ, sampler) is shared by every trial, so
    one noise multiplier is calibrated for the whole search; learning rate, clip norm (and momentum)
    are searched."""

    target_epsilon: float = 3.0
    delta: float = 1e-5
    dataset: str = "digits"
    dataset_size: int | None = None
    model: str = "logreg"
    optimizer: str = "sgd"
    batch_size: int = 128
    epochs: float = 20
    sampler: str = "poisson"
    trials_mean: float = 8
    trials_shape: float = 1.0  # dp-accounting's shape: 1 geometric, 0 logarithmic, inf Poisson, else TNB
    learning_rate_range: tuple[float, float] = (0.05, 2.0)
    clip_norm_range: tuple[float, float] = (0.1, 5.0)
    momentum_range: tuple[float, float] | None = (0.0, 0.9)
    search: str = "random"
    seed: int | None = None  # None: the number of trials and the draws come from the OS's entropy
    validation_size: int | None = None  # None: default_validation_size
    baselines: bool = True  # a non-private baseline per distinct schedule, as sweeps have
    name: str = ""

    def __post_init__(self):
        set_ = lambda name, value: object.__setattr__(self, name, value)  # noqa: E731
        set_("dataset", require_choice("dataset", self.dataset, DATASETS))
        set_("model", require_choice("model", self.model, MODELS))
        set_("optimizer", require_choice("optimizer", self.optimizer, OPTIMIZERS))
        set_("sampler", require_choice("sampler", self.sampler, SAMPLERS))
        set_("search", require_choice("search", self.search, SEARCHES))
        set_(
            "target_epsilon",
            require_float("target_epsilon", self.target_epsilon, minimum=0, maximum=100, exclusive_minimum=True),
        )
        count = TrialCount(self.trials_mean, parse_shape(self.trials_shape))
        set_("trials_mean", count.mean)
        set_("trials_shape", count.shape)
        set_("learning_rate_range", parse_range("learning_rate_range", self.learning_rate_range))
        set_("clip_norm_range", parse_range("clip_norm_range", self.clip_norm_range))
        if self.momentum_range is not None:
            if self.optimizer == "adam":
                raise ValidationError("momentum_range", "applies to sgd only; leave it out with adam")
            set_("momentum_range", parse_range("momentum_range", self.momentum_range))
        if self.seed is not None:
            set_("seed", require_int("seed", self.seed, minimum=0, maximum=2**31 - 1))
        validation = self.validation_size
        if validation is None:
            validation = default_validation_size(self.dataset, self.dataset_size)
        set_("validation_size", require_validation_size(self.dataset, validation))
        if self.validation_size < 1:
            raise ValidationError("validation_size", "must be at least 1: the best trial is chosen on it")
        if self.dataset_size is not None:
            set_("dataset_size", require_dataset_size(self.dataset, self.dataset_size, self.validation_size))
        if not isinstance(self.baselines, bool):
            raise ValidationError("baselines", f"must be true or false, got {self.baselines!r}")
        name = str(self.name).strip()
        if len(name) > 80:
            raise ValidationError("name", f"must be at most 80 characters, got {len(name)}")
        set_("name", name)
        self.trial_config(noise_multiplier=1.0, learning_rate=self.learning_rate_range[0], clip_norm=1.0, number=0)

    @property
    def count(self) -> TrialCount:
        return TrialCount(self.trials_mean, self.trials_shape)

    @property
    def accounted(self) -> bool:
        return self.search == "random"

    @property
    def train_size(self) -> int:
        return self.dataset_size or max_dataset_size(self.dataset, self.validation_size)

    @property
    def privacy(self) -> PrivacyParams:
        """The shared schedule (its noise multiplier is a placeholder until calibrated)."""
        return PrivacyParams(
            dataset_size=self.train_size,
            batch_size=self.batch_size,
            noise_multiplier=1.0,
            epochs=self.epochs,
            delta=self.delta,
        )

    @property
    def planned_trials(self) -> int | None:
        """Exploration runs the mean, rounded; the accounted search draws its number (None until drawn)."""
        return None if self.accounted else max(1, round(self.trials_mean))

    def trial_config(
        self, *, noise_multiplier: float, learning_rate: float, clip_norm: float, number: int, momentum: float = 0.0
    ) -> TrainConfig:
        """One trial's run: the shared schedule, the calibrated σ, its drawn settings. RDP, as the search is
        accounted; no membership audit (a search of many runs would spend most of its time on it)."""
        return TrainConfig(
            dataset=self.dataset,
            dataset_size=self.dataset_size,
            model=self.model,
            optimizer=self.optimizer,
            epochs=self.epochs,
            batch_size=self.batch_size,
            noise_multiplier=noise_multiplier,
            clip_norm=clip_norm,
            learning_rate=learning_rate,
            momentum=momentum if self.optimizer == "sgd" else 0.0,
            sampler=self.sampler,
            seed=((self.seed or 0) + number) % 2**31,
            delta=self.delta,
            accountant="rdp",
            audit=False,
            validation_size=self.validation_size,
        )

    def to_dict(self) -> dict:
        data = asdict(self)
        data["trials_shape"] = self.trials_shape if math.isfinite(self.trials_shape) else "inf"
        return data

    @classmethod
    def from_dict(cls, data: dict) -> TuneConfig:
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValidationError(sorted(unknown)[0], "is not a tuning setting")
        return cls(**data)
