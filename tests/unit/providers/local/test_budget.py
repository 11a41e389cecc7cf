"""The AI upscaler's automatic tile size: from the memory free now, within its bounds."""

from __future__ import annotations

from retouchdesk.providers.local import budget
from retouchdesk.providers.local.provider import LocalProvider

GiB = 1024**3


def test_the_estimate_matches_the_measured_points():
    # Resident memory measured after one tile (see the module docstring), within 10 %.
    for tile, measured in ((64, 0.774e9), (128, 1.482e9), (256, 3.993e9)):
        assert abs(budget.estimate_bytes(tile) - measured) / measured < 0.05


def test_the_tile_fits_half_the_free_memory_and_never_more_than_the_cap():
    for free in (3 * GiB, 4 * GiB, 6 * GiB, 64 * GiB):
        tile = budget.tile_for(free)
        assert tile % 8 == 0
        assert budget.estimate_bytes(tile) <= min(free * budget.SHARE, budget.CAP_BYTES)
        bigger = tile + 8
        if tile < budget.MAX_TILE:  # the next size up would not fit
            assert budget.estimate_bytes(bigger) > min(free * budget.SHARE, budget.CAP_BYTES)


def test_tiles_grow_with_free_memory_within_bounds():
    tiles = [budget.tile_for(g * GiB) for g in (0, 1, 2, 3, 4, 6, 8, 128)]
    assert tiles == sorted(tiles)
    assert tiles[0] == budget.MIN_TILE and tiles[-1] <= budget.MAX_TILE
    assert budget.tile_for(None) == 128


def test_the_machine_reports_its_free_memory():
    free = budget.available_bytes()
    assert free is None or free > 0
    assert budget.MIN_TILE <= budget.auto_tile_size() <= budget.MAX_TILE


def test_provider_tile_setting_zero_means_automatic():
    p = LocalProvider(tile_size=0)
    assert p.tile_size == 0  # each job picks the tile from the memory free at that moment
    assert LocalProvider(tile_size=96).tile_size == 96
