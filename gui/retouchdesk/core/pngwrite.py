"""16-bit PNG with metadata: imagecodecs encodes the pixels, the chunks are added here.

Pillow cannot hold 48/64-bit RGB(A) and OpenCV writes no metadata, so a 16-bit result is
encoded by imagecodecs (libpng) and its ICC profile (iCCP), EXIF (eXIf) and XMP (iTXt) chunks
are inserted right after IHDR, where the PNG specification wants them (before any IDAT).
"""

from __future__ import annotations

import struct
import zlib

import numpy as np

_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def chunk(kind: bytes, data: bytes | memoryview) -> bytes:
    """One PNG chunk: length, type, data and CRC."""
    return b"".join(chunk_pieces(kind, data))


def chunk_pieces(kind: bytes, data: bytes | memoryview) -> tuple[bytes, bytes | memoryview, bytes]:
    """One PNG chunk as its head (length and type), its data as given, and its CRC.

    Written in turn they make the chunk without copying its data (a vendor's image data
    passes through here); the CRC runs on from the type's, with the GIL released.
    """
    crc = zlib.crc32(data, zlib.crc32(kind))
    return struct.pack(">I", len(data)) + kind, data, struct.pack(">I", crc)


def metadata_chunks(
    *, icc: bytes | None = None, exif: bytes | None = None, xmp: bytes | None = None
) -> bytes:
    """iCCP, eXIf and iTXt (XMP) chunks, in that order."""
    out = b""
    if icc:
        out += chunk(b"iCCP", b"ICC profile\x00\x00" + zlib.compress(icc, 9))
    if exif:
        raw = exif[6:] if exif.startswith(b"Exif\x00\x00") else exif
        out += chunk(b"eXIf", raw)
    if xmp:
        out += chunk(b"iTXt", b"XML:com.adobe.xmp\x00\x00\x00\x00\x00" + xmp)
    return out


def insert_after_ihdr(png: bytes, chunks: bytes) -> bytes:
    """``png`` with ``chunks`` placed after its IHDR chunk."""
    if not png.startswith(_SIGNATURE) or png[12:16] != b"IHDR":
        raise ValueError("not a PNG stream")
    end = 8 + 8 + struct.unpack(">I", png[8:12])[0] + 4
    return png[:end] + chunks + png[end:]


def encode_png16(
    pixels: np.ndarray,
    *,
    icc: bytes | None = None,
    exif: bytes | None = None,
    xmp: bytes | None = None,
) -> bytes:
    """A 16-bit PNG of ``pixels`` (HxW, HxWx2, HxWx3 or HxWx4 uint16) with its metadata."""
    import imagecodecs

    a = np.ascontiguousarray(pixels, dtype=np.uint16)
    png = bytes(imagecodecs.png_encode(a, level=6))
    return insert_after_ihdr(png, metadata_chunks(icc=icc, exif=exif, xmp=xmp))
