"""The worker -> engine pixel hand-over: raw .npy files, lossless and atomic, never pickles."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from retouchdesk.core import handover, imageio


@pytest.mark.parametrize(
    "arr",
    [
        np.arange(4 * 5 * 3, dtype=np.uint8).reshape(4, 5, 3),
        (np.arange(4 * 5 * 4, dtype=np.uint16) * 811).reshape(4, 5, 4),
    ],
)
def test_round_trip_is_exact_for_8_and_16_bits_with_and_without_alpha(tmp_path: Path, arr):
    path = handover.save(arr, tmp_path / "work" / "result.npy")
    back = imageio.load_pixels(path)
    assert back.array.dtype == arr.dtype and np.array_equal(back.array, arr)
    assert back.meta.bit_depth == arr.dtype.itemsize * 8
    assert handover.has_alpha(path) == (arr.shape[2] == 4)
    assert not list(path.parent.glob("*.part"))  # written through a temporary file


def test_load_array_gives_8_bits_unless_asked(tmp_path: Path):
    arr = np.full((2, 3, 3), 65535, np.uint16)
    path = handover.save(arr, tmp_path / "r.npy")
    assert imageio.load_array(path).dtype == np.uint8 and imageio.load_array(path).max() == 255
    assert imageio.load_array(path, keep_16bit=True).dtype == np.uint16


def test_a_pickle_or_a_non_image_array_is_refused(tmp_path: Path):
    obj = tmp_path / "evil.npy"
    np.save(obj, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(ValueError):
        handover.load(obj)
    floats = tmp_path / "f.npy"
    np.save(floats, np.zeros((2, 2, 3), np.float64))
    with pytest.raises(ValueError):
        handover.load(floats)


def test_engine_writer_encodes_the_raw_pixels_once_with_the_source_metadata(tmp_path: Path):
    src = tmp_path / "photo.jpg"
    exif = Image.Exif()
    exif[0x010F] = "TestCam"
    Image.new("RGB", (40, 30), (200, 100, 50)).save(src, exif=exif.tobytes(), quality=95)
    arr = np.zeros((30, 40, 3), np.uint8)
    arr[:, :, 1] = 180
    raw = handover.save(arr, tmp_path / "work" / "result.npy")
    dest = imageio.save_result(raw, source=src, destination=tmp_path / "out" / "photo_r.jpg")
    with Image.open(dest) as im:
        assert im.format == "JPEG" and im.size == (40, 30)
        assert im.getexif().get(0x010F) == "TestCam"
        assert abs(int(np.asarray(im)[15, 20, 1]) - 180) <= 3


# -- in memory when there is room -------------------------------------------------------------


def _ram(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    base = tmp_path / "shm"
    base.mkdir()
    monkeypatch.setenv(handover.RAM_ENV, str(base))
    return base


def _photo() -> np.ndarray:
    return np.random.default_rng(5).integers(0, 255, (60, 80, 3), dtype=np.uint8)


def test_a_hand_over_goes_to_the_jobs_folder_in_memory(tmp_path: Path, monkeypatch):
    base = _ram(tmp_path, monkeypatch)
    job = tmp_path / "cache" / "jobs" / "job1"
    arr = _photo()
    written = handover.save(arr, job / "result.npy", ram=True)
    root = handover.ram_root()
    assert root is not None and written == root / "job1" / "result.npy"
    assert root.parent == base and (root.stat().st_mode & 0o777) == 0o700
    assert np.array_equal(handover.load(written), arr) and not (job / "result.npy").exists()
    handover.discard(job)  # what the engine does when the job ends
    assert not (root / "job1").exists()


def test_too_large_or_no_room_goes_to_the_disk_as_before(tmp_path: Path, monkeypatch):
    _ram(tmp_path, monkeypatch)
    job = tmp_path / "jobs" / "job2"
    arr = _photo()
    monkeypatch.setattr(handover, "RAM_MAX_BYTES", arr.nbytes - 1)
    assert handover.save(arr, job / "big.npy", ram=True) == job / "big.npy"
    monkeypatch.setattr(handover, "RAM_MAX_BYTES", 1 << 30)

    # A RAM file system without room for twice the array: statvfs is stubbed, since filling
    # the machine's memory is not something a test may do.
    class Full:
        f_bavail, f_frsize = 1, 4096

    statvfs = handover.os.statvfs
    monkeypatch.setattr(handover.os, "statvfs", lambda _p: Full())
    assert handover.save(arr, job / "full.npy", ram=True) == job / "full.npy"
    assert np.array_equal(handover.load(job / "full.npy"), arr)
    monkeypatch.setattr(handover.os, "statvfs", statvfs)

    # The system short of memory (MemAvailable under four times the array, stubbed for the
    # same reason): a file in RAM could not be evicted, so it goes to disk.
    from retouchdesk.core import memory

    monkeypatch.setattr(memory, "available_bytes", lambda: 3 * arr.nbytes)
    assert handover.save(arr, job / "short.npy", ram=True) == job / "short.npy"
    monkeypatch.setattr(memory, "available_bytes", lambda: 5 * arr.nbytes)
    assert handover.save(arr, job / "fine.npy", ram=True) != job / "fine.npy"


def test_a_ram_folder_open_to_others_or_missing_is_never_used(tmp_path: Path, monkeypatch):
    base = _ram(tmp_path, monkeypatch)
    root = handover.ram_root()
    assert root is not None
    root.chmod(0o777)  # another user could swap the files the engine then reads
    job = tmp_path / "jobs" / "job3"
    assert handover.save(_photo(), job / "r.npy", ram=True) == job / "r.npy"
    monkeypatch.setenv(handover.RAM_ENV, str(base / "missing"))
    assert handover.ram_root() is None


def test_the_sweep_removes_only_folders_no_run_touched_for_hours(tmp_path: Path, monkeypatch):
    import os
    import time

    _ram(tmp_path, monkeypatch)
    root = handover.ram_root()
    assert root is not None
    old, fresh = root / "killed-run-job", root / "running-job"
    for d in (old, fresh):
        d.mkdir()
        (d / "result.npy").write_bytes(b"x")
    hours_ago = time.time() - handover.SWEEP_AGE_S - 60
    os.utime(old, (hours_ago, hours_ago))
    assert handover.sweep() == 1
    assert not old.exists() and fresh.exists()
