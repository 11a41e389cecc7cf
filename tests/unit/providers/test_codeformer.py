"""CodeFormer provider against its loopback emulator: multipart, JSON, batch, health, faults."""

from __future__ import annotations

import base64
import io

import httpx
import numpy as np
import pytest
from PIL import Image
from tests.emulators.drive import assert_retouched, drive, make_context

from retouchdesk.core.errors import ConfigurationError, ProviderError
from retouchdesk.core.schema import load_catalog
from retouchdesk.providers import http
from retouchdesk.providers.codeformer import CodeFormerProvider

FAST = http.RetryPolicy(max_attempts=4, backoff_base=0.02, backoff_max=0.1, jitter=0.0)
OP = load_catalog().operation("codeformer", "restore")


@pytest.fixture
def cf(emulator):
    return emulator("codeformer", time_scale=0.05)


@pytest.fixture
async def provider(cf):
    p = CodeFormerProvider(base_url=cf.url, retry=FAST, health_interval=0.05)
    yield p
    await p.aclose()


def pixels(path_or_bytes):
    src = io.BytesIO(path_or_bytes) if isinstance(path_or_bytes, bytes) else path_or_bytes
    return np.asarray(Image.open(src).convert("RGB"), dtype=np.int16)


async def test_multipart_restore_end_to_end(cf, provider, data_dir, tmp_path):
    photo = data_dir / "astronaut.png"
    params = {"fidelity": 0.7, "upscale": 1, "background_enhance": True}
    result = await drive(provider, make_context(OP, photo, params, tmp_path / "w"))
    out = result.outputs[0].path
    assert Image.open(out).size == (512, 512)
    assert_retouched(out, photo)
    (rec,) = cf.received("/api/process")
    assert rec.content_type == "multipart/form-data"
    assert [f.filename for f in rec.files["image"]] == ["astronaut.png"]
    assert rec.files["image"][0].data == photo.read_bytes()
    expected = OP.serialize(OP.validate(params))
    assert {k: v[0] for k, v in rec.form.items()} == {
        k: (str(v).lower() if isinstance(v, bool) else str(v)) for k, v in expected.items()
    }
    assert rec.form["background_enhance"] == ["true"] and rec.form["face_upsample"] == ["false"]
    assert result.ctx.remote["server"] == "online (cuda)"
    assert cf.count("/static/results/" + result.outputs[0].meta["filename"]) == 1


async def test_json_variant_with_base64_results(cf, data_dir, tmp_path):
    p = CodeFormerProvider(base_url=cf.url, upload="json", retry=FAST)
    try:
        result = await drive(p, make_context(OP, data_dir / "chelsea.png", {}, tmp_path / "w"))
    finally:
        await p.aclose()
    assert Image.open(result.outputs[0].path).size == (902, 600)  # default upscale 2
    (rec,) = cf.received("/api/process")
    body = rec.json
    assert body["image_base64"].startswith("data:image/png;base64,")
    assert (
        base64.b64decode(body["image_base64"].split(",", 1)[1])
        == (data_dir / "chelsea.png").read_bytes()
    )
    assert body["return_base64"] is True
    assert {k: body[k] for k in ("fidelity", "upscale", "background_enhance", "face_upsample")} == (
        OP.serialize(OP.defaults())
    )
    assert not [r for r in cf.requests if r.path.startswith("/static/")]  # nothing downloaded


@pytest.mark.parametrize("upload", ["multipart", "json"])
async def test_batch_in_one_request(cf, data_dir, upload):
    p = CodeFormerProvider(base_url=cf.url, upload=upload, retry=FAST)
    paths = [data_dir / "astronaut.png", data_dir / "chelsea.png", data_dir / "coffee.png"]
    try:
        outs = await p.process(paths, {"upscale": 1, "fidelity": 0.5})
    finally:
        await p.aclose()
    assert cf.count("/api/process") == 1
    assert [Image.open(io.BytesIO(o.data)).size for o in outs] == [
        (512, 512), (451, 300), (600, 400)
    ]  # fmt: skip
    rec = cf.received("/api/process")[0]
    if upload == "multipart":
        assert [f.filename for f in rec.files["image"]] == [x.name for x in paths]
    else:
        assert len(rec.json["images_base64"]) == 3


async def test_health_status_texts(emulator):
    awake = emulator("codeformer", device="cpu")
    p = CodeFormerProvider(base_url=awake.url)
    assert await p.health() == "online (cpu)"
    await p.aclose()
    sleepy = emulator("codeformer", asleep=True, wake_time=0.5)
    p = CodeFormerProvider(base_url=sleepy.url, health_interval=0.05)
    try:
        assert await p.health() == "waking up"
        assert await p.wait_until_awake() == "online (cuda)"
    finally:
        await p.aclose()
    gone = CodeFormerProvider(base_url="http://127.0.0.1:9", retry=http.NO_RETRY)
    assert await gone.health() == "offline: the server cannot be reached"
    assert (await CodeFormerProvider(base_url="").health()).startswith("not set up")


async def test_sleeping_space_is_woken_before_processing(emulator, data_dir, tmp_path):
    cf = emulator("codeformer", asleep=True, wake_time=0.4)
    p = CodeFormerProvider(base_url=cf.url, health_interval=0.05, retry=FAST)
    ctx = make_context(OP, data_dir / "coffee.png", {"upscale": 1}, tmp_path / "w")
    try:
        result = await drive(p, ctx)
    finally:
        await p.aclose()
    assert any("waking up" in m for _, m in result.progress)
    assert cf.count("/api/process") == 1
    assert Image.open(result.outputs[0].path).size == (600, 400)


async def test_wake_timeout_is_bounded(emulator, data_dir, tmp_path):
    cf = emulator("codeformer", asleep=True, wake_time=100)
    p = CodeFormerProvider(base_url=cf.url, health_interval=0.05, wake_timeout=0.3)
    try:
        with pytest.raises(ProviderError, match="did not come online in time") as info:
            await p.prepare(make_context(OP, data_dir / "coffee.png", {}, tmp_path / "w"))
    finally:
        await p.aclose()
    assert info.value.retryable


async def test_above_the_size_limit_the_html_413_is_a_sentence(emulator, data_dir, tmp_path):
    cf = emulator("codeformer", max_body=50_000, too_large="html")
    p = CodeFormerProvider(base_url=cf.url, retry=FAST)
    try:
        # The emulator reads the whole upload before it answers, as the Space's proxy does,
        # so the one send gets the 413 page (never a reset halfway through the upload).
        with pytest.raises(ProviderError) as info:
            await p.process([data_dir / "astronaut.png"], {})
    finally:
        await p.aclose()
    assert info.value.status == 413
    assert str(info.value) == (
        "CodeFormer refused the upload during restoring the photo: the file is too large"
    )
    r = httpx.post(cf.url + "/api/process", files={"image": ("a.png", b"x" * 60_000)})
    assert r.status_code == 413 and r.text.startswith("<!doctype html>")


async def test_large_inputs_get_a_capped_upscale(cf, provider, tmp_path):
    big = tmp_path / "big.png"
    Image.new("RGB", (1200, 800), (120, 90, 60)).save(big)
    (out,) = await provider.process([big], {"upscale": 4})
    assert Image.open(io.BytesIO(out.data)).size == (2400, 1600)


async def test_private_space_token(emulator, data_dir):
    cf = emulator("codeformer", token="hf_private_token_123")
    bad = CodeFormerProvider(base_url=cf.url, token="hf_wrong_token_000")
    good = CodeFormerProvider(base_url=cf.url, token="hf_private_token_123")
    try:
        with pytest.raises(ProviderError) as info:
            await bad.process([data_dir / "coffee.png"], {"upscale": 1})
        assert "hf_wrong_token_000" not in str(info.value)
        assert (await bad.health()).startswith("offline: the server refused")
        outs = await good.process([data_dir / "coffee.png"], {"upscale": 1})
    finally:
        await bad.aclose()
        await good.aclose()
    assert outs and cf.received("/api/process")[-1].header("authorization").startswith("Bearer ")


async def test_faults_are_survived(cf, provider, data_dir):
    """503 (not processed) is retried inside the call; a dropped answer is not: the engine's
    retry policy decides on a second send (at most two per job, services.retry_policy)."""
    cf.faults.status(503, times=2, path="/api/process", body=b"<html>busy</html>")
    cf.faults.drop(path="/api/process", after=True)
    with pytest.raises(ProviderError) as info:
        await provider.process([data_dir / "coffee.png"], {"upscale": 1})
    assert info.value.code == "ambiguous"
    assert cf.count("/api/process") == 3
    (out,) = await provider.process([data_dir / "coffee.png"], {"upscale": 1})
    assert Image.open(io.BytesIO(out.data)).size == (600, 400)


async def test_vendor_error_message_and_malformed_answer(cf, provider, data_dir):
    cf.faults.status(
        400, path="/api/process", body=b'{"status": "error", "message": "CUDA out of memory"}'
    )
    with pytest.raises(ProviderError, match="CUDA out of memory") as info:
        await provider.process([data_dir / "coffee.png"], {})
    assert not info.value.retryable
    cf.faults.malformed(path="/api/process", times=4)
    with pytest.raises(ProviderError, match="unreadable answer") as info:
        await provider.process([data_dir / "coffee.png"], {"upscale": 1})
    assert info.value.code == "malformed"  # the engine may send it once more, not the transport
    assert cf.count("/api/process") == 2


async def test_expired_result_url_is_a_clear_retryable_error(cf, provider, data_dir):
    cf.keep_results = False  # the result is gone before the client downloads it
    with pytest.raises(ProviderError) as info:
        await provider.process([data_dir / "coffee.png"], {"upscale": 1})
    assert str(info.value) == (
        "The CodeFormer server removed the result before it could be downloaded"
    )
    assert info.value.retryable
    # The engine's retry processes the photo again and gets a fresh result.
    cf.keep_results = True
    (out,) = await provider.process([data_dir / "coffee.png"], {"upscale": 1})
    assert Image.open(io.BytesIO(out.data)).size == (600, 400)


async def test_emulator_validation(cf):
    r = httpx.post(cf.url + "/api/process", data={"fidelity": "2"},
                   files={"image": ("a.png", b"x")})  # fmt: skip
    assert r.status_code == 500 and r.json() == {
        "status": "error", "message": "fidelity must be between 0 and 1"
    }  # fmt: skip
    r = httpx.post(cf.url + "/api/process", json={"upscale": 3, "image_base64": "AAAA"})
    assert r.json()["message"] == "upscale must be 1, 2 or 4"
    r = httpx.post(cf.url + "/api/process", json={"fidelity": 0.5})
    assert r.json()["message"] == "No image provided"


def test_configuration_errors():
    with pytest.raises(ConfigurationError, match="multipart or json"):
        CodeFormerProvider(base_url="http://x", upload="xml")
    with pytest.raises(ConfigurationError, match="address of your server"):
        CodeFormerProvider(base_url="")._api()


async def test_connection_sentences(emulator):
    cf = emulator("codeformer")
    p = CodeFormerProvider(base_url=cf.url)
    assert await p.test_connection() == "The CodeFormer server is online (cuda)."
    await p.aclose()
    gone = CodeFormerProvider(base_url="http://127.0.0.1:9", retry=http.NO_RETRY)
    with pytest.raises(ProviderError, match="offline: the server cannot be reached"):
        await gone.test_connection()
