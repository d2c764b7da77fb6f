"""Chart export timings: the first PNG (starts kaleido's browser), later PNG/SVG, HTML size.

Run: .venv/bin/python benchmarks/export.py   (needs a Chrome/Chromium for PNG/SVG)
"""

import tempfile
import time

from dpviz.compare import export
from dpviz.compare.figures import chart_figure
from dpviz.compare.tables import chart_table, runs_frame, select
from dpviz.runs.store import SqliteRunStore
from dpviz.training.config import TrainConfig
from dpviz.training.fake import record_pair
from dpviz.training.sweep import expand, parse_axis


def main():
    with tempfile.TemporaryDirectory() as home:
        store = SqliteRunStore(home)
        base = TrainConfig(dataset="synthetic", dataset_size=600, batch_size=60, epochs=3, model="logreg", audit=False)
        for config in expand(
            base, [parse_axis("noise_multiplier", "0.5, 1, 2, 4"), parse_axis("clip_norm", "0.5, 1, 2")]
        ):
            record_pair(store, config)
        frame = runs_frame(store.list())
        selection = select(frame, frame["id"])
        rows = store.metric_rows(selection["id"])
        fig = chart_figure("hyperparameter", selection, rows)
        table = chart_table("hyperparameter", selection, rows)
        for label, fmt in (
            ("first PNG (starts the browser)", "png"),
            ("second PNG", "png"),
            ("SVG", "svg"),
            ("HTML", "html"),
            ("CSV", "csv"),
        ):
            if fmt in export.IMAGE_FORMATS and export.find_browser() is None:
                print(f"{label}: skipped, no Chrome/Chromium")
                continue
            start = time.perf_counter()
            data = export.export_bytes(fmt, figure=fig, table=table)
            print(f"{label}: {1000 * (time.perf_counter() - start):.0f} ms, {len(data):,} bytes")


if __name__ == "__main__":
    main()
