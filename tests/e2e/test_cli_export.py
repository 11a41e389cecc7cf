"""``retouchdesk export``: the Export dialog's choices from the command line, in a real process."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

REPO = Path(__file__).resolve().parents[2]


def _run(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RETOUCHDESK_")}
    env.update(RETOUCHDESK_HOME=str(home), PYTHONPATH=str(REPO / "gui"))
    return subprocess.run(
        [sys.executable, "-m", "retouchdesk", "export", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.slow
def test_export_writes_16_bit_tiff_and_refuses_16_bit_jpeg(
    tmp_path: Path, data_dir: Path, app_home: Path
) -> None:
    import tifffile

    src = data_dir / "coffee.png"
    out = tmp_path / "out"
    done = _run(
        app_home, str(src), "-o", str(out), "--format", "tiff", "--bit-depth", "16",
        "--long-side", "200", "--colour", "srgb", "--name", "{stem}-{n}",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    with tifffile.TiffFile(out / "coffee-1.tif") as tf:
        arr = tf.pages[0].asarray()
    with Image.open(src) as im:
        w, h = im.size
    assert arr.dtype == np.uint16 and max(arr.shape[:2]) == 200
    assert abs(arr.shape[1] / arr.shape[0] - w / h) < 0.02
    bad = _run(app_home, str(src), "-o", str(out), "--format", "jpeg", "--bit-depth", "16")
    assert bad.returncode == 2 and "JPEG holds 8 bits per channel" in bad.stderr
    assert "Traceback" not in bad.stderr
    missing = _run(app_home, str(tmp_path / "nope.jpg"), str(src), "-o", str(out))
    assert missing.returncode == 1 and (out / "coffee.jpg").is_file()  # the rest went on
    assert "nope.jpg" in missing.stderr and "Traceback" not in missing.stderr
