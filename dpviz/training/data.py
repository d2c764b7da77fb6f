"""Datasets as float32 arrays in [0, 1], NHWC, with a fixed train/test split.

Keras' loaders (and with them TensorFlow) are imported only for mnist, fashion_mnist and cifar10.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dpviz.datasets import DATASETS

SPLIT_SEED = 0  # the train/test split and the subset never change with the run's seed


class DatasetUnavailable(RuntimeError):
    """A download failed; the message names the cache and the offline choices."""


@dataclass(frozen=True)
class Data:
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    name: str

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(self.x_train.shape[1:])


def keras_cache_dir() -> Path:
    return Path(os.environ.get("KERAS_HOME", Path.home() / ".keras")) / "datasets"


def load(name: str, dataset_size: int | None = None) -> Data:
    if name == "digits":
        x_train, y_train, x_test, y_test = _digits()
    elif name == "synthetic":
        x_train, y_train, x_test, y_test = synthetic(dataset_size or DATASETS["synthetic"].train_size)
    else:
        x_train, y_train, x_test, y_test = _keras(name)
    if dataset_size is not None and dataset_size < len(x_train):
        keep = np.random.default_rng(SPLIT_SEED).permutation(len(x_train))[:dataset_size]
        x_train, y_train = x_train[np.sort(keep)], y_train[np.sort(keep)]
    return Data(x_train.astype(np.float32), y_train.astype(np.int32), x_test.astype(np.float32), y_test.astype(np.int32), name)


def _digits():
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    bunch = load_digits()
    x = (bunch.images / 16.0)[..., None]
    test = DATASETS["digits"].test_size
    x_train, x_test, y_train, y_test = train_test_split(x, bunch.target, test_size=test, random_state=SPLIT_SEED, stratify=bunch.target)
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
