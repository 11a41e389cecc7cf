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
from retouchdesk.core.errors import InputError, OutputError


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


def _many_idat(tmp_path: Path) -> tuple[Path, bytes, np.ndarray]:
    """A vendor PNG whose image data spans many IDAT chunks (Pillow writes 64 KB each)."""
    arr = np.random.default_rng(3).integers(0, 255, (400, 600, 3), dtype=np.uint8)
    path = tmp_path / "vendor-big.png"
    Image.fromarray(arr).save(path, compress_level=1)
    data = path.read_bytes()
    assert sum(kind == b"IDAT" for kind, _ in rewrap.png_chunks(data)) >= 8
    return path, data, arr


def _idat_stream(data: bytes) -> bytes:
    return b"".join(bytes(body) for kind, body in rewrap.png_chunks(data) if kind == b"IDAT")


def test_a_png_in_many_chunks_is_written_piece_by_piece_with_its_data_unchanged(
    tmp_path: Path, data_dir: Path
):
    # The result is written as pieces (views of the vendor's bytes) instead of one joined
    # copy; another library reads back the same compressed data, pixels and metadata.
    path, data, arr = _many_idat(tmp_path)
    dest = tmp_path / "out" / "result.png"
    report: dict = {}
    imageio.save_result(path, source=data_dir / "coffee.png", destination=dest, report=report)
    written = dest.read_bytes()
    assert _idat_stream(written) == _idat_stream(data)
    assert written == rewrap.rewrap_png(
        rewrap.png_chunks(data), icc=Image.open(dest).info.get("icc_profile")
    )
    with Image.open(dest) as im:
        assert np.array_equal(np.asarray(im.convert("RGB")), arr)
    assert report["format"] == "png"


def test_a_flipped_byte_deep_in_the_image_data_is_still_caught(tmp_path: Path, data_dir: Path):
    # The stream is assembled from its chunks one piece at a time: damage in a late chunk
    # (its CRC made right again, as a faulty server would send it) fails the check as well.
    path, data, _ = _many_idat(tmp_path)
    chunks = rewrap.png_chunks(data)
    late = [i for i, (kind, _) in enumerate(chunks) if kind == b"IDAT"][-2]
    body = bytearray(chunks[late][1])
    body[len(body) // 2] ^= 0xFF
    from retouchdesk.core import pngwrite

    offset = data.index(bytes(chunks[late][1])) - 8
    damaged = data[:offset] + pngwrite.chunk(b"IDAT", bytes(body)) + data[offset + 12 + len(body) :]
    with pytest.raises(rewrap.NotRewrappable):
        rewrap.rewrap_png(rewrap.png_chunks(damaged))
    path.write_bytes(damaged)
    dest = tmp_path / "out" / "result.png"
    with pytest.raises(InputError):
        _save(path, data_dir / "coffee.png", dest)
    assert not dest.exists()


def test_a_jpeg_result_is_written_with_its_scan_unchanged(tmp_path: Path, data_dir: Path):
    # Written as its new head and a view of the vendor's scan data, in turn: the scan byte
    # for byte the vendor's, after a head of its own, and the pixels Pillow decodes.
    path, data = _vendor(tmp_path, "JPEG")
    dest = tmp_path / "out" / "result.jpg"
    imageio.save_result(path, source=data_dir / "coffee.png", destination=dest)
    written = dest.read_bytes()
    sos = data.index(b"\xff\xda")
    assert written.endswith(data[sos:]) and len(written) > len(data[sos:]) + 2
    with Image.open(dest) as im, Image.open(path) as orig:
        assert np.array_equal(np.asarray(im), np.asarray(orig))


CORPUS = Path(__file__).resolve().parents[2] / "data" / "pillow-images"


def test_pillows_own_files_written_as_they_are_decode_to_the_same_pixels(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    # Every PNG and JPEG of Pillow's test corpus, taken as a vendor's result: those written
    # around their own data (in pieces, views of the file) must decode, by Pillow, to exactly
    # the pixels of the original; the others are decoded and encoded as before.
    from retouchdesk.core import resultwrite

    as_is: list[str] = []
    write_as_is = resultwrite._write_as_is

    def spy(result, *args, **kwargs):
        kept = write_as_is(result, *args, **kwargs)
        if kept:
            as_is.append(Path(result).name)
        return kept

    monkeypatch.setattr(resultwrite, "_write_as_is", spy)
    files = sorted(p for p in CORPUS.iterdir() if p.suffix.lower() in (".png", ".jpg", ".jpeg"))
    for src in files:
        dest = tmp_path / f"out_{src.stem}{src.suffix}"
        try:
            imageio.save_result(src, source=src, destination=dest)
        except (InputError, OutputError):
            continue  # a damaged or unsupported file: refused with its sentence, as before
        if src.name in as_is:
            with Image.open(dest) as out, Image.open(src) as orig:
                assert np.array_equal(np.asarray(out), np.asarray(orig)), src.name
    assert len(as_is) >= 60, as_is  # 73 of the 110 today
