"""How long building the canvas's levels keeps other threads from the GIL (a script, not a test).

    QT_QPA_PLATFORM=offscreen .venv/bin/python tests/bench/levels_gil.py [--repeat 3]

A worker thread builds the reduced levels of a photo (``model.display._reduced``) while the
window's thread waits for the GIL to run its event loop. This builds them for a 24 MP photo
(6000 x 4000, RGB888 as the display decodes JPEGs, and RGB32) while a ticker thread sleeps 1 ms
at a time, and prints how late the ticker ever was: for numpy's block average (the app's path
for opaque RGB) against Qt's smooth scaling in strips (the path before, still used for images
with alpha). Also the time each takes and their largest difference in any sample.
"""

from __future__ import annotations

import argparse

import numpy as np
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QApplication
from tests.bench.gil_ticker import late_while

from retouchdesk.model.display import _box_reduced, _qt_reduced


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args(argv)
    app = QApplication.instance() or QApplication([])  # noqa: F841 - QImage wants one
    rng = np.random.default_rng(1)
    y, x = np.mgrid[0:4000, 0:6000].astype(np.float32)
    base = np.stack(
        [
            128 + 100 * np.sin(x / 900),
            128 + 90 * np.cos(y / 700),
            128 + 60 * np.sin((x + y) / 1300),
        ],
        -1,
    )
    arr = np.clip(base + rng.normal(0, 6, base.shape), 0, 255).astype(np.uint8)
    rgb888 = QImage(arr.data, 6000, 4000, 6000 * 3, QImage.Format.Format_RGB888).copy()
    for fmt in (QImage.Format.Format_RGB888, QImage.Format.Format_RGB32):
        img = rgb888.convertToFormat(fmt)
        for factor in (4, 2):
            rows = []
            for name, fn in (("numpy", _box_reduced), ("qt", _qt_reduced)):
                runs = [
                    late_while(lambda f=fn, i=img, k=factor: f(i, k)) for _ in range(args.repeat)
                ]
                rows.append((name, min(r[0] for r in runs), max(r[1] for r in runs)))
            a, b = _box_reduced(img, factor), _qt_reduced(img, factor)
            pa = np.frombuffer(a.constBits(), np.uint8).astype(np.int16)
            pb = np.frombuffer(b.convertToFormat(a.format()).constBits(), np.uint8).astype(np.int16)
            print(
                f"{fmt.name:<14} 1/{factor}: "
                + "; ".join(
                    f"{n} {t * 1000:5.0f} ms, ticker late up to {lt * 1000:5.1f} ms"
                    for n, t, lt in rows
                )
                + f"; largest sample difference {int(np.abs(pa - pb).max())}"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
