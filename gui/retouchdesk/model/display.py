"""Turning photo files into what the canvas paints: colour-managed, oriented, multi-level.

Everything here runs in worker threads (QImage may be built off the GUI thread; QPixmap may
not). The image is decoded by :func:`retouchdesk.core.imageio.load_image` (EXIF orientation
applied), converted from its embedded ICC profile to the display profile (sRGB unless the
``ui.display_profile`` setting names the screen's profile) with Pillow's ImageCms, and kept as
a pyramid of halved levels so that painting a 24-megapixel photo at "fit" samples a small
level instead of the whole image on every frame.
"""

from __future__ import annotations

import io
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from PySide6.QtGui import QColorSpace, QImage

if TYPE_CHECKING:  # Pillow is imported by the functions: the window's first paint needs none
    from PIL import Image, ImageCms

log = logging.getLogger(__name__)

THUMB_SIZE = 160
_MIN_LEVEL_SIDE = 384  # stop halving once the long side would fall below this


@dataclass
class DisplayImage:
    """A photo ready for painting: ``levels[0]`` is full size, each next level half of it."""

    path: Path
    width: int
    height: int
    levels: list[QImage]
    has_alpha: bool = False
    icc_name: str = ""
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def full(self) -> QImage:
        return self.levels[0]


def _srgb() -> ImageCms.ImageCmsProfile:
    from PIL import ImageCms

    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))


def _profile_name(icc: bytes | None) -> str:
    if not icc:
        return ""
    from PIL import ImageCms

    try:
        prof = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        return (ImageCms.getProfileDescription(prof) or "").strip()
    except (OSError, ImageCms.PyCMSError):
        return ""


def to_display(
    img: Image.Image, icc: bytes | None, display_profile: Path | None = None
) -> Image.Image:
    """An 8-bit RGB or RGBA image in the display's colour space.

    Images without a profile are taken as sRGB (the web's and most cameras' assumption).
    A broken profile is logged and ignored rather than refusing to show the photo.
    """
    from PIL import Image, ImageCms

    has_alpha = img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info)
    alpha = None
    if has_alpha:
        rgba = img.convert("RGBA")
        alpha = rgba.getchannel("A")
        img = rgba.convert("RGB")
    elif img.mode in ("I;16", "I;16B", "I;16L", "I"):
        # 16-bit greyscale: scale to 8 bits before colour conversion.
        img = img.point(lambda v: v / 256).convert("L")
    elif img.mode == "F":
        img = img.convert("L")
    src_mode = img.mode if img.mode in ("RGB", "CMYK", "L") else "RGB"
    if img.mode != src_mode:
        img = img.convert(src_mode)
    target = None
    if display_profile is not None:
        try:
            target = ImageCms.ImageCmsProfile(str(display_profile))
        except (OSError, ImageCms.PyCMSError) as exc:
            log.warning("display profile %s cannot be read: %s", display_profile, exc)
    if icc or target is not None or src_mode == "CMYK":
        try:
            src = ImageCms.ImageCmsProfile(io.BytesIO(icc)) if icc else _srgb()
            converted = ImageCms.profileToProfile(
                img,
                src,
                target or _srgb(),
                renderingIntent=ImageCms.Intent.PERCEPTUAL,
                outputMode="RGB",
            )
            img = cast(Image.Image, converted)  # None only comes from in-place conversions
        except (OSError, ImageCms.PyCMSError, ValueError) as exc:
            log.warning("colour profile ignored: %s", exc)
            img = img.convert("RGB")
    if img.mode != "RGB":
        img = img.convert("RGB")
    if alpha is not None:
        img.putalpha(alpha)
    return img


STRIP_ROWS = 64


def pil_to_qimage(img: Image.Image) -> QImage:
    """A QImage that owns its pixels, in the fastest format for the raster painter.

    Pillow hands over its packed RGB(A) bytes and Qt converts them to (A)RGB32, in strips of
    64 rows written into the final image: PySide keeps the GIL during a Qt call, and one
    conversion of a whole 24 MP photo held it for ~70 ms, long enough to stall the window
    while a photo opened in a worker thread. Strips hold it for about a millisecond each.
    """
    w, h = img.size
    alpha = img.mode == "RGBA"
    if not alpha and img.mode != "RGB":
        img = img.convert("RGB")
    if alpha:
        src_fmt, bpp, fmt = (
            QImage.Format.Format_RGBA8888,
            4,
            QImage.Format.Format_ARGB32_Premultiplied,
        )
    else:
        src_fmt, bpp, fmt = QImage.Format.Format_RGB888, 3, QImage.Format.Format_RGB32
    out = QImage(w, h, fmt)
    bpl = out.bytesPerLine()
    dst = cast(memoryview, out.bits())  # typed as bytes, but a writable view
    for y0 in range(0, h, STRIP_ROWS):
        y1 = min(h, y0 + STRIP_ROWS)
        data = img.crop((0, y0, w, y1)).tobytes()
        part = QImage(data, w, y1 - y0, w * bpp, src_fmt).convertToFormat(fmt)
        dst[y0 * bpl : y1 * bpl] = part.constBits()[: (y1 - y0) * bpl]
    out.setColorSpace(QColorSpace(QColorSpace.NamedColorSpace.SRgb))
    return out


def build_levels(img: Image.Image) -> list[QImage]:
    """Full size plus successive halvings (box filter) down to a few hundred pixels."""
    levels = [pil_to_qimage(img)]
    cur = img
    while max(cur.size) // 2 >= _MIN_LEVEL_SIDE:
        cur = cur.reduce(2)
        levels.append(pil_to_qimage(cur))
    return levels


def load_display(path: Path, display_profile: Path | None = None) -> DisplayImage:
    """Decode, orient, colour-convert and build the levels of one photo (worker thread)."""
    from retouchdesk.core.imageio import load_image

    loaded = load_image(path)
    meta = loaded.meta
    icc = getattr(meta, "icc", None)
    img = to_display(loaded.image, icc, display_profile)
    return DisplayImage(
        path=path,
        width=img.width,
        height=img.height,
        levels=build_levels(img),
        has_alpha=img.mode == "RGBA",
        icc_name=_profile_name(icc),
        meta={"format": getattr(meta, "format", ""), "bit_depth": getattr(meta, "bit_depth", 8)},
    )


def make_thumbnail(path: Path, size: int = THUMB_SIZE) -> tuple[QImage, tuple[int, int]]:
    """A small colour-managed, oriented preview and the photo's oriented full size.

    JPEGs are decoded at a reduced scale (``draft``), which makes a thumbnail of a 24 MP photo
    take tens of milliseconds instead of a full decode.
    """
    from PIL import Image, ImageOps

    with Image.open(path) as im:
        full = im.size
        icc = im.info.get("icc_profile")
        im.draft("RGB", (size * 2, size * 2))
        oriented = ImageOps.exif_transpose(im)
        orientation = im.getexif().get(0x0112, 1)
        if orientation in (5, 6, 7, 8):
            full = (full[1], full[0])
        oriented.thumbnail((size, size), Image.Resampling.LANCZOS)
        disp = to_display(oriented, icc)
    return pil_to_qimage(disp), full
