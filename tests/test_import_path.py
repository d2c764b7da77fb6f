"""What the pages load: never TensorFlow (3-6 s, and only workers train), and the home page's
sidebar loads no dp-accounting, so a fresh server draws it while dp-accounting imports."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def loaded(*modules: str) -> set[str]:
    code = f"import sys, {', '.join(modules)}; print(' '.join(sorted({{m.split('.')[0] for m in sys.modules}})))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    return set(out.stdout.split())


def test_pages_never_import_tensorflow():
    modules = loaded(
        "dpviz.budget", "dpviz.charts", "dpviz.ui.budget_view", "dpviz.ui.train_view", "dpviz.ui.runs_view",
        "dpviz.ui.audit_view", "dpviz.export", "dpviz.runs.launcher",
    )
    assert "streamlit" in modules and "dp_accounting" in modules  # the check sees what was imported
    assert "tensorflow" not in modules and "keras" not in modules


def test_home_sidebar_loads_no_dp_accounting():
    modules = loaded("dpviz.ui.entry", "dpviz.ui.settings", "dpviz.validation")
    assert "dp_accounting" not in modules and "scipy" not in modules
