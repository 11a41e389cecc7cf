"""Whether a PNG is whole, told without decoding it: its chunks, their CRCs, its image data.

A plain PNG (grey or RGB with or without alpha, any bit depth, not interlaced) decodes when its
chunks are whole (every CRC right, IHDR first, IEND last), its zlib stream inflates whole to
exactly the bytes its rows need, and every row names one of PNG's five filters. Those are the
only ways its decode can fail: undoing the filters cannot. So a result that is rewrapped
(:mod:`core.rewrap`) and a photo checked before upload (``imageio.check_decodes``) are proved
whole here without the decoder's unfiltering, copies and Python-level chunk reads.

The stream is inflated by libdeflate (imagecodecs) into one buffer of the size the rows need,
two to three times faster than zlib's inflate; above :data:`WHOLE_BUFFER_LIMIT` bytes it is
inflated by zlib in bounded pieces instead, so a very large image costs no large allocation.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Sequence
from typing import cast

SIGNATURE = b"\x89PNG\r\n\x1a\n"
CHANNELS = {0: 1, 2: 3, 4: 2, 6: 4}  # colour type -> samples per pixel (no palette)
WHOLE_BUFFER_LIMIT = 64 * 1024 * 1024  # inflated bytes checked in one libdeflate call
_PIECE = 1 << 24  # inflated bytes per zlib call above the limit
_FILTERS = bytes(range(5))  # None, Sub, Up, Average, Paeth
_DEPTHS = {0: (1, 2, 4, 8, 16), 2: (8, 16), 4: (8, 16), 6: (8, 16)}  # as the PNG spec allows

# A chunk's data is a view into the file's bytes, not a copy: a photo's image data is tens of
# megabytes, and copying it holds the GIL (see :func:`contiguous`).
Chunks = list[tuple[bytes, memoryview]]


class Damaged(ValueError):
    """The PNG is not whole (the sentence says what is wrong)."""


def chunks(data: bytes) -> Chunks:
    """A PNG's chunks as (type, data), every CRC checked, IHDR first and IEND last."""
    if not data.startswith(SIGNATURE):
        raise Damaged("not a PNG")
    out: Chunks = []
    pos = len(SIGNATURE)
    view = memoryview(data)
    while True:
        if pos + 8 > len(data):
            raise Damaged("the PNG ends before its IEND chunk")
        length, kind = struct.unpack_from(">I4s", data, pos)
        end = pos + 8 + length
        if end + 4 > len(data):
            raise Damaged("a PNG chunk runs past the end of the file")
        (crc,) = struct.unpack_from(">I", data, end)
        if zlib.crc32(view[pos + 4 : end]) != crc:
            raise Damaged(f"the PNG chunk {kind!r} is damaged")
        if not out and (kind != b"IHDR" or length != 13):
            raise Damaged("the PNG does not start with IHDR")
        out.append((kind, view[pos + 8 : end]))
        pos = end + 4
        if kind == b"IEND":
            return out


def row_bytes(ihdr: bytes | memoryview) -> int | None:
    """Bytes of one filtered row (its filter byte included) of a plain PNG, else None."""
    width, _h, depth, colour, _c, _f, interlace = struct.unpack(">IIBBBBB", ihdr)
    if interlace != 0 or depth not in _DEPTHS.get(colour, ()):
        return None
    return (width * CHANNELS[colour] * depth + 7) // 8 + 1


def check_image_data(ihdr: bytes | memoryview, idat: Sequence[bytes | memoryview]) -> None:
    """The zlib stream of ``idat`` is whole and, for a plain PNG (:func:`row_bytes`), holds
    exactly its rows, each with a known filter. Raises :class:`Damaged`."""
    if not idat:
        raise Damaged("the PNG holds no image data")
    row = row_bytes(ihdr)
    height = struct.unpack(">I", ihdr[4:8])[0]
    size = None if row is None else row * height
    if size is not None and size <= WHOLE_BUFFER_LIMIT:
        _check_whole(idat, row or 1, size)
    else:
        _check_in_pieces(idat, row, size)


def contiguous(pieces: Sequence[bytes | memoryview]) -> bytes | memoryview:
    """``pieces`` as one buffer, copied one piece at a time.

    ``b"".join`` copies them in one call that holds the GIL throughout, page faults of the
    fresh buffer included: 12 ms for a 12 MP photo's 25 MB of image data, which a window
    waiting to paint waited through. Between two pieces (64 KB each as encoders write them)
    other threads get their turn.
    """
    if len(pieces) == 1:
        return pieces[0]
    import numpy as np

    out = np.empty(sum(len(p) for p in pieces), np.uint8)  # not touched, so not faulted in
    pos = 0
    for piece in pieces:
        n = len(piece)
        out[pos : pos + n] = np.frombuffer(piece, np.uint8)
        pos += n
    return out.data


def _check_whole(idat: Sequence[bytes | memoryview], row: int, size: int) -> None:
    import imagecodecs

    stream = contiguous(idat)
    try:
        # Exactly the rows' size: a stream holding more fails (INSUFFICIENT_SPACE), one holding
        # less comes back shorter. A larger buffer would cost libdeflate's result a second copy
        # when it is trimmed (twice the time of the inflate at 1 MP).
        # Any buffer will do (it is read through the buffer protocol); the stubs say bytes.
        raw = imagecodecs.deflate_decode(cast(bytes, stream), out=size)
    except Exception:  # libdeflate says BAD_DATA, INSUFFICIENT_SPACE...: garbled or too long
        raise Damaged("the PNG's image data is damaged or the wrong size") from None
    if len(raw) != size:
        raise Damaged("the PNG's image data has the wrong size")
    if bytes(raw[::row]).translate(None, _FILTERS):
        raise Damaged("a row of the PNG names an unknown filter")


def _check_in_pieces(idat: Sequence[bytes | memoryview], row: int | None, size: int | None) -> None:
    inflater = zlib.decompressobj()
    done = 0
    try:
        for body in idat:
            piece = inflater.decompress(body, _PIECE)
            while True:
                if row is not None and bytes(piece[(-done) % row :: row]).translate(None, _FILTERS):
                    raise Damaged("a row of the PNG names an unknown filter")
                done += len(piece)
                if not inflater.unconsumed_tail:
                    break
                piece = inflater.decompress(inflater.unconsumed_tail, _PIECE)
        done += len(inflater.flush())
    except zlib.error:
        raise Damaged("the PNG's image data is damaged") from None
    if not inflater.eof:
        raise Damaged("the PNG's image data is cut short")
    if size is not None and done != size:
        raise Damaged("the PNG's image data has the wrong size")


def whole(data: bytes) -> bool:
    """True when ``data`` is a plain PNG (:func:`row_bytes`) proved whole; False when it is
    damaged or of another kind (palette, interlaced, anything after its image data but IEND):
    a decoder must then say. Only what a decode of it would also accept is True."""
    try:
        found = chunks(data)
    except (Damaged, struct.error):
        return False
    ihdr = found[0][1]
    if row_bytes(ihdr) is None:
        return False
    kinds = [kind for kind, _ in found]
    if b"IDAT" not in kinds:
        return False
    first = kinds.index(b"IDAT")
    last = len(kinds) - 1 - kinds[::-1].index(b"IDAT")
    # One run of IDAT, then only IEND: what follows the image data is read by a decoder
    # after the pixels (text, EXIF, animation frames) and may fail it in ways not judged here.
    if last != len(kinds) - 2 or any(k != b"IDAT" for k in kinds[first : last + 1]):
        return False
    try:
        check_image_data(ihdr, [body for _, body in found[first : last + 1]])
    except Damaged:
        return False
    return True
