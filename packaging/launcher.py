"""The bundle's entry point: the same ``main`` as the ``retouchdesk`` console script.

``freeze_support`` comes first: the offline engine's spawned workers start through this same
executable, and must run their worker code instead of the application.
"""

from __future__ import annotations

import multiprocessing
import sys

if __name__ == "__main__":
    multiprocessing.freeze_support()
    from retouchdesk.__main__ import main

    sys.exit(main())
