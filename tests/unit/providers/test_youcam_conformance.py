"""YouCam conformance, settled against Perfect Corp's own client and the v1 document.

Row 1: balance and history live under /s2s/v1.0/client/credit for both generations (a v2 key
as Bearer), the balance under ``results`` (github.com/YouCam-API/skills,
``skills/*/scripts/constants.py``, ``api-fallback.yaml``, ``youcam_api.get_credits``).
Row 2: the v2 price list is paged (``page_size``, ``starting_token`` -> ``next_token``;
``youcam_api.get_feature_cost``). Row 3: v2 Face Swap's own ``face_mapping``. Row 4: v1
Background Blur / Change take only ``src_ids`` and the action and answer a foreground mask
(seed youcam-online-editor.txt); the app blurs with the mask itself and refuses a v1
Background Change before anything is uploaded.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import numpy as np
import pytest
from PIL import Image
from tests.emulators.drive import drive, make_context
from tests.emulators.youcam import FEATURES, Invalid
from tests.emulators.youcam.validation import check_params
from tests.emulators.youcam_support import FAST, make_provider, youcam_op

from retouchdesk.core.errors import ProviderError
from retouchdesk.core.schema import load_catalog

pytestmark = pytest.mark.timeout(90)
CAT = load_catalog()


@pytest.mark.parametrize("gen", ["v1", "v2"])
async def test_balance_and_history_use_the_v1_0_paths_with_either_bearer(emulator, tmp_path, gen):
    emu = emulator("youcam", **FAST)
    prov = make_provider(emu, gen, tmp_path / "cache")
    try:
        balance = await prov.balance()
        history = await prov.history(5)
    finally:
        await prov.aclose()
    assert balance.total == 1000 and len(balance.credits) == 2
    assert len(history) == 2 and {h.action for h in history} >= {"subscription_credits"}
    [req] = emu.received("/s2s/v1.0/client/credit")
    assert req.header("authorization").startswith("Bearer " + ("sk-" if gen == "v2" else ""))
    assert emu.received("/s2s/v1.0/client/credit/history")
    assert not [r for r in emu.received() if r.path.startswith("/s2s/v2.0/client")]


def test_there_is_no_v2_0_credit_path(emulator):
    emu = emulator("youcam", **FAST)
    bearer = {"Authorization": f"Bearer {emu.api_key}"}
    assert httpx.get(emu.url + "/s2s/v2.0/client/credit", headers=bearer).status_code == 404
    r = httpx.get(emu.url + "/s2s/v1.0/client/credit", headers=bearer)
    assert r.status_code == 200 and isinstance(r.json()["results"], list)


async def test_the_price_list_is_read_page_by_page(emulator, tmp_path):
    emu = emulator("youcam", sku_page_cap=4, **FAST)
    prov = make_provider(emu, "v2", tmp_path / "cache")
    try:
        costs = await prov.feature_costs()
    finally:
        await prov.aclose()
    priced = {f.v2 for f in FEATURES.values() if f.cost}
    assert set(costs) == priced and costs["bg-replace"] == 4
    pages = emu.received("/s2s/v2.0/credit/feature-cost")
    assert len(pages) == -(-len(priced) // 4)
    assert [p.arg("page_size") for p in pages] == ["20"] * len(pages)
    assert pages[0].arg("starting_token") is None
    assert [p.arg("starting_token") for p in pages[1:]] == [
        str(4 * i) for i in range(1, len(pages))
    ]


def test_emulator_wants_v2_face_mapping_on_v2():
    spec = FEATURES["face_swap"].params_v2
    with pytest.raises(Invalid, match="face_mapping has the wrong type"):
        check_params(spec, {"face_mapping": [{"index": 0, "position": 1}]})
    good = [{"src_face_index": 1, "ref_file_id": "f1", "ref_face_index": 0}]
    assert check_params(spec, {"face_mapping": good})
    with pytest.raises(Invalid):
        check_params(FEATURES["face_swap"].params_v1, {"face_mapping": good})


def _background_difference(out: Path, src: Path) -> float:
    """Mean change in the photo's corners (background) after a blur."""
    a = np.asarray(Image.open(out).convert("RGB"), np.float32)
    b = np.asarray(Image.open(src).convert("RGB"), np.float32)
    h, w = b.shape[:2]
    corners = [(slice(0, h // 6), slice(0, w // 6)), (slice(0, h // 6), slice(-w // 6, None))]
    return float(np.mean([np.abs(a[c] - b[c]).mean() for c in corners]))


@pytest.mark.slow
async def test_v1_background_blur_sends_no_intensity_and_blurs_with_the_mask(
    emulator, tmp_path, youcam_inputs
):
    emu = emulator("youcam", **FAST)
    prov = make_provider(emu, "v1", tmp_path / "cache")
    outs = {}
    try:
        for intensity in (10, 90):
            ctx = make_context(
                youcam_op("background_blur"),
                youcam_inputs.cat,
                {"intensity": intensity},
                tmp_path / f"w{intensity}",
            )
            done = await drive(prov, ctx, max_wait=0.1)
            outs[intensity] = done.outputs[0]
    finally:
        await prov.aclose()
    for post in emu.received("/s2s/v1.0/task/bg-blur", "POST"):
        payload = post.json["payload"]
        assert set(payload) == {"file_sets", "actions"}
        assert payload["actions"] == [{"id": 0}] and set(payload["file_sets"]) == {"src_ids"}
    for out in outs.values():
        assert out.meta.get("blurred_locally") is True
        assert Image.open(out.path).mode == "RGB" and Image.open(out.path).size == (451, 300)
    weak = _background_difference(outs[10].path, youcam_inputs.cat)
    strong = _background_difference(outs[90].path, youcam_inputs.cat)
    assert 0.5 < weak < strong  # the intensity is applied here, locally


@pytest.mark.slow
async def test_v2_background_blur_still_sends_intensity(emulator, tmp_path, youcam_inputs):
    emu = emulator("youcam", **FAST)
    prov = make_provider(emu, "v2", tmp_path / "cache")
    try:
        ctx = make_context(
            youcam_op("background_blur"), youcam_inputs.cat, {"intensity": 70}, tmp_path / "w"
        )
        done = await drive(prov, ctx, max_wait=0.1)
    finally:
        await prov.aclose()
    posts = emu.received("/s2s/v2.0/task/bg-blur", "POST")
    assert posts and all(p.json["intensity"] == 70 for p in posts)
    assert "blurred_locally" not in done.outputs[0].meta


async def test_v1_background_change_is_refused_before_any_upload(emulator, tmp_path, youcam_inputs):
    emu = emulator("youcam", **FAST)
    prov = make_provider(emu, "v1", tmp_path / "cache")
    params = {"type": "prompt", "prompt": "a beach at sunset"}
    try:
        with pytest.raises(ProviderError, match="needs a YouCam v2 API key") as info:
            await drive(
                prov,
                make_context(
                    youcam_op("background_change"), youcam_inputs.cat, params, tmp_path / "w"
                ),
            )
    finally:
        await prov.aclose()
    assert not info.value.retryable
    assert not [r for r in emu.received() if "/file" in r.path or r.method == "PUT"]


async def test_a_presigned_put_with_an_unsigned_amz_header_is_refused_like_s3(emulator, tmp_path):
    emu = emulator("youcam", **FAST)
    prov = make_provider(emu, "v2", tmp_path / "cache")
    try:
        [slot] = await prov.io.run(
            prov.client.create_uploads(
                "enhance", [{"content_type": "image/png", "file_name": "a.png", "file_size": 3}]
            )
        )
        request = dict(slot["requests"][0])
        url, headers = request["url"], dict(request["headers"])
        r = httpx.put(url, content=b"abc", headers={**headers, "x-amz-acl": "public-read"})
        assert r.status_code == 403 and b"<HeadersNotSigned>x-amz-acl<" in r.content
        request["headers"] = {**headers, "x-amz-acl": "public-read"}
        with pytest.raises(ProviderError, match="storage refused the upload") as info:
            await prov.io.run(prov.client.put_file(request, b"abc"))
        assert info.value.status == 403
        await prov.io.run(prov.client.put_file(slot["requests"][0], b"abc"))  # as returned: ok
    finally:
        await prov.aclose()
    assert emu.rejected_puts == 2
