"""Image I/O: every format and mode opens upright, bad files are refused plainly, results carry
the source's metadata and are written atomically, never over the source."""

from __future__ import annotations

import functools
import hashlib
import io
import struct
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image, ImageCms

from retouchdesk.core import imageio
from retouchdesk.core.errors import InputError, OutputError

ORIENTATION, MAKE, GPS = 0x0112, 0x010F, 0x8825
XMP = b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:Description tiff:Orientation="6"/></x:xmpmeta>'


@functools.cache
def _srgb() -> bytes:
    # cached: the profile holds its creation time, so two calls a second apart differ
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def _two_colour(w: int = 60, h: int = 40) -> Image.Image:
    """Left half red, right half blue: shows where a rotation put things."""
    a = np.zeros((h, w, 3), np.uint8)
    a[:, : w // 2] = (255, 0, 0)
    a[:, w // 2 :] = (0, 0, 255)
    return Image.fromarray(a)


def _exif(orientation: int = 6, gps: bool = True) -> bytes:
    ex = Image.Exif()
    ex[ORIENTATION] = orientation
    ex[MAKE] = "TestCam"
    if gps:
        g = ex.get_ifd(GPS)
        g[1] = "N"
        g[2] = (48.0, 51.0, 24.0)
    return ex.tobytes()


@pytest.fixture
def rotated_jpeg(tmp_path: Path) -> Path:
    """A 60x40 stored JPEG whose EXIF says 'rotate 90° clockwise' (orientation 6)."""
    p = tmp_path / "rotated.jpg"
    _two_colour().save(p, exif=_exif(6), icc_profile=_srgb(), xmp=XMP, quality=95)
    return p


def _sha(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


# -- reading ----------------------------------------------------------------------------------


def test_probe_reports_upright_size_and_header_facts(rotated_jpeg: Path, data_dir: Path):
    info = imageio.probe(rotated_jpeg)
    assert (info.width, info.height) == (40, 60)  # stored 60x40, shown rotated
    assert info.format == "jpeg" and info.orientation == 6 and info.bit_depth == 8
    assert info.size_bytes == rotated_jpeg.stat().st_size
    png = imageio.probe(data_dir / "astronaut.png")
    assert (png.width, png.height, png.format, png.has_alpha) == (512, 512, "png", False)


def test_load_applies_exif_orientation(rotated_jpeg: Path):
    loaded = imageio.load_image(rotated_jpeg)
    a = imageio.to_array(loaded.image)
    assert a.shape == (60, 40, 3)
    # Orientation 6 = rotate 90° clockwise for display: the red left half ends up on top.
    assert a[5, 20, 0] > 200 and a[5, 20, 2] < 60
    assert a[55, 20, 2] > 200 and a[55, 20, 0] < 60
    assert loaded.meta.orientation == 6 and loaded.meta.icc == _srgb()
    assert loaded.meta.xmp and b"Orientation" in loaded.meta.xmp


@pytest.mark.parametrize("fmt,ext", [("PNG", "png"), ("TIFF", "tif"), ("WEBP", "webp")])
def test_common_formats_open(tmp_path: Path, fmt: str, ext: str):
    src = _two_colour()
    p = tmp_path / f"photo.{ext}"
    src.save(p, format=fmt, **({"lossless": True} if fmt == "WEBP" else {}))
    a = imageio.to_array(imageio.load_image(p).image)
    assert a.shape == (40, 60, 3)
    assert np.array_equal(a, np.asarray(src))


def test_heic_opens(tmp_path: Path):
    p = tmp_path / "phone.heic"
    Image.new("RGB", (64, 48), (200, 10, 10)).save(p)
    info = imageio.probe(p)
    assert info.format == "heic" and (info.width, info.height) == (64, 48)
    px = imageio.to_array(imageio.load_image(p).image)[10, 10]
    assert abs(int(px[0]) - 200) < 12 and px[1] < 30


def test_png_16_bit_rgb_kept_when_asked(tmp_path: Path):
    rng = np.random.default_rng(1)
    a16 = rng.integers(0, 65536, size=(20, 30, 3), dtype=np.uint16)
    p = tmp_path / "deep.png"
    cv2.imwrite(str(p), cv2.cvtColor(a16, cv2.COLOR_RGB2BGR))
    assert imageio.probe(p).bit_depth == 16
    loaded = imageio.load_image(p)
    assert loaded.meta.bit_depth == 16 and any("8 bits" in n for n in loaded.notes)
    a8 = imageio.to_array(loaded.image)
    assert np.abs(a8.astype(int) - (a16 >> 8).astype(int)).max() <= 1
    deep = imageio.load_array(p, keep_16bit=True)
    assert deep.dtype == np.uint16 and np.array_equal(deep, a16)


def test_grey_16_bit_cmyk_palette_and_alpha_modes(tmp_path: Path):
    g16 = (np.linspace(0, 65535, 30 * 20).reshape(20, 30)).astype(np.uint16)
    cv2.imwrite(str(tmp_path / "g16.png"), g16)
    grey = imageio.to_array(imageio.load_image(tmp_path / "g16.png").image)
    assert grey.shape == (20, 30, 3) and grey[-1, -1, 0] == 255 and grey[0, 0, 0] == 0

    Image.new("CMYK", (10, 10), (0, 255, 255, 0)).save(tmp_path / "c.jpg")  # pure red ink
    red = imageio.to_array(imageio.load_image(tmp_path / "c.jpg").image)[5, 5]
    assert red[0] > 200 and red[1] < 60 and red[2] < 60

    pal = Image.new("P", (10, 10), 0)
    pal.putpalette([0, 0, 0, 255, 0, 0] + [0] * 762)
    pal.putpixel((1, 1), 1)
    pal.info["transparency"] = 0
    pal.save(tmp_path / "p.png", transparency=0)
    rgba = imageio.to_array(imageio.load_image(tmp_path / "p.png").image)
    assert (
        rgba.shape == (10, 10, 4) and rgba[0, 0, 3] == 0 and tuple(rgba[1, 1]) == (255, 0, 0, 255)
    )

    Image.new("LA", (8, 8), (128, 40)).save(tmp_path / "la.png")
    la = imageio.load_image(tmp_path / "la.png").image
    assert la.mode == "RGBA" and la.getpixel((0, 0)) == (128, 128, 128, 40)


def _png_header_only(path: Path, w: int, h: int) -> None:
    """A valid PNG header claiming w x h with one tiny IDAT: a decompression bomb's shape."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    ihdr = struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b"\0" * 64))
        + chunk(b"IEND", b"")
    )


def test_bad_files_are_refused_with_the_file_named(tmp_path: Path, rotated_jpeg: Path):
    empty = tmp_path / "empty.jpg"
    empty.write_bytes(b"")
    text = tmp_path / "notes.png"
    text.write_text("not an image at all")
    cut = tmp_path / "cut.jpg"
    data = rotated_jpeg.read_bytes()
    cut.write_bytes(data[: len(data) // 2])
    bomb = tmp_path / "bomb.png"
    _png_header_only(bomb, 20000, 20000)
    cases = {
        empty: "empty",
        text: "not an image",
        cut: "truncated",
        bomb: "too large",
        tmp_path / "missing.png": "does not exist",
    }
    for path, words in cases.items():
        with pytest.raises(InputError) as err:
            imageio.load_image(path)
        assert path.name in str(err.value) and words in str(err.value)
    with pytest.raises(InputError, match="bomb"):
        imageio.probe(bomb)  # the header alone is enough to refuse it


# -- PIL <-> numpy -----------------------------------------------------------------------------


def test_array_round_trips():
    rgb = np.random.default_rng(2).integers(0, 256, (7, 9, 3), dtype=np.uint8)
    assert np.array_equal(imageio.to_array(imageio.from_array(rgb)), rgb)
    rgba = np.dstack([rgb, np.full((7, 9), 77, np.uint8)])
    assert np.array_equal(imageio.to_array(imageio.from_array(rgba)), rgba)
    assert imageio.from_array(rgb[:, :, 0]).mode == "L"
    assert imageio.from_array(np.full((2, 2), 1000, np.uint16)).mode == "I;16"
    half = imageio.to_array(imageio.from_array(np.full((2, 2, 3), 0.5, np.float32)))
    assert half[0, 0, 0] == 128


# -- writing -----------------------------------------------------------------------------------


@pytest.mark.parametrize("ext", ["jpg", "png", "tif", "webp"])
def test_result_carries_metadata_with_orientation_reset(tmp_path: Path, rotated_jpeg: Path, ext):
    before = _sha(rotated_jpeg)
    upright = imageio.load_image(rotated_jpeg).image
    dest = tmp_path / "out" / f"result.{ext}"
    imageio.save_result(
        upright, source=rotated_jpeg, destination=dest, policy=imageio.OutputPolicy()
    )
    with Image.open(dest) as out:
        exif = out.getexif()
        assert out.size == (40, 60)
        assert exif.get(ORIENTATION) == 1  # pixels are upright: no viewer may rotate again
        assert exif.get(MAKE) == "TestCam"
        assert dict(exif.get_ifd(GPS))  # GPS kept by default
        assert out.info.get("icc_profile") == _srgb()
        xmp = imageio._raw_xmp(out)
        assert xmp and b'tiff:Orientation="1"' in xmp
    assert _sha(rotated_jpeg) == before
    assert not [p for p in dest.parent.iterdir() if p.name != dest.name]  # no temp file left
    assert dest.stat().st_mode & 0o044  # readable like any saved file, not a private temp


def test_the_srgb_profile_written_is_the_same_bytes_at_any_time():
    """lcms dates a profile to the second it is built: the app's sRGB profile carries a fixed
    date, so results written at different times (or processes) get the same profile bytes."""
    built = imageio.srgb_profile()
    fresh = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    assert built[:24] == fresh[:24] and built[36:] == fresh[36:]  # all but the date
    assert struct.unpack(">6H", built[24:36]) == (2000, 1, 1, 0, 0, 0)
    profile = ImageCms.ImageCmsProfile(io.BytesIO(built))
    assert "sRGB" in ImageCms.getProfileDescription(profile)


def test_gps_dropped_and_metadata_switches(tmp_path: Path, rotated_jpeg: Path):
    img = imageio.load_image(rotated_jpeg).image
    policy = imageio.OutputPolicy(keep_gps=False, keep_icc=False, keep_xmp=False)
    dest = imageio.save_result(
        img, source=rotated_jpeg, destination=tmp_path / "r.jpg", policy=policy
    )
    with Image.open(dest) as out:
        exif = out.getexif()
        assert exif.get(MAKE) == "TestCam" and not dict(exif.get_ifd(GPS))
        assert "icc_profile" not in out.info and not imageio._raw_xmp(out)
    dest2 = imageio.save_result(
        img,
        source=rotated_jpeg,
        destination=tmp_path / "r2.jpg",
        policy=imageio.OutputPolicy(keep_exif=False),
    )
    with Image.open(dest2) as out:
        assert MAKE not in out.getexif()


def test_never_writes_the_source(tmp_path: Path, rotated_jpeg: Path):
    before = _sha(rotated_jpeg)
    img = imageio.load_image(rotated_jpeg).image
    with pytest.raises(OutputError, match="original"):
        imageio.save_result(img, source=rotated_jpeg, destination=rotated_jpeg)
    link = tmp_path / "sub" / ".." / rotated_jpeg.name
    (tmp_path / "sub").mkdir()
    with pytest.raises(OutputError):
        imageio.save_result(img, source=rotated_jpeg, destination=link)
    assert _sha(rotated_jpeg) == before


def test_output_in_a_file_path_is_a_plain_error(tmp_path: Path, rotated_jpeg: Path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(OutputError):
        imageio.save_result(_two_colour(), source=rotated_jpeg, destination=blocker / "r.png")


def test_alpha_result_to_jpeg_is_flattened_and_formats_chosen(tmp_path: Path, rotated_jpeg: Path):
    rgba = np.zeros((10, 10, 4), np.uint8)
    rgba[..., 3] = 0
    dest = imageio.save_result(
        imageio.from_array(rgba), source=rotated_jpeg, destination=tmp_path / "flat.jpg"
    )
    with Image.open(dest) as out:
        assert out.mode == "RGB" and min(out.getpixel((5, 5))) > 245  # transparent -> white
    pol = imageio.OutputPolicy(format="same")
    assert imageio.output_format(pol, "jpeg", has_alpha=True) == "png"
    assert imageio.output_format(pol, "heic") == "jpeg"
    assert imageio.output_format(imageio.OutputPolicy(format="webp"), "png") == "webp"
    assert imageio.extension_for("tiff") == "tif" and imageio.format_for_path("x.JPG") == "jpeg"


def test_provider_file_result_is_reencoded_with_source_metadata(tmp_path: Path, rotated_jpeg: Path):
    vendor = tmp_path / "vendor.jpg"
    _two_colour(40, 60).save(vendor, quality=90)  # a provider's upright JPEG, no metadata
    dest = imageio.save_result(vendor, source=rotated_jpeg, destination=tmp_path / "final.jpg")
    with Image.open(dest) as out:
        assert out.size == (40, 60) and out.getexif().get(MAKE) == "TestCam"
        assert out.getexif().get(ORIENTATION) == 1
    with pytest.raises(OutputError):
        imageio.save_result(vendor, source=rotated_jpeg, destination=vendor)
