"""Quality of the offline engine on the test photographs (a script, not a test).

    .venv/bin/python tests/bench/local_quality.py [--skip-ai]

1. Upscale: each photo (cropped to a multiple of 4) is downscaled 4x (bicubic with
   antialiasing) and brought back with bicubic, Lanczos and Real-ESRGAN; prints PSNR and SSIM
   against the original, and the sharpness (variance of the Laplacian) of each beside the
   original's. A GAN invents texture: it is not expected to win on PSNR.
2. Object removal: holes of 1%, 5% and 15% of the area (random ellipses, fixed seed) are
   filled by each method; prints the PSNR inside the hole against the original.
3. Skin smoothing on the astronaut at strength 50: high-frequency energy reduction inside the
   skin mask and the maximum absolute difference outside it (must be 0).

Saves a crop sheet to tests/bench/out/local_quality_sheet.png (look at it).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from retouchdesk.providers.local import inpaint, skin
from retouchdesk.providers.local.common import OpContext
from retouchdesk.providers.local.metrics import hf_energy, psnr, sharpness, ssim
from retouchdesk.providers.local.upscale import ai_upscale_x4

DATA = Path(__file__).resolve().parents[1] / "data"
OUT = Path(__file__).resolve().parent / "out"
PHOTOS = ("astronaut.png", "coffee.png", "chelsea.png")


def load(name: str) -> np.ndarray:
    a = np.asarray(Image.open(DATA / name).convert("RGB"))
    h, w = a.shape[:2]
    return np.ascontiguousarray(a[: h - h % 4, : w - w % 4])


def downscale4(a: np.ndarray) -> np.ndarray:
    h, w = a.shape[:2]
    return np.asarray(Image.fromarray(a).resize((w // 4, h // 4), Image.BICUBIC))


def holes(shape: tuple[int, int], fraction: float, seed: int) -> np.ndarray:
    """Random ellipses until ``fraction`` of the area is covered."""
    rng = np.random.default_rng(seed)
    h, w = shape
    m = np.zeros((h, w), np.uint8)
    scale = max(4.0, np.sqrt(fraction * h * w / 6.0))
    while np.count_nonzero(m) < fraction * h * w:
        cx, cy = int(rng.integers(0, w)), int(rng.integers(0, h))
        ax = int(max(2, rng.normal(scale / 1.5, scale / 4)))
        ay = int(max(2, rng.normal(scale / 1.5, scale / 4)))
        cv2.ellipse(m, (cx, cy), (ax, ay), float(rng.uniform(0, 180)), 0, 360, 255, -1)
    return m


def upscale_table(skip_ai: bool, sheet: list[np.ndarray]) -> None:
    print("\n== Upscale 4x (downscaled 4x, then back) ==")
    print(
        f"{'photo':<10} {'method':<11} {'PSNR dB':>8} {'SSIM':>7} {'sharpness':>10} "
        f"{'x bicubic':>9} {'s/out MP':>9}"
    )
    for name in PHOTOS:
        orig = load(name)
        small = downscale4(orig)
        h, w = orig.shape[:2]
        results: dict[str, tuple[np.ndarray, float]] = {}
        for label, interp in (("bicubic", cv2.INTER_CUBIC), ("lanczos", cv2.INTER_LANCZOS4)):
            t = time.perf_counter()
            up = cv2.resize(small, (w, h), interpolation=interp)
            results[label] = (up, time.perf_counter() - t)
        if not skip_ai:
            t = time.perf_counter()
            up = ai_upscale_x4(np.ascontiguousarray(small), OpContext(tile_size=256))
            results["realesrgan"] = (up, time.perf_counter() - t)
        base_sharp = sharpness(results["bicubic"][0])
        mp = w * h / 1e6
        print(f"{name[:-4]:<10} {'original':<11} {'':>8} {'':>7} {sharpness(orig):>10.1f}")
        for label, (up, secs) in results.items():
            s = sharpness(up)
            print(
                f"{'':<10} {label:<11} {psnr(orig, up):>8.2f} {ssim(orig, up):>7.4f} {s:>10.1f} "
                f"{s / base_sharp:>9.2f} {secs / mp:>9.3f}"
            )
        # Crop sheet: a 128 px square from the centre, original | bicubic | lanczos | AI.
        cy, cx = h // 2, w // 2
        crop = (slice(max(0, cy - 64), cy + 64), slice(max(0, cx - 64), cx + 64))
        row = [orig[crop]] + [up[crop] for up, _ in results.values()]
        sheet.append(
            np.hstack([cv2.resize(c, (256, 256), interpolation=cv2.INTER_NEAREST) for c in row])
        )


def holes_table(sheet: list[np.ndarray]) -> None:
    print("\n== Object removal: PSNR inside the hole (dB), and seconds ==")
    print(f"{'photo':<10} {'hole':>5} " + " ".join(f"{m:>14}" for m in inpaint.METHODS))
    totals = {m: [] for m in inpaint.METHODS}
    for name in PHOTOS:
        orig = load(name)
        for i, frac in enumerate((0.01, 0.05, 0.15)):
            hole = holes(orig.shape[:2], frac, seed=7 + i)
            cells = []
            for method in inpaint.METHODS:
                t = time.perf_counter()
                filled = inpaint.fill_holes(orig, hole, method)
                secs = time.perf_counter() - t
                value = psnr(orig, filled, hole)
                totals[method].append(value)
                cells.append(f"{value:>6.2f} ({secs:4.2f}s)")
                if name == "astronaut.png" and frac == 0.05:
                    sheet_row = filled
            print(f"{name[:-4]:<10} {frac:>5.0%} " + " ".join(f"{c:>14}" for c in cells))
            if name == "astronaut.png" and frac == 0.05:
                shown = orig.copy()
                shown[hole > 0] = (0, 255, 0)
                sheet.append(np.hstack([cv2.resize(a, (512, 512)) for a in (shown, sheet_row)]))
    means = {m: float(np.mean(v)) for m, v in totals.items()}
    print("mean     " + " ".join(f"{m}={v:.2f}" for m, v in means.items()))
    print(f"best: {max(means, key=means.get)} (default: {inpaint.DEFAULT_METHOD})")


def skin_figures(sheet: list[np.ndarray]) -> None:
    print("\n== Skin smoothing (astronaut, strength 50, texture 50) ==")
    orig = load("astronaut.png")
    params = {"strength": 50, "texture": 50}
    ctx = OpContext()
    mask, _ = skin.skin_mask(orig, params, ctx)
    out = skin.smooth_skin(orig, params, OpContext())
    before, after = hf_energy(orig, mask), hf_energy(out, mask)
    outside = np.abs(out.astype(int) - orig.astype(int))[mask == 0].max()
    print(
        f"HF energy inside the skin mask: {before:.2f} -> {after:.2f} "
        f"({100 * (1 - after / before):.1f}% less)"
    )
    print(f"max |difference| outside the skin mask: {outside}")
    print(f"skin mask: {np.count_nonzero(mask)} px ({100 * np.mean(mask > 0):.2f}% of the photo)")
    crop = (slice(60, 190), slice(155, 285))
    sheet.append(
        np.hstack(
            [cv2.resize(a[crop], (390, 390), interpolation=cv2.INTER_NEAREST) for a in (orig, out)]
        )
    )


def save_sheet(rows: list[np.ndarray]) -> Path:
    width = max(r.shape[1] for r in rows)
    padded = [
        np.pad(r, ((0, 8), (0, width - r.shape[1]), (0, 0)), constant_values=255) for r in rows
    ]
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / "local_quality_sheet.png"
    Image.fromarray(np.vstack(padded)).save(path)
    return path


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--skip-ai", action="store_true", help="leave Real-ESRGAN out (slow on CPU)")
    args = ap.parse_args(argv)
    sheet: list[np.ndarray] = []
    upscale_table(args.skip_ai, sheet)
    holes_table(sheet)
    skin_figures(sheet)
    print(f"\ncrop sheet: {save_sheet(sheet)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
