"""Quality of the offline engine on the test photographs (a script, not a test).

    .venv/bin/python tests/bench/local_quality.py [--skip-ai]

1. Upscale: each photo (cropped to a multiple of 4) is downscaled 4x (bicubic with
   antialiasing) and brought back with bicubic, Lanczos and Real-ESRGAN; prints PSNR and SSIM
   against the original, and the sharpness (variance of the Laplacian) of each beside the
   original's. A GAN invents texture: it is not expected to win on PSNR.
2. Object removal: holes of 1%, 5% and 15% of the area (random ellipses, fixed seed) are
   filled by each method; prints the PSNR inside the hole against the original and the texture
   kept (``metrics.texture_kept``: high-frequency energy inside the hole over a ring around it,
   relative to the same ratio on the original, capped at 1; a smear scores ~0), their means
   against the targets (texture >= 0.5, PSNR within 1 dB of the best diffusion method), and
   writes packaging/screenshots/object_removal_methods.png: before | mask | each method,
   around the largest hole of each photo, and the spoon of coffee.png painted out.
   ``--only-removal`` runs this part alone.
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

from retouchdesk.core import mask as masks
from retouchdesk.providers.local import inpaint, skin
from retouchdesk.providers.local.common import OpContext
from retouchdesk.providers.local.metrics import hf_energy, psnr, sharpness, ssim, texture_kept
from retouchdesk.providers.local.runner import operation_schema
from retouchdesk.providers.local.upscale import ai_upscale_x4

DEFAULT_METHOD = operation_schema("object_removal").param("method").default

DATA = Path(__file__).resolve().parents[1] / "data"
OUT = Path(__file__).resolve().parent / "out"
PHOTOS = ("astronaut.png", "coffee.png", "chelsea.png")
SCREENSHOTS = Path(__file__).resolve().parents[2] / "packaging" / "screenshots"
PM = inpaint.patchmatch_available()


def load(name: str) -> np.ndarray:
    a = np.asarray(Image.open(DATA / name).convert("RGB"))
    h, w = a.shape[:2]
    return np.ascontiguousarray(a[: h - h % 4, : w - w % 4])


def downscale4(a: np.ndarray) -> np.ndarray:
    h, w = a.shape[:2]
    return np.asarray(Image.fromarray(a).resize((w // 4, h // 4), Image.Resampling.BICUBIC))


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


def holes_table(sheet: list[np.ndarray]) -> dict[str, tuple[float, float]]:
    """Hole PSNR and texture kept per method over synthetic holes; a contact sheet of them.

    Returns the mean (PSNR dB, texture) of each method.
    """
    print("\n== Object removal: PSNR inside the hole (dB) / texture kept (0 smear .. 1) / s ==")
    methods = [m for m in inpaint.METHODS if m in ("telea", "ns", "fsr") or PM]
    print(f"{'photo':<10} {'hole':>5} " + " ".join(f"{m:>19}" for m in methods))
    totals: dict[str, list[tuple[float, float, float]]] = {m: [] for m in methods}
    contact: list[np.ndarray] = []
    for name in PHOTOS:
        orig = load(name)
        for i, frac in enumerate((0.01, 0.05, 0.15)):
            hole = holes(orig.shape[:2], frac, seed=7 + i)
            cells = []
            fills = {}
            for method in methods:
                t = time.perf_counter()
                filled = inpaint.fill_holes(orig, hole, method)
                secs = time.perf_counter() - t
                value, tex = psnr(orig, filled, hole), texture_kept(filled, orig, hole)
                totals[method].append((value, tex, secs))
                cells.append(f"{value:>6.2f} {tex:>4.2f} {secs:5.2f}s")
                fills[method] = filled
            print(f"{name[:-4]:<10} {frac:>5.0%} " + " ".join(f"{c:>19}" for c in cells))
            if frac == 0.05:
                contact.append(contact_row(orig, hole, fills))
                if name == "astronaut.png":
                    shown = orig.copy()
                    shown[hole > 0] = (0, 255, 0)
                    best = fills[DEFAULT_METHOD]
                    sheet.append(np.hstack([cv2.resize(a, (512, 512)) for a in (shown, best)]))
    coffee = load("coffee.png")
    spoon = spoon_mask(coffee.shape[:2])
    fills = {m: inpaint.fill_holes(coffee, spoon, m) for m in methods}
    contact.append(contact_row(coffee, spoon, fills))
    means = {m: tuple(float(np.mean(c)) for c in zip(*v, strict=True)) for m, v in totals.items()}
    print("\nmean over all holes:")
    print(f"{'method':<11} {'PSNR dB':>8} {'texture':>8} {'seconds':>8}")
    for m, (p, t, secs) in means.items():
        print(f"{m:<11} {p:>8.2f} {t:>8.2f} {secs:>8.2f}")
    best_diffusion = max(means[m][0] for m in ("telea", "ns", "fsr"))
    default = means[DEFAULT_METHOD]
    print(
        f"default {DEFAULT_METHOD}: texture {default[1]:.2f} (target >= 0.5), hole PSNR "
        f"{default[0] - best_diffusion:+.2f} dB against the best diffusion method (target >= -1)"
    )
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / "object_removal_methods.png"
    width = max(r.shape[1] for r in contact)
    contact = [
        np.pad(r, ((0, 0), (0, width - r.shape[1]), (0, 0)), constant_values=255) for r in contact
    ]
    Image.fromarray(np.vstack(contact)).save(path)
    print(f"contact sheet: {path}")
    return {m: (v[0], v[1]) for m, v in means.items()}


def spoon_mask(shape: tuple[int, int]) -> np.ndarray:
    """A hand-drawn mask of the spoon in coffee.png (its bowl and handle, over the cup's rim)."""
    m = np.zeros(shape, np.uint8)
    cv2.ellipse(m, (366, 284), (44, 46), 20, 0, 360, 255, -1)
    cv2.line(m, (372, 238), (410, 72), 255, 18)
    return masks.expand(m, 4)


def zoom_box(hole: np.ndarray) -> tuple[slice, slice]:
    """A window around the largest hole with as much context again on each side."""
    _, _, stats, _ = cv2.connectedComponentsWithStats((hole > 0).astype(np.uint8))
    x, y, w, h, _ = stats[1 + int(np.argmax(stats[1:, 4]))]
    side = int(max(w, h) * 2)
    cx, cy = x + w // 2, y + h // 2
    y0, x0 = max(0, cy - side // 2), max(0, cx - side // 2)
    return slice(y0, min(hole.shape[0], y0 + side)), slice(x0, min(hole.shape[1], x0 + side))


def contact_row(orig: np.ndarray, hole: np.ndarray, fills: dict[str, np.ndarray]) -> np.ndarray:
    """One photo: before | mask | each method's result, around its largest hole, labelled."""
    cells = [("before", orig), ("mask", np.dstack([hole] * 3)), *fills.items()]
    win = zoom_box(hole)
    out = []
    for label, img in cells:
        part = img[win]
        h, w = part.shape[:2]
        tile = cv2.resize(part, (round(w * 256 / h), 256), interpolation=cv2.INTER_CUBIC)
        tile = np.ascontiguousarray(tile)
        cv2.rectangle(tile, (0, 0), (8 + 11 * len(label), 22), (0, 0, 0), -1)
        cv2.putText(tile, label, (4, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 255), 1)
        out.append(np.pad(tile, ((0, 4), (0, 4), (0, 0)), constant_values=255))
    return np.hstack(out)


def skin_figures(sheet: list[np.ndarray]) -> None:
    print("\n== Skin smoothing (astronaut, strength 50, texture 50) ==")
    orig = load("astronaut.png")
    params = operation_schema("skin_smoothing").initial_values({"strength": 50, "texture": 50})
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
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--skip-ai", action="store_true", help="leave Real-ESRGAN out (slow on CPU)")
    ap.add_argument("--only-removal", action="store_true", help="the object removal table only")
    args = ap.parse_args(argv)
    sheet: list[np.ndarray] = []
    if not args.only_removal:
        upscale_table(args.skip_ai, sheet)
    holes_table(sheet)
    if not args.only_removal:
        skin_figures(sheet)
    print(f"\ncrop sheet: {save_sheet(sheet)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
