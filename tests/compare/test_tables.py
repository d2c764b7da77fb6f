"""Comparison tables and charts over a real store filled by the fake trainer (no TensorFlow)."""

import json
import math

import pytest

from dpviz.compare.figures import chart_figure, frontier_figure, hyperparameter_figure
from dpviz.compare.tables import (
    chart_table,
    filter_frame,
    frontier_data,
    hyperparameter_data,
    resolve_runs,
    runs_frame,
    select,
)
from dpviz.runs.store import SqliteRunStore
from dpviz.training.config import TrainConfig
from dpviz.training.fake import record_fake, record_pair
from dpviz.training.sweep import baseline_configs, expand, parse_axis
from dpviz.validation import ValidationError

SYNTH = TrainConfig(dataset="synthetic", dataset_size=300, batch_size=60, epochs=2, model="logreg")
DIGITS = TrainConfig(dataset="digits", batch_size=64, epochs=2, model="mlp", noise_multiplier=1.5)


@pytest.fixture
def filled(tmp_path):
    """A digits pair, and a synthetic 3x2 sweep (noise x clip) with its one shared baseline."""
    store = SqliteRunStore(tmp_path)
    pair = record_pair(store, DIGITS)
    configs = expand(SYNTH, [parse_axis("noise_multiplier", "0.5, 1, 2"), parse_axis("clip_norm", "0.5, 1")])
    cells = [record_fake(store, c, "private", sweep_id="sweep-t") for c in configs]
    baselines = [record_fake(store, c, "baseline", sweep_id="sweep-t") for c in baseline_configs(configs)]
    return store, pair, cells, baselines


def test_frame_links_pair_and_shared_sweep_baseline(filled):
    store, (private, baseline), cells, baselines = filled
    frame = runs_frame(store.list()).set_index("id")
    assert len(frame) == 2 + 6 + 1 and len(baselines) == 1
    assert frame.loc[private, "baseline_id"] == baseline
    assert all(frame.loc[c, "baseline_id"] == baselines[0] for c in cells)
    assert frame.loc[private, "test_accuracy"] > 0 and frame.loc[private, "epsilon"] > 0
    assert math.isnan(frame.loc[baseline, "epsilon"]) and math.isnan(frame.loc[baseline, "noise_multiplier"])


def test_sweep_with_a_batch_axis_needs_one_baseline_per_schedule():
    configs = expand(SYNTH, [parse_axis("batch_size", "30, 60"), parse_axis("noise_multiplier", "1, 2")])
    assert len(configs) == 4 and len(baseline_configs(configs)) == 2


def test_filters(filled):
    store, (private, baseline), cells, _ = filled
    frame = runs_frame(store.list())
    assert set(filter_frame(frame, datasets=["digits"])["id"]) == {private, baseline}
    assert len(filter_frame(frame, models=["logreg"], kinds=["private"])) == 6
    eps = frame.set_index("id")["epsilon"]
    low = sorted(eps.dropna())[2]
    ranged = filter_frame(frame, epsilon_range=(0, low))
    assert all(e <= low for e in ranged.loc[ranged["kind"] == "private", "epsilon"])
    assert (ranged["kind"] == "baseline").sum() == 2  # baselines have no epsilon: kept as the reference
    assert filter_frame(frame, statuses=["failed"]).empty


def test_frontier_has_one_point_per_selected_private_run_and_one_line_per_dataset_model(filled):
    store, (private, _), cells, _ = filled
    frame = runs_frame(store.list())
    selection = select(frame, [private, *cells[:3]])
    points, baselines = frontier_data(selection)
    assert sorted(points["id"]) == sorted([private, *cells[:3]])
    assert sorted(zip(baselines["dataset"], baselines["model"])) == [("digits", "mlp"), ("synthetic", "logreg")]
    fig = frontier_figure(selection)
    plotted = sum(len(t.x) for t in fig.data if t.mode.startswith("markers"))
    assert plotted == 4
    lines = [s for s in fig.layout.shapes if s.type == "line"]
    assert len(lines) == 2
    assert sorted(round(s.y0, 6) for s in lines) == sorted(round(v, 6) for v in baselines["test_accuracy"])
    hover = fig.data[0].hovertemplate
    assert all(name in hover for name in ("noise multiplier", "clip norm", "batch size", "learning rate", "sampler"))


def test_hyperparameter_chart_groups_by_the_other_varying_hyperparameter(filled):
    store, _, cells, _ = filled
    selection = select(runs_frame(store.list()), cells)
    data = hyperparameter_data(selection, "noise_multiplier")
    assert sorted(data["others"].unique()) == ["C=0.5", "C=1"]
    fig = hyperparameter_figure(selection, "noise_multiplier")
    accuracy_traces = [t for t in fig.data if t.yaxis in (None, "y")]
    assert len(accuracy_traces) == 2 and all(list(t.x) == [0.5, 1.0, 2.0] for t in accuracy_traces)
    with pytest.raises(ValidationError) as err:
        hyperparameter_data(selection, "momentum")
    assert err.value.field == "x"


def test_curves_table_and_figure(filled):
    store, (private, baseline), _, _ = filled
    selection = select(runs_frame(store.list()), [private])
    table = chart_table("curves", selection, store.metric_rows(selection["id"]))
    assert set(table["run_id"]) == {private, baseline} and set(table["epoch"]) == {1, 2}
    fig = chart_figure("curves", selection, store.metric_rows(selection["id"]))
    dashes = {t.line.dash for t in fig.data if t.name.startswith("baseline")}
    assert dashes == {"dash"}
    json.loads(fig.to_json())


def test_resolve_runs_accepts_prefixes_and_names_the_field(filled):
    store, (private, _), _, _ = filled
    frame = runs_frame(store.list())
    assert resolve_runs(frame, "all") == list(frame["id"])
    assert resolve_runs(frame, private[:8]) == [private]
    with pytest.raises(ValidationError) as err:
        resolve_runs(frame, "nope")
    assert err.value.field == "runs" and "nope" in err.value.message


def test_empty_selection_draws_an_explanation():
    frame = runs_frame([])
    fig = frontier_figure(frame)
    assert "No completed private runs" in fig.layout.annotations[0].text


def test_unknown_chart_names_the_field_and_the_choices():
    with pytest.raises(ValidationError) as err:
        chart_figure("pie", runs_frame([]))
    assert err.value.field == "chart"
    assert all(name in str(err.value) for name in ("frontier", "curves", "hyperparameter"))


def test_pareto_front_keeps_runs_no_other_beats_on_both_counts():
    import pandas as pd

    from dpviz.compare.tables import pareto_front

    points = pd.DataFrame(
        {
            "dataset": ["d"] * 5 + ["e"],
            "model": ["m"] * 6,
            "epsilon": [1.0, 2.0, 3.0, 2.5, 2.0, 9.0],
            "test_accuracy": [0.5, 0.7, 0.8, 0.6, 0.65, 0.1],
        }
    )
    # (2.5, 0.6) is beaten by (2.0, 0.7); (2.0, 0.65) ties on epsilon with a more accurate run; "e" is its own front
    assert pareto_front(points) == [True, True, True, False, False, True]


def test_frontier_draws_the_front_and_labels_points_by_what_varies(tmp_path):
    store = SqliteRunStore(tmp_path)
    for sigma in (0.5, 1.0, 2.0):
        record_fake(
            store,
            TrainConfig(dataset="synthetic", dataset_size=300, batch_size=60, epochs=2, noise_multiplier=sigma),
            "private",
        )
    frame = runs_frame(store.list())
    same = chart_figure("frontier", frame)  # the double's accuracy does not depend on sigma: one run on the front
    markers = next(t for t in same.data if t.mode == "markers+text")
    assert sorted(markers.text) == ["σ=0.5", "σ=1", "σ=2"]
    assert not any(t.name.startswith("Pareto front") for t in same.data)
    frame["test_accuracy"] = frame["noise_multiplier"].map({0.5: 0.9, 1.0: 0.8, 2.0: 0.6})
    front = next(t for t in chart_figure("frontier", frame).data if t.name.startswith("Pareto front"))
    assert list(front.y) == [0.6, 0.8, 0.9]
