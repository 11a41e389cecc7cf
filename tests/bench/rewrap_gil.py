"""How long writing a cloud result keeps the window's thread from the GIL (a script, not a test).

    .venv/bin/python tests/bench/rewrap_gil.py [--size 4000x3000] [--repeat 5]

A result that is already in the output format is written without decoding it: its container
is rebuilt around the same compressed data with the source's metadata
(``core.resultwrite``, through :func:`core.imageio.save_result`). The engine does this in a
worker thread while the window runs. This writes a PNG result of the given size (PNG as
the fake provider and YouCam deliver them) and a JPEG one, with a source JPEG's metadata,
while a ticker thread sleeps 1 ms at a time; it prints the time each write takes and how
late the ticker ever was. A late ticker is the window's event loop waiting for the GIL.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image
from tests.bench.gil_ticker import late_while

from retouchdesk.core import imageio


def _photo(w: int, h: int) -> np.ndarray:
    rng = np.random.default_rng(1)
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    base = np.stack(
        [
            128 + 100 * np.sin(x / 900),
            128 + 90 * np.cos(y / 700),
            128 + 60 * np.sin((x + y) / 1300),
        ],
        -1,
    )
    return np.clip(base + rng.normal(0, 6, base.shape), 0, 255).astype(np.uint8)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--size", default="4000x3000")
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args(argv)
    w, h = (int(v) for v in args.size.split("x"))
    work = Path(tempfile.mkdtemp(prefix="rd-rewrap-gil-"))
    pixels = _photo(w, h)
    source = work / "source.jpg"
    exif = Image.Exif()
    exif[0x010F] = "Bench camera"
    Image.fromarray(pixels).save(source, quality=92, exif=exif)
    results = {"png": work / "result.png", "jpeg": work / "result.jpg"}
    Image.fromarray(pixels).save(results["png"], compress_level=1)  # as a vendor's fast PNG
    Image.fromarray(pixels).save(results["jpeg"], quality=95)
    for kind, result in results.items():
        dest = work / f"out{result.suffix}"
        report: dict = {}
        runs = []
        for _ in range(args.repeat):
            dest.unlink(missing_ok=True)
            runs.append(
                late_while(
                    lambda r=result, d=dest, rep=report: imageio.save_result(
                        r, source=source, destination=d, report=rep
                    )
                )
            )
        mb = result.stat().st_size / 1e6
        print(
            f"{kind:<4} result {w}x{h} ({mb:.1f} MB), written as is: "
            f"{min(t for t, _ in runs) * 1000:.0f} ms, ticker late up to "
            f"{max(lt for _, lt in runs) * 1000:.1f} ms (median of the runs' worst "
            f"{sorted(lt for _, lt in runs)[len(runs) // 2] * 1000:.1f} ms; each run's worst "
            f"{', '.join(f'{lt * 1000:.1f}' for _, lt in runs)})",
            flush=True,
        )
        assert Image.open(dest).size == (w, h)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
