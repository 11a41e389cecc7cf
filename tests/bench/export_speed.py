"""Export speed on a 24 MP photo: the figures behind the Export dialog's choices.

Run: ``/work/bin/wt-python tests/bench/export_speed.py`` (prints seconds per export; a
synthetic 6000x4000 photo with texture, written once to a temporary folder).
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

from retouchdesk.core import export as ex
from retouchdesk.core import iccprofiles


def main() -> None:
    rng = np.random.default_rng(1)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        base = rng.integers(0, 256, (400, 600, 3), dtype=np.uint8)
        img = Image.fromarray(base).resize((6000, 4000), Image.Resampling.BICUBIC)
        src = folder / "photo.jpg"
        img.save(src, quality=92, icc_profile=iccprofiles.display_p3())
        cases = {
            "JPEG q92, keep colour": ex.ExportOptions(format="jpeg"),
            "JPEG q92, P3 -> sRGB, no GPS": ex.ExportOptions(colour="srgb", metadata="nogps"),
            "JPEG, long side 2048 + sharpen 0.5": ex.ExportOptions(long_side=2048, sharpen=0.5),
            "WebP q80": ex.ExportOptions(format="webp", quality=80),
            "TIFF 16-bit, P3 -> sRGB": ex.ExportOptions(format="tiff", bit_depth=16, colour="srgb"),
            "PNG 8-bit": ex.ExportOptions(format="png"),
        }
        print("24 MP (6000x4000) Display P3 JPEG; seconds per export (best of 2)")
        for name, opts in cases.items():
            best = float("inf")
            for _ in range(2):
                t0 = time.perf_counter()
                out = ex.export(src, folder / "out", opts)
                best = min(best, time.perf_counter() - t0)
                out.unlink()
            print(f"  {name:38s} {best:6.2f} s")


if __name__ == "__main__":
    main()
