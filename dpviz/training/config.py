"""A training run's configuration, validated before TensorFlow loads, and what follows from it:
its schedule of steps (`run_plan`) and the settings a non-private baseline depends on (`schedule_key`)."""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, fields

from dpviz.datasets import DATASETS
from dpviz.privacy.labels import ACCOUNTANTS, SAMPLERS
from dpviz.privacy.params import PrivacyParams
from dpviz.validation import ValidationError, require_choice, require_float, require_int

MODELS = ("cnn", "mlp", "logreg")
OPTIMIZERS = ("sgd", "adam")
# float32, or bfloat16 compute with float32 weights, clipping, norms, noise and sums (opt-in: for GPUs)
PRECISIONS = ("float32", "mixed_bfloat16")
KINDS = ("private", "baseline")
MAX_SYNTHETIC = 1_000_000
MAX_CANARIES = 20
CANARY_REPEATS = 4  # copies of every second canary; the others are inserted once


def max_dataset_size(dataset: str, validation_size: int = 0) -> int:
    """The most training examples `dataset` has (generated data: as many as MAX_SYNTHETIC), less a
    validation split held out of its training data."""
    return (MAX_SYNTHETIC if dataset == "synthetic" else DATASETS[dataset].train_size) - validation_size


def require_dataset_size(dataset: str, value, validation_size: int = 0) -> int:
    """A subset size of `dataset`'s training split; ValidationError names `dataset_size` and its range."""
    return require_int("dataset_size", value, minimum=1, maximum=max_dataset_size(dataset, validation_size))


def require_validation_size(dataset: str, value) -> int:
    """Examples held out of the training split for validation: at most half of it."""
    return require_int("validation_size", value, minimum=0, maximum=max_dataset_size(dataset) // 2)


@dataclass(frozen=True)
class TrainConfig:
    dataset: str = "digits"
    model: str = "mlp"
    epochs: float = 5
    batch_size: int = 64
    noise_multiplier: float = 1.0
    clip_norm: float = 1.0
    learning_rate: float = 0.25
    optimizer: str = "sgd"
    momentum: float = 0.0
    sampler: str = "poisson"
    seed: int = 0
    delta: float = 1e-5
    dataset_size: int | None = None  # None: the dataset's whole training split
    accountant: str = "rdp"
    audit: bool = True  # membership-inference audit after training (dpviz.audit)
    canaries: int = 0  # random-label canaries added to the training set; their exposure is audited
    # False: a private run's noise and batch sampling come from the OS's entropy (the seed sets the model's
    # initial weights and the baseline's batches); True: they are seeded too, reproducible, and so protect
    # nothing against whoever knows the seed.
    reproducible: bool = False
    # Examples held out of the (private) training split, never trained on: tuning chooses by their accuracy.
    validation_size: int = 0
    precision: str = "float32"

    def __post_init__(self):
        set_ = lambda name, value: object.__setattr__(self, name, value)  # noqa: E731
        set_("dataset", require_choice("dataset", self.dataset, DATASETS))
        set_("model", require_choice("model", self.model, MODELS))
        set_("optimizer", require_choice("optimizer", self.optimizer, OPTIMIZERS))
        set_("sampler", require_choice("sampler", self.sampler, SAMPLERS))
        set_("accountant", require_choice("accountant", self.accountant, ACCOUNTANTS))
        set_("precision", require_choice("precision", self.precision, PRECISIONS))
        set_("validation_size", require_validation_size(self.dataset, self.validation_size))
        if self.dataset_size is not None:
            set_("dataset_size", require_dataset_size(self.dataset, self.dataset_size, self.validation_size))
        set_("epochs", require_float("epochs", self.epochs, minimum=0, maximum=1000, exclusive_minimum=True))
        set_("clip_norm", require_float("clip_norm", self.clip_norm, minimum=0, exclusive_minimum=True, maximum=1e6))
        set_(
            "learning_rate",
            require_float("learning_rate", self.learning_rate, minimum=0, exclusive_minimum=True, maximum=100),
        )
        set_("momentum", require_float("momentum", self.momentum, minimum=0, maximum=1, exclusive_maximum=True))
        set_("seed", require_int("seed", self.seed, minimum=0, maximum=2**31 - 1))
        if not isinstance(self.audit, bool):
            raise ValidationError("audit", f"must be true or false, got {self.audit!r}")
        if not isinstance(self.reproducible, bool):
            raise ValidationError("reproducible", f"must be true or false, got {self.reproducible!r}")
        set_("canaries", require_int("canaries", self.canaries, minimum=0, maximum=MAX_CANARIES))
        if self.canaries and not self.audit:
            raise ValidationError("canaries", "require the audit, which measures their exposure: turn the audit on")
        privacy = self.privacy  # validates batch size, noise, delta against the dataset size
        set_("batch_size", privacy.batch_size)
        set_("noise_multiplier", privacy.noise_multiplier)
        set_("delta", privacy.delta)

    @property
    def base_size(self) -> int:
        """Examples taken from the dataset (without canaries)."""
        return self.dataset_size or max_dataset_size(self.dataset, self.validation_size)

    @property
    def canary_copies(self) -> tuple[int, ...]:
        """Copies of each canary in the training set: 1, CANARY_REPEATS, 1, ..."""
        return tuple(1 if i % 2 == 0 else CANARY_REPEATS for i in range(self.canaries))

    @property
    def train_size(self) -> int:
        """Training rows, canary copies included: the n the accountant and the sampler use."""
        return self.base_size + sum(self.canary_copies)

    @property
    def privacy(self) -> PrivacyParams:
        return PrivacyParams(
            dataset_size=self.train_size,
            batch_size=self.batch_size,
            noise_multiplier=self.noise_multiplier,
            epochs=self.epochs,
            delta=self.delta,
        )

    def to_dict(self) -> dict:
        return asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict) -> TrainConfig:
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValidationError(sorted(unknown)[0], "is not a training setting")
        return cls(**data)


HYPERPARAMETERS = ("noise_multiplier", "clip_norm", "batch_size", "epochs", "learning_rate")
HYPERPARAMETER_LABELS = {
    "noise_multiplier": "noise multiplier σ",
    "clip_norm": "clip norm C",
    "batch_size": "batch size",
    "epochs": "epochs",
    "learning_rate": "learning rate",
}
# What a non-private baseline's training depends on: noise and clipping do not touch it.
SCHEDULE = (
    "dataset",
    "dataset_size",
    "model",
    "epochs",
    "batch_size",
    "learning_rate",
    "optimizer",
    "momentum",
    "sampler",
    "seed",
    "canaries",
    "validation_size",
    "precision",
)
UNUSED_BY_BASELINE = ("noise_multiplier", "clip_norm", "reproducible")
# A run stored before a setting existed trained with that setting's default.
CONFIG_DEFAULTS = {f.name: f.default for f in fields(TrainConfig)}
STORED_BEFORE = {"reproducible": True}  # runs stored before the setting existed were seeded throughout


def stored_config(config: dict) -> TrainConfig | None:
    """A stored run's config as a TrainConfig (settings added since it was stored take their defaults);
    None when it cannot be one (a damaged or hand-edited row), so pages can say so instead of failing."""
    try:
        return TrainConfig.from_dict({**CONFIG_DEFAULTS, **STORED_BEFORE, **config})
    except (ValidationError, TypeError):
        return None


def schedule_key(config: dict) -> tuple:
    """Runs with equal keys train identical baselines (a stored config's missing settings take their defaults)."""
    return tuple(config.get(name, CONFIG_DEFAULTS[name]) for name in SCHEDULE)


def run_plan(config: TrainConfig) -> list[tuple[int, int, int]]:
    """[(epoch, steps done at its end, steps in it)]: ceil(n/b) steps an epoch, ceil(epochs n / b) in all."""
    per_epoch = math.ceil(config.train_size / config.batch_size)
    total = config.privacy.steps
    plan, done, epoch = [], 0, 0
    while done < total:
        epoch += 1
        steps = min(per_epoch, total - done)
        done += steps
        plan.append((epoch, done, steps))
    return plan
