"""Log-axis labels and hover rounding shared by every chart."""

import json

import pytest

from dpviz.plotting import log_ticks, rounded, tick_label


@pytest.mark.parametrize(
    "low, high, expected",
    [
        (0.1, 10, ["0.1", "0.2", "0.5", "1", "2", "5", "10"]),
        (0.001, 1, ["0.001", "0.002", "0.005", "0.01", "0.02", "0.05", "0.1", "0.2", "0.5", "1"]),
        (256, 60000, ["500", "1,000", "2,000", "5,000", "10,000", "20,000", "50,000"]),
        (1e-6, 1e3, ["1e-6", "1e-5", "1e-4", "0.001", "0.01", "0.1", "1", "10", "100", "1,000"]),
    ],
)
def test_log_ticks_read_as_numbers_in_a_1_2_5_series(low, high, expected):
    assert [tick_label(t) for t in log_ticks(low, high)] == expected


def test_labels_are_unique_and_never_a_bare_mantissa():
    for low, high in ((0.3, 10), (0.01, 100), (0.05, 0.2), (64, 65), (1e-4, 1)):
        labels = [tick_label(t) for t in log_ticks(low, high)]
        assert len(labels) == len(set(labels)) >= 2
        assert all(float(label.replace(",", "")) >= low * 0.99 for label in labels)


def test_the_landscape_noise_axis_labels_0_3_as_0_3():
    from dpviz.privacy.figures import landscape_figure
    from dpviz.privacy.landscape import noise_epochs_grid
    from dpviz.privacy.params import PrivacyParams

    grid = noise_epochs_grid(
        PrivacyParams(dataset_size=60000, batch_size=256, noise_multiplier=1, epochs=5, delta=1e-5)
    )
    axis = json.loads(landscape_figure(grid).to_json())["layout"]["yaxis"]
    assert axis["type"] == "log" and "3" not in axis["ticktext"]
    assert {"0.5", "1", "2", "5"} <= set(axis["ticktext"])
    assert all(float(t) == v for t, v in zip(axis["ticktext"], axis["tickvals"]))


def test_hover_numbers_have_four_significant_digits():
    assert rounded(0.123456789) == 0.1235 and rounded(1234.5678) == 1235.0 and rounded(7) == 7 and rounded("x") == "x"


def test_data_range_reads_numpy_arrays_and_a_wide_frontier_gets_log_ticks():
    import numpy as np
    import pandas as pd
    import plotly.graph_objects as go

    from dpviz.compare.figures import frontier_figure
    from dpviz.plotting import data_range

    fig = go.Figure([go.Scatter(x=np.array([0.383, 7.932, 1.558]), y=[1, 2, 3]), go.Scatter(x=None, y=[1])])
    assert data_range(fig, "x") == (0.383, 7.932)
    rows = [
        dict(id=f"r{i}", kind="private", status="completed", dataset="digits", model="mlp", epsilon=e, test_accuracy=a)
        for i, (e, a) in enumerate([(0.2, 0.5), (8.0, 0.7)])
    ]
    from dpviz.compare.figures import HOVER_FIELDS

    frame = pd.DataFrame([{**dict.fromkeys(HOVER_FIELDS), **r} for r in rows])
    for name in ("noise_multiplier", "clip_norm", "batch_size", "epochs", "learning_rate"):
        frame[name] = [1.0, 2.0]
    axis = json.loads(frontier_figure(frame).to_json())["layout"]["xaxis"]
    assert axis["type"] == "log" and axis["ticktext"][0] == "0.2" and axis["ticktext"][-1] == "5"


def test_the_target_line_sits_at_the_target_on_a_log_axis():
    from dpviz.privacy.budget import explore
    from dpviz.privacy.figures import epsilon_curve_figure

    view = explore(dataset_size=1437, batch_size=64, noise_multiplier=1.2, epochs=15, delta=1e-5)
    figure = json.loads(epsilon_curve_figure(view.curves, target_epsilon=3, log_y=True).to_json())
    assert not figure["layout"].get("shapes")  # a shape's y is read as log10(y) on a log axis: 3 would be 1000
    target = next(t for t in figure["data"] if t["name"] == "target ε 3")
    assert target["y"] == [3, 3]
