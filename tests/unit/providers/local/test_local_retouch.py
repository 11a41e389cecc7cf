"""Skin smoothing, background blur/removal, colour correction and lighting on the real photos."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from retouchdesk.core.errors import InputError
from retouchdesk.providers.local import faces, run_array, skin
from retouchdesk.providers.local.common import OpContext
from retouchdesk.providers.local.metrics import hf_energy, sharpness
from retouchdesk.providers.local.runner import operation_schema

# -- faces and skin -----------------------------------------------------------------------------


def test_face_found_on_the_portrait_and_not_on_the_cat_or_cup(astronaut, coffee, chelsea):
    found = faces.detect_faces(astronaut)
    assert len(found) == 1
    b = found[0].box
    assert 160 < b.cx < 260 and 80 < b.cy < 160  # her face, not the helmet or the patch
    r_eye, l_eye = found[0].regions["r_eye"], found[0].regions["l_eye"]
    assert r_eye[0] < l_eye[0]  # the person's right eye is on the image's left
    assert found[0].regions["mouth"][1] > r_eye[1] + 0.3 * b.h
    assert faces.detect_faces(coffee) == [] and faces.detect_faces(chelsea) == []


def _skin(params: dict) -> dict:
    """``params`` completed with the schema's defaults, as run_array gives them."""
    return operation_schema("skin_smoothing").initial_values(params)


def test_skin_smoothing_reduces_texture_inside_and_changes_nothing_outside(astronaut):
    params = {"strength": 50, "texture": 50}
    mask, found = skin.skin_mask(astronaut, _skin(params), OpContext())
    ctx = OpContext()
    out = run_array("skin_smoothing", astronaut, params, ctx)
    assert np.array_equal(out[mask == 0], astronaut[mask == 0])
    before, after = hf_energy(astronaut, mask), hf_energy(out, mask)
    assert after < 0.95 * before  # blemishes and unevenness go down...
    assert after > 0.4 * before  # ...but pores stay: no plastic look
    assert ctx.meta["faces"] == 1 and "r_eye" in ctx.meta["protected"]
    # Eyes, brows and mouth are protected by default: untouched.
    guard = faces.region_mask(astronaut.shape[:2], found, ["r_eye", "l_eye", "mouth"])
    assert np.array_equal(out[guard > 0], astronaut[guard > 0])
    stronger = run_array("skin_smoothing", astronaut, {"strength": 100, "texture": 0}, OpContext())
    assert hf_energy(stronger, mask) < after


def test_protection_toggles_follow_enhancor_names(astronaut):
    mask_on, found = skin.skin_mask(astronaut, _skin({}), OpContext())
    mask_off, _ = skin.skin_mask(
        astronaut, _skin({"mouth": False, "u_lip": False, "l_lip": False}), OpContext()
    )
    mouth = faces.region_mask(astronaut.shape[:2], found, ["mouth"])
    assert np.count_nonzero(mask_on[mouth > 0]) == 0
    assert np.count_nonzero(mask_off[mouth > 0]) > np.count_nonzero(mask_on[mouth > 0])


def test_strength_zero_is_identity_and_no_face_is_an_error(astronaut, coffee):
    ctx = OpContext()
    assert np.array_equal(run_array("skin_smoothing", astronaut, {"strength": 0}, ctx), astronaut)
    assert ctx.warnings
    with pytest.raises(InputError, match="no face found"):
        run_array("skin_smoothing", coffee, {}, OpContext(source_name="coffee.png"))


# -- background ------------------------------------------------------------------------------


@pytest.mark.slow
def test_background_removal_cuts_out_the_person(astronaut):
    ctx = OpContext()
    out = run_array("background_removal", astronaut, {}, ctx)
    assert out.shape == (512, 512, 4)
    alpha = out[..., 3]
    assert alpha[120, 220] > 240  # her face
    assert alpha[200, 215] > 200  # her black collar against the black backdrop
    assert alpha[10, 470] < 15 and alpha[20, 20] < 15  # the wall and the flag
    assert 0.15 < ctx.meta["subject_fraction"] < 0.6
    assert np.array_equal(out[..., :3], astronaut)  # colours untouched, only alpha


def test_exact_user_mask_is_the_subject(chelsea):
    user = np.zeros((300, 451), np.uint8)
    user[50:250, 100:300] = 255
    out = run_array(
        "background_removal", chelsea, {"mask_array": user, "mask_mode": "exact"}, OpContext()
    )
    assert out[150, 200, 3] == 255 and out[10, 10, 3] == 0


@pytest.mark.slow
def test_background_blur_keeps_the_subject_and_softens_the_rest(astronaut, chelsea):
    out = run_array("background_blur", astronaut, {"intensity": 60}, OpContext())
    face = (slice(90, 150), slice(190, 250))
    wall = (slice(0, 80), slice(380, 500))
    assert np.abs(out[face].astype(int) - astronaut[face].astype(int)).mean() < 4
    assert sharpness(out[wall]) < 0.5 * sharpness(astronaut[wall])
    # No face: the centred subject (the cat) is kept, the edges blurred.
    ctx = OpContext()
    cat = run_array("background_blur", chelsea, {"intensity": 60}, ctx)
    assert ctx.meta["faces"] == 0 and cat.shape == chelsea.shape
    assert np.array_equal(
        run_array("background_blur", chelsea, {"intensity": 0}, OpContext()), chelsea
    )


# -- colour and light -----------------------------------------------------------------------


def test_colour_correction_undoes_a_cast(astronaut):
    # A blue cast and a dull exposure: correcting it lands near the corrected original.
    gains = np.array([0.85, 0.95, 1.2])
    cast = np.clip(astronaut.astype(float) * gains * 0.8 + 12, 0, 255).astype(np.uint8)
    fixed = run_array("color_correction", cast, {"strength": 100}, OpContext())
    reference = run_array("color_correction", astronaut, {"strength": 100}, OpContext())
    before = np.abs(cast.astype(int) - reference.astype(int)).mean()
    after = np.abs(fixed.astype(int) - reference.astype(int)).mean()
    assert after < 0.4 * before
    grey = cv2.cvtColor(fixed, cv2.COLOR_RGB2GRAY)
    assert np.percentile(grey, 99.9) > 235 and np.percentile(grey, 0.1) < 20
    assert np.array_equal(run_array("color_correction", cast, {"strength": 0}, OpContext()), cast)


def test_lighting_lifts_shadows_and_keeps_highlights(astronaut):
    out = run_array("lighting", astronaut, {"strength": 100, "shadow_lift": 80}, OpContext())
    grey_in = cv2.cvtColor(astronaut, cv2.COLOR_RGB2GRAY).astype(float)
    grey_out = cv2.cvtColor(out, cv2.COLOR_RGB2GRAY).astype(float)
    dark = grey_in < 50
    assert grey_out[dark].mean() > grey_in[dark].mean() + 5
    bright = grey_in > 220
    assert abs(grey_out[bright].mean() - grey_in[bright].mean()) < 15
    assert np.array_equal(run_array("lighting", astronaut, {"strength": 0}, OpContext()), astronaut)
