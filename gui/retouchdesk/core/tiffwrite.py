"""A small, exact TIFF writer: 8 or 16 bits, grey or RGB, with or without alpha, with metadata.

Why not Pillow: it has no 16-bit RGB mode, and its compressing (libtiff) writer cannot store
the EXIF and GPS sub-directories. Why not tifffile's writer: it cannot write those either.
The file layout is the plain baseline one every reader knows: little-endian header, one
directory (built by Pillow's ``ImageFileDirectory_v2``, which also nests the EXIF/GPS
directories and places their data), then the strips. Compression is none or Deflate with the
horizontal predictor (lossless, what "ZIP" means in Photoshop and Lightroom); LZW sources are
written as Deflate, the same lossless family.
"""

from __future__ import annotations

import zlib
from typing import IO, Any

import numpy as np
from PIL import TiffImagePlugin, TiffTags

from retouchdesk.core import exifdata

NONE, DEFLATE = 1, 8
_STRIP_BYTES = 256 * 1024  # uncompressed bytes per strip: small enough for any reader


def _predict(rows: np.ndarray) -> np.ndarray:
    """Horizontal differencing (TIFF predictor 2), per sample, wrapping like the decoder."""
    out = rows.copy()
    out[:, 1:] -= rows[:, :-1]
    return out


def write_tiff(
    fh: IO[bytes],
    pixels: np.ndarray,
    *,
    compression: int = DEFLATE,
    icc: bytes | None = None,
    xmp: bytes | None = None,
    exif: exifdata.CleanExif | None = None,
    dpi: tuple[float, float] | None = None,
) -> None:
    """Write ``pixels`` (HxW, HxWx2 grey+alpha, HxWx3 RGB or HxWx4 RGBA; uint8 or uint16)."""
    a = np.asarray(pixels)
    if a.dtype not in (np.uint8, np.uint16):
        raise ValueError(f"TIFF pixels must be uint8 or uint16, not {a.dtype}")
    if a.ndim == 2:
        a = a[:, :, None]
    h, w, spp = a.shape
    if spp not in (1, 2, 3, 4) or h < 1 or w < 1:
        raise ValueError(f"cannot write a TIFF of shape {pixels.shape}")
    a = np.ascontiguousarray(a.astype(a.dtype.newbyteorder("<"), copy=False))
    strips, rows_per_strip = _strips(a, compression)
    ifd = TiffImagePlugin.ImageFileDirectory_v2(prefix=b"II")
    if exif is not None:
        # Descriptive first-directory tags (Make, Model, DateTime, Artist, Copyright...)
        for tag, value in exif.ifd0.items():
            if tag in exifdata.STRUCTURAL:
                continue
            if tag in exifdata.ENUMS and value not in exifdata.ENUMS[tag]:
                continue  # e.g. ResolutionUnit 65535: libtiff refuses the whole tag
            ifd[tag] = value
    tags = _image_tags(a, strips, rows_per_strip, compression)
    if dpi is None and exif is not None and 282 in exif.ifd0 and 283 in exif.ifd0:
        pass  # the source's own resolution tags were copied above
    elif dpi is not None:
        tags[282] = (TiffTags.RATIONAL, float(dpi[0]))
        tags[283] = (TiffTags.RATIONAL, float(dpi[1]))
        tags[296] = (TiffTags.SHORT, 2)
    if icc:
        tags[34675] = (TiffTags.UNDEFINED, bytes(icc))
    if xmp:
        tags[700] = (TiffTags.BYTE, bytes(xmp))
    for tag, (typ, value) in tags.items():
        ifd.tagtype[tag] = typ
        ifd[tag] = value
    if exif is not None:
        _add_exif_directories(ifd, exif)
    # StripOffsets are written relative to the end of the directory and its data (Pillow adds
    # that offset itself), which is exactly where the strips start.
    directory = ifd.tobytes(8)
    fh.write(b"II*\x00" + (8).to_bytes(4, "little"))
    fh.write(directory)
    for s in strips:
        fh.write(s)


def _strips(a: np.ndarray, compression: int) -> tuple[list[bytes], int]:
    """The image data in strips of about :data:`_STRIP_BYTES` (Deflate with the predictor, or
    raw), and the rows in each."""
    h, w, spp = a.shape
    row_bytes = w * spp * a.dtype.itemsize
    rows_per_strip = max(1, min(h, _STRIP_BYTES // max(1, row_bytes)))
    strips: list[bytes] = []
    for top in range(0, h, rows_per_strip):
        block = a[top : top + rows_per_strip]
        if compression == DEFLATE:
            strips.append(zlib.compress(_predict(block).tobytes(), 6))
        else:
            strips.append(block.tobytes())
    return strips, rows_per_strip


def _image_tags(
    a: np.ndarray, strips: list[bytes], rows_per_strip: int, compression: int
) -> dict[int, tuple[int, Any]]:
    """The structural tags of the image: size, samples, compression, where the strips are."""
    h, w, spp = a.shape
    bits = a.dtype.itemsize * 8
    tags: dict[int, tuple[int, Any]] = {
        256: (TiffTags.LONG, w),
        257: (TiffTags.LONG, h),
        258: (TiffTags.SHORT, (bits,) * spp),
        259: (TiffTags.SHORT, compression),
        262: (TiffTags.SHORT, 2 if spp >= 3 else 1),
        273: (TiffTags.LONG, tuple(np.cumsum([0, *map(len, strips[:-1])]).tolist())),
        277: (TiffTags.SHORT, spp),
        278: (TiffTags.LONG, rows_per_strip),
        279: (TiffTags.LONG, tuple(len(s) for s in strips)),
        284: (TiffTags.SHORT, 1),
        339: (TiffTags.SHORT, (1,) * spp),
    }
    if spp in (2, 4):
        tags[338] = (TiffTags.SHORT, 2)  # unassociated alpha, as Photoshop writes it
    if compression == DEFLATE:
        tags[317] = (TiffTags.SHORT, 2)
    return tags


def _add_exif_directories(
    ifd: TiffImagePlugin.ImageFileDirectory_v2, exif: exifdata.CleanExif
) -> None:
    """The EXIF (with its interoperability directory) and GPS sub-directories."""
    sub = dict(exif.exif)
    if exif.interop:
        sub[exifdata.INTEROP_IFD] = dict(exif.interop)
    if sub:
        ifd.tagtype[exifdata.EXIF_IFD] = TiffTags.LONG
        ifd[exifdata.EXIF_IFD] = sub
    if exif.gps:
        ifd.tagtype[exifdata.GPS_IFD] = TiffTags.LONG
        ifd[exifdata.GPS_IFD] = dict(exif.gps)
