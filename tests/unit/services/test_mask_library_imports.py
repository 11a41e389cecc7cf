"""Asking for the mask of a photo that has none loads no image library.

The window asks for every queued photo; core.mask brings OpenCV (0.1 s holding the GIL, 37 MB),
which stalled the window on the first queued photo of a session. Run in a fresh interpreter,
since this test process has imported everything long ago.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]

PROBE = """
import sys
from pathlib import Path
from retouchdesk.services.masks import MaskLibrary
lib = MaskLibrary(Path(sys.argv[1]))
photo = Path(sys.argv[1]) / "photo.jpg"
print(lib.load(photo, (64, 48)), lib.load(photo, (64, 48), source=photo.with_name("a.jpg")))
print(sorted(m for m in ("cv2", "numpy", "PIL") if m in sys.modules))
"""


def test_a_photo_without_a_mask_is_answered_without_opencv(tmp_path: Path) -> None:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT / "gui"), str(ROOT)]))
    proc = subprocess.run(
        [sys.executable, "-c", PROBE, str(tmp_path)],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    answers, loaded = proc.stdout.splitlines()
    assert answers == "None None"
    assert loaded == "[]"
