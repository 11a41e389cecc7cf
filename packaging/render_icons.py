"""Render the app icon (resources/icons/retouchdesk.svg) into hicolor PNG sizes.

    python packaging/render_icons.py OUT_DIR

writes ``OUT_DIR/hicolor/<n>x<n>/apps/retouchdesk.png`` for the usual sizes and the SVG as
``OUT_DIR/hicolor/scalable/apps/retouchdesk.svg`` (run by build.sh with Qt's offscreen platform).
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

SIZES = (16, 24, 32, 48, 64, 128, 256, 512)


def main(out: Path) -> int:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import Qt
    from PySide6.QtGui import QGuiApplication, QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer

    svg = Path(__file__).resolve().parents[1] / "resources" / "icons" / "retouchdesk.svg"
    app = QGuiApplication([])  # noqa: F841 - QImage painting needs the application
    renderer = QSvgRenderer(str(svg))
    if not renderer.isValid():
        print(f"cannot read {svg}", file=sys.stderr)
        return 1
    for n in SIZES:
        img = QImage(n, n, QImage.Format.Format_ARGB32_Premultiplied)
        img.fill(Qt.GlobalColor.transparent)
        painter = QPainter(img)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        renderer.render(painter)
        painter.end()
        target = out / "hicolor" / f"{n}x{n}" / "apps" / "retouchdesk.png"
        target.parent.mkdir(parents=True, exist_ok=True)
        if not img.save(str(target), "PNG"):
            print(f"cannot write {target}", file=sys.stderr)
            return 1
    scalable = out / "hicolor" / "scalable" / "apps" / "retouchdesk.svg"
    scalable.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(svg, scalable)
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1])))
