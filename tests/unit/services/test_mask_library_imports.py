"""Asking for the mask of a photo that has none loads no image library.

The window asks for every queued photo; core.mask brings OpenCV (0.1 s holding the GIL, 37 MB),
which stalled the window on the first queued photo of a session. Run in a fresh interpreter,
since this test process has imported everything long ago.
"""

from __future__ import annotations

from pathlib import Path

from tests.fresh_interpreter import run_fresh

PROBE = """
import sys
from pathlib import Path
from retouchdesk.services.masks import MaskLibrary
lib = MaskLibrary(Path(sys.argv[1]))
photo = Path(sys.argv[1]) / "photo.jpg"
print(lib.load(photo, (64, 48)), lib.load(photo, (64, 48), source=photo.with_name("a.jpg")))
print(sorted(m for m in ("cv2", "numpy", "PIL") if m in sys.modules))
"""


def test_a_photo_without_a_mask_is_answered_without_opencv(tmp_path: Path) -> None:
    answers, loaded = run_fresh(PROBE, str(tmp_path))
    assert answers == "None None"
    assert loaded == "[]"


SERIES_PROBE = """
import sys
from pathlib import Path
from PIL import Image
from PySide6.QtCore import QCoreApplication
from retouchdesk.core.schema import load_catalog
from retouchdesk.model.masking import MaskingModel
from retouchdesk.model.operation import OperationModel
from retouchdesk.resources import resource_path
from retouchdesk.services.masks import MaskLibrary

app = QCoreApplication([])
folder = Path(sys.argv[1])
shown, other = folder / "shown.jpg", folder / "other.jpg"
for p in (shown, other):
    Image.new("RGB", (64, 48), (90, 90, 90)).save(p)
masking = MaskingModel(OperationModel(load_catalog(resource_path("providers"))),
                       MaskLibrary(folder / "masks"))
masking.set_photo(shown.resolve(), (64, 48))
empty = masking.mask_for(other.resolve(), (64, 48))
doc = masking.document
doc.begin_stroke(20, 20, 6, 1.0)
doc.stroke_to(40, 24)
doc.end_stroke()
painted = masking.mask_for(other.resolve(), (64, 48))
print(empty is None, painted is not None and bool((painted == doc.array).all()) and painted.any())
print(sorted(m for m in ("cv2", "retouchdesk.core.mask") if m in sys.modules))
"""


def test_a_series_photo_checks_the_live_mask_without_opencv(tmp_path: Path) -> None:
    """Each photo of a batch without a mask of its own is offered the shown photo's mask
    when it has the same size (a tripod series). Whether that mask is empty is answered
    by the mask itself, not core.mask: importing OpenCV there held the GIL for 0.07 s in
    the middle of a batch (tests/bench/history_cases.py --sample-threads found it)."""
    answers, loaded = run_fresh(SERIES_PROBE, str(tmp_path), QT_QPA_PLATFORM="offscreen")[-2:]
    assert answers == "True True"
    assert loaded == "[]"
