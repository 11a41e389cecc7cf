"""Photos made for tests: a 16-bit ProPhoto RGB TIFF stored rotated, as Lightroom hands over.

Written with tifffile (not with the app's own writer) and a colour profile built here byte by
byte after the ICC specification (Pillow's ImageCms can only create sRGB, Lab and XYZ): a
matrix/TRC profile with the ROMM (ProPhoto) primaries, D50 white and a 1.8 gamma, which
littleCMS accepts like the one Lightroom embeds.
"""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np


def _s15(v: float) -> bytes:
    return struct.pack(">i", round(v * 65536))


def _xyz(x: float, y: float, z: float) -> bytes:
    return b"XYZ \0\0\0\0" + _s15(x) + _s15(y) + _s15(z)


def _desc(text: str) -> bytes:
    ascii_ = text.encode("ascii") + b"\0"
    return (
        b"desc\0\0\0\0"
        + struct.pack(">I", len(ascii_))
        + ascii_
        + struct.pack(">II", 0, 0)
        + struct.pack(">HB", 0, 0)
        + b"\0" * 67
    )


def _profile(space: bytes, tags: list[tuple[bytes, bytes]]) -> bytes:
    offset = 128 + 4 + 12 * len(tags)
    table, data = b"", b""
    for sig, body in tags:
        table += sig + struct.pack(">II", offset + len(data), len(body))
        data += body + b"\0" * (-len(body) % 4)
    body = struct.pack(">I", len(tags)) + table + data
    size = 128 + len(body)
    header = (
        struct.pack(">I", size)
        + b"\0\0\0\0"  # preferred CMM
        + bytes([2, 0x10, 0, 0])  # version 2.1
        + b"mntr"
        + space
        + b"XYZ "
        + struct.pack(">6H", 2026, 12, 2, 12, 0, 0)
        + b"acsp"
        + b"\0" * 4  # platform
        + b"\0" * 4  # flags
        + b"\0" * 8  # manufacturer, model
        + b"\0" * 8  # attributes
        + struct.pack(">I", 0)  # perceptual intent
        + _s15(0.9642)
        + _s15(1.0)
        + _s15(0.8249)
        + b"\0" * 4  # creator
        + b"\0" * 16  # profile id
        + b"\0" * 28
    )
    assert len(header) == 128
    return header + body


def grey_icc() -> bytes:
    """A grey display profile (gamma 2.2), like the "Gray Gamma 2.2" Photoshop embeds."""
    gamma = b"curv\0\0\0\0" + struct.pack(">IH", 1, round(2.2 * 256)) + b"\0\0"
    return _profile(
        b"GRAY",
        [
            (b"desc", _desc("Test Gray Gamma 2.2")),
            (b"cprt", b"text\0\0\0\0" + b"No copyright, test profile\0"),
            (b"wtpt", _xyz(0.9642, 1.0, 0.8249)),
            (b"kTRC", gamma),
        ],
    )


def prophoto_icc() -> bytes:
    """A ProPhoto-like RGB display profile (ICC v2.1, matrix/TRC)."""
    gamma = b"curv\0\0\0\0" + struct.pack(">IH", 1, round(1.8 * 256)) + b"\0\0"
    tags = [
        (b"desc", _desc("Test ProPhoto RGB")),
        (b"cprt", b"text\0\0\0\0" + b"No copyright, test profile\0"),
        (b"wtpt", _xyz(0.9642, 1.0, 0.8249)),
        (b"rXYZ", _xyz(0.7977, 0.2880, 0.0)),
        (b"gXYZ", _xyz(0.1352, 0.7119, 0.0)),
        (b"bXYZ", _xyz(0.0313, 0.0001, 0.8249)),
        (b"rTRC", gamma),
        (b"gTRC", gamma),
        (b"bTRC", gamma),
    ]
    return _profile(b"RGB ", tags)


def stored_pattern(width: int, height: int) -> np.ndarray:
    """16-bit RGB as stored: left half red-ish, right half blue-ish, with a fine ramp in the
    low bits (so a trip through 8 bits shows)."""
    a = np.zeros((height, width, 3), np.uint16)
    ramp = (np.arange(width, dtype=np.uint32) * 37 % 256).astype(np.uint16)
    a[:, : width // 2, 0] = 60000
    a[:, : width // 2, 1] = 9000 + ramp[: width // 2]
    a[:, width // 2 :, 2] = 58000
    a[:, width // 2 :, 1] = 12000 + ramp[width // 2 :]
    a[:, :, 0] += np.arange(height, dtype=np.uint16)[:, None] * 3
    return a


def rotated_prophoto_tiff(path: Path, width: int = 320, height: int = 240) -> np.ndarray:
    """Write a 16-bit ProPhoto TIFF stored ``width`` x ``height`` with orientation 6 (turn 90°
    clockwise to view), Deflate-compressed, with a Make tag; returns its upright pixels."""
    import tifffile

    stored = stored_pattern(width, height)
    tifffile.imwrite(
        path,
        stored,
        photometric="rgb",
        compression="zlib",
        iccprofile=prophoto_icc(),
        extratags=[(274, "H", 1, 6, True), (271, "s", 0, "TestCam", True)],
        metadata=None,
    )
    return np.ascontiguousarray(np.rot90(stored, k=-1))  # orientation 6 = 90° clockwise
