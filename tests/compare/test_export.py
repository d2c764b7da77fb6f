"""Exported files are valid, and the CLI writes them. Images need a Chrome/Chromium (`make test` installs one)."""

import json
import re
import xml.etree.ElementTree as ET

import pandas as pd
import pytest

from dpviz.cli.main import main as cli
from dpviz.compare import export
from dpviz.compare.figures import chart_figure
from dpviz.compare.tables import chart_table, runs_frame, select
from dpviz.runs.store import SqliteRunStore
from dpviz.training.config import TrainConfig
from dpviz.training.fake import record_pair

CONFIGS = [
    TrainConfig(dataset="synthetic", dataset_size=300, batch_size=60, epochs=2, model="logreg", noise_multiplier=s)
    for s in (0.7, 1.4)
]


@pytest.fixture
def home(tmp_path):
    store = SqliteRunStore(tmp_path)
    for config in CONFIGS:
        record_pair(store, config)
    return tmp_path


def figure_and_table(home, chart="frontier"):
    store = SqliteRunStore(home)
    frame = runs_frame(store.list())
    selection = select(frame, frame.loc[frame["kind"] == "private", "id"])
    rows = store.metric_rows(selection["id"])
    return chart_figure(chart, selection, rows), chart_table(chart, selection, rows), selection


needs_browser = pytest.mark.skipif(export.find_browser() is None, reason="no Chrome/Chromium: run `make chromium`")


@needs_browser
def test_png_and_svg_are_real_images(home):
    fig, table, _ = figure_and_table(home)
    png = export.export_bytes("png", figure=fig, table=table)
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 20_000
    width, height = int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")
    assert (width, height) == (export.WIDTH * export.SCALE, fig.layout.height * export.SCALE)
    svg = export.export_bytes("svg", figure=fig, table=table)
    root = ET.fromstring(svg)
    assert root.tag.endswith("svg") and b"test accuracy" in svg


def test_html_is_self_contained_and_holds_the_runs(home):
    fig, table, selection = figure_and_table(home)
    html = export.export_bytes("html", figure=fig, table=table).decode()
    assert not re.search(r"<script[^>]+src=[\"']?https?:", html)
    assert "Plotly.newPlot" in html or "plotly" in html.lower()
    assert all(run_id in html for run_id in selection.loc[selection["kind"] == "private", "id"])


@pytest.mark.parametrize("chart", ["frontier", "curves", "hyperparameter"])
@pytest.mark.parametrize("fmt", ["csv", "json"])
def test_data_round_trips_through_pandas(home, chart, fmt):
    _, table, _ = figure_and_table(home, chart)
    back = export.read_table(export.export_bytes(fmt, figure=None, table=table), fmt)
    assert len(back) == len(table) and list(back.columns) == list(export.tidy(table).columns)
    pd.testing.assert_series_equal(
        back["id" if "id" in back else "run_id"].astype(str),
        table["id" if "id" in table else "run_id"].astype(str),
        check_names=False,
    )
    numeric = "test_accuracy" if "test_accuracy" in table else "value"
    pd.testing.assert_series_equal(
        back[numeric].astype(float), table[numeric].astype(float).reset_index(drop=True), check_names=False
    )


def test_without_a_browser_images_say_what_to_install(home, monkeypatch):
    monkeypatch.setattr(export, "find_browser", lambda: None)
    fig, table, _ = figure_and_table(home)
    with pytest.raises(export.ExportUnavailable, match="Chromium"):
        export.export_bytes("png", figure=fig, table=table)
    assert export.export_bytes("html", figure=fig, table=table)  # HTML still works


def test_cli_export_writes_each_format(home, tmp_path, capsys):
    for fmt in ("csv", "json", "html"):
        out = tmp_path / f"out.{fmt}"
        assert (
            cli(["--home", str(home), "export", "--runs", "all", "--chart", "hyperparameter", "--out", str(out)]) == 0
        )
        assert out.stat().st_size > 0
    rows = json.loads((tmp_path / "out.json").read_text())
    assert sorted(r["noise_multiplier"] for r in rows) == [0.7, 1.4]
    assert "wrote" in capsys.readouterr().out


@needs_browser
def test_cli_export_png(home, tmp_path):
    out = tmp_path / "frontier.png"
    assert (
        cli(
            [
                "--home",
                str(home),
                "export",
                "--runs",
                "all",
                "--chart",
                "frontier",
                "--format",
                "png",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    assert out.read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize(
    "args, field",
    [
        (["--runs", "zzz", "--chart", "frontier", "--out", "x.csv"], "--runs"),
        (["--runs", "all", "--chart", "frontier", "--out", "x.pdf"], "--format"),
        (["--runs", "all", "--chart", "pie", "--out", "x.csv"], "--chart"),
        (["--runs", "all", "--chart", "hyperparameter", "--x", "momentum", "--out", "x.csv"], "--x"),
    ],
)
def test_cli_export_bad_arguments_name_the_field(home, tmp_path, capsys, args, field):
    args = [a if a not in ("x.csv", "x.pdf") else str(tmp_path / a) for a in args]
    assert cli(["--home", str(home), "export", *args]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and field in err


@pytest.mark.parametrize("out", ["/", "/dev/full", "x" * 300 + ".csv", "/proc/no/such/dir/a.csv"])
def test_an_unwritable_out_is_one_line_naming_the_field(tmp_path, capsys, out):
    record_pair(
        SqliteRunStore(tmp_path),
        TrainConfig(dataset="synthetic", dataset_size=300, batch_size=60, epochs=2, model="logreg", audit=False),
    )
    capsys.readouterr()
    argv = ["--home", str(tmp_path), "export", "--runs", "all", "--chart", "frontier", "--format", "csv", "--out", out]
    assert cli(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: --out:")


def test_csv_keeps_integers_and_has_no_empty_columns():
    import pandas as pd

    from dpviz.compare.export import table_bytes

    table = pd.DataFrame(
        {"id": ["a", "b"], "batch_size": [64.0, None], "noise_multiplier": [1.0, None], "sweep_id": [None, None]}
    )
    text = table_bytes(table, "csv").decode()
    assert text.splitlines() == ["id,batch_size,noise_multiplier", "a,64,1.0", "b,,"]
    assert [r["batch_size"] for r in json.loads(table_bytes(table, "json"))] == [64, None]
