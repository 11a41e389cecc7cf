"""Background blur/removal finds a subject without a face, and says when it is unsure."""

from __future__ import annotations

import numpy as np
import pytest

from retouchdesk.providers.local import background, run_array
from retouchdesk.providers.local.common import OpContext
from retouchdesk.providers.local.runner import operation_schema

# Regions of chelsea.png (451x300) looked up by eye: the cat's forehead between the ears, the
# tips of the ears, and the defocused room at the right edge.
FOREHEAD = (slice(20, 80), slice(150, 250))
EARS = (slice(0, 40), slice(40, 110))
ROOM = (slice(30, 150), slice(400, 450))


def _blur(params: dict) -> dict:
    """``params`` completed with the schema's defaults, as run_array gives them."""
    return operation_schema("background_blur").initial_values(params)


@pytest.mark.slow
def test_the_whole_cat_is_the_subject_not_a_face_shaped_island(chelsea: np.ndarray):
    ctx = OpContext(source_name="chelsea.png")
    alpha = background.subject_alpha(chelsea, _blur({}), ctx)
    assert ctx.meta["faces"] == 0
    # The face-seeded cut kept 0.39 of the forehead, none of the ears and 34% of the photo.
    assert alpha[FOREHEAD].mean() > 0.9
    assert alpha[EARS].mean() > 0.5
    assert alpha[ROOM].mean() < 0.1
    assert (alpha > 0.5).mean() > 0.45
    assert ctx.meta["subject_sure"] is True and not ctx.warnings


@pytest.mark.slow
def test_removal_of_the_cats_background_is_transparent_only_around_it(chelsea: np.ndarray):
    out = run_array("background_removal", chelsea, {}, OpContext())
    assert out.shape == (300, 451, 4)
    assert out[FOREHEAD][..., 3].mean() > 230 and out[ROOM][..., 3].mean() < 25


@pytest.mark.slow
def test_a_photo_without_a_subject_asks_for_a_painted_mask(coffee: np.ndarray):
    table = np.ascontiguousarray(coffee[250:400, 430:600])  # bare wood, no object
    noise = np.random.default_rng(1).integers(0, 256, (200, 300, 3), dtype=np.uint8)
    for img in (table, noise):
        ctx = OpContext(source_name="table.jpg")
        run_array("background_blur", img, {"intensity": 50}, ctx)
        assert ctx.meta["subject_sure"] is False
        (warning,) = ctx.warnings
        assert warning.startswith("table.jpg: not sure what the subject is") and "mask" in warning


def test_a_painted_mask_is_trusted_without_a_doubt(coffee: np.ndarray):
    table = np.ascontiguousarray(coffee[250:400, 430:600])
    mask = np.zeros(table.shape[:2], np.uint8)
    mask[40:110, 50:120] = 255
    ctx = OpContext()
    alpha = background.subject_alpha(table, _blur({"mask_array": mask}), ctx)
    assert not ctx.warnings and "subject_sure" not in ctx.meta
    assert alpha[60:90, 70:100].mean() > 0.9
