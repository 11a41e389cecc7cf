"""The live mask of a photo comes back exactly as it was painted, read the quick way.

The library's own files are read with OpenCV (``core.mask.load_mask``), which releases the GIL
for the whole decode; Pillow's PNG decoder holds it in slices of up to 15 ms at 24 MP, and the
next photo's mask is read while the window switches to it. Anything else in that place (a file
of another kind or size) still goes through the general loader, which understands every image
a user may bring.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageFile

from retouchdesk.services.masks import MaskLibrary


def painted(w: int = 640, h: int = 480) -> np.ndarray:
    rng = np.random.default_rng(3)
    m = np.zeros((h, w), np.uint8)
    m[100:300, 50:400] = 255
    m[350:420, 200:600] = rng.integers(1, 255, (70, 400), dtype=np.uint8)  # a soft edge
    return m


def test_a_saved_mask_loads_back_identical_without_pillows_decoder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lib = MaskLibrary(tmp_path)
    photo = tmp_path / "photo.jpg"
    mask = painted()
    lib.save(photo, mask)

    def pillow_decode(*_a: object, **_k: object) -> None:
        raise AssertionError("the library's own file went through Pillow's decoder")

    monkeypatch.setattr(ImageFile.ImageFile, "load", pillow_decode)
    back = lib.load(photo, (640, 480))
    assert back is not None and back.dtype == np.uint8
    assert np.array_equal(back, mask)
    monkeypatch.undo()
    # Pillow, another reader, sees the same pixels in the file.
    with Image.open(lib.photo_path(photo)) as im:
        assert im.mode == "L" and np.array_equal(np.asarray(im), mask)


def test_a_painter_layer_put_in_its_place_is_read_by_the_general_loader(tmp_path: Path) -> None:
    lib = MaskLibrary(tmp_path)
    photo = tmp_path / "photo.jpg"
    alpha = painted()
    layer = np.zeros((480, 640, 4), np.uint8)
    layer[..., 0] = 255  # a red brush: the strokes are in the alpha channel
    layer[..., 3] = alpha
    path = lib.photo_path(photo)
    path.parent.mkdir(parents=True)
    Image.fromarray(layer, "RGBA").save(path)
    back = lib.load(photo, (640, 480))
    assert back is not None and np.array_equal(back, alpha)


def test_a_mask_of_another_size_is_not_returned_for_the_photo(tmp_path: Path) -> None:
    lib = MaskLibrary(tmp_path)
    photo = tmp_path / "photo.jpg"
    lib.save(photo, painted())
    assert lib.load(photo, (641, 480)) is None  # the photo changed size since: no stale mask


def test_a_damaged_mask_file_is_not_returned(tmp_path: Path) -> None:
    lib = MaskLibrary(tmp_path)
    photo = tmp_path / "photo.jpg"
    lib.save(photo, painted())
    path = lib.photo_path(photo)
    path.write_bytes(path.read_bytes()[:200])
    assert lib.load(photo, (640, 480)) is None
