"""Checking that a photo decodes (before it is uploaded or processed) says what a full
decode says, on every JPEG we have and on real photos cut short or garbled.

JPEGs are checked at 1/8 scale: libjpeg still reads every entropy-coded block, and the check
no longer holds the GIL in long slices while the window paints (see ``check_decodes``).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from retouchdesk.core import imageio
from retouchdesk.core.errors import InputError

DATA = Path(__file__).resolve().parents[2] / "data"
JPEGS = sorted(p for p in DATA.rglob("*") if p.suffix.lower() in (".jpg", ".jpeg", ".mpo"))


def full_decode_fails(path: Path) -> bool:
    try:
        with Image.open(path) as im:
            im.load()
    except Exception:
        return True
    return False


def check_fails(path: Path) -> bool:
    try:
        imageio.check_decodes(path)
    except InputError:
        return True
    return False


@pytest.mark.parametrize("path", JPEGS, ids=lambda p: p.name)
def test_the_check_agrees_with_a_full_decode(path: Path) -> None:
    assert check_fails(path) == full_decode_fails(path)


def _photo(tmp_path: Path) -> bytes:
    src = tmp_path / "photo.jpg"
    with Image.open(DATA / "coffee.png") as im:
        im.convert("RGB").save(src, quality=92)
    return src.read_bytes()


@pytest.mark.parametrize("keep", [0.3, 0.6, 0.9, 0.995])
def test_a_photo_cut_short_is_refused_as_damaged(tmp_path: Path, keep: float) -> None:
    data = _photo(tmp_path)
    cut = tmp_path / "cut.jpg"
    cut.write_bytes(data[: int(len(data) * keep)])
    assert full_decode_fails(cut)
    with pytest.raises(InputError, match="damaged"):
        imageio.check_decodes(cut)


def test_a_progressive_jpeg_cut_short_is_refused(tmp_path: Path) -> None:
    src = tmp_path / "progressive.jpg"
    with Image.open(DATA / "chelsea.png") as im:
        im.convert("RGB").save(src, quality=90, progressive=True)
    cut = tmp_path / "cut.jpg"
    cut.write_bytes(src.read_bytes()[: src.stat().st_size * 2 // 3])
    assert check_fails(cut) == full_decode_fails(cut)
    imageio.check_decodes(src)  # the whole file passes
