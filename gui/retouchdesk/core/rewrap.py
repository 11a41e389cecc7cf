"""A result already in the output format, written as it came: new metadata, the same pixels.

A cloud vendor's result is usually a PNG or a JPEG. When the output format is the same and
nothing changes a pixel (upright, 8 bits, the colour model the writer would keep), decoding it
and encoding it again costs a third of a second for a PNG and, for a JPEG, a second
generation of loss. Instead the container is rebuilt around the vendor's own image data:

* **PNG**: the signature, IHDR, then our iCCP/eXIf/iTXt chunks (:mod:`core.pngwrite`), then
  the vendor's IDAT chunks byte for byte and IEND. Every other ancillary chunk (its own
  profile, gamma, text, time) is left out, as a decode and re-encode would leave it out.
* **JPEG**: SOI, the JFIF (APP0) or Adobe (APP14) segments the decoder needs, then our EXIF
  (APP1), XMP (APP1) and ICC (APP2, split as the ICC specification says), then everything
  from the first table onwards byte for byte: tables, frame header, scans, EOI. The
  entropy-coded data is unchanged.

Nothing here decides *whether* a result may be rewrapped: :mod:`core.resultwrite` does, and
falls back to decoding whenever a pixel would change. The data is checked as it is parsed
(PNG chunk CRCs, the whole zlib stream and its rows' filters by :mod:`core.pngcheck`; JPEG's
marker structure and EOI); a damaged file raises :class:`NotRewrappable` and goes through
the decoder, which says what is wrong.
"""

from __future__ import annotations

import struct

from retouchdesk.core import pngcheck, pngwrite

PNG_SIGNATURE = pngcheck.SIGNATURE
_ICC_MARKER = b"ICC_PROFILE\x00"
_ICC_CHUNK = 65519  # bytes of profile per APP2 segment (65535 - 2 length - 14 header)
_XMP_MARKER = b"http://ns.adobe.com/xap/1.0/\x00"


class NotRewrappable(Exception):
    """The file is not a whole, plain PNG or JPEG: decode it instead."""


# -- PNG -------------------------------------------------------------------------------------


Chunks = pngcheck.Chunks


def png_chunks(data: bytes) -> Chunks:
    """A PNG's chunks as (type, data), every CRC checked, IHDR first and IEND last."""
    try:
        return pngcheck.chunks(data)
    except pngcheck.Damaged as exc:
        raise NotRewrappable(str(exc)) from None


def png_facts(chunks: Chunks) -> tuple[int, int, int, int, bool, int | None]:
    """(width, height, bit depth, colour type, has tRNS, EXIF orientation) of a PNG.

    The orientation is None when it cannot be told without a decoder's help (a text chunk
    that may carry EXIF or XMP naming one); 1 when nothing names one.
    """
    width, height, depth, colour, _c, _f, _i = struct.unpack(">IIBBBBB", chunks[0][1])
    orientation: int | None = 1
    for kind, view in chunks:
        if kind == b"eXIf":
            orientation = _exif_orientation(bytes(view))
        elif kind in (b"tEXt", b"zTXt", b"iTXt"):
            body = bytes(view)  # text and metadata are small: image data is never copied
            if b"Orientation" in body or body.startswith(b"Raw profile type"):
                return width, height, depth, colour, False, None
    has_trns = any(k == b"tRNS" for k, _ in chunks)
    return width, height, depth, colour, has_trns, orientation


def _exif_orientation(block: bytes) -> int | None:
    from PIL import Image

    exif = Image.Exif()
    try:
        exif.load(block if block.startswith(b"Exif\x00\x00") else b"Exif\x00\x00" + block)
        value = int(exif.get(0x0112, 1))
    except Exception:
        return None
    return value if 1 <= value <= 8 else 1


def rewrap_png(
    chunks: Chunks, *, icc: bytes | None = None, exif: bytes | None = None, xmp: bytes | None = None
) -> bytes:
    """A PNG of ``chunks`` (:func:`png_chunks`) with only its image chunks and the metadata.

    The image data is proved whole (:func:`pngcheck.check_image_data`: a truncated or
    damaged stream, or a row with an unknown filter, raises :class:`NotRewrappable`); it is
    written as it was, compressed bytes unchanged.
    """
    return b"".join(rewrap_png_pieces(chunks, icc=icc, exif=exif, xmp=xmp))


def rewrap_png_pieces(
    chunks: Chunks, *, icc: bytes | None = None, exif: bytes | None = None, xmp: bytes | None = None
) -> list[bytes | memoryview]:
    """:func:`rewrap_png` as the pieces of the file, in order, to be written one by one.

    The image data stays in views of the original file's bytes: joining a photo's 25 MB into
    one new buffer held the GIL for 12 ms, time in which the window could not paint.
    """
    ihdr = b""
    idat: list[memoryview] = []
    plte = b""
    for kind, body in chunks:
        if kind == b"IHDR":
            ihdr = bytes(body)
        elif kind == b"PLTE":
            plte = bytes(body)
        elif kind == b"IDAT":
            idat.append(body)
    if not idat:
        raise NotRewrappable("the PNG holds no image data")
    try:
        pngcheck.check_image_data(ihdr, idat)
    except pngcheck.Damaged as exc:
        raise NotRewrappable(str(exc)) from None
    out: list[bytes | memoryview] = [PNG_SIGNATURE, pngwrite.chunk(b"IHDR", ihdr)]
    out.append(pngwrite.metadata_chunks(icc=icc, exif=exif, xmp=xmp))
    if plte:
        out.append(pngwrite.chunk(b"PLTE", plte))
    for body in idat:
        out.extend(pngwrite.chunk_pieces(b"IDAT", body))
    out.append(pngwrite.chunk(b"IEND", b""))
    return out


# -- JPEG ------------------------------------------------------------------------------------

_SOF = frozenset({0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF})
_STANDALONE = frozenset({0x01, *range(0xD0, 0xD8)})


def jpeg_facts(data: bytes) -> tuple[int, int, int, int]:
    """(width, height, precision, components) from a JPEG's frame header."""
    for marker, body in _jpeg_segments(data)[0]:
        if marker in _SOF:
            precision, height, width, components = struct.unpack(">BHHB", body[:6])
            return width, height, precision, components
    raise NotRewrappable("the JPEG has no frame header")


def _jpeg_segments(data: bytes) -> tuple[list[tuple[int, bytes]], int]:
    """The segments before the first scan as (marker, body), and where the scan's SOS starts.

    Checks that the file is a JPEG that ends with EOI (a cut download does not).
    """
    if not data.startswith(b"\xff\xd8"):
        raise NotRewrappable("not a JPEG")
    if not data.rstrip(b"\x00\r\n ").endswith(b"\xff\xd9"):
        raise NotRewrappable("the JPEG ends before its EOI marker")
    segments: list[tuple[int, bytes]] = []
    pos = 2
    while pos + 4 <= len(data):
        if data[pos] != 0xFF:
            raise NotRewrappable("the JPEG's segments are damaged")
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker in _STANDALONE:
            pos += 2
            continue
        if marker == 0xDA:  # SOS: the entropy-coded data follows
            if not any(m in _SOF for m, _ in segments):
                raise NotRewrappable("the JPEG has no frame header before its scan")
            return segments, pos
        if marker == 0xD9:
            break
        (length,) = struct.unpack(">H", data[pos + 2 : pos + 4])
        if length < 2 or pos + 2 + length > len(data):
            raise NotRewrappable("a JPEG segment runs past the end of the file")
        segments.append((marker, data[pos + 4 : pos + 2 + length]))
        pos += 2 + length
    raise NotRewrappable("the JPEG has no scan")


def _segment(marker: int, body: bytes) -> bytes:
    if len(body) + 2 > 0xFFFF:
        raise ValueError("a JPEG segment holds at most 65533 bytes")
    return bytes((0xFF, marker)) + struct.pack(">H", len(body) + 2) + body


def icc_segments(icc: bytes) -> bytes:
    """The APP2 segments of an ICC profile (numbered chunks, as the ICC specification says)."""
    parts = [icc[i : i + _ICC_CHUNK] for i in range(0, len(icc), _ICC_CHUNK)]
    if len(parts) > 255:
        raise ValueError("the ICC profile is too large for JPEG")
    return b"".join(
        _segment(0xE2, _ICC_MARKER + bytes((n + 1, len(parts))) + part)
        for n, part in enumerate(parts)
    )


def rewrap_jpeg(
    data: bytes, *, icc: bytes | None = None, exif: bytes | None = None, xmp: bytes | None = None
) -> bytes:
    """``data`` (a JPEG) with its metadata segments replaced by the given ones.

    JFIF (APP0) and Adobe (APP14, which says how the colours were transformed) are kept, as
    are comments; other application segments (EXIF, XMP, ICC, Photoshop...) are left out. The
    tables, frame header and everything from the first scan on are copied byte for byte.
    ``exif`` is a complete APP1 payload (``Exif\\0\\0`` and a TIFF block); ``xmp`` the packet.
    """
    return b"".join(rewrap_jpeg_pieces(data, icc=icc, exif=exif, xmp=xmp))


def rewrap_jpeg_pieces(
    data: bytes, *, icc: bytes | None = None, exif: bytes | None = None, xmp: bytes | None = None
) -> list[bytes | memoryview]:
    """:func:`rewrap_jpeg` as its new head and a view of the scan data, written in turn.

    The scan is most of the file (tens of megabytes for an upscaled photo); slicing and
    joining it copied it twice with the GIL held, time in which the window could not paint.
    """
    segments, sos = _jpeg_segments(data)
    head = [b"\xff\xd8"]
    kept = [(m, b) for m, b in segments if m == 0xE0 and b.startswith(b"JFIF\x00")]
    head.extend(_segment(m, b) for m, b in kept)
    if exif:
        body = exif if exif.startswith(b"Exif\x00\x00") else b"Exif\x00\x00" + exif
        head.append(_segment(0xE1, body))
    if xmp:
        head.append(_segment(0xE1, _XMP_MARKER + xmp))
    if icc:
        head.append(icc_segments(icc))
    for marker, body in segments:
        if 0xE0 <= marker <= 0xEF:
            if marker == 0xEE and body.startswith(b"Adobe"):
                head.append(_segment(marker, body))
            continue  # application data of the vendor's encoder: left out
        head.append(_segment(marker, body))
    return [b"".join(head), memoryview(data)[sos:]]
