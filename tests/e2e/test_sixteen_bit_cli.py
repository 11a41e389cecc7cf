"""A 16-bit ProPhoto RGB TIFF stored rotated, as Lightroom's "Edit in" hands it over, through
the real CLI: the offline engine returns a 16-bit upright TIFF, Enhancor (its loopback
emulator, fed through the app's hosting) an upright 8-bit one; both keep the ICC profile.

The photo is written by tifffile and the results are read back by tifffile and Pillow, not
by the app's own reader.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import tifffile
from PIL import Image
from tests.e2e.clienv import FAST_RETRIES
from tests.e2e.test_cloud_cli import ENH_KEY, enhancor_env, only_result, run
from tests.photos import prophoto_icc, rotated_prophoto_tiff

pytestmark = pytest.mark.timeout(180)


def _page(path: Path) -> tuple[np.ndarray, dict[int, object]]:
    with tifffile.TiffFile(path) as tif:
        page = tif.pages.first
        return page.asarray(), {t.code: t.value for t in page.tags}


@pytest.mark.slow
def test_local_colour_correction_keeps_16_bits_upright_and_the_profile(cli_env, tmp_path: Path):
    photo = tmp_path / "edit in lightroom.tif"
    upright = rotated_prophoto_tiff(photo)
    original = photo.read_bytes()
    out = tmp_path / "out"
    r = run(cli_env, "--provider", "local", "--op", "color_correction", "--set", "strength=0",
            str(photo), "-o", str(out), cwd=tmp_path)  # fmt: skip
    assert r.returncode == 0, r.stdout + r.stderr
    assert "Warning" not in r.stderr and "Traceback" not in r.stderr  # terminal stays clean
    result = only_result(out)
    assert result.suffix == ".tif"
    pixels, tags = _page(result)
    assert pixels.dtype == np.uint16 and pixels.shape == upright.shape  # 16-bit, upright
    assert np.abs(pixels.astype(np.int32) - upright).max() <= 1  # identity, all 16 bits
    assert tags[34675] == prophoto_icc()  # the very same profile
    assert tags.get(274, 1) == 1  # no viewer may rotate it again
    assert tags[259] in (8, 32946)  # Deflate in, Deflate out (same compression family)
    assert tags[271] == "TestCam"  # descriptive tags carried, as tags
    with Image.open(result) as im:  # another reader agrees
        assert im.size == (upright.shape[1], upright.shape[0])
        assert im.info["icc_profile"] == prophoto_icc()
    assert photo.read_bytes() == original


def test_enhancor_gets_an_upright_copy_and_the_result_is_upright_8_bit_with_the_profile(
    emulator, cli_env, tmp_path: Path
):
    emu = emulator("enhancor", api_key=ENH_KEY, time_scale=0.1)
    photo = tmp_path / "portrait.tif"
    upright = rotated_prophoto_tiff(photo)
    out = tmp_path / "out"
    r = run(enhancor_env({**cli_env, **FAST_RETRIES}, emu), "--provider", "enhancor",
            "--op", "realistic_skin",
            str(photo), "-o", str(out), cwd=tmp_path)  # fmt: skip
    assert r.returncode == 0, r.stdout + r.stderr
    (job,) = emu.jobs.values() if isinstance(emu.jobs, dict) else emu.jobs
    sent = Image.open(__import__("io").BytesIO(job.image))
    # The vendor ignores orientation tags: what it fetched must already be upright, 8-bit
    assert sent.size == (upright.shape[1], upright.shape[0])
    assert sent.mode == "RGB" and sent.getexif().get(274, 1) == 1
    result = only_result(out)
    pixels, tags = _page(result)
    assert pixels.dtype == np.uint8 and pixels.shape == upright.shape  # upright, 8-bit
    assert tags[34675] == prophoto_icc()
    assert tags.get(274, 1) == 1
    # Upright: the stored left (red) half is now the top half, the blue half the bottom
    h = pixels.shape[0]
    top, bottom = pixels[: h // 2 - 8].mean(axis=(0, 1)), pixels[h // 2 + 8 :].mean(axis=(0, 1))
    assert top[0] > 150 and top[2] < 60 and bottom[2] > 150 and bottom[0] < 100
