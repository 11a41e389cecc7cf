"""Leftover ``.part`` files of killed writes: only ours, only old, only of dead writers."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from PIL import Image

from retouchdesk.core import imageio, partials


def _dead_pid() -> int:
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


def _old(path: Path, data: bytes = b"half a PNG") -> Path:
    path.write_bytes(data)
    past = partials.STARTED - 3600
    os.utime(path, (past, past))
    return path


def test_temporary_names_carry_the_writer_and_are_recognised(tmp_path):
    name = partials.temp_name(tmp_path, "photo_upscale_local")
    assert name.parent == tmp_path
    assert name.name.startswith(f".photo_upscale_local.{os.getpid()}-")
    assert partials.is_ours(name.name)
    assert not partials.is_ours("photo.part")
    assert not partials.is_ours(".notes.part")


def test_sweep_removes_only_leftovers_of_dead_writers(tmp_path):
    dead, me_parent = _dead_pid(), os.getppid()
    gone_1 = _old(tmp_path / f".cat_upscale_local.{dead}-0a1b2c3d.part")
    gone_2 = _old(tmp_path / ".cat_upscale_local.deadbeef.part")  # an older version's name
    live = _old(tmp_path / f".cat_skin_local.{me_parent}-0a1b2c3d.part")  # its writer runs
    fresh = tmp_path / f".cat_tone_local.{dead}-0a1b2c3d.part"  # written after we started
    fresh.write_bytes(b"x")
    theirs = [_old(tmp_path / n) for n in (".notes.part", "cat.part", ".cat.zzzzzzzz.part")]
    photo = _old(tmp_path / "cat.png")

    removed = partials.sweep_now(tmp_path, started=partials.STARTED)

    assert sorted(removed) == sorted([gone_1, gone_2])
    assert not gone_1.exists() and not gone_2.exists()
    for kept in (live, fresh, photo, *theirs):
        assert kept.exists(), kept.name


def test_a_results_folder_is_swept_when_the_next_result_is_written(tmp_path):
    out = tmp_path / "retouched"
    out.mkdir()
    leftover = _old(out / f".cat_upscale_local.{_dead_pid()}-00ff00ff.part")
    src = tmp_path / "cat.png"
    Image.new("RGB", (8, 8), (200, 10, 10)).save(src)

    imageio.save_result(
        Image.new("RGB", (16, 16), (10, 200, 10)), source=src, destination=out / "cat_up.png"
    )

    assert not leftover.exists()
    assert sorted(p.name for p in out.iterdir()) == ["cat_up.png"]
    with Image.open(out / "cat_up.png") as im:
        assert im.getpixel((3, 3)) == (10, 200, 10)


def test_each_folder_is_swept_once_per_process(tmp_path):
    first = _old(tmp_path / f".a.{_dead_pid()}-11111111.part")
    assert partials.sweep(tmp_path) == [first]
    second = _old(tmp_path / f".b.{_dead_pid()}-22222222.part")
    assert partials.sweep(tmp_path) == []  # listed once: a big folder is not read per write
    assert second.exists()


def test_an_unreadable_folder_is_not_an_error(tmp_path):
    assert partials.sweep_now(tmp_path / "missing", started=time.time()) == []


def test_mask_saves_use_our_names_and_sweep_what_a_killed_save_left(tmp_path):
    import numpy as np

    from retouchdesk.services.masks import MaskLibrary

    lib = MaskLibrary(tmp_path / "masks")
    photo = tmp_path / "cat.png"
    target = lib.photo_path(photo)
    target.parent.mkdir(parents=True)
    leftover = _old(target.parent / f".{target.stem}.{_dead_pid()}-abcdef01.part")
    mask = np.zeros((8, 8), np.uint8)
    mask[2:5, 2:5] = 255

    assert lib.save(photo, mask) == target

    assert sorted(p.name for p in target.parent.iterdir()) == [target.name]
    assert not leftover.exists()
    with Image.open(target) as im:
        assert np.array_equal(np.asarray(im), mask)
