"""The datasets dpviz knows: sizes for the budget explorer, loaders for training.

Importing this module is cheap; the Keras loaders (and TensorFlow) load only inside `load`.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class DatasetInfo:
    name: str
    label: str
    train_size: int
    test_size: int
    input_shape: tuple[int, ...]
    classes: int
    offline: bool  # usable without a network (bundled or generated)


# The only list of datasets, in the order every menu shows them: offline ones first.
DATASETS: dict[str, DatasetInfo] = {
    "digits": DatasetInfo("digits", "Digits (scikit-learn, 8x8, offline)", 1437, 360, (8, 8, 1), 10, True),
    "synthetic": DatasetInfo("synthetic", "Synthetic (MNIST-shaped, offline)", 6000, 1000, (28, 28, 1), 10, True),
    "mnist": DatasetInfo("mnist", "MNIST", 60000, 10000, (28, 28, 1), 10, False),
    "fashion_mnist": DatasetInfo("fashion_mnist", "Fashion-MNIST", 60000, 10000, (28, 28, 1), 10, False),
    "cifar10": DatasetInfo("cifar10", "CIFAR-10", 50000, 10000, (32, 32, 3), 10, False),
}
