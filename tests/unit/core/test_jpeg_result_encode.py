"""A new JPEG result is the JPEG Pillow would have written, with its metadata, made faster.

The writer encodes new pixels with libjpeg-turbo through imagecodecs and sets the metadata
segments around the coded data. These tests hold it to what the earlier Pillow writer gave
(the reference here is Pillow itself, not our code): the same decoded pixels at the policy's
quality and subsampling, the same Huffman-optimised scan, and the source's EXIF, ICC and
XMP read back by Pillow.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from tests.photos import prophoto_icc

from retouchdesk.core import imageio

XMP = (
    b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF '
    b'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description '
    b'xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:creator>Ada</dc:creator>'
    b"</rdf:Description></rdf:RDF></x:xmpmeta>"
)


def _pixels(h: int, w: int) -> np.ndarray:
    rng = np.random.default_rng(11)
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    rgb = np.dstack([128 + 90 * np.sin(x / 37), 128 + 80 * np.cos(y / 23), (x + y) % 256])
    rgb += 4 * rng.standard_normal(rgb.shape, dtype=np.float32)
    return np.clip(rgb, 0, 255).astype(np.uint8)


def _scan(data: bytes) -> bytes:
    """The coded image from the first start-of-scan marker on."""
    return data[data.index(b"\xff\xda") :]


def _source(tmp_path: Path) -> Path:
    src = tmp_path / "photo.jpg"
    exif = Image.Exif()
    exif[0x010F] = "Camera Maker"  # Make
    exif[0x0112] = 1  # Orientation
    Image.fromarray(_pixels(60, 80)).save(
        src, quality=90, exif=exif.tobytes(), icc_profile=prophoto_icc(), xmp=XMP
    )
    return src


@pytest.mark.parametrize("quality", [95, 80])
def test_pixels_and_scan_are_pillows_at_the_policys_quality(tmp_path: Path, quality: int) -> None:
    src = _source(tmp_path)
    pixels = _pixels(301, 457)  # sizes that are not a multiple of the 8/16-pixel blocks
    dest = tmp_path / "result.jpg"
    imageio.save_result(
        pixels, source=src, destination=dest, policy=imageio.OutputPolicy(jpeg_quality=quality)
    )
    reference = io.BytesIO()
    Image.fromarray(pixels).save(
        reference,
        "JPEG",
        quality=quality,
        subsampling=0 if quality >= 90 else 2,
        optimize=True,
    )
    data = dest.read_bytes()
    assert _scan(data) == _scan(reference.getvalue())
    with Image.open(dest) as ours, Image.open(reference) as theirs:
        assert np.array_equal(np.asarray(ours), np.asarray(theirs))
        assert ours.info["icc_profile"] == prophoto_icc()
        assert ours.getexif()[0x010F] == "Camera Maker"
        assert ours.getexif()[0x0112] == 1
        assert XMP in ours.info["xmp"]
        assert "jfif" in ours.info  # still a JFIF file, as Pillow wrote it


def test_a_grey_result_from_a_one_pixel_channel_view_is_written(tmp_path: Path) -> None:
    """A grey source's neutral result is folded to one channel, a view with a stride of 3;
    numpy calls a 1x1 view contiguous, and the encoder needs it packed."""
    src = tmp_path / "grey.jpg"
    Image.new("L", (1, 1), 77).save(src)
    dest = tmp_path / "grey_result.jpg"
    imageio.save_result(np.full((1, 1, 3), 77, np.uint8), source=src, destination=dest)
    with Image.open(dest) as im:
        assert im.mode == "L" and im.size == (1, 1)
        assert abs(int(im.getpixel((0, 0))) - 77) <= 1
