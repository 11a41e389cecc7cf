"""Guard against a reference-counting bug of PySide6 6.12 on Python 3.11.

With PySide6 6.12.0 on CPython 3.11, every ``SignalInstance.emit()`` releases one reference
to ``True`` that it never took, and a failed ``disconnect()`` does the same to ``False`` and
``None``. After a few thousand signals, ``True``'s count reaches zero and the interpreter
aborts ("Fatal Python error: bool_dealloc"), in the app and at the end of a test run.
Reproduce: ``python -c "from PySide6.QtCore import QObject, Signal
class D(QObject): s = Signal()
d = D(); [d.s.emit() for _ in range(100000)]"``.

Python 3.12 made these singletons immortal (PEP 683) and is not affected. On older versions
we do the same by hand: their counts are raised by 2**40, so no session can ever run them
down. The singletons are static objects that are never freed anyway, so nothing else changes.
"""

from __future__ import annotations

import ctypes
import sys

_BOOST = 1 << 40
_applied = False


def apply() -> None:
    """Make True, False and None effectively immortal on CPython < 3.12 (idempotent)."""
    global _applied
    if _applied or sys.version_info >= (3, 12) or sys.implementation.name != "cpython":
        return
    for obj in (True, False, None):
        ctypes.c_ssize_t.from_address(id(obj)).value += _BOOST
    _applied = True
