"""The engine's post-processing hook: protect the outside of the mask on a downloaded result."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from retouchdesk.core.errors import InputError
from retouchdesk.core.imageio import load_array
from retouchdesk.services import postprocess


@pytest.fixture
def job(tmp_path: Path, data_dir: Path) -> tuple[Path, Path, Path]:
    original = data_dir / "coffee.png"
    arr = load_array(original)
    result = tmp_path / "download.jpg"  # cloud results are often JPEG: lossy everywhere
    Image.fromarray(np.clip(arr.astype(int) + 30, 0, 255).astype(np.uint8)).save(result, quality=90)
    mask = np.zeros(arr.shape[:2], np.uint8)
    cv2.circle(mask, (300, 200), 80, 255, -1)
    mask_path = tmp_path / "mask.png"
    Image.fromarray(mask, "L").save(mask_path)
    return original, result, mask_path


def test_no_options_leave_the_result_alone(job, tmp_path: Path) -> None:
    original, result, _ = job
    done = postprocess.apply({"fit_limits": True}, original, result, tmp_path / "work")
    assert done.path == result and done.meta == {}


def test_protect_outside_on_a_jpeg_result(job, tmp_path: Path) -> None:
    original, result, mask_path = job
    opts = postprocess.protect_option(mask_path, feather=5)
    done = postprocess.apply(opts, original, result, tmp_path / "work")
    assert done.path.suffix == ".png" and done.meta["protected_outside"] is True
    out, orig = load_array(done.path), load_array(original)
    mask = np.asarray(Image.open(mask_path))
    assert np.array_equal(out[mask == 0], orig[mask == 0])  # JPEG noise gone outside too
    assert done.meta["changed_inside"] > 0.9


def test_upscaled_result_is_protected_at_its_size(job, tmp_path: Path) -> None:
    original, result, mask_path = job
    big = tmp_path / "big.png"
    Image.open(result).resize((1200, 800), Image.Resampling.LANCZOS).save(big)
    done = postprocess.apply(postprocess.protect_option(mask_path), original, big, tmp_path / "w")
    assert Image.open(done.path).size == (1200, 800)


def test_missing_or_wrong_size_mask_is_a_plain_error(job, tmp_path: Path) -> None:
    original, result, mask_path = job
    with pytest.raises(InputError, match=r"mask gone\.png that protects coffee\.png is missing"):
        postprocess.apply(
            postprocess.protect_option(tmp_path / "gone.png"), original, result, tmp_path / "w"
        )
    Image.new("L", (10, 10)).save(mask_path)
    with pytest.raises(InputError, match="10x10 but the photo is 600x400"):
        postprocess.apply(postprocess.protect_option(mask_path), original, result, tmp_path / "w")


def test_a_downscaled_input_uses_the_mask_resampled(job, tmp_path: Path) -> None:
    original, result, mask_path = job
    small = tmp_path / "coffee_small.png"  # what --fit sends for a photo over the limits
    Image.open(original).resize((300, 200), Image.Resampling.LANCZOS).save(small)
    small_result = tmp_path / "small_result.png"
    Image.open(result).resize((300, 200)).save(small_result)
    done = postprocess.apply(postprocess.protect_option(mask_path), small, small_result, tmp_path)
    out, orig = load_array(done.path), load_array(small)
    m = cv2.resize(np.asarray(Image.open(mask_path)), (300, 200), interpolation=cv2.INTER_AREA)
    assert np.array_equal(out[m == 0], orig[m == 0])
