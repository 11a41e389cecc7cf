"""HEIC support loads with the first HEIC file, not with every process that reads photos.

pillow-heif (libheif) costs 4 MB resident and 8 ms of start in the window and in every worker
process. ``core.imageio`` registers a stand-in under Pillow's "HEIF" format that recognises
the file's brand and hands over to pillow-heif on first use. Checked in a fresh interpreter:
nothing loaded after the import and after a JPEG; then a HEIC written and read back through
the same paths the app uses (probe, load, Pillow's own open and save).
"""

from __future__ import annotations

from pathlib import Path

from tests.fresh_interpreter import run_fresh

PROBE = """
import sys
from pathlib import Path
from PIL import Image
from retouchdesk.core import imageio

folder = Path(sys.argv[1])
Image.new("RGB", (32, 24), (10, 200, 30)).save(folder / "plain.jpg")
imageio.load_image(folder / "plain.jpg")
print("before", "pillow_heif" in sys.modules)
Image.new("RGB", (64, 48), (200, 10, 10)).save(folder / "phone.heic")
info = imageio.probe(folder / "phone.heic")
px = imageio.to_array(imageio.load_image(folder / "phone.heic").image)[10, 10]
with Image.open(folder / "phone.heic") as im:
    kind = im.format
print("after", "pillow_heif" in sys.modules, info.format, info.width, info.height, kind)
print("pixel", int(px[0]), int(px[1]))
"""


def test_heic_support_loads_with_the_first_heic_file(tmp_path: Path) -> None:
    before, after, pixel = run_fresh(PROBE, str(tmp_path))[-3:]
    assert before == "before False"
    assert after == "after True heic 64 48 HEIF"
    red, green = (int(v) for v in pixel.split()[1:])
    assert abs(red - 200) < 12 and green < 30
