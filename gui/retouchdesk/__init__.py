"""Retouch Desk: one canvas over six cloud AI retouching services and an offline engine."""

from __future__ import annotations

from retouchdesk import _refcount_guard

_refcount_guard.apply()  # PySide6 6.12 on Python 3.11 under-counts True: see the module

__version__ = "0.1.0"
APP_NAME = "Retouch Desk"
APP_ID = "retouchdesk"
