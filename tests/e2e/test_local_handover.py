"""The offline worker hands raw pixels to the engine, which encodes once: checked through the CLI.

A 16-bit PNG stays 16-bit end to end (an 8-bit PNG hand-over would have lost the low byte) and
the result record says where the time went.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

pytestmark = pytest.mark.timeout(180)


def test_sixteen_bit_png_stays_sixteen_bit_through_the_worker(tmp_path: Path, data_dir: Path):
    home = tmp_path / "home"
    rgb = cv2.imread(str(data_dir / "chelsea.png"), cv2.IMREAD_COLOR)  # BGR, 8-bit
    deep = rgb.astype(np.uint16) * 257 + np.uint16(77)  # low bytes a PNG of 8 bits cannot hold
    src = tmp_path / "deep.png"
    assert cv2.imwrite(str(src), deep)
    env = {k: v for k, v in os.environ.items() if not k.startswith("RETOUCHDESK_")}
    env.update(RETOUCHDESK_HOME=str(home), QT_QPA_PLATFORM="offscreen")
    proc = subprocess.run(
        [sys.executable, "-m", "retouchdesk", "run", "--provider", "local", "--op",
         "color_correction", "--quiet", "-o", str(tmp_path / "out"), str(src)],
        env=env, capture_output=True, text=True, timeout=150,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (result,) = (tmp_path / "out").iterdir()
    out = cv2.imread(str(result), cv2.IMREAD_UNCHANGED)  # OpenCV, not the app's reader
    assert result.suffix == ".png" and out.dtype == np.uint16 and out.shape == deep.shape
    assert np.count_nonzero(out % 257)  # low bytes survived the hand-over
    with sqlite3.connect(home / "data" / "jobs.sqlite3") as db:
        (meta,) = db.execute("select result_meta from jobs").fetchone()
    record = json.loads(meta)[str(result)]
    assert record["bit_depth"] == 16
    assert set(record["timings"]) == {"load", "operation", "save"}


def test_a_finished_run_leaves_no_scratch_on_disk_or_in_memory(tmp_path: Path, data_dir: Path):
    # The worker's result goes to the job's folder in memory; the command line exits as soon
    # as its job is done. Cancelled at close, the engine's clean-up left the job's scratch
    # folder (and now its 9 MB in memory) behind in about half the runs: four runs, none may.
    ram = tmp_path / "shm"
    ram.mkdir()
    src = tmp_path / "chelsea.png"
    src.write_bytes((data_dir / "chelsea.png").read_bytes())
    mask = np.zeros(cv2.imread(str(src)).shape[:2], np.uint8)
    mask[100:180, 200:300] = 255
    cv2.imwrite(str(tmp_path / "mask.png"), mask)
    for i in range(4):
        home = tmp_path / f"home{i}"
        env = {k: v for k, v in os.environ.items() if not k.startswith("RETOUCHDESK_")}
        env.update(RETOUCHDESK_HOME=str(home), RETOUCHDESK_RAM_DIR=str(ram))
        proc = subprocess.run(
            [sys.executable, "-m", "retouchdesk", "run", "--provider", "local", "--op",
             "object_removal", "--set", f"mask={tmp_path / 'mask.png'}", "--set",
             "method=telea", "--quiet", "-o", str(tmp_path / f"out{i}"), str(src)],
            env=env, capture_output=True, text=True, timeout=150,
        )  # fmt: skip
        assert proc.returncode == 0, proc.stdout + proc.stderr
        (result,) = (tmp_path / f"out{i}").iterdir()
        assert cv2.imread(str(result)).shape == (*mask.shape, 3)  # read by OpenCV
        scratch = home / "cache" / "jobs"
        assert not scratch.exists() or not any(scratch.iterdir()), f"run {i}: scratch left"
        (mine,) = ram.iterdir()  # this user's private folder, made by the worker
        assert not any(mine.iterdir()), f"run {i}: a result left in memory"
