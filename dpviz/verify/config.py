"""What a verification trains and audits, validated before TensorFlow loads."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields

from dpviz.datasets import DATASETS
from dpviz.privacy.params import PrivacyParams
from dpviz.training.config import TrainConfig
from dpviz.validation import ValidationError, require_choice, require_int

KINDS = {
    "gradient": "gradient canaries (white-box: sampling, noise, normalisation and accounting)",
    "input": "input canaries (black-box: the whole pipeline, clipping included, scored by the final model's loss)",
}
MIN_CANARIES = 20
MAX_GRADIENT_CANARIES = 100_000
MAX_INPUT_CANARIES = 5_000
DEFAULT_CANARIES = {"gradient": 10_000, "input": 500}
INCLUSION = 0.5  # each canary is included independently with this probability
# the settings a verification shares with a training run (TrainConfig's fields of the same names)
TRAINING_SETTINGS = (
    "dataset",
    "model",
    "epochs",
    "batch_size",
    "noise_multiplier",
    "clip_norm",
    "learning_rate",
    "momentum",
    "optimizer",
    "delta",
    "dataset_size",
    "accountant",
)


def parameter_count(model: str, input_shape: tuple[int, ...], classes: int = 10) -> int:
    """Trainable parameters of `dpviz.training.engine.build_model(model, input_shape)`, without TensorFlow:
    the most Dirac gradient canaries a model has room for (one coordinate each)."""
    h, w, c = (tuple(input_shape) + (1, 1, 1))[:3]
    if model == "logreg":
        return h * w * c * classes + classes
    if model == "mlp":
        return h * w * c * 128 + 128 + 128 * 128 + 128 + 128 * classes + classes
    if model != "cnn":
        raise ValidationError("model", f"unknown model {model!r}")
    if min(h, w) < 20:
        k1, s1, k2 = 3, 1, 3
        h1, w1 = h, w
    else:
        k1, s1, k2 = 8, 2, 4
        h1, w1 = math.ceil(h / s1), math.ceil(w / s1)
    h1, w1 = h1 - 1, w1 - 1  # 2x2 max pool, stride 1
    h2, w2 = (h1 - k2) // 2 + 1 - 1, (w1 - k2) // 2 + 1 - 1
    return k1 * k1 * c * 16 + 16 + k2 * k2 * 16 * 32 + 32 + h2 * w2 * 32 * 32 + 32 + 32 * classes + classes


@dataclass(frozen=True)
class VerifyConfig:
    """One audited run. The training settings are `TrainConfig`'s (Poisson sampling, no membership audit);
    `canaries` None takes the kind's default, capped at the model's parameter count for gradient canaries."""

    dataset: str = "digits"
    model: str = "mlp"
    epochs: float = 5
    batch_size: int = 64
    noise_multiplier: float = 1.0
    clip_norm: float = 1.0
    learning_rate: float = 0.25
    momentum: float = 0.0
    optimizer: str = "sgd"
    delta: float = 1e-5
    dataset_size: int | None = None
    accountant: str = "rdp"
    kind: str = "gradient"
    canaries: int | None = None
    seed: int | None = None  # None: noise, sampling and the canaries' inclusion from the OS's entropy

    def __post_init__(self):
        set_ = lambda name, value: object.__setattr__(self, name, value)  # noqa: E731
        set_("kind", require_choice("kind", self.kind, KINDS))
        if self.seed is not None:
            set_("seed", require_int("seed", self.seed, minimum=0, maximum=2**31 - 1))
        train = self.train_config  # validates every training setting, naming its field
        for name in ("epochs", "batch_size", "noise_multiplier", "clip_norm", "learning_rate", "momentum", "delta"):
            set_(name, getattr(train, name))
        most = self.max_canaries
        if self.canaries is None:
            set_("canaries", min(DEFAULT_CANARIES[self.kind], most))
        set_("canaries", require_int("canaries", self.canaries, minimum=MIN_CANARIES, maximum=most))
        if self.noise_multiplier == 0:
            raise ValidationError("noise_multiplier", "must be above 0: without noise there is no claim to verify")
        # the accountant's n: the dataset's examples and, at most, every canary
        PrivacyParams(self.base_size + self.canaries, self.batch_size, self.noise_multiplier, self.epochs, self.delta)

    @property
    def train_config(self) -> TrainConfig:
        """The training settings as a run of their own (Poisson, reproducible when seeded, no audit)."""
        return TrainConfig(
            **{name: getattr(self, name) for name in TRAINING_SETTINGS},
            sampler="poisson",
            seed=self.seed or 0,
            audit=False,
            reproducible=self.seed is not None,
        )

    @classmethod
    def from_train_config(cls, config: TrainConfig, *, kind: str, canaries: int | None) -> VerifyConfig:
        """A run's settings as a verification (seeded only when the run's noise is reproducible)."""
        return cls(
            **{name: getattr(config, name) for name in TRAINING_SETTINGS},
            kind=kind,
            canaries=canaries,
            seed=config.seed if config.reproducible else None,
        )

    @property
    def base_size(self) -> int:
        return self.train_config.base_size

    @property
    def max_canaries(self) -> int:
        if self.kind == "input":
            return MAX_INPUT_CANARIES
        shape = DATASETS[self.dataset].input_shape
        return min(MAX_GRADIENT_CANARIES, parameter_count(self.model, shape, DATASETS[self.dataset].classes))

    def privacy(self, included: int) -> PrivacyParams:
        """The accountant's settings once `included` canaries are in: they count in n, and so in the steps."""
        return PrivacyParams(self.base_size + included, self.batch_size, self.noise_multiplier, self.epochs, self.delta)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> VerifyConfig:
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValidationError(sorted(unknown)[0], "is not a verification setting")
        return cls(**data)
