"""Spare every import after PySide6's its reading of the imported module's source file.

PySide6 supports ``from __feature__ import snake_case``. For that it replaces Python's
``__import__`` and, after each module imported from then on, asks whether the module "uses
PySide" by reading its whole source with ``inspect.getsource`` and looking for the word
``PySide6`` (``shibokensupport.feature._mod_uses_pyside``). The window imports about 250
modules after PySide6, so the start read every one of those files again and kept all their
lines in ``linecache`` for the rest of the session: 15-20 ms of the time to the first paint.

The answer only matters to a program in which some module selects a feature: it decides
whether a module that did not ask for one switches the features back off. No module here
selects one, so the check is answered from the module's namespace instead (a module that
holds a PySide6 module, class or function uses PySide), which costs microseconds. The hook
itself stays, so ``__feature__`` and PySide's lazy class loading work as before.
"""

from __future__ import annotations

import sys
from types import ModuleType

_BINDING = "PySide6"


def uses_pyside(module: ModuleType) -> bool:
    """True if ``module`` holds anything of PySide6 in its namespace."""
    try:
        values = list(vars(module).values())
    except TypeError:  # an object in sys.modules without a namespace
        return False
    for value in values:
        if isinstance(value, ModuleType):
            name = value.__name__
        else:
            name = getattr(value, "__module__", None)
        if isinstance(name, str) and name.startswith(_BINDING):
            return True
    return False


def skip_source_scan() -> bool:
    """Install :func:`uses_pyside` as PySide6's check; False if this PySide6 has none."""
    feature = sys.modules.get("shibokensupport.feature")
    if feature is None or not callable(getattr(feature, "_mod_uses_pyside", None)):
        return False
    feature._mod_uses_pyside = uses_pyside  # type: ignore[attr-defined]
    return True
