"""Photo information for the version on the canvas: histogram with clipping, and EXIF.

Both are computed in a worker thread from the file of the shown version (the working version
of the current photo), so a 24 MP photo never freezes the window:

* the histogram counts the upright 8-bit pixels ``core.imageio.load_image`` gives (what the
  canvas shows before display colour management): R, G, B and luminance (Rec. 709 weights,
  the sRGB primaries), 256 bins each, and the pixels clipped in the shadows (any channel at 0)
  and in the highlights (any channel at 255), with a mask of where they are for the overlay;
* the EXIF panel reads camera, lens, exposure, date and GPS tag by tag; a malformed tag is
  left blank, never an error (cameras and editors write odd values).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from PySide6.QtCore import QObject, Signal

from retouchdesk.model.tasks import TaskRunner

if TYPE_CHECKING:  # imported where used: the window's first paint loads none of these
    import numpy as np


log = logging.getLogger(__name__)

#: Rec. 709 / sRGB luminance weights, in 1/10000 (they add up to 10000: white stays 255).
LUMA_10000 = (2126, 7152, 722)


@dataclass
class Histogram:
    """256-bin counts per channel, clipping counts and where the clipped pixels are."""

    red: np.ndarray
    green: np.ndarray
    blue: np.ndarray
    luminance: np.ndarray
    shadows: int  # pixels with some channel at 0
    highlights: int  # pixels with some channel at 255
    pixels: int
    #: Where the clipped pixels are, one bit per pixel and row (``np.packbits(axis=1)``):
    #: shadows, highlights and the width. 6 MB for 24 MP instead of 24 MB as bytes.
    clip_bits: tuple[np.ndarray, np.ndarray, int] | None = None

    def percent(self, count: int) -> float:
        return 100.0 * count / self.pixels if self.pixels else 0.0

    @property
    def clip_mask(self) -> np.ndarray | None:
        """uint8 H x W: 1 shadows, 2 highlights, 3 both (made when asked: the overlay)."""
        if self.clip_bits is None:
            return None
        import numpy as np

        low, high, w = self.clip_bits
        mask = np.unpackbits(low, axis=1, count=w)
        mask |= np.unpackbits(high, axis=1, count=w) << 1
        return mask


def histogram_of(rgb: np.ndarray, *, with_mask: bool = True) -> Histogram:
    """The histogram of an H x W x 3 uint8 array (alpha, if any, is dropped by the caller).

    Works through bands of rows (bounded memory on 24 MP); luma is exact integer arithmetic
    through per-channel lookup tables: (2126 R + 7152 G + 722 B + 5000) // 10000.
    """
    import numpy as np

    rgb = rgb[..., :3]
    if rgb.dtype != np.uint8:
        rgb = rgb.astype(np.uint8)
    h, w = rgb.shape[:2]
    levels = np.arange(256, dtype=np.uint32)
    tables = [levels * np.uint32(k) for k in LUMA_10000]
    counts = [np.zeros(256, np.int64) for _ in range(4)]
    row_bytes = (w + 7) // 8
    low_bits = np.zeros((h, row_bytes), np.uint8) if with_mask else None
    high_bits = np.zeros((h, row_bytes), np.uint8) if with_mask else None
    shadows = highlights = 0
    band = max(1, (1 << 20) // max(1, w))
    for y in range(0, h, band):
        part = rgb[y : y + band]
        r, g, b = (np.ascontiguousarray(part[..., i]) for i in range(3))
        for i, ch in enumerate((r, g, b)):
            counts[i] += np.bincount(ch.ravel(), minlength=256)
        luma = (tables[0][r] + tables[1][g] + tables[2][b] + np.uint32(5000)) // np.uint32(10000)
        counts[3] += np.bincount(luma.ravel(), minlength=256)
        low = np.minimum(np.minimum(r, g), b) == 0
        high = np.maximum(np.maximum(r, g), b) == 255
        shadows += int(np.count_nonzero(low))
        highlights += int(np.count_nonzero(high))
        if low_bits is not None and high_bits is not None:
            low_bits[y : y + band] = np.packbits(low, axis=1)
            high_bits[y : y + band] = np.packbits(high, axis=1)
    bits = (low_bits, high_bits, w) if low_bits is not None and high_bits is not None else None
    return Histogram(counts[0], counts[1], counts[2], counts[3], shadows, highlights, h * w, bits)


def histogram_of_qimage(image: Any) -> Histogram:
    """The histogram of an RGB32 or RGB888 QImage (what the display decode read, before
    colour management), without copying it: a view of its bytes (B G R X in memory for
    RGB32, R G B for RGB888)."""
    import numpy as np
    from PySide6.QtGui import QImage

    w, h, bpl = image.width(), image.height(), image.bytesPerLine()
    raw = np.frombuffer(image.constBits(), dtype=np.uint8, count=bpl * h).reshape(h, bpl)
    if image.format() == QImage.Format.Format_RGB888:
        return histogram_of(raw[:, : w * 3].reshape(h, w, 3))
    bgrx = raw[:, : w * 4].reshape(h, w, 4)
    return histogram_of(bgrx[..., 2::-1])  # R G B


def histogram_of_file(path: Path) -> Histogram:
    import numpy as np

    from retouchdesk.core.imageio import load_image

    loaded = load_image(path)
    img = loaded.image
    if img.mode not in ("RGB", "RGBA"):
        img = img.convert("RGB")
    return histogram_of(np.asarray(img))


# -- EXIF --------------------------------------------------------------------------------------
EXIF_IFD = 0x8769
GPS_IFD = 0x8825


@dataclass
class ExifSummary:
    """What the EXIF panel shows; "" where the file says nothing (or nothing sensible)."""

    camera: str = ""
    lens: str = ""
    exposure: str = ""
    date: str = ""
    gps: str = ""
    latitude: float | None = None
    longitude: float | None = None
    extra: dict[str, str] = field(default_factory=dict)

    def rows(self) -> list[tuple[str, str]]:
        return [
            ("Camera", self.camera),
            ("Lens", self.lens),
            ("Exposure", self.exposure),
            ("Date", self.date),
            ("GPS", self.gps),
        ]


def _text(value: Any) -> str:
    if isinstance(value, bytes):
        value = value.split(b"\0", 1)[0].decode("utf-8", "replace")
    return str(value).strip("\0 ").strip() if isinstance(value, str) else ""


def _number(value: Any) -> float | None:
    import numpy as np

    try:
        if isinstance(value, tuple) and len(value) == 2:  # a raw rational
            value = value[0] / value[1]
        f = float(cast(Any, value))
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    return f if np.isfinite(f) and 0 <= f < 4e9 else None  # 0xFFFFFFFF: "unknown" in EXIF


def _shutter(seconds: float) -> str:
    if seconds >= 1:
        return f"{seconds:g} s"
    from fractions import Fraction  # on use: fractions and decimal cost the window's start

    frac = Fraction(seconds).limit_denominator(16000)
    if frac.numerator == 1:
        return f"1/{frac.denominator} s"
    return f"1/{round(1 / seconds)} s"


def _dms(value: Any, ref: str, positive: str) -> float | None:
    try:
        d, m, s = (float(v) for v in value)
    except (TypeError, ValueError):
        return None
    if not (0 <= m < 60 and 0 <= s < 60):
        return None
    deg = d + m / 60 + s / 3600
    return deg if ref in ("", positive) else -deg


def _camera(make: str, model: str) -> str:
    if make and model.lower().startswith(make.lower()):
        return model  # "Canon" + "Canon EOS R5": the model already names the maker
    return " ".join(x for x in (make, model) if x)


def exif_summary(path: Path) -> ExifSummary:
    """Camera, lens, exposure, date and GPS of ``path`` (blank where absent or malformed)."""
    import warnings

    from PIL import Image

    out = ExifSummary()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # Pillow warns about corrupt tags: we skip them
            with Image.open(path) as im:
                exif = im.getexif()
                main = dict(exif.items())
                sub = dict(exif.get_ifd(EXIF_IFD).items())
                gps = dict(exif.get_ifd(GPS_IFD).items())
    except Exception as exc:  # no EXIF at all, or a file Pillow cannot read
        log.debug("no EXIF in %s: %s", path, exc)
        return out
    out.camera = _camera(_text(main.get(0x010F)), _text(main.get(0x0110)))
    lens = _text(sub.get(0xA434))
    lens_make = _text(sub.get(0xA433))
    out.lens = (
        lens
        if not lens_make or lens.lower().startswith(lens_make.lower())
        else (f"{lens_make} {lens}" if lens else "")
    )
    parts = []
    t = _number(sub.get(0x829A))
    if t is not None and t > 0:
        parts.append(_shutter(t))
    f = _number(sub.get(0x829D))
    if f is not None and 0 < f < 1000:
        parts.append(f"f/{f:g}")
    iso = sub.get(0x8827)
    if isinstance(iso, tuple):
        iso = iso[0] if iso else None
    iso_n = _number(iso)
    if iso_n is not None and 0 < iso_n < 10_000_000:
        parts.append(f"ISO {int(iso_n)}")
    fl = _number(sub.get(0x920A))
    if fl is not None and 0 < fl < 100_000:
        parts.append(f"{fl:g} mm")
    try:
        bias = float(sub.get(0x9204) or 0)  # exposure compensation may be negative
    except (TypeError, ValueError, ZeroDivisionError):
        bias = 0.0
    if bias and abs(bias) < 20:
        parts.append(f"{bias:+.1f} EV")
    out.exposure = " · ".join(parts)
    out.date = _date(_text(sub.get(0x9003)) or _text(main.get(0x0132)), _text(sub.get(0x9011)))
    lat = _dms(gps.get(2), _text(gps.get(1)), "N")
    lon = _dms(gps.get(4), _text(gps.get(3)), "E")
    if lat is not None and lon is not None and abs(lat) <= 90 and abs(lon) <= 180:
        out.latitude, out.longitude = lat, lon
        ns, ew = ("N" if lat >= 0 else "S"), ("E" if lon >= 0 else "W")
        text = f"{abs(lat):.5f}° {ns}, {abs(lon):.5f}° {ew}"
        alt = _number(gps.get(6))
        if alt is not None and alt < 100_000:
            below = gps.get(5) in (1, b"\x01")
            text += f", {'-' if below else ''}{alt:g} m"
        out.gps = text
    return out


def _date(value: str, offset: str) -> str:
    """'2024:05:07 09:33:04' -> '2024-05-07 09:33:04' (+ offset); nonsense -> ''."""
    import datetime as dt

    try:
        when = dt.datetime.strptime(value[:19], "%Y:%m:%d %H:%M:%S")
    except ValueError:
        return ""
    text = when.strftime("%Y-%m-%d %H:%M:%S")
    return f"{text} {offset}" if offset else text


# -- the view-model ------------------------------------------------------------------------------
class PhotoInfoModel(QObject):
    """Histogram and EXIF of one file, recomputed in a worker when the shown file changes.

    Signals:
        changed(): ``histogram`` / ``exif`` / ``error`` are new.
    """

    changed = Signal()

    def __init__(self, runner: TaskRunner, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.runner = runner
        self.path: Path | None = None
        self.histogram: Histogram | None = None
        self.exif: ExifSummary | None = None
        self.error = ""
        self.busy = False

    def set_path(
        self, path: Path | None, histogram: Histogram | None = None, pixels: Any = None
    ) -> None:
        """Show ``path``'s information. ``histogram``: already counted by the decode for the
        canvas; ``pixels``: the canvas's QImage holding exactly the decoded pixels, counted
        in the worker. Either way only the EXIF is read, not the whole file again."""
        if path == self.path and (self.histogram is not None or self.busy):
            return
        self.path = path
        self.histogram, self.exif, self.error = None, None, ""
        if path is None:
            self.changed.emit()
            return
        self.busy = True
        self.changed.emit()
        self.runner.spawn(self._compute(path, histogram, pixels), name="photo-info", preempt=True)

    async def _compute(
        self, path: Path, known: Histogram | None = None, pixels: Any = None
    ) -> None:
        try:
            if known is not None:
                hist, exif = known, await self.runner.in_thread(exif_summary, path)
            elif pixels is not None:
                hist = await self.runner.in_thread(histogram_of_qimage, pixels)
                exif = await self.runner.in_thread(exif_summary, path)
            else:
                hist, exif = await self.runner.in_thread(_both, path)
        except Exception as exc:  # an unreadable file: the canvas already says so
            if path == self.path:
                self.busy, self.error = False, str(exc) or "This file cannot be read"
                self.changed.emit()
            return
        if path != self.path:
            return  # another version was shown meanwhile
        self.histogram, self.exif, self.busy = hist, exif, False
        self.changed.emit()


def _both(path: Path) -> tuple[Histogram, ExifSummary]:
    return histogram_of_file(path), exif_summary(path)
