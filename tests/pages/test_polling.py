"""A polling fragment stops once what it watches has finished (dpviz.ui.common.stop_polling_when_done)."""

import pytest

from dpviz.ui import common


@pytest.mark.parametrize(
    ("was_active", "active", "reruns"), [(True, False, 1), (True, True, 0), (False, False, 0), (False, True, 0)]
)
def test_the_page_is_redrawn_once_when_its_work_finishes(monkeypatch, was_active, active, reruns):
    calls = []
    monkeypatch.setattr(common.st, "rerun", lambda: calls.append(1))
    common.stop_polling_when_done(was_active, active)
    assert len(calls) == reruns


@pytest.mark.parametrize("module", ["train_view", "runs_view", "tune_view", "verify_view"])
def test_every_polling_panel_stops_when_done(module):
    """Each page whose fragment polls while work runs calls the rule inside that fragment."""
    import importlib
    import inspect

    source = inspect.getsource(importlib.import_module(f"dpviz.ui.{module}"))
    assert source.count("run_every=POLL_SECONDS if") == source.count("stop_polling_when_done(") >= 1
