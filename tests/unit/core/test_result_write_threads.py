"""Writing a JPEG result leaves the rest of the app running, and never fails on grain.

Results are written in worker threads while the window keeps painting. An optimised JPEG
encoded by Pillow into memory is one call that holds the GIL for the whole encode (0.3 s for
12 MP here), so every result of a batch froze the window for that long
(``tests/bench/history_cases.py`` saw 200-700 ms stalls). Results are read back by Pillow.
"""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path

import numpy as np
from PIL import Image

from retouchdesk.core import imageio


def _photo(w: int, h: int, grain: float) -> np.ndarray:
    """Smooth colour waves under Gaussian grain (the grain is what makes the encode long),
    built from a row and a column in float32 so that 12 MP take about a second."""
    x = np.arange(w, dtype=np.float32)[None, :]
    y = np.arange(h, dtype=np.float32)[:, None]
    rgb = np.empty((h, w, 3), np.float32)
    rgb[..., 0] = 128 + 100 * np.sin(x / 700) * np.cos(y / 500)
    rgb[..., 1] = 128 + 90 * np.cos(x / 900 + y / 800)
    rgb[..., 2] = 128 + 80 * np.sin((x + y) / 600)
    rgb += grain * np.random.default_rng(7).standard_normal((h, w, 3), dtype=np.float32)
    return np.clip(rgb, 0, 255).astype(np.uint8)


def test_a_jpeg_result_is_encoded_while_other_threads_run(tmp_path: Path) -> None:
    source = tmp_path / "photo.png"
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(source)
    pixels = _photo(4000, 3000, grain=6)
    dest = tmp_path / "photo_result.jpg"
    old = sys.getswitchinterval()
    sys.setswitchinterval(0.001)  # as the window sets it (app.tune_interpreter)
    try:
        writer = threading.Thread(
            target=imageio.save_result,
            args=(pixels,),
            kwargs={"source": source, "destination": dest},
        )
        gaps: list[float] = []
        last = started = time.perf_counter()
        writer.start()
        while writer.is_alive():  # this thread is the window: it wants the GIL every 1 ms
            time.sleep(0.001)
            now = time.perf_counter()
            gaps.append(now - last)
            last = now
        took = last - started
    finally:
        sys.setswitchinterval(old)
    with Image.open(dest) as im:
        assert im.format == "JPEG" and im.size == (4000, 3000)
    # Before: the longest wait was the whole encode (about 0.85 of the write); now a few ms.
    assert max(gaps) < 0.4 * took, (max(gaps), took, len(gaps))


def test_a_very_grainy_photo_at_high_quality_is_written(tmp_path: Path) -> None:
    """Pillow sizes an optimised JPEG's buffer at 2 bytes a pixel at quality 95; pure grain
    needs more, and libjpeg gave up ("broken data stream"): the result was lost."""
    source = tmp_path / "grain.png"
    pixels = np.random.default_rng(3).integers(0, 256, (400, 600, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(source)
    dest = tmp_path / "grain_result.jpg"
    imageio.save_result(pixels, source=source, destination=dest)
    with Image.open(dest) as im:
        assert im.format == "JPEG"
        back = np.asarray(im.convert("RGB"), dtype=np.float64)
    assert dest.stat().st_size > 2 * 600 * 400  # over Pillow's guess, so the case is real
    psnr = 10 * np.log10(255**2 / np.mean((back - pixels) ** 2))
    assert psnr > 30, psnr
    assert not list(tmp_path.glob("*.part*")) and len(list(tmp_path.iterdir())) == 2
