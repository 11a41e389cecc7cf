"""One way to fit a photo to an operation's limits: the window sends what ``run --fit`` sends.

A photo over ``fake.brighten``'s 8000 px long side goes once through ``retouchdesk run --fit``
(a subprocess, the way a script runs it) and once through the window's Apply, answering its
limits question with the mouse. The pretend server records the bytes and pixel size it
received: they are the same file, the photo on disk is untouched, and both results land
beside the photo.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import Qt
from tests.doubles.fake_provider import SCHEMA_DIR, FakeServer

from retouchdesk.core.jobs import JobState

REPO = Path(__file__).resolve().parents[2]


def big_photo(folder: Path) -> Path:
    """8400 x 300 with fine stripes, so that another resampler or encoder shows in the bytes
    (and regular enough to encode quickly)."""
    folder.mkdir(parents=True, exist_ok=True)
    y, x = np.mgrid[0:300, 0:8400]
    pixels = np.stack([(x * 7) % 256, (y * 5) % 256, ((x + y) * 3) % 256], axis=2)
    pixels = pixels.astype(np.uint8)
    path = folder / "wide.png"
    Image.fromarray(pixels, "RGB").save(path)
    return path


@pytest.mark.slow
def test_window_and_cli_send_the_same_fitted_copy(
    qtbot, make_window, tmp_path, fake_runtime_factory, app_home
):
    server_root = tmp_path / "fake-server"  # the fixture's server folder
    runtime = fake_runtime_factory(duration=0.05, poll_interval=0.02)
    server = FakeServer(server_root)
    photo = big_photo(tmp_path / "shoot")
    before = hashlib.sha256(photo.read_bytes()).hexdigest()

    env = {k: v for k, v in os.environ.items() if not k.startswith("RETOUCHDESK_")}
    env.update(
        RETOUCHDESK_HOME=str(app_home),
        RETOUCHDESK_TEST_PROVIDERS="tests.doubles.fake_provider:make",
        RETOUCHDESK_EXTRA_SCHEMAS=str(SCHEMA_DIR),
        RETOUCHDESK_FAKE_SERVER=str(server_root),
        PYTHONPATH=os.pathsep.join(filter(None, [str(REPO / "gui"), str(REPO)])),
    )
    cli_out = tmp_path / "cli-out"
    argv = ["run", "-p", "fake", "--op", "brighten", "--fit", "-q", str(photo), "-o", str(cli_out)]
    r = subprocess.run(
        [sys.executable, "-m", "retouchdesk", *argv],
        env=env,
        capture_output=True,
        text=True,
        timeout=90,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    (by_cli,) = server.created()

    w = make_window(runtime)
    w.open_paths([photo])
    w.model.operation.select("fake.brighten")
    qtbot.waitUntil(w.side.apply_button.isEnabled)
    qtbot.mouseClick(w.side.apply_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: getattr(w, "question", None) is not None, timeout=10_000)
    box = w.question
    qtbot.waitUntil(box.isVisible)
    assert "the long side is 8400 px, the limit is 8000 px" in box.informativeText()
    down = next(b for b in box.buttons() if b.text().replace("&", "") == "Downscale to 8000 × 285")
    qtbot.mouseClick(down, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: len(server.created()) == 2, timeout=20_000)
    by_window = server.created()[1]
    assert by_window["size"] == by_cli["size"] == [8000, 285]
    assert by_window["sha256"] == by_cli["sha256"]  # the same copy, byte for byte

    eng = w.model.engine
    qtbot.waitUntil(lambda: all(r.state.terminal for r in eng.jobs()), timeout=20_000)
    (rec,) = [r for r in eng.jobs()]
    assert rec.state is JobState.DONE, rec.error
    assert rec.input_path == photo  # the job's input is the photo, not a copy
    assert rec.results[0].parent == photo.parent / "retouched"
    assert Image.open(rec.results[0]).size == (8000, 285)
    assert hashlib.sha256(photo.read_bytes()).hexdigest() == before
    assert w.model.photos.photo(photo.resolve()).versions == 1
