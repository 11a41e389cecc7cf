"""An offline ``retouchdesk run`` keeps the heavy libraries out of the command's own process.

The worker process decodes, fills and hands the pixels over; the command plans, checks the
photo's header and encodes the result. OpenCV (and numpy's share of the offline operations)
would cost the command a quarter of a second before it could even start the worker, and the
HTTP client a tenth of a second, for a job that never goes online.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image
from tests.e2e.clienv import subprocess_env

pytestmark = pytest.mark.timeout(120)

SCRIPT = textwrap.dedent(
    """
    import sys
    from retouchdesk.cli import main
    code = main(sys.argv[1:])
    print("LOADED", sorted(m for m in ("cv2", "httpx") if m in sys.modules))
    sys.exit(code)
    """
)


def test_an_offline_removal_loads_neither_opencv_nor_httpx_in_the_command(
    tmp_path: Path, app_home: Path, data_dir: Path
):
    photo = tmp_path / "astronaut.jpg"
    Image.open(data_dir / "astronaut.png").convert("RGB").save(photo, quality=92)
    sel = np.zeros((512, 512), np.uint8)
    cv2.circle(sel, (300, 200), 30, 255, -1)
    Image.fromarray(sel, "L").save(tmp_path / "mask.png")
    args = ["run", "--provider", "local", "--op", "object_removal", "--quiet"]
    args += ["--set", f"mask={tmp_path / 'mask.png'}", "--set", "method=telea"]
    args += ["-o", str(tmp_path / "out"), str(photo)]
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, *args],
        env=subprocess_env(app_home),
        capture_output=True,
        text=True,
        timeout=100,
    )
    assert done.returncode == 0, done.stderr + done.stdout
    assert "LOADED []" in done.stdout, done.stdout
    assert len(list((tmp_path / "out").iterdir())) == 1
