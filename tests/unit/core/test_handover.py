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
