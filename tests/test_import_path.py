"""What each module loads when imported.

- No module outside `dpviz/ui/` (and the pages and app.py) imports streamlit, anywhere.
- Importing any module loads no TensorFlow or Keras, except the engine and ghost clipping: the
  pages, the CLI's argument checks and the workers' start-up stay fast (TensorFlow takes 3-6 s).
- The home page's sidebar loads no dp-accounting, so a fresh server draws it while dp-accounting imports,
  and its first epsilon loads only dp-accounting's RDP.
"""

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "dpviz"
TENSORFLOW_MODULES = {
    "dpviz.training.engine",
    "dpviz.training.ghost",
    "dpviz.training.canary_audit",
    "dpviz.training.devices",
}
HEAVY = {"tensorflow", "keras", "jax", "jax_privacy"}


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in PACKAGE.rglob("*.py")}


def imports(path: Path, *, top_level_only: bool) -> set[str]:
    """Modules `path` imports: at module level only, or anywhere (functions included)."""
    tree = ast.parse(path.read_text())
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    found = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names if f"{node.module}.{alias.name}" in MODULES}
    return found


def closure(name: str) -> set[str]:
    """Everything importing `name` loads at module level (third-party packages by their top-level name)."""
    seen, todo = set(), [name]
    while todo:
        current = todo.pop()
        if current in seen:
            continue
        seen.add(current)
        if current in MODULES:
            parents = [".".join(current.split(".")[:i]) for i in range(1, current.count(".") + 1)]
            todo += [p for p in parents if p in MODULES]
            todo += list(imports(MODULES[current], top_level_only=True))
    return {m if m in MODULES else m.split(".")[0] for m in seen}


def test_the_walk_sees_imports():
    assert "tensorflow" in closure("dpviz.training.engine") and "dp_accounting" in closure("dpviz.privacy.budget")


def test_streamlit_only_in_ui():
    for name, path in MODULES.items():
        if not name.startswith("dpviz.ui"):
            assert not any(m.split(".")[0] == "streamlit" for m in imports(path, top_level_only=False)), name


def test_no_module_but_the_engine_loads_tensorflow_on_import():
    for name in MODULES:
        if name not in TENSORFLOW_MODULES:
            assert not closure(name) & HEAVY, f"{name} loads {closure(name) & HEAVY} on import"


def loaded(*modules: str, run: str = "", full: bool = False) -> set[str]:
    """Top-level packages (or, with `full`, every module) loaded by importing `modules` and running `run`."""
    names = "sys.modules" if full else "{m.split('.')[0] for m in sys.modules}"
    code = f"import sys, {', '.join(modules)}\n{run}\nprint(' '.join(sorted({names})))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    return set(out.stdout.split())


def test_pages_never_import_tensorflow():
    modules = loaded(
        "dpviz.privacy.budget",
        "dpviz.privacy.figures",
        "dpviz.compare.figures",
        "dpviz.ui.budget_view",
        "dpviz.ui.train_view",
        "dpviz.ui.runs_view",
        "dpviz.ui.audit_view",
        "dpviz.ui.verify_view",
        "dpviz.verify.run",
        "dpviz.verify.records",
        "dpviz.compare.export",
        "dpviz.runs.launcher",
        "dpviz.cli.main",
    )
    assert "streamlit" in modules and "dp_accounting" in modules  # the check sees what was imported
    assert not modules & HEAVY


def test_home_sidebar_loads_no_dp_accounting():
    modules = loaded("dpviz.ui.entry", "dpviz.ui.settings", "dpviz.validation", "dpviz.privacy", full=True)
    assert not any(m.startswith("dp_accounting.") or m.split(".")[0] == "scipy" for m in modules)


def test_the_first_rdp_epsilon_waits_for_no_pld_or_calibration_import():
    """The Budget page's headline needs dp-accounting's RDP only; PLD (scipy.signal) and calibration
    (scipy.optimize) load when a later part of the page asks for them."""
    run = "budget_view.explore(dataset_size=60000, batch_size=256, noise_multiplier=1.1, epochs=15, delta=1e-5)"
    modules = loaded("dpviz.ui.budget_view", run=f"from dpviz.ui import budget_view\n{run}", full=True)
    assert "dp_accounting.rdp.rdp_privacy_accountant" in modules  # the check sees what was imported
    assert not modules & {"dp_accounting.pld", "dp_accounting.mechanism_calibration", "scipy.optimize", "scipy.signal"}
