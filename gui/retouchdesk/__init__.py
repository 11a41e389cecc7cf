"""Retouch Desk: one canvas over six cloud AI retouching services and an offline engine."""

from __future__ import annotations

__version__ = "0.1.0"
APP_NAME = "Retouch Desk"
APP_ID = "retouchdesk"
