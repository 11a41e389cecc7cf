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
import sys
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
    #: The histogram of the decoded pixels (model.photo_info.Histogram), when the decode
    #: made it on the way: the Info panel then needs no second decode of the file.
    histogram: Any = None
    #: ``levels[0]`` holds exactly the decoded pixels (no colour conversion was needed):
    #: the Info panel counts them there, when it is shown, instead of decoding the file.
    decoded_pixels: bool = False

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
    header = _direct_jpeg(path)
    if header is not None:
        shown = _load_jpeg(path, header, display_profile)
        if shown is not None:
            return shown
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


# -- straight to a QImage ----------------------------------------------------------------------
#: Above this many pixels the half-size level is skipped: the canvas paints zoom levels
#: between 1/4 and 1/2 from the full image (smoothly), and a 24 MP photo keeps 24 MB less.
SKIP_HALF_LEVEL_PIXELS = 12_000_000
QT_JPEG_SUFFIXES = frozenset({".jpg", ".jpeg", ".jpe", ".jfif"})


@dataclass(frozen=True)
class _JpegHeader:
    """What the header of a JPEG the display decodes itself says."""

    mode: str  # "RGB" or "L"
    size: tuple[int, int]
    upright: bool  # EXIF orientation 1 (or none)
    icc: bytes | None


def _direct_jpeg(path: Path) -> _JpegHeader | None:
    """The header of a JPEG of 8-bit RGB or grey, decoded straight into the canvas's
    buffer (None for anything else).

    Pillow's decode of a 24 MP photo holds 96 MB of its own next to the 96 MB QImage made
    from it (and the Info panel decoded the file again): these are decoded once, in the final
    buffer, with the GIL released. CMYK and anything unusual go through Pillow and ImageCms
    as before.
    """
    if path.suffix.lower() not in QT_JPEG_SUFFIXES:
        return None
    from PIL import Image

    try:
        with Image.open(path) as im:  # the header only
            if im.format != "JPEG" or im.mode not in ("RGB", "L"):
                return None
            orientation = im.getexif().get(0x0112, 1)
            return _JpegHeader(im.mode, im.size, orientation in (0, 1), im.info.get("icc_profile"))
    except Exception:
        return None


def _decode_rgb888(path: Path, header: _JpegHeader) -> QImage | None:
    """An upright RGB JPEG decoded by libjpeg-turbo (imagecodecs) straight into a QImage's
    own RGB888 buffer, labelled with its embedded profile; None when that cannot be done.

    Qt's reader only writes RGB32, 4 bytes a pixel: 96 MB for 24 MP, where RGB888 holds the
    same pixels in 72 MB. The whole file is read first (libjpeg decodes from memory), a few
    MB. Rotated photos (Qt turns them while reading), rows that are not 4-byte aligned
    (RGB888 rows in a QImage are padded) and files the decoder rejects take Qt's path.
    """
    width, height = header.size
    if header.mode != "RGB" or not header.upright or (width * 3) % 4:
        return None
    import imagecodecs
    import numpy as np

    img = QImage(width, height, QImage.Format.Format_RGB888)
    if img.isNull() or img.bytesPerLine() != width * 3:  # out of memory, or padded rows
        return None
    pixels = np.frombuffer(cast(memoryview, img.bits()), np.uint8).reshape(height, width, 3)
    try:
        imagecodecs.jpeg8_decode(path.read_bytes(), out=pixels)
    except Exception:  # damaged or unusual: Qt's reader says what it can
        return None
    if header.icc:
        space = QColorSpace.fromIccProfile(header.icc)
        if space.isValid():
            img.setColorSpace(space)
    return img


def _load_jpeg(
    path: Path, header: _JpegHeader, display_profile: Path | None
) -> DisplayImage | None:
    """The decode of :func:`_direct_jpeg` files (:func:`_decode_rgb888`, else Qt's reader),
    its histogram taken before colour management (what Pillow's decode gave the Info
    panel); None when neither can read it."""
    img = _decode_rgb888(path, header)
    if img is None:
        from PySide6.QtGui import QImageReader

        reader = QImageReader(str(path))
        reader.setAutoTransform(True)  # EXIF orientation
        img = reader.read()
        if img.isNull():
            return None
        if img.format() != QImage.Format.Format_RGB32:
            img.convertTo(QImage.Format.Format_RGB32)
    source = img.colorSpace()
    icc_name = source.description().strip() if source.isValid() else ""
    srgb = QColorSpace(QColorSpace.NamedColorSpace.SRgb)
    target = srgb
    if display_profile is not None:
        try:
            wanted = QColorSpace.fromIccProfile(display_profile.read_bytes())
        except OSError as exc:
            log.warning("display profile %s cannot be read: %s", display_profile, exc)
        else:
            if wanted.isValid():
                target = wanted
            else:
                log.warning("display profile %s cannot be used", display_profile)
    if not source.isValid():
        img.setColorSpace(srgb)  # untagged: taken as sRGB, as with Pillow
    histogram = None
    converted = img.colorSpace() != target
    if converted:
        # The Info panel counts the pixels as decoded, before colour management: now or never.
        from retouchdesk.model.photo_info import histogram_of_qimage

        histogram = histogram_of_qimage(img)
        img.convertToColorSpace(target)  # in place: no second full-size buffer
    img.setColorSpace(srgb)  # what the canvas assumes of every level
    return DisplayImage(
        path=path,
        width=img.width(),
        height=img.height(),
        levels=qimage_levels(img),
        icc_name=icc_name,
        meta={"format": "JPEG", "bit_depth": 8},
        histogram=histogram,
        decoded_pixels=not converted,
    )


def qimage_levels(img: QImage) -> list[QImage]:
    """``img`` plus reduced copies down to a few hundred pixels (see ``build_levels``)."""
    levels = [img]
    first = 4 if img.width() * img.height() > SKIP_HALF_LEVEL_PIXELS else 2
    if max(img.width(), img.height()) // first < _MIN_LEVEL_SIDE:
        return levels
    cur = _reduced(img, first)
    levels.append(cur)
    while max(cur.width(), cur.height()) // 2 >= _MIN_LEVEL_SIDE:
        cur = _reduced(cur, 2)
        levels.append(cur)
    return levels


def _reduced(img: QImage, factor: int) -> QImage:
    """``img`` shrunk ``factor`` times (smooth): by :func:`_box_reduced` for opaque RGB,
    else by Qt strip by strip (:func:`_qt_reduced`)."""
    if img.format() in _BOX_FORMATS and sys.byteorder == "little" and factor <= 16:
        return _box_reduced(img, factor)
    return _qt_reduced(img, factor)


#: Formats whose bytes :func:`_box_reduced` reads: R, G, B, and B, G, R, 0xFF (little-endian).
_BOX_FORMATS = (QImage.Format.Format_RGB888, QImage.Format.Format_RGB32)


def _box_reduced(img: QImage, factor: int) -> QImage:
    """``img`` averaged over ``factor`` x ``factor`` blocks by numpy, as RGB32.

    Qt's smooth scaling holds the GIL for the whole call: even in strips, a worker building
    the levels of a 24 MP photo kept a waiting thread out for 36 ms on end, and the window's
    event loop stalled while photos opened during a batch. numpy's additions release the
    GIL; a 1 ms ticker thread was at most 1.2 ms late, for the same 40 ms of work, and the
    pixels are within one level of Qt's. The last ``w % factor`` columns and ``h % factor``
    rows (fewer than ``factor``) are left out of the level, under a pixel of it.
    """
    import numpy as np

    w, h = img.width(), img.height()
    dw, dh = max(1, w // factor), max(1, h // factor)
    if w < factor or h < factor:
        return _qt_reduced(img, factor)
    bpp = 3 if img.format() == QImage.Format.Format_RGB888 else 4
    src = np.frombuffer(cast(memoryview, img.constBits()), np.uint8)
    src = src.reshape(h, img.bytesPerLine())[: dh * factor, : dw * factor * bpp]
    src = src.reshape(dh * factor, dw * factor, bpp)
    out = QImage(dw, dh, QImage.Format.Format_RGB32)
    if out.isNull():
        return _qt_reduced(img, factor)
    dst = np.frombuffer(cast(memoryview, out.bits()), np.uint8)
    dst = dst.reshape(dh, out.bytesPerLine())[:, : dw * 4].reshape(dh, dw, 4)
    n = factor * factor
    rows = 128  # output rows per band: the uint16 sums stay a few MB
    for y0 in range(0, dh, rows):
        y1 = min(dh, y0 + rows)
        band = src[y0 * factor : y1 * factor]
        sums = band[0::factor].astype(np.uint16)  # 16 x 16 x 255 still fits
        for k in range(1, factor):
            sums += band[k::factor]
        block = sums[:, 0::factor].copy()
        for k in range(1, factor):
            block += sums[:, k::factor]
        block += n // 2
        block //= n
        if bpp == 3:  # R, G, B -> B, G, R, 0xFF
            dst[y0:y1, :, 0] = block[..., 2]
            dst[y0:y1, :, 1] = block[..., 1]
            dst[y0:y1, :, 2] = block[..., 0]
        else:
            dst[y0:y1, :, :3] = block[..., :3]
        dst[y0:y1, :, 3] = 255
    out.setColorSpace(img.colorSpace())
    return out


def _qt_reduced(img: QImage, factor: int) -> QImage:
    """``img`` shrunk ``factor`` times by Qt's smooth scaling, strip by strip.

    One ``QImage.scaled`` of 24 MP holds the GIL for 50-90 ms (the GUI thread would stall
    while a worker builds the levels); strips of 64 output rows hold it a few milliseconds.
    """
    from PySide6.QtCore import Qt

    w, h = img.width(), img.height()
    dw, dh = max(1, w // factor), max(1, h // factor)
    # Qt's smooth scaling works in (A)RGB32 and hands back that format for an RGB888
    # source: the reduced levels are RGB32, the painter's fastest format anyway.
    fmt = (
        QImage.Format.Format_RGB32 if img.format() == QImage.Format.Format_RGB888 else img.format()
    )
    out = QImage(dw, dh, fmt)
    src_bpl, dst_bpl = img.bytesPerLine(), out.bytesPerLine()
    src = img.constBits()
    dst = cast(memoryview, out.bits())
    rows = 64
    for y0 in range(0, dh, rows):
        y1 = min(dh, y0 + rows)
        sy0, sy1 = y0 * factor, (h if y1 == dh else y1 * factor)
        part = QImage(src[sy0 * src_bpl : sy1 * src_bpl], w, sy1 - sy0, src_bpl, img.format())
        small = part.scaled(
            dw,
            y1 - y0,
            Qt.AspectRatioMode.IgnoreAspectRatio,
            Qt.TransformationMode.SmoothTransformation,
        )
        if small.format() != fmt:
            small.convertTo(fmt)
        dst[y0 * dst_bpl : y1 * dst_bpl] = small.constBits()[: (y1 - y0) * dst_bpl]
    out.setColorSpace(img.colorSpace())
    return out


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
