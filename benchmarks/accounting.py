"""Accounting speed and PLD accuracy: prints each figure the budget-explorer issue sets a target for.

Run: .venv/bin/python benchmarks/accounting.py
"""

import statistics
import subprocess
import sys
import time
from pathlib import Path

from dp_accounting.pld import pld_privacy_accountant

from dpviz.privacy import accountant as A
from dpviz.privacy.landscape import batch_noise_grid, epsilon_curves, noise_epochs_grid
from dpviz.privacy.params import PrivacyParams


def ms(fn, repeat=5):
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1e3)
    return statistics.median(times)


def cold(fn_for_q, repeat=5):
    """Each repetition uses a new sampling rate so no cache helps."""
    times = []
    for i in range(repeat):
        start = time.perf_counter()
        fn_for_q(256 + i)
        times.append((time.perf_counter() - start) * 1e3)
    return statistics.median(times)


def main():
    base = PrivacyParams(dataset_size=60000, batch_size=256, noise_multiplier=1.1, epochs=15, delta=1e-5)
    print("== single epsilon (rdp)")
    print(
        f"cold (new q, sigma): {cold(lambda b: A.compute_epsilon(base.replace(batch_size=b))):.1f} ms  "
        f"[target <= 30 ms]"
    )
    A.compute_epsilon(base)
    print(
        "(q, sigma) computed, other epochs/delta: "
        f"{ms(lambda: A.compute_epsilon(base.replace(epochs=37, delta=2e-6))):.2f} ms"
        f"  [target <= 5 ms]"
    )

    print("== epsilon-vs-epoch curve (rdp) + 20x20 noise x epochs landscape")
    both = lambda p: (epsilon_curves(p, ("rdp",), no_amplification=True), noise_epochs_grid(p))  # noqa: E731
    print(
        f"cold (new batch size: every landscape row recomputed): "
        f"{cold(lambda b: both(base.replace(batch_size=b + 1000)), 3):.0f} ms  [target <= 100 ms]"
    )
    both(base)
    print(
        f"warm (noise / epochs / delta moved; q unchanged): "
        f"{ms(lambda: both(base.replace(noise_multiplier=1.37, epochs=23, delta=3e-6))):.0f} ms"
    )
    print(
        f"all four curves incl. PLD (8 points), warm rdp: "
        f"{ms(lambda: epsilon_curves(base.replace(epochs=16 + time.time_ns() % 5)), 3):.0f} ms"
    )
    print(
        f"batch size x noise landscape (10x10, every cell its own q), cold (new dataset size): "
        f"{cold(lambda b: batch_noise_grid(base.replace(dataset_size=60000 + b)), 3):.0f} ms"
    )

    print("== PLD headline: time and error against value_discretization_interval=1e-5")
    for setting in [
        dict(batch_size=250, noise_multiplier=1.2, epochs=4),
        dict(batch_size=256, noise_multiplier=1.1, epochs=60),
    ]:
        p = base.replace(**setting)
        A._pld_epsilon_cached.cache_clear()
        start = time.perf_counter()
        eps = A.pld_epsilon(p.sampling_probability, p.noise_multiplier, p.steps, p.delta)
        elapsed = (time.perf_counter() - start) * 1e3
        fine = pld_privacy_accountant.PLDAccountant(A.NEIGHBOURS, value_discretization_interval=1e-5)
        fine.compose(A.dpsgd_event(p.sampling_probability, p.noise_multiplier, p.steps))
        ref = fine.get_epsilon(p.delta)
        print(
            f"{setting}: {elapsed:.0f} ms, eps {eps:.4f} vs {ref:.4f} "
            f"({100 * (eps - ref) / ref:+.2f} %)  [targets <= 100 ms, <= 1 %]"
        )

    print("== app import path")
    code = (
        "import sys, time; t=time.perf_counter(); "
        "import dpviz.privacy.budget, dpviz.ui.budget_view, dpviz.ui.settings; "
        "print(f'{(time.perf_counter()-t):.2f} s', "
        "'tensorflow loaded' if 'tensorflow' in sys.modules else 'tensorflow not loaded')"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=Path(__file__).resolve().parents[1]
    )
    print("import of the home page's modules:", out.stdout.strip() or out.stderr.strip()[-300:])


if __name__ == "__main__":
    main()
