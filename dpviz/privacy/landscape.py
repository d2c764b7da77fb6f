"""Epsilon curves and grids: many settings at once, reusing per-step RDP across step counts."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from dpviz.privacy.accountant import create_accountant, no_amplification_epsilon, searched_rdp_epsilon
from dpviz.privacy.labels import ACCOUNTANTS
from dpviz.privacy.params import PrivacyParams, steps_for

NOISE_GRID = tuple(float(x) for x in np.round(np.geomspace(0.3, 8.0, 20), 3))


@dataclass(frozen=True)
class Curve:
    name: str
    epochs: tuple[float, ...]
    epsilon: tuple[float, ...]


def curve_epochs(epochs: float, points: int | None = None) -> list[float]:
    """Whole epochs 1..floor(E) plus E itself; thinned to `points` evenly spaced values if given."""
    axis = [float(e) for e in range(1, int(math.floor(epochs)) + 1)]
    if not axis or axis[-1] < epochs:
        axis.append(float(epochs))
    if points and len(axis) > points:
        picks = np.unique(np.round(np.linspace(0, len(axis) - 1, points)).astype(int))
        axis = [axis[i] for i in picks]
    return axis


def epsilon_curves(params: PrivacyParams, accountants=ACCOUNTANTS, *, no_amplification: bool = True) -> list[Curve]:
    """Epsilon after each epoch for each accountant (Poisson sampling), and without amplification."""
    n, b, q = params.dataset_size, params.batch_size, params.sampling_probability
    sigma, delta = params.noise_multiplier, params.delta
    curves = []
    for name in accountants:
        spec = create_accountant(name)
        if not spec.affordable(sigma, params.steps):
            continue  # PLD too costly here: the headline says so and shows RDP
        axis = curve_epochs(params.epochs, spec.curve_points)
        values = [spec.epsilon(q, sigma, steps_for(e, n, b), delta) for e in axis]
        curves.append(Curve(name, tuple(axis), tuple(values)))
    if no_amplification:
        axis = curve_epochs(params.epochs)
        values = [no_amplification_epsilon(sigma, math.ceil(e), delta) for e in axis]
        curves.append(Curve("no-amplification", tuple(axis), tuple(values)))
    return curves


@dataclass(frozen=True)
class Grid:
    """epsilon[i][j] for rows[i] (y axis) and columns[j] (x axis)."""

    row_name: str
    rows: tuple[float, ...]
    column_name: str
    columns: tuple[float, ...]
    epsilon: tuple[tuple[float, ...], ...]
    accountant: str


def epoch_axis(epochs: float, count: int = 20) -> tuple[float, ...]:
    top = max(2.0 * epochs, 10.0)
    return tuple(float(x) for x in np.round(np.linspace(top / count, top, count), 3))


def _searched_table(cells, delta: float, legacy: bool) -> tuple[tuple[float, ...], ...]:
    """RDP epsilon of each (q, sigma, steps) cell, each search starting from its neighbour's optimal order."""
    table, row_start = [], None
    for row in cells:
        values, start = [], row_start
        for q, sigma, steps in row:
            eps, start = searched_rdp_epsilon(q, sigma, steps, delta, legacy=legacy, start_order=start)
            values.append(eps)
            if len(values) == 1:
                row_start = start
        table.append(tuple(values))
    return tuple(table)


def noise_epochs_grid(
    params: PrivacyParams, *, noise_multipliers=NOISE_GRID, epochs=None, legacy: bool = False
) -> Grid:
    """RDP epsilon over (noise multiplier x epochs), evaluating per noise value only the RDP orders
    near each cell's optimum. The noise axis is fixed so moving noise, epochs or delta hits the cache.
    """
    epochs = epoch_axis(params.epochs) if epochs is None else tuple(float(e) for e in epochs)
    n, b, q, delta = params.dataset_size, params.batch_size, params.sampling_probability, params.delta
    table = _searched_table(
        [[(q, sigma, steps_for(e, n, b)) for e in epochs] for sigma in noise_multipliers], delta, legacy
    )
    return Grid(
        "noise_multiplier", tuple(noise_multipliers), "epochs", epochs, table, "rdp-legacy" if legacy else "rdp"
    )


def batch_axis(dataset_size: int, count: int = 10) -> tuple[int, ...]:
    top = max(1, min(dataset_size, 4096))
    values = np.unique(np.round(np.geomspace(min(8, top), top, count)).astype(int))
    return tuple(int(v) for v in values)


def batch_noise_grid(params: PrivacyParams, *, batch_sizes=None, noise_multipliers=None, legacy: bool = False) -> Grid:
    """RDP epsilon over (batch size x noise multiplier) at fixed epochs; each cell is its own q."""
    batch_sizes = batch_axis(params.dataset_size) if batch_sizes is None else tuple(int(b) for b in batch_sizes)
    noise_multipliers = NOISE_GRID[::2] if noise_multipliers is None else tuple(noise_multipliers)
    n, delta, epochs = params.dataset_size, params.delta, params.epochs
    cells = [[(b / n, sigma, steps_for(epochs, n, b)) for sigma in noise_multipliers] for b in batch_sizes]
    table = _searched_table(cells, delta, legacy)
    return Grid(
        "batch_size",
        batch_sizes,
        "noise_multiplier",
        tuple(noise_multipliers),
        table,
        "rdp-legacy" if legacy else "rdp",
    )
