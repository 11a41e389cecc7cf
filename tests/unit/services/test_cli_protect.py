"""`retouchdesk run ... --protect-outside MASK`: recorded by the CLI, applied by the engine."""

from __future__ import annotations

import shutil
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from retouchdesk import cli
from retouchdesk.core.imageio import load_array


def test_protect_outside_from_the_command_line(tmp_path: Path, data_dir: Path) -> None:
    photo = tmp_path / "in" / "coffee.png"
    photo.parent.mkdir()
    shutil.copyfile(data_dir / "coffee.png", photo)
    mask = np.zeros((400, 600), np.uint8)
    cv2.rectangle(mask, (200, 100), (400, 300), 255, -1)
    mask_path = tmp_path / "mask.png"
    Image.fromarray(mask, "L").save(mask_path)
    out = tmp_path / "out"
    argv = ["run", "--provider", "local", "--op", "lighting", str(photo.parent), "-o", str(out)]
    code = cli.main([*argv, "--quiet", "--protect-outside", str(mask_path)])
    assert code == 0
    [result] = [p for p in out.rglob("*") if p.is_file()]
    got, orig = load_array(result), load_array(photo)
    assert np.array_equal(got[mask == 0], orig[mask == 0])
    assert np.abs(got[mask == 255].astype(int) - orig[mask == 255].astype(int)).mean() > 1
    assert cli.main([*argv, "--quiet", "--protect-outside", str(tmp_path / "none.png")]) == 1
