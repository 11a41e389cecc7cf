"""Display P3 as an ICC profile, and exact sRGB <-> Display P3 conversion of 16-bit pixels.

Pillow builds sRGB itself (``ImageCms.createProfile("sRGB")``) but has no Display P3, and no
system ships one we could rely on; a matrix/TRC profile is small enough to write here: ICC
v2, D50 PCS, the P3 primaries (D65 white) chromatically adapted to D50 with Bradford, and the
sRGB tone curve (Display P3 uses it too) as a 1024-entry table.

Pillow's colour management works on 8-bit images only; 16-bit exports between sRGB and
Display P3 are converted here in floating point (both spaces share the D65 white and the
sRGB curve, so the conversion is one 3x3 matrix in linear light).
"""

from __future__ import annotations

import struct
from functools import cache

import numpy as np

# Linear RGB -> XYZ (D65) for each space, from the primaries' chromaticities.
_D65 = (0.3127, 0.3290)
_PRIMARIES = {
    "srgb": ((0.64, 0.33), (0.30, 0.60), (0.15, 0.06)),
    "p3": ((0.680, 0.320), (0.265, 0.690), (0.150, 0.060)),
}
_BRADFORD = np.array(
    [[0.8951, 0.2664, -0.1614], [-0.7502, 1.7135, 0.0367], [0.0389, -0.0685, 1.0296]]
)
_D50_XYZ = np.array([0.9642, 1.0, 0.8249])


def _xyz(xy: tuple[float, float]) -> np.ndarray:
    x, y = xy
    return np.array([x / y, 1.0, (1 - x - y) / y])


def rgb_to_xyz(space: str) -> np.ndarray:
    """The 3x3 matrix from linear RGB of ``space`` ("srgb" or "p3") to XYZ under D65."""
    cols = np.stack([_xyz(p) for p in _PRIMARIES[space]], axis=1)
    scale = np.linalg.solve(cols, _xyz(_D65))
    return cols * scale


def conversion_matrix(src: str, dst: str) -> np.ndarray:
    """Linear ``src`` RGB -> linear ``dst`` RGB (same white, so no adaptation)."""
    return np.linalg.solve(rgb_to_xyz(dst), rgb_to_xyz(src))


def srgb_decode(v: np.ndarray) -> np.ndarray:
    return np.where(v <= 0.04045, v / 12.92, ((v + 0.055) / 1.055) ** 2.4)


def srgb_encode(v: np.ndarray) -> np.ndarray:
    v = np.clip(v, 0.0, 1.0)
    return np.where(v <= 0.0031308, v * 12.92, 1.055 * np.power(v, 1 / 2.4) - 0.055)


_ENCODE_STEPS = 1 << 20  # linear light quantised this finely: under one 16-bit code per step


@cache
def _decode_lut(peak: int) -> np.ndarray:
    return srgb_decode(np.arange(peak + 1, dtype=np.float64) / peak).astype(np.float32)


@cache
def _encode_lut(peak: int) -> np.ndarray:
    x = np.arange(_ENCODE_STEPS, dtype=np.float64) / (_ENCODE_STEPS - 1)
    return np.round(srgb_encode(x) * peak).astype(np.uint16 if peak > 255 else np.uint8)


def convert_pixels(arr: np.ndarray, src: str, dst: str) -> np.ndarray:
    """Convert uint8/uint16 RGB(A) pixels between "srgb" and "p3" (alpha untouched).

    Tables instead of powers: the tone curve is looked up on the way in and out (a 24 MP
    16-bit photo in a few seconds instead of half a minute), the matrix stays float32.
    """
    if src == dst:
        return arr
    peak = 65535 if arr.dtype == np.uint16 else 255
    rgb = _decode_lut(peak)[arr[..., :3]]
    out = rgb @ conversion_matrix(src, dst).T.astype(np.float32)
    np.clip(out, 0.0, 1.0, out=out)
    out *= _ENCODE_STEPS - 1
    out += 0.5
    enc = _encode_lut(peak)[out.astype(np.int32)]
    if arr.shape[-1] == 4:
        enc = np.concatenate([enc, arr[..., 3:]], axis=-1)
    return enc


# -- the ICC file ------------------------------------------------------------------------------


def _s15(v: float) -> bytes:
    return struct.pack(">i", round(v * 65536))


def _xyz_tag(xyz: np.ndarray) -> bytes:
    return b"XYZ " + b"\0" * 4 + b"".join(_s15(float(c)) for c in xyz)


def _desc_tag(text: str) -> bytes:
    ascii_ = text.encode("ascii") + b"\0"
    return (
        b"desc"
        + b"\0" * 4
        + struct.pack(">I", len(ascii_))
        + ascii_
        + b"\0" * 8  # Unicode language code and count
        + b"\0" * 3  # ScriptCode code and count
        + b"\0" * 67
    )


def _text_tag(text: str) -> bytes:
    return b"text" + b"\0" * 4 + text.encode("ascii") + b"\0"


def _curve_tag() -> bytes:
    x = np.linspace(0.0, 1.0, 1024)
    table = np.round(srgb_decode(x) * 65535).astype(">u2").tobytes()
    return b"curv" + b"\0" * 4 + struct.pack(">I", 1024) + table


@cache
def display_p3() -> bytes:
    """An ICC v2 monitor profile for Display P3 (see module docstring)."""
    adapt = _bradford(_xyz(_D65), _D50_XYZ)
    colorants = adapt @ rgb_to_xyz("p3")  # columns: red, green, blue under D50
    curve = _curve_tag()
    tags: list[tuple[bytes, bytes]] = [
        (b"desc", _desc_tag("Display P3 (Retouch Desk)")),
        (b"cprt", _text_tag("No copyright, use freely")),
        (b"wtpt", _xyz_tag(_D50_XYZ)),
        (b"rXYZ", _xyz_tag(colorants[:, 0])),
        (b"gXYZ", _xyz_tag(colorants[:, 1])),
        (b"bXYZ", _xyz_tag(colorants[:, 2])),
        (b"rTRC", curve),
        (b"gTRC", curve),
        (b"bTRC", curve),
    ]
    table_size = 4 + 12 * len(tags)
    offset = 128 + table_size
    entries, blobs = [], b""
    shared: dict[bytes, int] = {}
    for sig, data in tags:
        if data in shared:  # the three TRCs share one curve
            entries.append(sig + struct.pack(">II", shared[data], len(data)))
            continue
        while (offset + len(blobs)) % 4:
            blobs += b"\0"
        at = offset + len(blobs)
        shared[data] = at
        entries.append(sig + struct.pack(">II", at, len(data)))
        blobs += data
    body = struct.pack(">I", len(tags)) + b"".join(entries) + blobs
    size = 128 + len(body)
    header = (
        struct.pack(">I", size)
        + b"\0" * 4  # preferred CMM
        + bytes([2, 0x10, 0, 0])  # version 2.1
        + b"mntr"
        + b"RGB "
        + b"XYZ "
        + struct.pack(">6H", 2026, 1, 1, 0, 0, 0)
        + b"acsp"
        + b"\0" * 4  # platform
        + b"\0" * 4  # flags
        + b"\0" * 8  # manufacturer, model
        + b"\0" * 8  # attributes
        + struct.pack(">I", 0)  # perceptual intent
        + b"".join(_s15(float(c)) for c in _D50_XYZ)
        + b"\0" * 4  # creator
        + b"\0" * 16  # profile id
        + b"\0" * 28
    )
    assert len(header) == 128
    return header + body


def _bradford(src_white: np.ndarray, dst_white: np.ndarray) -> np.ndarray:
    s = _BRADFORD @ src_white
    d = _BRADFORD @ dst_white
    return np.linalg.inv(_BRADFORD) @ np.diag(d / s) @ _BRADFORD
