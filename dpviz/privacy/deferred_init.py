"""dp-accounting's submodules without its package `__init__`, which imports all of them.

`import dp_accounting` loads the PLD code (scipy.signal, scipy.stats) and the calibration (scipy.optimize),
about 1.3 s of the 1.9 s the package takes on a 2-core machine, although the Budget page's first epsilon
needs only the RDP accountant. `defer_package_init` registers the package with its submodule path but
without running `__init__`; `from dp_accounting import dp_event` and `from dp_accounting.rdp import ...`
then load just what they name. The first access to a name only `__init__` defines (`dp_accounting.pld`,
`dp_accounting.GaussianDpEvent`) runs `__init__` there and then, so any other code importing
dp-accounting in this process sees the whole package as usual.
"""

from __future__ import annotations

import importlib
import importlib.util
import pkgutil
import sys
import threading
import types

_lock = threading.RLock()
_running: set[str] = set()  # packages whose __init__ is running now


class _DeferredPackage(types.ModuleType):
    def __getattr__(self, name: str):
        if name in self.__dict__["_dpviz_submodules"]:
            # A submodule, as `from package import submodule` asks: load just it, as __init__ would have.
            return importlib.import_module(f"{self.__name__}.{name}")
        with _lock:
            if name in self.__dict__:  # another thread ran __init__ while this one waited
                return self.__dict__[name]
            if self.__name__ in _running:
                raise AttributeError(f"partially initialised module {self.__name__!r} has no attribute {name!r}")
            _running.add(self.__name__)
            try:
                self.__spec__.loader.exec_module(self)
            finally:
                _running.discard(self.__name__)
            del self._dpviz_submodules
            self.__class__ = types.ModuleType
        return getattr(self, name)


def defer_package_init(name: str) -> None:
    """Register package `name` so that its `__init__` runs on first use of a name only it defines.

    Does nothing when the package is already imported.

    Raises:
      ModuleNotFoundError: when the package is not installed.
    """
    with _lock:
        if name in sys.modules:
            return
        spec = importlib.util.find_spec(name)
        if spec is None or spec.submodule_search_locations is None:
            raise ModuleNotFoundError(f"No package named {name!r}", name=name)
        module = importlib.util.module_from_spec(spec)
        module._dpviz_submodules = frozenset(info.name for info in pkgutil.iter_modules(module.__path__))
        module.__class__ = _DeferredPackage
        sys.modules[name] = module


def is_deferred(name: str) -> bool:
    """Whether package `name`'s `__init__` has not run yet (for tests and the start-up benchmark)."""
    return isinstance(sys.modules.get(name), _DeferredPackage)
