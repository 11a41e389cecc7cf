"""How long the Info dock's figures take on a 24 MP photo (worker thread, never the GUI's).

    .venv/bin/python tests/bench/photo_info.py [--megapixels 24] [--repeat 3]

Prints the seconds for the histogram of the decoded pixels (R, G, B, luminance, clipping and
the clipping mask), for decoding the JPEG plus the histogram (what the dock waits for), and for
the EXIF summary.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--megapixels", type=float, default=24.0)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    from retouchdesk.model.photo_info import exif_summary, histogram_of, histogram_of_file

    w = int((args.megapixels * 1e6 * 1.5) ** 0.5)
    h = int(w / 1.5)
    rng = np.random.default_rng(1)
    # A smooth gradient with noise: JPEG sizes like a photo's, some clipped pixels at each end.
    x = np.linspace(-20, 275, w, dtype=np.float32)[None, :, None]
    arr = np.clip(x + rng.normal(0, 12, (h, 1, 3)).astype(np.float32), 0, 255).astype(np.uint8)
    arr = np.broadcast_to(arr, (h, w, 3)).copy()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "big.jpg"
        Image.fromarray(arr).save(path, quality=90)
        for name, fn in (
            ("histogram of decoded pixels", lambda: histogram_of(arr)),
            ("decode JPEG + histogram", lambda: histogram_of_file(path)),
            ("EXIF summary", lambda: exif_summary(path)),
        ):
            times = []
            for _ in range(args.repeat):
                t0 = time.perf_counter()
                fn()
                times.append(time.perf_counter() - t0)
            print(f"{name:30s} {w}x{h}: median {statistics.median(times):.3f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
