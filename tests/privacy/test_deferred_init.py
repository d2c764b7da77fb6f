"""dp-accounting loads its RDP accountant alone, and the whole package on first use of a name only
its __init__ defines; in fresh interpreters, since a test process has long imported everything."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def run(code: str) -> str:
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def test_the_rdp_epsilon_is_the_same_with_and_without_the_package_init():
    code = """
import dpviz.privacy
from dpviz.privacy.deferred_init import is_deferred
from dpviz.privacy.accountant import compute_epsilon
from dpviz.privacy.params import PrivacyParams
p = PrivacyParams(dataset_size=60000, batch_size=256, noise_multiplier=1.1, epochs=15, delta=1e-5)
before = compute_epsilon(p, "rdp").epsilon
assert is_deferred("dp_accounting")
import dp_accounting
acc = dp_accounting.rdp.RdpAccountant()
acc.compose(dp_accounting.SelfComposedDpEvent(dp_accounting.PoissonSampledDpEvent(256 / 60000,
    dp_accounting.GaussianDpEvent(1.1)), 3516))
assert not is_deferred("dp_accounting")
print(before, acc.get_epsilon(1e-5))
"""
    ours, library = map(float, run(code).split())
    assert ours == pytest.approx(library, rel=1e-9) and 1.0 < ours < 1.5


def test_the_whole_package_is_there_after_the_first_name_only_init_defines():
    code = """
import sys, dpviz.privacy
import dp_accounting
from dp_accounting import dp_event
assert "dp_accounting.pld" not in sys.modules
assert dp_accounting.GaussianDpEvent is dp_event.GaussianDpEvent  # runs __init__
assert "dp_accounting.pld" in sys.modules and dp_accounting.calibrate_dp_mechanism
assert not hasattr(dp_accounting, "no_such_name") and not hasattr(dp_accounting, "_dpviz_submodules")
from dp_accounting.pld import PLDAccountant
print(type(dp_accounting).__name__, PLDAccountant.__name__)
"""
    assert run(code) == "module PLDAccountant"


def test_a_submodule_named_on_the_package_loads_just_it():
    code = """
import sys, dpviz.privacy
import dp_accounting
from dpviz.privacy.deferred_init import is_deferred
assert dp_accounting.pld.PLDAccountant and "dp_accounting.pld" in sys.modules
print(is_deferred("dp_accounting"), "dp_accounting.mechanism_calibration" in sys.modules)
"""
    assert run(code) == "True False"


def test_threads_asking_at_once_see_one_complete_package():
    code = """
import threading, dpviz.privacy
import dp_accounting
seen, errors = [], []
def ask():
    try:
        seen.append(dp_accounting.NeighboringRelation.REPLACE_ONE)
    except Exception as err:
        errors.append(repr(err))
threads = [threading.Thread(target=ask) for _ in range(8)]
[t.start() for t in threads]
[t.join() for t in threads]
print(len(seen), len(set(seen)), errors)
"""
    assert run(code) == "8 1 []"


def test_an_already_imported_package_is_left_alone():
    code = """
import dp_accounting
from dpviz.privacy.deferred_init import defer_package_init, is_deferred
defer_package_init("dp_accounting")
print(is_deferred("dp_accounting"), dp_accounting.GaussianDpEvent.__name__)
"""
    assert run(code) == "False GaussianDpEvent"


def test_a_package_that_is_not_installed_is_named():
    from dpviz.privacy.deferred_init import defer_package_init

    with pytest.raises(ModuleNotFoundError, match="no_such_dp_package"):
        defer_package_init("no_such_dp_package")
