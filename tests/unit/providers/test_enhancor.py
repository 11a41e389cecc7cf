"""Enhancor provider against its loopback emulator, through real hosting (receiver and S3)."""

from __future__ import annotations

import asyncio
import io
import uuid
from typing import Any

import httpx
import numpy as np
import pytest
from PIL import Image
from tests.emulators.drive import assert_retouched, drive, make_context
from tests.waiting import polled_until_done

from retouchdesk.core.errors import AuthError, ConfigurationError, ProviderError
from retouchdesk.core.schema import load_catalog
from retouchdesk.providers import http
from retouchdesk.providers.base import RemoteState
from retouchdesk.providers.enhancor import EnhancorProvider
from retouchdesk.services.hosting import HostingService, LocalReceiver, S3Storage

KEY = "enh-test-key-0123456789"
FAST = http.RetryPolicy(max_attempts=4, backoff_base=0.02, backoff_max=0.1, jitter=0.0)


def op(op_id: str):
    return load_catalog().operation("enhancor", op_id)


def area_defaults() -> dict[str, Any]:
    """Realistic Skin's area toggles at the defaults its schema declares (the v1 body sends
    every toggle, so the test reads them there instead of copying them)."""
    skin = op("realistic_skin")
    defaults = skin.defaults()
    return {p.name: defaults[p.name] for p in skin.params if p.group == "Area control"}


@pytest.fixture
def enh(emulator):
    return emulator("enhancor", api_key=KEY, time_scale=0.05)


@pytest.fixture
async def hosting():
    service = HostingService(LocalReceiver())
    yield service
    await service.aclose()


@pytest.fixture
async def provider(enh, hosting):
    p = EnhancorProvider(
        api_key=KEY, base_url=enh.url, hosting=hosting, poll_interval=0.05, retry=FAST,
        result_wait=1.0,
    )  # fmt: skip
    yield p
    await p.aclose()


@pytest.fixture
def photo(data_dir):
    return data_dir / "astronaut.png"


def ctx_for(op_id, photo, tmp_path, params=None):
    return make_context(op(op_id), photo, params, tmp_path / "work")


def image_of(path):
    return np.asarray(Image.open(path).convert("RGB"), dtype=np.int16)


def source_at(photo, size):
    return np.asarray(Image.open(photo).convert("RGB").resize(size, Image.LANCZOS), np.int16)


async def test_realistic_skin_v1_defaults_end_to_end(enh, provider, hosting, photo, tmp_path):
    ctx = ctx_for("realistic_skin", photo, tmp_path)
    result = await drive(provider, ctx)
    out = result.outputs[0].path
    assert Image.open(out).size == (512, 512)
    assert_retouched(out, photo)  # the face is smoothed, the rest kept

    (queued,) = enh.queued("realistic-skin")
    body = queued.json
    assert queued.header("x-api-key") == KEY
    assert body["img_url"].startswith(hosting.receiver.local_url + "/files/")
    assert body["webhookUrl"].startswith(hosting.receiver.local_url + "/hooks/")
    expected = {
        "model_version": "enhancorv1", "enhancementMode": "standard", "enhancementType": "face",
        "skin_refinement_level": 0, "skin_realism_Level": 1.7, **area_defaults(),
    }  # fmt: skip
    assert {k: v for k, v in body.items() if k not in ("img_url", "webhookUrl")} == expected
    for v3_only in ("output_resolution", "mask_image_url", "mask_expand", "portrait_depth"):
        assert v3_only not in body
    # The emulator really downloaded the photo from the receiver, and the webhook arrived.
    assert enh.fetched == [body["img_url"]]
    assert hosting.receiver.served == 1
    for _ in range(100):  # the receiver answers the webhook on this test's loop
        if enh.webhooks:
            break
        await asyncio.sleep(0.02)
    assert [status for _, _, status in enh.webhooks] in ([200], [404])  # 404: after release
    assert result.cost == 480
    assert result.outputs[0].meta["cost"] == 480
    assert [p.state for p in result.polls][-1] is RemoteState.DONE
    # Files are served only while the job is active.
    assert hosting.receiver.active_jobs() == []
    async with httpx.AsyncClient() as c:
        assert (await c.get(body["img_url"])).status_code == 404


async def test_realistic_skin_v3_with_mask(enh, provider, photo, tmp_path):
    mask = tmp_path / "mask.png"
    m = np.zeros((512, 512), np.uint8)
    m[100:300, 150:350] = 255
    Image.fromarray(m).save(mask)
    params = {
        "model_version": "enhancorv3",
        "output_resolution": 1024,
        "mask_image_url": str(mask),
        "mask_expand": -5,
        "skin_realism_Level": 2.5,
        "hair": True,
    }
    result = await drive(provider, ctx_for("realistic_skin", photo, tmp_path, params))
    assert Image.open(result.outputs[0].path).size == (1024, 1024)
    body = enh.queued()[0].json
    assert body["model_version"] == "enhancorv3"
    assert body["output_resolution"] == 1024 and body["mask_expand"] == -5
    assert body["skin_realism_Level"] == 2.5 and body["hair"] is True
    assert body["portrait_depth"] == 0.2
    assert "enhancementMode" not in body
    assert body["mask_image_url"] != body["img_url"]
    assert enh.fetched == [body["img_url"], body["mask_image_url"]]
    assert result.cost == 640


async def test_v1_heavy_sends_portrait_depth(enh, provider, photo, tmp_path):
    params = {"enhancementMode": "heavy", "portrait_depth": 0.35}
    await drive(provider, ctx_for("realistic_skin", photo, tmp_path, params))
    body = enh.queued()[0].json
    assert body["enhancementMode"] == "heavy" and body["portrait_depth"] == 0.35
    assert "output_resolution" not in body


@pytest.mark.parametrize(
    ("op_id", "product", "params", "fields", "cost"),
    [
        ("portrait_upscale", "upscaler", {"mode": "professional"}, {"mode": "professional"}, 360),
        ("portrait_upscale", "upscaler", {}, {"mode": "fast"}, 120),
        ("image_upscale", "image-upscaler", {}, {}, 240),
    ],
)
async def test_upscalers(enh, provider, photo, tmp_path, op_id, product, params, fields, cost):
    result = await drive(provider, ctx_for(op_id, photo, tmp_path, params))
    out = result.outputs[0].path
    assert Image.open(out).size == (1024, 1024)
    down = np.asarray(Image.open(out).convert("RGB").resize((512, 512), Image.LANCZOS), np.int16)
    assert np.abs(down - image_of(photo)).mean() < 12  # the same picture, bigger
    (queued,) = enh.queued(product)
    assert set(queued.json) == {"img_url", "webhookUrl", *fields}
    assert {k: queued.json[k] for k in fields} == fields
    assert result.cost == cost


async def test_a_webhook_for_another_request_is_ignored(enh, provider, hosting, photo, tmp_path):
    ctx = ctx_for("image_upscale", photo, tmp_path)
    await provider.prepare(ctx)
    ctx.remote_id = (await provider.submit(ctx)).remote_id
    async with httpx.AsyncClient() as c:
        bogus = {"request_id": "someone-else", "result": "http://127.0.0.1:9/x.png",
                 "status": "success"}  # fmt: skip
        await c.post(provider.hosted_urls(ctx.job_id)["webhook_url"], json=bogus)
    # Followed to the end (bounded): the stranger's "success" must not become this job's
    # result, whether it came before or after the real one.
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 30
    poll = await provider.poll(ctx)
    while poll.state is not RemoteState.DONE:
        assert poll.state in (RemoteState.QUEUED, RemoteState.RUNNING), poll
        assert loop.time() < deadline, "the real job never finished"
        await asyncio.sleep(0.02)
        poll = await provider.poll(ctx)
    assert poll.outputs[0].url != bogus["result"]
    assert poll.outputs[0].url.startswith(enh.url), poll.outputs[0].url


async def test_result_from_the_webhook_only(emulator, hosting, photo, tmp_path):
    enh = emulator("enhancor", api_key=KEY, time_scale=0.05, status_result=False)
    p = EnhancorProvider(api_key=KEY, base_url=enh.url, hosting=hosting, poll_interval=0.05)
    try:
        result = await drive(p, ctx_for("image_upscale", photo, tmp_path))
    finally:
        await p.aclose()
    assert Image.open(result.outputs[0].path).size == (1024, 1024)
    assert "webhook" in result.polls[-1].message
    assert enh.webhooks and enh.webhooks[0][1]["result"] == result.polls[-1].outputs[0].url
    assert "result_url" not in result.ctx.remote and "img_url" not in result.ctx.remote


async def test_result_from_status_when_no_webhook_arrives(emulator, hosting, photo, tmp_path):
    enh = emulator("enhancor", api_key=KEY, time_scale=0.05, send_webhook=False)
    p = EnhancorProvider(api_key=KEY, base_url=enh.url, hosting=hosting, poll_interval=0.05)
    try:
        result = await drive(p, ctx_for("image_upscale", photo, tmp_path))
    finally:
        await p.aclose()
    assert enh.webhooks == []
    assert Image.open(result.outputs[0].path).size == (1024, 1024)


async def test_completed_without_any_result_link_fails_clearly(emulator, hosting, photo, tmp_path):
    enh = emulator(
        "enhancor", api_key=KEY, time_scale=0.05, send_webhook=False, status_result=False
    )
    p = EnhancorProvider(
        api_key=KEY, base_url=enh.url, hosting=hosting, poll_interval=0.05, result_wait=0.3
    )
    try:
        with pytest.raises(AssertionError, match="never sent the result link"):
            await drive(p, ctx_for("image_upscale", photo, tmp_path))
    finally:
        await p.aclose()
    assert hosting.receiver.active_jobs() == []


async def test_failed_job_is_a_plain_sentence(emulator, hosting, photo, tmp_path):
    enh = emulator("enhancor", api_key=KEY, time_scale=0.05, fail_jobs=1)
    p = EnhancorProvider(api_key=KEY, base_url=enh.url, hosting=hosting, poll_interval=0.05)
    try:
        with pytest.raises(AssertionError, match="Enhancor could not process this photo"):
            await drive(p, ctx_for("image_upscale", photo, tmp_path))
    finally:
        await p.aclose()


# -- fault modes ------------------------------------------------------------------------------


async def test_rate_limited_queue_is_retried_after_retry_after(enh, provider, photo, tmp_path):
    enh.faults.rate_limit(retry_after=0.3, path="/api/upscaler/v1/queue")
    result = await drive(provider, ctx_for("portrait_upscale", photo, tmp_path))
    assert result.outputs[0].path.exists()
    calls = enh.queued("upscaler")
    assert len(calls) == 2 and len(enh.jobs) == 1
    assert calls[1].time - calls[0].time >= 0.28


async def test_503_burst_on_queue_is_survived_without_duplicates(enh, provider, photo, tmp_path):
    enh.faults.status(503, times=2, path=".*/queue")
    await drive(provider, ctx_for("image_upscale", photo, tmp_path))
    assert len(enh.jobs) == 1


async def test_500_burst_on_status_is_survived(enh, provider, photo, tmp_path):
    enh.faults.status(500, times=3, path=".*/status")
    result = await drive(provider, ctx_for("image_upscale", photo, tmp_path))
    assert result.outputs[0].path.exists()
    assert len(enh.jobs) == 1


async def test_500_on_queue_is_not_resent(enh, provider, photo, tmp_path):
    enh.faults.status(500, times=5, path=".*/queue")
    with pytest.raises(ProviderError) as info:
        await drive(provider, ctx_for("image_upscale", photo, tmp_path))
    assert len(enh.queued("image-upscaler")) == 1
    assert not info.value.retryable
    # The emulator's 500 carries an error body: the vendor's answer, final for the submission.
    assert str(info.value) == "Enhancor failed during submitting the job: Injected fault"


async def test_connection_dropped_after_queueing_is_not_resent(enh, provider, photo, tmp_path):
    enh.faults.drop(path=".*/queue", after=True)
    with pytest.raises(ProviderError) as info:
        await drive(provider, ctx_for("image_upscale", photo, tmp_path))
    assert len(enh.jobs) == 1 and len(enh.queued("image-upscaler")) == 1
    assert not info.value.retryable
    assert "may have reached it, so it was not sent again" in str(info.value)


async def test_dropped_and_slow_status_calls_are_survived(enh, hosting, photo, tmp_path):
    p = EnhancorProvider(
        api_key=KEY, base_url=enh.url, hosting=hosting, poll_interval=0.05, retry=FAST,
        timeout=httpx.Timeout(5.0, read=0.5),
    )  # fmt: skip
    enh.faults.drop(path=".*/status", times=2)
    enh.faults.slow(1.2, path=".*/status", times=1)
    try:
        result = await drive(p, ctx_for("image_upscale", photo, tmp_path))
    finally:
        await p.aclose()
    assert result.outputs[0].path.exists() and len(enh.jobs) == 1


async def test_malformed_status_is_retryable_then_recovers(enh, provider, photo, tmp_path):
    ctx = ctx_for("image_upscale", photo, tmp_path)
    await provider.prepare(ctx)
    ctx.remote_id = (await provider.submit(ctx)).remote_id
    enh.faults.malformed(path=".*/status")
    with pytest.raises(ProviderError) as info:
        await provider.poll(ctx)
    assert info.value.retryable and "unreadable" in str(info.value)
    for _ in range(100):
        poll = await provider.poll(ctx)
        if poll.state is RemoteState.DONE:
            break
        await asyncio.sleep(0.05)
    assert poll.state is RemoteState.DONE


async def test_expired_result_link_is_renewed_through_status(enh, provider, photo, tmp_path):
    ctx = ctx_for("image_upscale", photo, tmp_path)
    await provider.prepare(ctx)
    ctx.remote_id = (await provider.submit(ctx)).remote_id
    poll = await polled_until_done(provider, ctx)
    enh.results.expire_all()
    with pytest.raises(ProviderError) as info:
        await provider.fetch(ctx, poll.outputs)
    # Not a terminal failure: the engine asks the status again, which hands out a fresh link.
    assert info.value.retryable and info.value.code == "link"
    assert str(info.value) == "Enhancor refused the result link (HTTP 403); it may have expired"
    fresh = await provider.poll(ctx)
    assert fresh.outputs[0].url != poll.outputs[0].url
    (out,) = await provider.fetch(ctx, fresh.outputs)
    assert Image.open(out.path).size == (1024, 1024)
    assert len(enh.jobs) == 1


async def test_expired_webhook_link_is_a_transient_sentence(emulator, hosting, photo, tmp_path):
    enh = emulator("enhancor", api_key=KEY, time_scale=0.05, status_result=False)
    p = EnhancorProvider(api_key=KEY, base_url=enh.url, hosting=hosting, poll_interval=0.05)
    ctx = ctx_for("image_upscale", photo, tmp_path)
    try:
        await p.prepare(ctx)
        ctx.remote_id = (await p.submit(ctx)).remote_id
        poll = await polled_until_done(p, ctx)
        enh.results.expire_all()
        with pytest.raises(ProviderError) as info:
            await p.fetch(ctx, poll.outputs)
    finally:
        await p.aclose()
    assert str(info.value).startswith("Enhancor refused the result link (HTTP 4")
    assert info.value.retryable  # the engine keeps the job until its deadline: never lost


# -- errors and configuration -----------------------------------------------------------------


async def test_unreachable_image_maps_to_the_plain_sentence(
    enh, provider, hosting, photo, tmp_path
):
    ctx = ctx_for("image_upscale", photo, tmp_path)
    await provider.prepare(ctx)
    await hosting.release(ctx.job_id)  # the file is no longer served: Enhancor cannot fetch it
    with pytest.raises(ProviderError) as info:
        await provider.submit(ctx)
    assert str(info.value) == (
        "Enhancor could not download the image: check that its URL is reachable from the internet"
    )
    assert len(enh.jobs) == 0


async def test_wrong_key_is_an_auth_error_without_the_key(enh, hosting, photo, tmp_path):
    p = EnhancorProvider(api_key="wrong-key-987654321", base_url=enh.url, hosting=hosting)
    ctx = ctx_for("image_upscale", photo, tmp_path)
    try:
        await p.prepare(ctx)
        with pytest.raises(AuthError) as info:
            await p.submit(ctx)
    finally:
        await p.aclose()
    assert "wrong-key-987654321" not in str(info.value)
    assert "Enhancor refused the API key" in str(info.value)


async def test_missing_key_and_missing_public_url_are_configuration_errors(
    hosting, photo, tmp_path
):
    ctx = ctx_for("image_upscale", photo, tmp_path)
    with pytest.raises(ConfigurationError, match="needs an API key"):
        await EnhancorProvider(api_key="", hosting=hosting).prepare(ctx)
    real = EnhancorProvider(api_key=KEY, base_url="https://apireq.enhancor.ai", hosting=hosting)
    with pytest.raises(ConfigurationError, match=r"receiver\.public_url"):
        await real.prepare(ctx)
    with pytest.raises(ConfigurationError, match="hosting strategy"):
        await EnhancorProvider(api_key=KEY, hosting=None).prepare(ctx)


async def test_through_s3_hosting(enh, s3_bucket, photo, tmp_path):
    storage = S3Storage(**s3_bucket, url_expiry=600)
    hosting = HostingService(LocalReceiver(), storage)
    p = EnhancorProvider(api_key=KEY, base_url=enh.url, hosting=hosting, poll_interval=0.05)
    try:
        result = await drive(p, ctx_for("portrait_upscale", photo, tmp_path))
    finally:
        await p.aclose()
        await hosting.aclose()
    body = enh.queued("upscaler")[0].json
    assert body["img_url"].startswith(s3_bucket["endpoint_url"] + "/" + s3_bucket["bucket"])
    assert "X-Amz-Expires=600" in body["img_url"]
    assert enh.fetched == [body["img_url"]]
    assert Image.open(result.outputs[0].path).size == (1024, 1024)
    # Deleted when the job ended: the presigned link no longer works.
    async with httpx.AsyncClient() as c:
        assert (await c.get(body["img_url"])).status_code == 404


# -- the emulator is strict -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"skin_realism_level": 1.0}, "Unknown parameter: skin_realism_level"),
        ({"output_resolution": 2048}, "output_resolution is only supported for enhancorv3"),
        ({"model_version": "enhancorv3", "enhancementMode": "heavy"}, "Enhancement mode"),
        ({"model_version": "enhancorv2"}, "Model version must be 'enhancorv1'"),
        ({"enhancementMode": "extreme"}, "Enhancement mode must be 'standard' or 'heavy'"),
        ({"skin_realism_Level": 4, "model_version": "enhancorv3"}, "between 0 and 3"),
        ({"skin_refinement_level": 101}, "between 0 and 100"),
        ({"portrait_depth": 0.3}, "portrait_depth requires enhancorv3 or heavy mode"),
    ],
)
def test_emulator_rejects_what_enhancor_rejects(emulator, extra, message):
    enh = emulator("enhancor", api_key=KEY, time_scale=0.05, strict=True)
    body = {"img_url": "http://127.0.0.1:9/x.png", "webhookUrl": "http://127.0.0.1:9/h", **extra}
    r = httpx.post(enh.url + "/api/realistic-skin/v1/queue", json=body, headers={"x-api-key": KEY})
    assert r.status_code == 400
    assert message in r.json()["error"]["message"]


def test_emulator_checks_key_and_required_fields(enh):
    url = enh.url + "/api/upscaler/v1/queue"
    assert httpx.post(url, json={}, headers={"x-api-key": "nope"}).status_code == 401
    r = httpx.post(
        url, json={"img_url": "http://a/b.png", "webhookUrl": "http://a/h"},
        headers={"x-api-key": KEY},
    )  # fmt: skip
    assert r.status_code == 400 and "Mode must be" in r.json()["error"]["message"]
    r = httpx.post(url.replace("queue", "status"), json={"request_id": "x"},
                   headers={"x-api-key": KEY})  # fmt: skip
    assert r.status_code == 404


def test_result_image_bytes_are_real(enh):
    url = enh.results.publish(b"\x89PNG not really", ".png")
    assert httpx.get(url).content == b"\x89PNG not really"
    enh.results.expire_all()
    r = httpx.get(url)
    assert r.status_code == 403 and b"Request has expired" in r.content
    assert io.BytesIO  # keep the import used by the image helpers above


async def test_debug_logging_never_shows_the_key(enh, provider, photo, tmp_path, caplog):
    import logging

    with caplog.at_level(logging.DEBUG):
        await drive(provider, ctx_for("image_upscale", photo, tmp_path))
    assert "x-api-key" in caplog.text  # the headers were logged...
    assert KEY not in caplog.text  # ...redacted


def test_factories_build_the_cloud_providers_from_settings(tmp_path):
    from retouchdesk.providers.adcreative import AdCreativeProvider
    from retouchdesk.providers.codeformer import CodeFormerProvider
    from retouchdesk.services.registry import ProviderEnv, build_provider
    from retouchdesk.services.settings import Settings

    env = {
        "RETOUCHDESK_ENHANCOR_API_KEY": KEY,
        "RETOUCHDESK_ENHANCOR_BASE_URL": "http://127.0.0.1:1",
        "RETOUCHDESK_ENHANCOR_POLL_INTERVAL": "0.5",
        "RETOUCHDESK_CODEFORMER_BASE_URL": "http://127.0.0.1:2",
        "RETOUCHDESK_CODEFORMER_UPLOAD": "json",
        "RETOUCHDESK_NETWORK_MAX_ATTEMPTS": "2",
        "RETOUCHDESK_NETWORK_READ_TIMEOUT": "7",
    }
    settings = Settings(tmp_path / "settings.toml", environ=env)
    penv = ProviderEnv(settings, load_catalog())
    enh = build_provider("enhancor", penv)
    assert isinstance(enh, EnhancorProvider) and enh.api_key == KEY
    assert enh.poll_interval == 0.5 and enh._retry.max_attempts == 2
    assert enh._timeout.read == 7
    assert isinstance(penv.extras["hosting"], HostingService)  # shared, closed by the runtime
    assert enh.hosting is penv.extras["hosting"]
    assert build_provider("enhancor", penv).hosting is enh.hosting  # one per runtime
    # Changed hosting settings: new providers get a new service, running ones keep theirs.
    env["RETOUCHDESK_HOSTING_STRATEGY"] = "s3"
    moved = build_provider("enhancor", penv)
    assert moved.hosting is not enh.hosting and moved.hosting.strategy == "s3"
    assert enh.hosting.strategy == "local"
    cf = build_provider("codeformer", penv)
    assert isinstance(cf, CodeFormerProvider) and cf.upload == "json"
    adc = build_provider("adcreative", penv)
    assert isinstance(adc, AdCreativeProvider)
    first = adc.user_id
    assert first == str(uuid.UUID(first))
    reopened = Settings(tmp_path / "settings.toml", environ=env)
    again = build_provider("adcreative", ProviderEnv(reopened, load_catalog()))
    assert again.user_id == first  # stable per installation (kept in the settings file)
    assert KEY not in (tmp_path / "settings.toml").read_text()


async def test_connection_check_and_resume_after_restart(enh, provider, photo, tmp_path):
    assert await provider.test_connection() == "Enhancor accepted the API key."
    wrong = EnhancorProvider(api_key="wrong-key-55555555", base_url=enh.url)
    with pytest.raises(AuthError):
        await wrong.test_connection()
    await wrong.aclose()
    # Queue, then "restart": a new provider with new hosting finishes the job by polling.
    ctx = ctx_for("image_upscale", photo, tmp_path)
    await provider.prepare(ctx)
    ctx.remote_id = (await provider.submit(ctx)).remote_id
    await provider.aclose()
    fresh_hosting = HostingService(LocalReceiver())
    fresh = EnhancorProvider(api_key=KEY, base_url=enh.url, hosting=fresh_hosting)
    try:
        poll = await polled_until_done(fresh, ctx)
        (out,) = await fresh.fetch(ctx, poll.outputs)
    finally:
        await fresh.aclose()
        await fresh_hosting.aclose()
    assert Image.open(out.path).size == (1024, 1024)
    assert len(enh.jobs) == 1


async def test_unreadable_queue_answer_is_not_resent(enh, provider, photo, tmp_path):
    enh.faults.malformed(path=".*/queue")
    ctx = ctx_for("image_upscale", photo, tmp_path)
    await provider.prepare(ctx)
    with pytest.raises(ProviderError, match="unreadable answer during submitting") as info:
        await provider.submit(ctx)
    assert not info.value.retryable  # the job exists at Enhancor: sending again would bill twice
    assert len(enh.jobs) == 1
