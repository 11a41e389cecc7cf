"""EXIF of a source photo, cleaned for its results: tag by tag, never the file's own header.

A TIFF's first directory *is* its header (strip offsets, bits per sample, compression, colour
map...); Pillow hands it out as "EXIF", and copying it into a result describes pixels the
result does not have (garbled or unreadable TIFFs, 100 KB "EXIF" that JPEG cannot hold). So
only descriptive tags are kept, and every tag is checked on its own: one malformed tag (a wrong
type, a bad count) is skipped instead of dropping the 45 good ones with it.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any

from PIL import Image, TiffImagePlugin

ORIENTATION = 0x0112
EXIF_IFD = 0x8769
GPS_IFD = 0x8825
INTEROP_IFD = 0xA005
PIXEL_X = 0xA002
PIXEL_Y = 0xA003
_MAKERNOTE = 0x927C

#: First-directory tags that describe the stored pixels or other blocks, never copied: image
#: structure, strips and tiles, colour maps, JPEG tables, sub-images, and the blocks written on
#: their own (XMP 700, ICC 34675) or not carried (IPTC 33723, Photoshop 34377, layers 37724).
_STRUCTURAL_IDS = """
254 255 256 257 258 259 262 263 264 265 266 269 273 277 278 279 280 281 284 285 286 287 288
289 290 291 292 293 297 301 317 320 321 322 323 324 325 330 332 333 334 336 337 338 339 340
341 342 343 347 351 512 513 514 515 517 518 519 520 521 529 530 531 532 700 32995 32996 32997
32998 33723 34377 34675 37724 40961 50706 50707 50708 50709
"""
STRUCTURAL = frozenset(int(t) for t in _STRUCTURAL_IDS.split()) | {EXIF_IFD, GPS_IFD, INTEROP_IFD}


@dataclass
class CleanExif:
    """Descriptive EXIF in groups: first directory, EXIF, GPS and Interop sub-directories."""

    ifd0: dict[int, Any] = field(default_factory=dict)
    exif: dict[int, Any] = field(default_factory=dict)
    gps: dict[int, Any] = field(default_factory=dict)
    interop: dict[int, Any] = field(default_factory=dict)
    skipped: int = 0  # malformed tags left out

    def __len__(self) -> int:
        return len(self.ifd0) + len(self.exif) + len(self.gps) + len(self.interop)


def _encodes(group: int | None, tag: int, value: Any) -> bool:
    """True when ``value`` can be written as ``tag`` (Pillow's own serialiser decides)."""
    if isinstance(value, dict):
        return False
    try:
        ifd = TiffImagePlugin.ImageFileDirectory_v2(group=group)
        ifd[tag] = value
        ifd.tobytes(0)
    except Exception:
        return False
    return True


def _keep(tags: dict[int, Any], group: int | None, out: dict[int, Any], skip: set[int]) -> int:
    skipped = 0
    for tag, value in tags.items():
        if tag in skip:
            continue
        if _encodes(group, tag, value):
            out[tag] = value
        else:
            skipped += 1
    return skipped


#: First-directory tags whose value must be one of a few codes: libtiff rejects others.
ENUMS: dict[int, tuple[int, ...]] = {296: (1, 2, 3), ORIENTATION: tuple(range(1, 9))}


def _sub_ifd(exif: Image.Exif, tag: int) -> dict[int, Any]:
    try:
        return dict(exif.get_ifd(tag))
    except Exception:  # a damaged pointer: that directory is lost, the rest is kept
        return {}


def clean(exif: Image.Exif | bytes | None) -> CleanExif:
    """The descriptive tags of ``exif`` (an opened image's ``getexif()`` or raw bytes)."""
    out = CleanExif()
    if exif is None:
        return out
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Pillow warns on corrupt EXIF; we skip instead
        if isinstance(exif, bytes | bytearray):
            loaded = Image.Exif()
            try:
                loaded.load(bytes(exif))
            except Exception:
                return out
            exif = loaded
        try:
            first = dict(exif.items())
        except Exception:
            return out
        out.skipped += _keep(first, None, out.ifd0, set(STRUCTURAL))
        if EXIF_IFD in first:
            sub = _sub_ifd(exif, EXIF_IFD)
            out.skipped += _keep(sub, EXIF_IFD, out.exif, {INTEROP_IFD})
            if INTEROP_IFD in sub:
                out.skipped += _keep(_sub_ifd(exif, INTEROP_IFD), INTEROP_IFD, out.interop, set())
        if GPS_IFD in first:
            out.skipped += _keep(_sub_ifd(exif, GPS_IFD), GPS_IFD, out.gps, set())
    return out


def for_result(
    tags: CleanExif, size: tuple[int, int], *, keep_gps: bool = True, makernote: bool = True
) -> CleanExif:
    """A copy for an upright result of ``size``: orientation 1, pixel size updated."""
    out = CleanExif(
        ifd0=dict(tags.ifd0),
        exif=dict(tags.exif),
        gps=dict(tags.gps) if keep_gps else {},
        interop=dict(tags.interop),
        skipped=tags.skipped,
    )
    if ORIENTATION in out.ifd0:
        out.ifd0[ORIENTATION] = 1
    if PIXEL_X in out.exif:
        out.exif[PIXEL_X] = size[0]
    if PIXEL_Y in out.exif:
        out.exif[PIXEL_Y] = size[1]
    if not makernote:
        out.exif.pop(_MAKERNOTE, None)
    return out


def to_exif(tags: CleanExif) -> Image.Exif:
    """A Pillow Exif holding ``tags`` (sub-directories nested, as Pillow writes them)."""
    exif = Image.Exif()
    for tag, value in tags.ifd0.items():
        exif[tag] = value
    sub = dict(tags.exif)
    if tags.interop:
        sub[INTEROP_IFD] = dict(tags.interop)
    if sub:
        exif[EXIF_IFD] = sub
    if tags.gps:
        exif[GPS_IFD] = dict(tags.gps)
    return exif


def to_bytes(tags: CleanExif) -> bytes | None:
    """The EXIF block (a little TIFF) for JPEG, PNG and WebP; None when nothing is left."""
    if not len(tags):
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return to_exif(tags).tobytes()
        except Exception:
            return None
