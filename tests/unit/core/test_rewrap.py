"""Rewrapping a result: only whole, plain PNG/JPEG files keep their bytes; the rest is decoded.

A damaged or cut vendor file must never be written as if it were whole: it goes through the
decoder, which fails with its sentence (and nothing is written). A large ICC profile is split
over APP2 segments as the ICC specification says, and Pillow puts it back together.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from retouchdesk.core import imageio, rewrap
from retouchdesk.core.errors import InputError


def _vendor(tmp_path: Path, fmt: str, mode: str = "RGB") -> tuple[Path, bytes]:
    rng = np.random.default_rng(7)
    arr = rng.integers(0, 255, (64, 80, 3), dtype=np.uint8)
    im = Image.fromarray(arr).convert(mode)
    buf = io.BytesIO()
    im.save(buf, fmt, **({"compress_level": 1} if fmt == "PNG" else {"quality": 90}))
    path = tmp_path / f"vendor.{fmt.lower()}"
    path.write_bytes(buf.getvalue())
    return path, buf.getvalue()


def _save(result: Path, source: Path, dest: Path) -> Path:
    return imageio.save_result(result, source=source, destination=dest, replace=False)


@pytest.mark.parametrize(
    "damage",
    [
        lambda d: d[: len(d) * 2 // 3],  # a cut download
        lambda d: d[:100] + bytes([d[100] ^ 0xFF]) + d[101:],  # a flipped byte in IDAT
    ],
    ids=["cut", "flipped-byte"],
)
def test_a_damaged_png_is_not_rewrapped_and_fails_in_the_decoder(
    damage, tmp_path: Path, data_dir: Path
):
    path, data = _vendor(tmp_path, "PNG")
    path.write_bytes(damage(data))
    with pytest.raises(rewrap.NotRewrappable):
        rewrap.rewrap_png(rewrap.png_chunks(path.read_bytes()))
    dest = tmp_path / "out" / "result.png"
    with pytest.raises(InputError):
        _save(path, data_dir / "coffee.png", dest)
    assert not dest.exists() and not [p for p in dest.parent.glob("*") if p.is_file()]


def test_a_cut_jpeg_is_not_rewrapped(tmp_path: Path):
    _, data = _vendor(tmp_path, "JPEG")
    with pytest.raises(rewrap.NotRewrappable):
        rewrap.rewrap_jpeg(data[: len(data) - 200])


def test_a_large_icc_profile_is_split_and_read_back_whole(tmp_path: Path):
    _, data = _vendor(tmp_path, "JPEG")
    icc = imageio.srgb_profile()
    big = icc + os.urandom(150_000)  # three APP2 segments
    out = rewrap.rewrap_jpeg(data, icc=big)
    with Image.open(io.BytesIO(out)) as im, Image.open(io.BytesIO(data)) as orig:
        assert im.info["icc_profile"] == big
        assert np.array_equal(np.asarray(im), np.asarray(orig))


def test_a_grey_photo_with_a_colour_vendor_result_is_still_folded_to_grey(
    tmp_path: Path,
):
    """The writer folds a neutral RGB result of a grey photo back to grey: that changes the
    colour model, so such a result is decoded, not rewrapped."""
    source = tmp_path / "grey.png"
    Image.new("L", (80, 64), 90).save(source)
    vendor = tmp_path / "vendor.png"
    Image.new("L", (80, 64), 120).convert("RGB").save(vendor)
    written = _save(vendor, source, tmp_path / "out" / "grey_result.png")
    with Image.open(written) as im:
        assert im.mode == "L" and im.getpixel((3, 3)) == 120
