"""``retouchdesk run --provider local --op ...`` end to end on the test photographs.

Real subprocesses, the real job engine and the offline engine's worker processes; results are
checked against the source with tolerances. (The AI upscaler runs in the unit tests; here the
classic engine keeps this file quick.)
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.timeout(180)


def _env(app_home: Path) -> dict[str, str]:
    e = {k: v for k, v in os.environ.items() if not k.startswith("RETOUCHDESK_")}
    e.update(RETOUCHDESK_HOME=str(app_home), COLUMNS="200", QT_QPA_PLATFORM="offscreen")
    return e


def _run(app_home: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "retouchdesk", "run", "--provider", "local", *args],
        env=_env(app_home),
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=150,
    )


def _rgb(p: Path) -> np.ndarray:
    with Image.open(p) as im:
        return np.asarray(im.convert("RGB"))


def _sha(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


@pytest.mark.slow
def test_every_local_operation_from_the_cli(tmp_path: Path, app_home: Path, data_dir: Path):
    photos = tmp_path / "photos"
    photos.mkdir()
    for name in ("astronaut.png", "chelsea.png"):
        (photos / name).write_bytes((data_dir / name).read_bytes())
    before = {p.name: _sha(p) for p in photos.iterdir()}
    mask = np.zeros((512, 512), np.uint8)
    cv2.ellipse(mask, (340, 230), (30, 24), 0, 0, 360, 255, -1)
    mask_path = tmp_path / "mask.png"
    Image.fromarray(mask).save(mask_path)
    astronaut = photos / "astronaut.png"
    out = tmp_path / "out"
    runs = {
        "skin_smoothing": [],
        "object_removal": ["--set", f"mask={mask_path}"],
        "background_removal": [],
        "background_blur": ["--set", "intensity=60"],
        "color_correction": [],
        "lighting": [],
        "upscale": ["--set", "engine=classic", "--set", "scale=2"],
    }
    for op, extra in runs.items():
        proc = _run(app_home, tmp_path, "--op", op, *extra, str(astronaut), "-o", str(out))
        assert proc.returncode == 0, f"{op}: {proc.stdout}\n{proc.stderr}"
    src = _rgb(astronaut)
    results = {p.name: p for p in out.iterdir()}
    assert len(results) == len(runs)

    def result(op: str) -> Path:
        (name,) = [n for n in results if f"_{op}_local" in n]
        return results[name]

    up = _rgb(result("upscale"))
    assert up.shape == (1024, 1024, 3)
    removed = _rgb(result("object_removal"))
    far = cv2.dilate(mask, np.ones((31, 31), np.uint8)) == 0
    assert np.array_equal(removed[far], src[far])
    assert np.abs(removed[mask > 0].astype(int) - src[mask > 0].astype(int)).mean() > 3
    smooth = _rgb(result("skin_smoothing"))
    assert np.array_equal(smooth[300:], src[300:])  # nothing below the face changes
    assert not np.array_equal(smooth[80:170, 170:270], src[80:170, 170:270])
    with Image.open(result("background_removal")) as im:
        assert im.mode == "RGBA" and result("background_removal").suffix == ".png"
        alpha = np.asarray(im)[..., 3]
        assert alpha[120, 220] > 240 and alpha[10, 470] < 15
    for op in ("background_blur", "color_correction", "lighting"):
        out_rgb = _rgb(result(op))
        assert out_rgb.shape == src.shape and not np.array_equal(out_rgb, src)
    assert before == {p.name: _sha(p) for p in photos.iterdir()}  # no original touched


@pytest.mark.slow
def test_no_face_fails_plainly_and_writes_nothing(tmp_path: Path, app_home: Path, data_dir: Path):
    out = tmp_path / "out"
    proc = _run(app_home, tmp_path, "--op", "skin_smoothing", str(data_dir / "chelsea.png"),
                "-o", str(out))  # fmt: skip
    assert proc.returncode != 0
    assert "no face found" in proc.stdout + proc.stderr
    assert not out.exists() or not [p for p in out.rglob("*") if p.is_file()]


def test_wrong_size_mask_is_refused_with_both_sizes(tmp_path: Path, app_home: Path, data_dir):
    small = tmp_path / "small_mask.png"
    Image.fromarray(np.full((100, 150), 255, np.uint8)).save(small)
    proc = _run(app_home, tmp_path, "--op", "object_removal", "--set", f"mask={small}",
                str(data_dir / "chelsea.png"), "-o", str(tmp_path / "out"))  # fmt: skip
    text = " ".join((proc.stdout + proc.stderr).split())
    assert proc.returncode != 0
    assert "150x100" in text and "451x300" in text
