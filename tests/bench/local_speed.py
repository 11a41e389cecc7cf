"""Speed of the offline engine on this machine (a script, not a test).

    .venv/bin/python tests/bench/local_speed.py [--skip-ai] [--repeat N]

1. Real-ESRGAN 4x on each photo downscaled 4x: seconds per output megapixel through the app's
   path (``run_array('upscale')``: strips, progress, cancel checks) and through a bare
   ``esrgan.Upscaler(gpuid=-1, tilesize=T).process`` call (ncnn tiles) on the same input,
   and the app's overhead ratio (target <= 1.05). Best of ``--repeat`` runs, interleaved, so
   that other load on the machine hits both alike.
2. Object removal on a 24-megapixel photo with a 5% mask, for each method: the operation alone
   and end to end (``run_operation``: decode, fill, JPEG encode with metadata).
3. The other operations on the astronaut portrait, seconds per megapixel.
"""

from __future__ import annotations

import argparse
import resource
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


def _cpu() -> float:
    """CPU seconds of this process, all threads: robust to other load on a shared machine."""
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


def upscale_speed(repeat: int) -> None:
    from retouchdesk.providers.local.esrgan import Upscaler
    from retouchdesk.providers.local.upscale import _quiet_native

    print("\n== Real-ESRGAN x4 on CPU (gpuid -1): app path vs bare ncnn tiles ==")
    print("(best of N interleaved runs; 'cpu' = CPU seconds of all threads, immune to other load)")
    print(
        f"{'input':<22} {'tile':>4} {'out MP':>7} {'bare s':>7} {'app s':>7} {'ratio':>6} "
        f"{'bare cpu':>8} {'app cpu':>8} {'ratio':>6} {'s/out MP':>9}"
    )
    cases = []
    for name in PHOTOS:
        a = load(name)
        h, w = a.shape[:2]
        small = cv2.resize(a, (w // 4, h // 4), interpolation=cv2.INTER_AREA)
        cases.append((f"{name[:-4]} /4", small, 256))
    a = load("astronaut.png")
    cases.append(
        ("astronaut /2 strips", cv2.resize(a, (256, 256), interpolation=cv2.INTER_AREA), 128)
    )
    for label, small, tile in cases:
        small = np.ascontiguousarray(small)
        with _quiet_native():
            bare = Upscaler(gpuid=-1, tilesize=tile)
        params = {"scale": 4, "engine": "ai"}
        run_array("upscale", small[:16, :16], params, OpContext(tile_size=tile))  # load once
        runs: dict[str, list[tuple[float, float]]] = {"bare": [], "app": []}

        def run_bare(bare=bare, small=small) -> None:
            with _quiet_native():
                bare.process(small)

        def run_app(small=small, params=params, tile=tile) -> None:
            run_array("upscale", small, params, OpContext(tile_size=tile))

        for i in range(repeat):
            order = (("bare", run_bare), ("app", run_app))
            for key, fn in order if i % 2 == 0 else order[::-1]:  # alternate who goes first
                t, c = time.perf_counter(), _cpu()
                fn()
                runs[key].append((time.perf_counter() - t, _cpu() - c))
        out_mp = small.shape[0] * small.shape[1] * 16 / 1e6
        bw, bc = min(r[0] for r in runs["bare"]), min(r[1] for r in runs["bare"])
        aw, ac = min(r[0] for r in runs["app"]), min(r[1] for r in runs["app"])
        print(
            f"{label:<22} {tile:>4} {out_mp:>7.3f} {bw:>7.2f} {aw:>7.2f} {aw / bw:>6.3f} "
            f"{bc:>8.2f} {ac:>8.2f} {ac / bc:>6.3f} {aw / out_mp:>9.1f}"
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
    ap.add_argument("--part", choices=["all", "upscale", "removal", "ops"], default="all")
    args = ap.parse_args(argv)
    if not args.skip_ai and args.part in ("all", "upscale"):
        upscale_speed(args.repeat)
    if args.part in ("all", "removal"):
        removal_24mp(args.repeat)
    if args.part in ("all", "ops"):
        other_ops(args.repeat)
    return 0


if __name__ == "__main__":
    sys.exit(main())
