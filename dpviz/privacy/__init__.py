"""Where epsilon is computed: settings (`params`), dp-accounting's accountants by name
(`accountant`), inverse questions (`calibration`), many settings at once (`landscape`), and the
facade the Budget page uses (`budget`). All epsilon math goes through dp-accounting.

Importing the package is light (the sidebar needs only `labels`); the names below load their
modules, and with them dp-accounting, on first use. dp-accounting's own `__init__` is deferred
(`deferred_init`), so the first RDP epsilon does not wait for the PLD's and the calibration's scipy imports.
"""

from __future__ import annotations

import importlib

from dpviz.privacy.deferred_init import defer_package_init

# Before any dpviz module imports dp-accounting: its RDP accountant loads without the PLD's scipy imports.
defer_package_init("dp_accounting")

_EXPORTS = {
    "PrivacyParams": "dpviz.privacy.params",
    "compute_epsilon": "dpviz.privacy.accountant",
    "create_accountant": "dpviz.privacy.accountant",
    "calibrate_noise": "dpviz.privacy.calibration",
    "max_epochs": "dpviz.privacy.calibration",
    "explore": "dpviz.privacy.budget",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
