"""YouCam Online Editor: every task over v1 (client id + RSA secret) or v2 (API key).

``YouCamProvider`` is the engine's provider; ``Credentials`` picks the API generation; the
style pickers, credit balance and history and the per-task input checks are methods of the
provider so the window and the CLI use the same code.
"""

from __future__ import annotations

from retouchdesk.providers.youcam.api import Credentials
from retouchdesk.providers.youcam.provider import Balance, HistoryEntry, YouCamProvider
from retouchdesk.providers.youcam.styles import StyleItem
from retouchdesk.providers.youcam.watch import PollPolicy

__all__ = [
    "Balance",
    "Credentials",
    "HistoryEntry",
    "PollPolicy",
    "StyleItem",
    "YouCamProvider",
]
