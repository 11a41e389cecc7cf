"""AdCreative Face Enhancer provider against its loopback emulator."""

from __future__ import annotations

import uuid

import httpx
import pytest
from PIL import Image
from tests.emulators.drive import assert_retouched, drive, make_context
from tests.waiting import polled_until_done

from retouchdesk.core.errors import AuthError, ConfigurationError, ProviderError
from retouchdesk.core.schema import load_catalog
from retouchdesk.providers import http
from retouchdesk.providers.adcreative import AdCreativeProvider, FieldMap

FAST = http.RetryPolicy(max_attempts=4, backoff_base=0.02, backoff_max=0.1, jitter=0.0)
OP = load_catalog().operation("adcreative", "face_enhance")
APP = "4f7d8a9c-b5e6-4d3e-b7a9-d5c3e1b7a4f6"
USER = "0b1d2c3e-4f50-4617-8a9b-0c1d2e3f4a5b"
CREDS = {
    "jwt_private_key": "jwt-private-key-abcdef",
    "api_key": "adc-key-1234567",
    "api_secret": "adc-secret-7654321",
}


def emu_options(**extra):
    return {"application_id": APP, "time_scale": 0.05, **CREDS, **extra}


def make_provider(emu, **extra):
    return AdCreativeProvider(
        application_id=APP, user_id=USER, base_url=emu.url, poll_interval=0.05, retry=FAST,
        **CREDS, **extra,
    )  # fmt: skip


@pytest.fixture
def adc(emulator):
    return emulator("adcreative", **emu_options())


@pytest.fixture
async def provider(adc):
    p = make_provider(adc)
    yield p
    await p.aclose()


@pytest.mark.parametrize("shape", ["flat", "wrapped", "pascal"])
async def test_face_enhance_end_to_end(emulator, data_dir, tmp_path, shape):
    adc = emulator("adcreative", **emu_options(shape=shape))
    p = make_provider(adc)
    photo = data_dir / "astronaut.png"
    try:
        result = await drive(
            p, make_context(OP, photo, {"ariaRatio": 0.65, "maxFaceCount": 3}, tmp_path / "w")
        )
    finally:
        await p.aclose()
    out = result.outputs[0].path
    assert Image.open(out).size == (512, 512)
    assert_retouched(out, photo)
    (start,) = adc.received("/api/v1/Image/FaceEnhancing/AdCreative")
    assert {k: v[0] for k, v in start.form.items()} == {
        "applicationId": APP, "userId": USER, "ariaRatio": "0.65", "maxFaceCount": "3",
    }  # fmt: skip
    assert start.files["uploadedImage"][0].data == photo.read_bytes()
    for rec in adc.requests:
        if rec.path.endswith("GenerateJwtToken"):
            assert rec.json == {"applicationId": APP, "jwtPrivateKey": CREDS["jwt_private_key"]}
            assert "x-api-version=1.0" in rec.header("content-type")
            continue
        assert rec.header("authorization", "").startswith("Bearer tok_")
        assert rec.header("x-api-key") == CREDS["api_key"]
        assert rec.header("x-api-secret") == CREDS["api_secret"]
        assert "jwtPrivateKey" not in rec.body.decode("latin-1")
    assert p.tokens_fetched == 1  # cached across every call of the job
    progress = adc.received("/api/v1/Image/FaceEnhancing/CheckUserProgress")
    assert progress[0].arg("userId") == USER
    assert progress[0].arg("imageFaceEnhancerProcessId") == result.ctx.remote_id
    (dl,) = adc.received("/api/v1/Image/FaceEnhancing/Download")
    assert dl.arg("lowResolution") == "false" and dl.arg("applicationId") == APP


async def test_low_resolution_download(adc, provider, data_dir, tmp_path):
    ctx = make_context(OP, data_dir / "astronaut.png", {"lowResolution": True}, tmp_path / "w")
    result = await drive(provider, ctx)
    assert Image.open(result.outputs[0].path).size == (256, 256)
    start = adc.received("/api/v1/Image/FaceEnhancing/AdCreative")[0]
    assert "lowResolution" not in start.form  # a Download option, not a start field


async def test_token_expiring_early_is_renewed_once(adc, provider, data_dir, tmp_path):
    ctx = make_context(OP, data_dir / "coffee.png", {}, tmp_path / "w")
    await provider.prepare(ctx)
    adc.tokens.expire_all()  # the server revokes it long before the announced expiry
    ctx.remote_id = (await provider.submit(ctx)).remote_id
    assert provider.tokens_fetched == 2
    assert len(adc.received("/api/v1/Image/FaceEnhancing/AdCreative")) == 2
    assert len(adc.processes) == 1  # the refused start was not acted on


async def test_token_is_renewed_before_its_expiry(emulator, data_dir, tmp_path):
    adc = emulator("adcreative", **emu_options(token_ttl=60.02))  # inside the 60 s margin
    p = make_provider(adc)
    try:
        await drive(p, make_context(OP, data_dir / "coffee.png", {}, tmp_path / "w"))
    finally:
        await p.aclose()
    assert p.tokens_fetched >= 3
    assert not [r for r in adc.requests if r.path.endswith("Progress") and r.json_error]


async def test_wrong_secret_fails_after_one_renewal_without_leaking(adc, data_dir, tmp_path):
    p = AdCreativeProvider(
        application_id=APP, user_id=USER, base_url=adc.url, retry=FAST,
        jwt_private_key=CREDS["jwt_private_key"], api_key=CREDS["api_key"],
        api_secret="wrong-secret-000111",
    )  # fmt: skip
    ctx = make_context(OP, data_dir / "coffee.png", {}, tmp_path / "w")
    try:
        await p.prepare(ctx)
        with pytest.raises(AuthError) as info:
            await p.submit(ctx)
    finally:
        await p.aclose()
    assert p.tokens_fetched == 2
    assert "wrong-secret-000111" not in str(info.value)
    assert str(info.value).startswith("AdCreative refused the credentials")
    bad_key = AdCreativeProvider(
        application_id=APP, user_id=USER, base_url=adc.url, retry=FAST,
        jwt_private_key="nope-nope-nope", api_key="k" * 8, api_secret="s" * 8,
    )  # fmt: skip
    with pytest.raises(AuthError, match="signing in"):
        await bad_key.prepare(ctx)
    await bad_key.aclose()


async def test_problem_details_become_sentences(emulator, data_dir, tmp_path):
    adc = emulator("adcreative", **emu_options(notification_channel=False))
    p = make_provider(adc)
    ctx = make_context(OP, data_dir / "coffee.png", {}, tmp_path / "w")
    try:
        await p.prepare(ctx)
        with pytest.raises(ProviderError) as info:
            await p.submit(ctx)
    finally:
        await p.aclose()
    assert str(info.value) == (
        "AdCreative needs an active notification channel for this application: "
        "configure one in the AdCreative dashboard"
    )
    gif = tmp_path / "x.png"
    Image.new("RGB", (64, 64)).save(gif, "GIF")  # a GIF behind a .png name
    ok = emulator("adcreative", **emu_options())
    p = make_provider(ok)
    try:
        ctx = make_context(OP, gif, {}, tmp_path / "w2")
        with pytest.raises(ProviderError, match="accepts only JPEG and PNG"):
            await p.submit(ctx)
    finally:
        await p.aclose()


async def test_failed_process_is_a_plain_sentence(emulator, data_dir, tmp_path):
    adc = emulator("adcreative", **emu_options(fail_jobs=1))
    p = make_provider(adc)
    try:
        with pytest.raises(AssertionError, match="AdCreative could not enhance this photo"):
            await drive(p, make_context(OP, data_dir / "coffee.png", {}, tmp_path / "w"))
    finally:
        await p.aclose()


async def test_faults_survived_and_start_never_repeated(adc, provider, data_dir, tmp_path):
    adc.faults.rate_limit(retry_after=0.2, path=".*/AdCreative")
    adc.faults.status(503, times=2, path=".*/CheckUserProgress")
    adc.faults.drop(path=".*/CheckUserProgress")
    adc.faults.malformed(path=".*/Download", times=1)
    ctx = make_context(OP, data_dir / "coffee.png", {}, tmp_path / "w")
    await provider.prepare(ctx)
    ctx.remote_id = (await provider.submit(ctx)).remote_id
    assert len(adc.processes) == 1

    poll = await polled_until_done(provider, ctx)
    # "malformed" on a file download: the bytes are not an image; the next try is fine.
    (bad,) = await provider.fetch(ctx, poll.outputs)
    with pytest.raises(Exception):  # noqa: B017 - PIL's own error type
        Image.open(bad.path).load()
    (good,) = await provider.fetch(ctx, poll.outputs)
    assert Image.open(good.path).size == (600, 400)
    assert len(adc.processes) == 1


async def test_dropped_start_is_not_resent(adc, provider, data_dir, tmp_path):
    adc.faults.drop(path=".*/AdCreative", after=True)
    ctx = make_context(OP, data_dir / "coffee.png", {}, tmp_path / "w")
    await provider.prepare(ctx)
    with pytest.raises(ProviderError, match="may have reached it") as info:
        await provider.submit(ctx)
    assert not info.value.retryable
    assert len(adc.processes) == 1
    assert len(adc.received("/api/v1/Image/FaceEnhancing/AdCreative")) == 1


async def test_account_view_lists_the_application_progresses(adc, provider, data_dir, tmp_path):
    assert await provider.all_progresses() == []
    result = await drive(provider, make_context(OP, data_dir / "coffee.png", {}, tmp_path / "w"))
    (item,) = await provider.all_progresses()
    assert item["process_id"] == result.ctx.remote_id
    assert item["done"] and item["progress"] == 100 and len(item["tasks"]) == 1
    rec = adc.received("/api/v1/Image/FaceEnhancing/CheckApplicationAllProgresses")[-1]
    assert rec.arg("applicationId") == APP


def test_field_map_reads_many_shapes():
    assert FieldMap.start({"ImageFaceEnhancerProcessId": "p", "TaskIds": ["a", "b"]}) == (
        "p", ["a", "b"]
    )  # fmt: skip
    assert FieldMap.start({"result": {"processId": "p", "tasks": [{"TaskID": "t"}]}}) == (
        "p", ["t"]
    )  # fmt: skip
    prog = FieldMap.progress(
        [{"processId": "x", "tasks": []}, {"processId": "p", "percentage": "40",
          "tasks": [{"taskId": "t", "progress": 40, "renderState": 3}]}], "p",
    )  # fmt: skip
    assert prog.percent == 40 and not prog.done and not prog.failed
    done = FieldMap.progress({"tasks": [{"taskId": "t", "progress": 100, "renderState": 5}]}, "p")
    assert done.done
    half = FieldMap.progress({"tasks": [{"taskId": "t", "progress": 100, "renderState": 3}]}, "p")
    assert not half.done  # 100 % but not rendered yet
    assert FieldMap.progress({"status": "Failed", "tasks": []}, "p").failed


async def test_configuration_is_checked(adc, data_dir, tmp_path):
    ctx = make_context(OP, data_dir / "coffee.png", {}, tmp_path / "w")
    p = AdCreativeProvider(application_id="", user_id=USER, jwt_private_key="", api_key="x",
                           api_secret="y", base_url=adc.url)  # fmt: skip
    with pytest.raises(ConfigurationError, match="application id, JWT private key"):
        await p.prepare(ctx)
    p = AdCreativeProvider(application_id="not-a-guid", user_id=USER, base_url=adc.url, **CREDS)
    with pytest.raises(ConfigurationError, match="must be a GUID"):
        await p.prepare(ctx)


def test_emulator_is_strict(adc):
    token = httpx.post(
        adc.url + "/api/v1/Authorization/GenerateJwtToken",
        json={"applicationId": APP, "jwtPrivateKey": CREDS["jwt_private_key"]},
        headers={"Content-Type": "application/json; x-api-version=1.0"},
    ).json()["accessToken"]
    headers = {"Authorization": f"Bearer {token}", "x-api-key": CREDS["api_key"],
               "x-api-secret": CREDS["api_secret"]}  # fmt: skip
    r = httpx.post(adc.url + "/api/v1/Image/FaceEnhancing/AdCreative", headers=headers,
                   data={"applicationId": APP, "ariaRatio": "2"})  # fmt: skip
    body = r.json()
    assert r.status_code == 400 and body["title"] == "One or more validation errors occurred."
    assert set(body["errors"]) == {"userId", "ariaRatio", "uploadedImage"}
    assert "traceId" in body
    r = httpx.get(adc.url + "/api/v1/Image/FaceEnhancing/CheckUserProgress",
                  params={"userId": str(uuid.uuid4())}, headers=headers)  # fmt: skip
    assert r.status_code == 404
    r = httpx.get(adc.url + "/api/v1/Image/FaceEnhancing/CheckUserProgress",
                  params={"userId": USER})  # fmt: skip
    assert r.status_code == 401
    r = httpx.post(
        adc.url + "/api/v1/Authorization/GenerateJwtToken",
        json={"applicationId": APP, "jwtPrivateKey": CREDS["jwt_private_key"]},
    )
    assert r.status_code == 400 and r.json()["title"] == "Unsupported API version"


async def test_connection_check(adc, provider):
    assert await provider.test_connection() == (
        "Signed in to AdCreative; 0 face-enhancing jobs on this application."
    )


async def test_resume_after_restart_with_a_new_provider(adc, provider, data_dir, tmp_path):

    ctx = make_context(OP, data_dir / "coffee.png", {}, tmp_path / "w")
    await provider.prepare(ctx)
    ctx.remote_id = (await provider.submit(ctx)).remote_id
    await provider.aclose()
    fresh = make_provider(adc)  # a new process: no token, only the job's persisted state
    try:
        poll = await polled_until_done(fresh, ctx)
        (out,) = await fresh.fetch(ctx, poll.outputs)
    finally:
        await fresh.aclose()
    assert Image.open(out.path).size == (600, 400)
    assert len(adc.processes) == 1 and fresh.tokens_fetched == 1
