"""Datasets as float32 arrays in [0, 1], NHWC, with a fixed train/test split.

Keras' loaders (and with them TensorFlow) are imported only for mnist, fashion_mnist and cifar10.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dpviz.datasets import DATASETS

SPLIT_SEED = 0  # the train/test split and the subset never change with the run's seed


class DatasetUnavailable(RuntimeError):
    """A download failed; the message names the cache and the offline choices."""


CANARY_REFERENCES = 500  # fresh random-label examples each canary's loss is ranked among
CLASSES = 10


@dataclass(frozen=True)
class Canaries:
    """Random inputs with random labels (nothing to generalise from: a low loss means memorised),
    and references drawn the same way but never trained on (Carlini et al. 2019, "The Secret Sharer")."""

    x: np.ndarray
    y: np.ndarray
    copies: tuple[int, ...]
    reference_x: np.ndarray
    reference_y: np.ndarray

    @property
    def rows(self) -> int:
        return sum(self.copies)


@dataclass(frozen=True)
class Data:
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    name: str
    canaries: Canaries | None = None  # when set, its copies are the last `canaries.rows` training rows
    x_val: np.ndarray | None = None  # held out of the training split (TrainConfig.validation_size)
    y_val: np.ndarray | None = None

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(self.x_train.shape[1:])

    @property
    def dataset_rows(self) -> int:
        """Training rows from the dataset itself (the audit's members come from these)."""
        return len(self.x_train) - (self.canaries.rows if self.canaries else 0)


def make_canaries(
    input_shape: tuple[int, ...], copies: tuple[int, ...], *, seed: int, references: int = CANARY_REFERENCES
) -> Canaries:
    """Uniform-noise inputs in [0, 1] with uniform labels; the same for a private run and its baseline."""
    rng = np.random.default_rng([seed, 104729])
    draw = lambda n: (rng.random((n, *input_shape), dtype=np.float32), rng.integers(0, CLASSES, n).astype(np.int32))  # noqa: E731
    (x, y), (rx, ry) = draw(len(copies)), draw(references)
    return Canaries(x, y, tuple(copies), rx, ry)


def with_canaries(data: Data, copies: tuple[int, ...], *, seed: int) -> Data:
    """`data` with each canary appended `copies[i]` times to the training set."""
    canaries = make_canaries(data.input_shape, copies, seed=seed)
    repeat = np.repeat(np.arange(len(copies)), copies)
    return Data(
        np.concatenate([data.x_train, canaries.x[repeat]]),
        np.concatenate([data.y_train, canaries.y[repeat]]),
        data.x_test,
        data.y_test,
        data.name,
        canaries,
        data.x_val,
        data.y_val,
    )


def for_config(config, data: Data | None = None) -> Data:
    """The training data of a run: the dataset (or `data`) with the run's canaries, if it asks for some."""
    data = data if data is not None else load(config.dataset, config.dataset_size, config.validation_size)
    if config.canaries and data.canaries is None:
        data = with_canaries(data, config.canary_copies, seed=config.seed)
    return data


def keras_cache_dir() -> Path:
    return Path(os.environ.get("KERAS_HOME", Path.home() / ".keras")) / "datasets"


def load(name: str, dataset_size: int | None = None, validation_size: int = 0) -> Data:
    """The dataset's train and test splits; `validation_size` examples are first held out of the training
    split (always the same ones, whatever the subset), then `dataset_size` are kept of the rest."""
    if name == "digits":
        x_train, y_train, x_test, y_test = _digits()
    elif name == "synthetic":
        x_train, y_train, x_test, y_test = synthetic(
            (dataset_size or DATASETS["synthetic"].train_size) + validation_size
        )
    else:
        x_train, y_train, x_test, y_test = _keras(name)
    x_val = y_val = None
    if validation_size:
        order = np.random.default_rng(SPLIT_SEED + 2).permutation(len(x_train))
        held, rest = np.sort(order[:validation_size]), np.sort(order[validation_size:])
        x_val, y_val = x_train[held].astype(np.float32), y_train[held].astype(np.int32)
        x_train, y_train = x_train[rest], y_train[rest]
    if dataset_size is not None and dataset_size < len(x_train):
        keep = np.random.default_rng(SPLIT_SEED).permutation(len(x_train))[:dataset_size]
        x_train, y_train = x_train[np.sort(keep)], y_train[np.sort(keep)]
    return Data(
        x_train.astype(np.float32),
        y_train.astype(np.int32),
        x_test.astype(np.float32),
        y_test.astype(np.int32),
        name,
        x_val=x_val,
        y_val=y_val,
    )


@functools.lru_cache(maxsize=1)
def _digits():
    """Read once per process (callers copy what they keep); a warm worker reads it before any run."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    bunch = load_digits()
    x = (bunch.images / 16.0)[..., None]
    test = DATASETS["digits"].test_size
    x_train, x_test, y_train, y_test = train_test_split(
        x, bunch.target, test_size=test, random_state=SPLIT_SEED, stratify=bunch.target
    )
    return x_train, y_train, x_test, y_test


def synthetic(train_size: int, test_size: int = 1000, classes: int = 10, shape=(28, 28, 1)):
    """MNIST-shaped, learnable and deterministic: noisy copies of ten fixed smooth prototypes."""
    rng = np.random.default_rng(12345)
    coarse = rng.random((classes, 7, 7))
    prototypes = np.kron(coarse, np.ones((4, 4)))[..., None]  # 28x28 blocks
    gen = np.random.default_rng(SPLIT_SEED + 1)
    y = gen.integers(0, classes, train_size + test_size)
    x = np.clip(prototypes[y] + gen.normal(0, 0.35, (len(y),) + tuple(shape)), 0, 1)
    return x[:train_size], y[:train_size], x[train_size:], y[train_size:]


def _keras(name: str):
    from keras import datasets  # imports TensorFlow

    loader = {"mnist": datasets.mnist, "fashion_mnist": datasets.fashion_mnist, "cifar10": datasets.cifar10}[name]
    try:
        (x_train, y_train), (x_test, y_test) = loader.load_data()
    except Exception as err:  # urllib errors, partial files, ...
        raise DatasetUnavailable(
            f"Could not load {DATASETS[name].label}: Keras downloads it once into {keras_cache_dir()} and that "
            f"failed ({type(err).__name__}: {err}). Connect once to cache it, or choose 'digits' or 'synthetic', "
            "which work offline."
        ) from err
    x_train, x_test = x_train / 255.0, x_test / 255.0
    if x_train.ndim == 3:
        x_train, x_test = x_train[..., None], x_test[..., None]
    return x_train, y_train.reshape(-1), x_test, y_test.reshape(-1)
