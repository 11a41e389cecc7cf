"""The runtime the app builds from its settings, for a window under test.

The real offline provider and the settings of the test's own ``RETOUCHDESK_HOME``: what a
first start gives a photographer, with no cloud account set up.
"""

from __future__ import annotations

from typing import Any


def plain_runtime() -> Any:
    """``build_runtime`` over fresh ``Settings`` (imported here: tests import this module
    before their fixtures point ``RETOUCHDESK_HOME`` at a temporary folder)."""
    from retouchdesk.services.runtime import build_runtime
    from retouchdesk.services.settings import Settings

    return build_runtime(settings=Settings())
