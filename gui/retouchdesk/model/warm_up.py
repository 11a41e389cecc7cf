"""Import the image stack in a worker once the window is up, before the first photo needs it.

The window's first paint imports none of numpy, Pillow (with its JPEG/PNG/TIFF plugins and
the HEIF opener) or the app's image I/O, so that it comes up fast. Without a warm-up, the
first photo opened or the first batch imports them in a worker thread at that moment, and an
import holds the GIL for most of its 0.2-0.3 s: the window stalled up to 100 ms just as the
photographer started work (``tests/bench/history_cases.py --trace-stalls`` caught it). Done
right after start, the same imports land while the window is idle.
"""

from __future__ import annotations

import importlib

# What opening the first photo and writing the first result imported (sys.modules before
# and after, in the window). OpenCV is not here: 37 MB for a photographer who only looks, and
# nothing imports it unless an operation or a mask needs it.
MODULES = (
    "numpy",
    "PIL.Image",
    "retouchdesk.core.imageio",
    "retouchdesk.core.exifdata",
    "retouchdesk.core.handover",
    "retouchdesk.model.estimate",
    "retouchdesk.core.resultwrite",
    "retouchdesk.services.postprocess",
    "retouchdesk.services.inputs",
    "retouchdesk.services.recipes",
)


def import_image_stack() -> None:
    """Import :data:`MODULES` and Pillow's common format plugins (blocking: run in a worker)."""
    for name in MODULES:
        importlib.import_module(name)
    from PIL import Image

    Image.preinit()  # BMP, GIF, JPEG, PNG, PPM: what Image.open would load on first use
    import imagecodecs

    # imagecodecs loads each codec on first use: libjpeg-turbo decodes photos for the canvas
    # (model.display), libpng and libdeflate read and check PNG results.
    for codec in ("jpeg8_decode", "png_decode", "deflate_decode"):
        getattr(imagecodecs, codec, None)
