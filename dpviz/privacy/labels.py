"""How the accountants are named and how epsilon reads, light enough for the sidebar.

Importing this loads nothing heavy, so a fresh server draws the sidebar while dp-accounting
(and scipy, ~0.7 s) is still loading.
"""

from __future__ import annotations

import math

ACCOUNTANTS = ("rdp", "pld", "rdp-legacy")
SAMPLERS = ("poisson", "fixed", "shuffle")  # privacy/samplers: each with its own guarantee
RELATIONS = {"poisson": "add/remove-one", "fixed": "replace-one", "shuffle": "add/remove-one"}  # neighbours
ACCOUNTANT_LABELS = {
    "rdp": "RDP (dp-accounting, fast)",
    "pld": "PLD (dp-accounting, tight)",
    "rdp-legacy": "RDP, legacy conversion (older TF Privacy tutorials; looser)",
}


def format_epsilon(value: float | None, digits: int = 3, *, infinite: str = "∞") -> str:
    """Epsilon as text: `infinite` for no finite guarantee (None or inf), one decimal from 100 up."""
    if value is None or not math.isfinite(value):
        return infinite
    return f"{value:.{digits}f}" if value < 100 else f"{value:.1f}"
