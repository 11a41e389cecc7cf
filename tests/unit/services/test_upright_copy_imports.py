"""A rotated photo sent to a cloud service at its own size does not load OpenCV.

The window makes the upright copy of a camera JPEG (EXIF orientation 6) for Enhancor and the
others. Importing OpenCV for it (37 MB, about 0.1 s holding the GIL) stalled the window in the
middle of a batch, though only a resized copy needs it. Run in a fresh interpreter, since
this test process has imported everything long ago.
"""

from __future__ import annotations

from pathlib import Path

from tests.fresh_interpreter import run_fresh

PROBE = """
import sys
from pathlib import Path
import numpy as np
from PIL import Image
from retouchdesk.services.inputs import upright_copy

folder = Path(sys.argv[1])
src = folder / "camera.jpg"
pixels = np.zeros((40, 60, 3), np.uint8)
pixels[:, :30] = (200, 40, 40)  # red on the left of the sensor's frame
exif = Image.Exif()
exif[0x0112] = 6  # rotate 90 degrees clockwise to view
Image.fromarray(pixels).save(src, quality=95, exif=exif)
copy, _ = upright_copy(src, folder, "jpeg")
with Image.open(copy) as im:
    top = im.convert("RGB").getpixel((im.width // 2, 2))
    print(im.size, im.getexif().get(0x0112, 1), top[0] > 150 > top[2])
print("cv2" in sys.modules)
fitted, _ = upright_copy(src, folder, "jpeg", size=(20, 30))
with Image.open(fitted) as im:
    print(im.size)
"""


def test_an_upright_copy_at_full_size_needs_no_opencv(tmp_path: Path) -> None:
    upright, opencv, fitted = run_fresh(PROBE, str(tmp_path))
    # Turned to stand (40 wide, 60 tall), the tag reset, the sensor's left side on top.
    assert upright == "(40, 60) 1 True"
    assert opencv == "False"
    assert fitted == "(20, 30)"  # a resized copy still works (and loads OpenCV for it)
