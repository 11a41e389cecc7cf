"""v1 Background Blur: YouCam answers a foreground mask, the app blurs with it.

The v1 document describes Background Blur and Background Change as extracting "a foreground
mask from a input image. So that you can blur the background using the mask by any image
blur algorithms" (seed youcam-online-editor.txt). Whether the live v1 server answers that mask
or an already blurred photo is not settled (resources/providers/GUESSES.md), so a result is
treated as a mask only when it looks like one (one channel, or three equal channels, no
colour); anything else is taken as the finished photo.
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageChops, ImageFilter, ImageOps


def looks_like_mask(im: Image.Image) -> bool:
    """One channel, or an RGB whose channels are equal (a grey mask saved as colour)."""
    if im.mode in ("1", "L", "LA", "I", "I;16"):
        return True
    if im.mode not in ("RGB", "RGBA"):
        return False
    r, g, b = im.convert("RGB").split()
    return ImageChops.difference(r, g).getbbox() is None and (
        ImageChops.difference(g, b).getbbox() is None
    )


def blur_background(photo: Path, result: Path, intensity: float) -> bool:
    """Replace ``result`` (a mask) by ``photo`` with its background blurred; False (and
    ``result`` untouched) when ``result`` is not a mask.

    ``intensity`` 0-100 maps to a Gaussian radius of 0.5-17 px of the photo's long side at
    1000 px, scaled with the photo so that the look does not depend on its size.
    """
    with Image.open(result) as got:
        if not looks_like_mask(got):
            return False
        mask = got.convert("L")
    with Image.open(photo) as src:
        src.load()
        rgb = ImageOps.exif_transpose(src).convert("RGB")  # upright, as it was uploaded
    if mask.size != rgb.size:
        mask = mask.resize(rgb.size, Image.Resampling.BILINEAR)
    radius = (0.5 + float(intensity) / 6.0) * max(rgb.size) / 1000.0
    blurred = rgb.filter(ImageFilter.GaussianBlur(max(0.1, radius)))
    out = Image.composite(rgb, blurred, mask)  # white = foreground keeps the photo
    fmt = "PNG" if result.suffix.lower() == ".png" else "JPEG"
    tmp = result.with_name(result.name + ".tmp")
    out.save(tmp, fmt, **({"quality": 95} if fmt == "JPEG" else {}))
    tmp.replace(result)
    return True
