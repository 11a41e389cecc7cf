"""Issue 11's cases one by one: exact TIFFs, metadata that fits, cheap refusals, plain words.

Files are made here (Pillow, tifffile, hand-built ICC profiles) and results are read back by
Pillow and tifffile, never by the app's own reader.
"""

from __future__ import annotations

import struct
import time
import tracemalloc
import warnings
import zlib
from pathlib import Path

import numpy as np
import pytest
import tifffile
from PIL import Image
from tests.photos import grey_icc, prophoto_icc

from retouchdesk.core import imageio
from retouchdesk.core.errors import InputError
from retouchdesk.core.schema import load_catalog
from retouchdesk.providers.local.runner import run_operation
from retouchdesk.services import inputs

DATA = Path(__file__).resolve().parents[2] / "data"
CORPUS = DATA / "pillow-images"


def _tiff_tags(path: Path) -> dict[int, object]:
    with tifffile.TiffFile(path) as tif:
        return {t.code: t.value for t in tif.pages.first.tags}


# -- writing is exact -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "compression"),
    [("hopper_lzw.tif", (8, 32946)), ("hopper.tif", (1,)), ("tiff_adobe_deflate.tif", (8, 32946))],
)
def test_a_tiff_result_is_a_valid_tiff_in_the_same_compression_family(
    tmp_path: Path, name: str, compression: tuple[int, ...]
):
    src = CORPUS / name
    dest = tmp_path / "out.tif"
    imageio.save_result(imageio.load_pixels(src).array, source=src, destination=dest)
    tags = _tiff_tags(dest)
    assert tags[259] in compression
    for structural in (273, 279, 258):  # its own strips and depth, not the source's
        assert structural in tags
    with Image.open(src) as a, Image.open(dest) as b:
        assert np.array_equal(np.asarray(a.convert("RGB")), np.asarray(b.convert("RGB")))


def test_sixteen_bit_png_round_trip_with_metadata(tmp_path: Path):
    deep = (np.random.default_rng(1).random((30, 40, 4)) * 65535).astype(np.uint16)
    src = tmp_path / "src.png"
    Image.new("RGB", (40, 30)).save(src, icc_profile=prophoto_icc())
    dest = tmp_path / "out.png"
    report: dict = {}
    imageio.save_result(deep, source=src, destination=dest, report=report)
    assert report["bit_depth"] == 16
    import cv2

    back = cv2.imread(str(dest), cv2.IMREAD_UNCHANGED)
    assert back.dtype == np.uint16 and np.array_equal(back[:, :, [2, 1, 0, 3]], deep)
    with Image.open(dest) as im:
        assert im.info["icc_profile"] == prophoto_icc()


# -- metadata that fits -------------------------------------------------------------------------


def _raw_exif(entries: list[tuple[int, int, int, bytes]]) -> bytes:
    out = b"II*\x00" + struct.pack("<I", 8) + struct.pack("<H", len(entries))
    for tag, typ, count, value in entries:
        out += struct.pack("<HHI", tag, typ, count) + value
    return b"Exif\x00\x00" + out + struct.pack("<I", 0)


def test_one_malformed_exif_tag_is_skipped_and_the_45_others_kept(tmp_path: Path):
    good = [(0xC000 + i, 2, 3, b"%02d\x00\x00" % i) for i in range(45)]  # "NN" + NUL, padded
    bad = (0x011A, 2, 4, b"abc\x00")  # XResolution must be a rational, not text
    src = tmp_path / "camera.jpg"
    Image.new("RGB", (32, 24), (90, 120, 150)).save(src, exif=_raw_exif([*good, bad]))
    dest = tmp_path / "out.jpg"
    imageio.save_result(imageio.load_pixels(src).array, source=src, destination=dest)
    with Image.open(dest) as im:
        exif = im.getexif()
    assert {t for t in exif if t >= 0xC000} == {0xC000 + i for i in range(45)}
    assert 0x011A not in exif


def test_jpeg_output_leaves_out_what_jpeg_cannot_hold_with_a_note(tmp_path: Path):
    src = tmp_path / "heavy.png"
    xmp = b'<x:xmpmeta xmlns:x="adobe:ns:meta/">' + b"<!-- padding -->" * 5000 + b"</x:xmpmeta>"
    exif = Image.Exif()
    exif[0x010F] = "TestCam"
    exif.get_ifd(0x8769)[0x9286] = b"ASCII\x00\x00\x00" + b"x" * 70_000  # a 70 KB UserComment
    info = __import__("PIL.PngImagePlugin", fromlist=["PngInfo"]).PngInfo()
    info.add_itxt("XML:com.adobe.xmp", xmp.decode())
    Image.new("RGB", (32, 24), (10, 200, 30)).save(src, exif=exif.tobytes(), pnginfo=info)
    dest = tmp_path / "out.jpg"
    report: dict = {}
    imageio.save_result(imageio.load_pixels(src).array, source=src, destination=dest, report=report)
    notes = " ".join(report["notes"])
    assert "XMP" in notes and "EXIF" in notes  # said, not a traceback
    with Image.open(dest) as im:
        im.load()
        assert im.size == (32, 24)


def test_grey_icc_stays_with_grey_output(tmp_path: Path):
    src = tmp_path / "scan.jpg"
    ramp = np.tile(np.arange(0, 256, 4, dtype=np.uint8), (20, 1))
    Image.fromarray(ramp, "L").save(src, icc_profile=grey_icc(), quality=95)
    for ext in ("jpg", "png", "tif"):
        out = tmp_path / f"out.{ext}"
        summary = run_operation("color_correction", src, {"strength": 0}, out)
        assert summary["width"] == ramp.shape[1]
        with Image.open(out) as im:
            assert im.mode in ("L", "I;16"), ext
            assert im.info.get("icc_profile") == grey_icc(), ext


# -- refuse cheaply, name precisely -------------------------------------------------------------


def _png(width: int, height: int, idat: bytes, *, crc_ok: bool = True) -> bytes:
    def chunk(kind: bytes, data: bytes, ok: bool = True) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc ^ (0 if ok else 1))
        )

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr, crc_ok)
        + chunk(b"IDAT", idat)
        + chunk(b"IEND", b"")
    )


def test_a_bad_crc_is_damaged_not_an_unknown_file(tmp_path: Path):
    bad = tmp_path / "png_bad_crc.png"
    bad.write_bytes(_png(4, 4, zlib.compress(b"\0" * (4 * 13)), crc_ok=False))
    with pytest.raises(InputError, match=r"^png_bad_crc\.png: the image is damaged"):
        imageio.load_pixels(bad)
    notes = tmp_path / "notes.png"
    notes.write_text("shopping list")
    with pytest.raises(InputError, match="not an image file"):
        imageio.load_pixels(notes)


def test_a_valid_webp_in_tiff_opens(tmp_path: Path):
    pixels = imageio.load_pixels(CORPUS / "hopper_webp.tif")
    with Image.open(CORPUS / "hopper.tif") as ref:
        diff = np.abs(pixels.array.astype(int) - np.asarray(ref.convert("RGB")).astype(int))
    assert pixels.size == (128, 128) and diff.mean() < 8  # lossy WebP, same picture


def test_a_huge_declared_size_is_refused_from_the_header(tmp_path: Path):
    # A small file that declares 14000 x 14000 = 196 MP (below the bomb limit, above the op's)
    bomb = tmp_path / "declared.png"
    bomb.write_bytes(_png(14000, 14000, zlib.compress(b"\0" * 1000)))
    op = load_catalog().operation("local", "color_correction")
    tracemalloc.start()
    started = time.monotonic()
    with pytest.raises(InputError, match=r"^declared\.png cannot be used .*megapixels"):
        inputs.prepare_image(bomb, op, tmp_path / "work", fit=False, local=True)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 20_000_000 and time.monotonic() - started < 5  # nothing was decoded


def test_degenerate_photos_get_a_result_without_warnings(tmp_path: Path):
    black = tmp_path / "black.png"
    Image.new("RGB", (64, 48), (0, 0, 0)).save(black)
    thin = tmp_path / "thin.png"
    Image.new("RGB", (1, 50), (120, 60, 30)).save(thin)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a NaN white balance used to warn here
        run_operation("color_correction", black, {}, tmp_path / "black_out.png")
        run_operation("color_correction", thin, {}, tmp_path / "thin_out.png")
    with Image.open(tmp_path / "black_out.png") as im:
        assert np.asarray(im).max() == 0
    with Image.open(tmp_path / "thin_out.png") as im:
        assert im.size == (1, 50)


# -- upright everywhere ------------------------------------------------------------------------


def test_a_remote_provider_gets_an_upright_copy_and_the_offline_engine_the_photo(tmp_path: Path):
    src = CORPUS / "hopper_orientation_6.jpg"
    catalog = load_catalog()
    remote = inputs.prepare_image(
        src, catalog.operation("enhancor", "realistic_skin"), tmp_path, fit=False, local=False
    )
    with Image.open(src) as im:
        from PIL import ImageOps

        upright = ImageOps.exif_transpose(im)
    with Image.open(remote.send) as sent:
        assert sent.size == upright.size and sent.getexif().get(0x0112, 1) == 1
        diff = np.abs(np.asarray(sent).astype(int) - np.asarray(upright).astype(int))
        assert diff.mean() < 3
    local = inputs.prepare_image(
        src, catalog.operation("local", "color_correction"), tmp_path, fit=False, local=True
    )
    assert local.send == src  # it applies the orientation itself, keeping 16 bits where any


def test_a_cmyk_tiff_with_a_long_header_to_jpeg_has_no_traceback(tmp_path: Path):
    # 20000 one-row strips: 160 KB of strip offsets and counts that used to be copied as "EXIF"
    src = tmp_path / "press.tif"
    cmyk = np.zeros((20000, 8, 4), np.uint8)
    cmyk[:, :, 1] = 200
    fake_profile = b"\0" * 16 + b"CMYK" + b"\0" * 80_000  # a large (unusable) CMYK profile
    tifffile.imwrite(src, cmyk, photometric="separated", rowsperstrip=1, iccprofile=fake_profile)
    dest = tmp_path / "press.jpg"
    report: dict = {}
    policy = imageio.OutputPolicy(format="jpeg")
    imageio.save_result(
        imageio.load_pixels(src).array, source=src, destination=dest, policy=policy, report=report
    )
    with Image.open(dest) as im:
        im.load()
        assert im.size == (8, 20000) and im.mode == "RGB"
        assert len(im.info.get("exif", b"")) < 1000  # no copied TIFF header


def test_the_copy_sent_to_a_remote_provider_says_what_it_changed(tmp_path: Path):
    from tests.photos import rotated_prophoto_tiff

    src = tmp_path / "edit.tif"
    rotated_prophoto_tiff(src, 64, 48)
    op = load_catalog().operation("enhancor", "realistic_skin")
    sent = inputs.prepare_image(src, op, tmp_path / "work", fit=False, local=False)
    assert sent.send.suffix == ".png"  # lossless, in a format Enhancor accepts
    text = " ".join(sent.notes)
    assert "upright" in text and "PNG" in text and "8 bits" in text
    tags = _tiff_tags(src)
    assert tags[274] == 6  # the original is untouched
