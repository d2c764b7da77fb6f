import pytest

from dpviz.privacy.accountant import compute_epsilon, no_amplification_epsilon
from dpviz.privacy.landscape import batch_noise_grid, curve_epochs, epsilon_curves, noise_epochs_grid
from dpviz.privacy.params import PrivacyParams

P = PrivacyParams(dataset_size=60000, batch_size=256, noise_multiplier=1.1, epochs=12, delta=1e-5)


def test_curve_axis_has_every_epoch_and_the_last():
    assert curve_epochs(3) == [1.0, 2.0, 3.0]
    assert curve_epochs(2.5) == [1.0, 2.0, 2.5]
    assert curve_epochs(0.3) == [0.3]
    thinned = curve_epochs(60, 8)
    assert len(thinned) == 8 and thinned[0] == 1 and thinned[-1] == 60


def test_curves_end_at_the_headline_epsilon():
    curves = {c.name: c for c in epsilon_curves(P)}
    assert set(curves) == {"rdp", "pld", "rdp-legacy", "no-amplification"}
    for name in ("rdp", "pld", "rdp-legacy"):
        assert curves[name].epochs[-1] == 12
        assert curves[name].epsilon[-1] == pytest.approx(compute_epsilon(P, name).epsilon, rel=1e-9)
        assert list(curves[name].epsilon) == sorted(curves[name].epsilon)
    assert curves["no-amplification"].epsilon[0] == pytest.approx(no_amplification_epsilon(1.1, 1, 1e-5))


def test_noise_epochs_grid_matches_cell_by_cell_accounting():
    grid = noise_epochs_grid(P, noise_multipliers=(0.8, 1.6), epochs=(1, 5, 20))
    for i, sigma in enumerate(grid.rows):
        for j, e in enumerate(grid.columns):
            expected = compute_epsilon(P.replace(noise_multiplier=sigma, epochs=e)).epsilon
            assert grid.epsilon[i][j] == pytest.approx(expected, rel=1e-12)


def test_default_grid_is_twenty_by_twenty():
    grid = noise_epochs_grid(P)
    assert len(grid.rows) == 20 and len(grid.columns) == 20
    assert all(len(row) == 20 for row in grid.epsilon)


def test_batch_noise_grid_matches_cell_by_cell_accounting():
    grid = batch_noise_grid(P, batch_sizes=(64, 1024), noise_multipliers=(1.0, 2.0))
    for i, b in enumerate(grid.rows):
        for j, sigma in enumerate(grid.columns):
            expected = compute_epsilon(P.replace(batch_size=b, noise_multiplier=sigma)).epsilon
            assert grid.epsilon[i][j] == pytest.approx(expected, rel=1e-12)
