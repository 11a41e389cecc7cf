"""Export: a 16-bit TIFF, an sRGB JPEG without GPS and a WebP from one version.

The version is a Display P3 JPEG with camera EXIF, a GPS block and the recipe in its XMP. Each
export is opened by another library (tifffile for the TIFF, Pillow for JPEG and WebP) and its
pixels, size, profile and metadata are checked.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageCms

from retouchdesk.core import export as ex
from retouchdesk.core import iccprofiles, imageio
from retouchdesk.core import recipe as rc
from retouchdesk.core.errors import OutputError

RECIPE = rc.Recipe([rc.Step("local", "upscale", {"scale": 2})], source_sha256="c" * 64)
P3_RED = (234, 51, 35)  # sRGB's pure red written in Display P3


@pytest.fixture
def version(tmp_path: Path, data_dir: Path) -> Path:
    """A result-like file: P3 pixels with a red patch, EXIF with GPS, recipe XMP."""
    with Image.open(data_dir / "chelsea.png") as im:
        base = np.asarray(im.convert("RGB")).copy()  # 451 x 300
    base[10:60, 10:60] = P3_RED
    src = tmp_path / "camera.jpg"
    exif = Image.Exif()
    exif[0x010F] = "Retouch Cam"  # Make
    exif[0x0110] = "RC-1"  # Model
    exif.get_ifd(0x8825).update({1: "N", 2: (52.0, 31.0, 12.0), 3: "E", 4: (13.0, 24.0, 0.0)})
    Image.fromarray(base).save(
        src, quality=97, subsampling=0, exif=exif, icc_profile=iccprofiles.display_p3()
    )
    out = tmp_path / "versions" / "camera_upscale.jpg"
    out.parent.mkdir()
    return imageio.save_result(src, source=src, destination=out, recipe=RECIPE)


def test_sixteen_bit_tiff_read_by_tifffile(version: Path, tmp_path: Path) -> None:
    import tifffile

    opts = ex.ExportOptions(format="tiff", bit_depth=16, long_side=300, template="{stem}_{size}")
    out = ex.export(version, tmp_path / "out", opts)
    assert out.name == "camera_upscale_300x200.tif"
    with tifffile.TiffFile(out) as tf:
        page = tf.pages[0]
        arr = page.asarray()
        assert arr.dtype == np.uint16 and arr.shape == (200, 300, 3)
        icc = bytes(page.tags[34675].value)
        xmp = bytes(page.tags[700].value)
    assert icc == iccprofiles.display_p3()  # colour kept: still P3, still labelled
    assert rc.from_xmp(xmp) == RECIPE  # the version's provenance goes with it
    with Image.open(version) as im:
        ref = np.asarray(im.convert("RGB").resize((300, 200), Image.Resampling.BOX), np.float32)
    assert np.abs(arr / 257.0 - ref).mean() < 2.0
    assert len(np.unique(arr)) > 256  # real 16-bit values, not 8-bit ones spread


def test_srgb_jpeg_without_gps(version: Path, tmp_path: Path) -> None:
    opts = ex.ExportOptions(format="jpeg", quality=95, colour="srgb", metadata="nogps")
    out = ex.export(version, tmp_path / "out", opts)
    with Image.open(out) as im:
        assert im.format == "JPEG" and im.size == (451, 300)
        prof = ImageCms.ImageCmsProfile(io.BytesIO(im.info["icc_profile"]))
        assert "sRGB" in ImageCms.getProfileDescription(prof)
        exif = im.getexif()
        assert exif.get(0x010F) == "Retouch Cam" and exif.get(0x0110) == "RC-1"
        assert 0x8825 not in exif and not exif.get_ifd(0x8825)
        patch = np.asarray(im.convert("RGB"))[20:50, 20:50].reshape(-1, 3).mean(axis=0)
    # P3 (234, 51, 35) is sRGB (255, 0, 0): converted, not relabelled.
    assert np.abs(patch - (255, 0, 0)).max() < 6, patch
    assert rc.read_from_file(out) == RECIPE
    # The version itself still has its GPS (exports never touch it).
    with Image.open(version) as im:
        assert im.getexif().get_ifd(0x8825)


def test_webp_resized_sharpened_without_metadata(version: Path, tmp_path: Path) -> None:
    opts = ex.ExportOptions(
        format="webp",
        quality=80,
        long_side=240,
        sharpen=0.6,
        metadata="none",
        template="{stem}-{n}",
    )
    out = ex.export(version, tmp_path / "out", opts, n=7)
    assert out.name == "camera_upscale-7.webp"
    with Image.open(out) as im:
        assert im.format == "WEBP" and im.size == (240, 160)
        assert not im.info.get("exif") and not im.info.get("xmp")
        # The profile is colour, not metadata: P3 pixels stay labelled P3.
        assert im.info.get("icc_profile") == iccprofiles.display_p3()
        sharp = np.asarray(im.convert("L"), np.float32)
    plain = ex.export(
        version,
        tmp_path / "out",
        ex.ExportOptions(format="webp", quality=80, long_side=240, metadata="none"),
    )
    with Image.open(plain) as im:
        soft = np.asarray(im.convert("L"), np.float32)

    # Output sharpening raises local contrast (the Laplacian's energy), nothing else.
    def energy(a: np.ndarray) -> float:
        return float(np.abs(np.diff(a, axis=0)).mean() + np.abs(np.diff(a, axis=1)).mean())

    assert energy(sharp) > energy(soft) * 1.1
    assert abs(sharp.mean() - soft.mean()) < 2.0
    assert plain.name == "camera_upscale.webp"
    again = ex.export(version, tmp_path / "out", ex.ExportOptions(format="webp", metadata="none"))
    assert again.name == "camera_upscale_2.webp"  # never over an earlier export


@pytest.mark.parametrize(
    ("opts", "words"),
    [
        (ex.ExportOptions(format="jpeg", bit_depth=16), "8 bits"),
        (ex.ExportOptions(template="{stem}_{camera}"), "{camera}"),
        (ex.ExportOptions(format="gif"), "format"),
    ],
)
def test_impossible_choices_are_one_sentence(version: Path, tmp_path: Path, opts, words) -> None:
    with pytest.raises(OutputError) as err:
        ex.export(version, tmp_path / "out", opts)
    assert words in str(err.value) and "\n" not in str(err.value)
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_p3_conversion_agrees_with_littlecms_and_round_trips_in_16_bits() -> None:
    rng = np.random.default_rng(3)
    rgb = rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)
    ours = iccprofiles.convert_pixels(rgb, "srgb", "p3")
    theirs = ImageCms.profileToProfile(
        Image.fromarray(rgb),
        ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")),
        ImageCms.ImageCmsProfile(io.BytesIO(iccprofiles.display_p3())),
        outputMode="RGB",
    )
    assert np.abs(ours.astype(int) - np.asarray(theirs).astype(int)).max() <= 2
    wide = rng.integers(0, 65536, (64, 64, 3), dtype=np.uint16)
    inside = iccprofiles.convert_pixels(
        iccprofiles.convert_pixels(wide, "srgb", "p3"), "p3", "srgb"
    )
    # sRGB fits inside P3: back within 16 of 65535 codes (a 16th of one 8-bit step).
    assert np.abs(inside.astype(int) - wide.astype(int)).max() <= 16
