"""The AI upscaler's tile size chosen from the memory this machine has free right now.

The worker's memory during a Real-ESRGAN x4plus pass grows with the square of the tile side,
not with the photo. Measured on the CPU path (official ``ncnn`` wheel, ``esrgan.Upscaler``;
resident set of a fresh process after one tile, padded by 10 px on every side):

====================  ==========  ==========
tile (padded side)    pixels      resident
====================  ==========  ==========
64 (84)               7 056       0.77 GB
128 (148)             21 904      1.48 GB
256 (276)             76 176      3.99 GB
====================  ==========  ==========

which fits ``0.44 GB + 47 kB x padded pixels`` within 2 %: a 256 tile needs about 4 GB,
whatever the photo's size. A smaller tile costs speed only through the padding
(``((t + 20) / t)^2``: +16 % at 256, +19 % at 216, +34 % at 128), so the automatic size is the
largest tile whose estimate fits in half the available memory and at most 3 GiB, within
[64, 256]. The cap also bounds how long the kernel takes to reclaim a killed worker's memory
(about 0.3 s per GB measured here), which a cancel or the app's death waits on.
"""

from __future__ import annotations

import math

from retouchdesk.core.memory import available_bytes

BASE_BYTES = 440e6  # model, packed weights and thread workspaces
BYTES_PER_PIXEL = 47e3  # activations per padded tile pixel
PAD = 10  # esrgan.PREPAD (not imported: it would load numpy in the app process)
MIN_TILE, MAX_TILE = 64, 256
SHARE = 0.5  # of the memory available when the job starts
CAP_BYTES = 3 * 1024**3  # never plan more than this, even on a large machine


def estimate_bytes(tile: int) -> float:
    """Peak resident memory of the upscaling worker for square tiles of side ``tile``."""
    side = tile + 2 * PAD
    return BASE_BYTES + BYTES_PER_PIXEL * side * side


def tile_for(available: int | None) -> int:
    """The largest tile (multiple of 8, 64..256) whose estimate fits in the memory budget.

    Unknown memory gives a middle size (128) rather than the largest.
    """
    if available is None:
        return 128
    budget = min(SHARE * available, CAP_BYTES)
    room = (budget - BASE_BYTES) / BYTES_PER_PIXEL
    if room <= 0:
        return MIN_TILE
    tile = int(math.sqrt(room)) - 2 * PAD
    return max(MIN_TILE, min(MAX_TILE, tile // 8 * 8))


def auto_tile_size() -> int:
    """The tile size for a job starting now (setting ``local.tile_size`` = 0)."""
    return tile_for(available_bytes())
