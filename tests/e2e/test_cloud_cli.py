"""`retouchdesk run` against the loopback emulators of the cloud vendors, end to end.

Each test runs the real CLI in a subprocess (its own event loop, job database, hosting
receiver) against an emulator living in this test process, then checks the result image, what
the vendor received (fields equal to the schema's serialisation, auth headers, no inapplicable
fields), that no job was queued twice, and that no key or token landed in any file the app
wrote.
"""

from __future__ import annotations

import contextlib
import sqlite3
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from tests.e2e.clienv import FAST_RETRIES, free_port
from tests.emulators.drive import assert_retouched

from retouchdesk.core.schema import load_catalog

pytestmark = pytest.mark.timeout(180)

ENH_KEY = "enh-e2e-key-4f1c2b9a77"
ADC = {
    "application_id": "4f7d8a9c-b5e6-4d3e-b7a9-d5c3e1b7a4f6",
    "jwt_private_key": "adc-e2e-jwt-private-5510",
    "api_key": "adc-e2e-api-key-8831",
    "api_secret": "adc-e2e-api-secret-0427",
}
CF_TOKEN = "hf_e2e_private_token_93ab"
S3_SECRET = "e2e-s3-secret-access-key-77"
CATALOG = load_catalog()


@pytest.fixture
def cli_env(cli_env: dict[str, str]) -> dict[str, str]:
    """The e2e CLI environment (tests/e2e/conftest.py) with fast polls and short retries."""
    return {**cli_env, **FAST_RETRIES}


def run(env: dict[str, str], *args: str, cwd: Path, timeout: float = 120):
    return subprocess.run(
        [sys.executable, "-m", "retouchdesk", "run", "--quiet", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def only_result(out_dir: Path) -> Path:
    files = [p for p in out_dir.rglob("*") if p.is_file()]
    assert len(files) == 1, files
    return files[0]


def job_rows(app_home: Path) -> list[dict]:
    con = sqlite3.connect(app_home / "data" / "jobs.sqlite3")
    con.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in con.execute("SELECT * FROM jobs")]
    finally:
        con.close()


def error_of(row: dict) -> str:
    """The job's error sentence without the engine's "<file name>: " prefix."""
    name = Path(row["input_path"]).name
    error = row["error"] or ""
    return error[len(name) + 2 :] if error.startswith(name + ": ") else error


def assert_no_secrets(app_home: Path, secrets: list[str], *texts: str) -> int:
    """No secret in any file under the app home (SQLite, logs, settings, caches) or output.
    Returns how many files were scanned."""
    secrets = [s for s in secrets if s]
    scanned = 0
    for path in app_home.rglob("*"):
        if not path.is_file():
            continue
        data = path.read_bytes()
        scanned += 1
        for s in secrets:
            assert s.encode() not in data, f"a secret was written to {path}"
    for text in texts:
        for s in secrets:
            assert s not in text, "a secret was printed"
    return scanned


def enhancor_env(env, emu, *, strategy="local", s3=None):
    env = dict(env)
    env.update(
        RETOUCHDESK_ENHANCOR_BASE_URL=emu.url,
        RETOUCHDESK_ENHANCOR_API_KEY=ENH_KEY,
        RETOUCHDESK_HOSTING_STRATEGY=strategy,
    )
    if s3:
        env.update(
            RETOUCHDESK_S3_ENDPOINT_URL=s3["endpoint_url"],
            RETOUCHDESK_S3_BUCKET=s3["bucket"],
            RETOUCHDESK_S3_REGION=s3["region"],
            RETOUCHDESK_S3_ACCESS_KEY_ID=s3["access_key_id"],
            RETOUCHDESK_S3_SECRET_ACCESS_KEY=s3["secret_access_key"],
            RETOUCHDESK_S3_URL_EXPIRY="300",
        )
    return env


def expected_fields(provider: str, op_id: str, given: dict) -> dict:
    op = CATALOG.operation(provider, op_id)
    return op.serialize(op.validate(given))


# -- Enhancor ---------------------------------------------------------------------------------


@pytest.mark.slow
def test_enhancor_realistic_skin_local_receiver_with_webhook(
    emulator, cli_env, app_home, data_dir, tmp_path
):
    emu = emulator("enhancor", api_key=ENH_KEY, time_scale=0.1)
    photo = data_dir / "astronaut.png"
    out = tmp_path / "out"
    given = {"skin_refinement_level": "40", "hair": "true"}
    args = [f"--set={k}={v}" for k, v in given.items()]
    r = run(enhancor_env(cli_env, emu), "--provider", "enhancor", "--op", "realistic_skin",
            *args, "-o", str(out), str(photo), cwd=tmp_path)  # fmt: skip
    assert r.returncode == 0, r.stdout + r.stderr
    result = only_result(out)
    assert Image.open(result).size == (512, 512)
    assert_retouched(result, photo)

    (queued,) = emu.queued("realistic-skin")
    assert queued.header("x-api-key") == ENH_KEY
    body = dict(queued.json)
    img_url, hook = body.pop("img_url"), body.pop("webhookUrl")
    assert body == expected_fields("enhancor", "realistic_skin", given)
    assert body["skin_refinement_level"] == 40 and body["hair"] is True
    for v3_only in ("output_resolution", "mask_image_url", "mask_expand", "portrait_depth"):
        assert v3_only not in body
    assert img_url.startswith("http://127.0.0.1:") and "/files/" in img_url
    assert emu.fetched == [img_url]  # the image really came from the app's receiver
    # 200, or 404 when polling finished the job first and its route was closed.
    assert [(url, status in (200, 404)) for url, _, status in emu.webhooks] == [(hook, True)]
    (row,) = job_rows(app_home)
    assert row["state"] == "done" and row["cost"] == 480
    assert len(emu.jobs) == 1
    assert_no_secrets(app_home, [ENH_KEY], r.stdout, r.stderr)


@pytest.mark.slow
def test_enhancor_v3_with_mask_through_s3_without_webhook(
    emulator, cli_env, app_home, data_dir, tmp_path, s3_bucket
):
    emu = emulator("enhancor", api_key=ENH_KEY, time_scale=0.1, send_webhook=False)
    photo = data_dir / "astronaut.png"
    mask = tmp_path / "mask.png"
    m = np.zeros((512, 512), np.uint8)
    m[60:200, 160:300] = 255
    Image.fromarray(m).save(mask)
    out = tmp_path / "out"
    given = {"model_version": "enhancorv3", "output_resolution": "1024", "mask_expand": "-4"}
    args = [f"--set={k}={v}" for k, v in given.items()] + [f"--set=mask_image_url={mask}"]
    env = enhancor_env(cli_env, emu, strategy="s3", s3=s3_bucket)
    r = run(env, "--provider", "enhancor", "--op", "realistic_skin", *args, "-o", str(out),
            str(photo), cwd=tmp_path)  # fmt: skip
    assert r.returncode == 0, r.stdout + r.stderr
    result = only_result(out)
    assert Image.open(result).size == (1024, 1024)
    assert_retouched(result, photo)
    (queued,) = emu.queued("realistic-skin")
    body = dict(queued.json)
    img_url, mask_url = body.pop("img_url"), body.pop("mask_image_url")
    body.pop("webhookUrl")
    assert body == expected_fields("enhancor", "realistic_skin", given)
    assert "enhancementMode" not in body
    bucket_url = f"{s3_bucket['endpoint_url']}/{s3_bucket['bucket']}/"
    assert img_url.startswith(bucket_url) and mask_url.startswith(bucket_url)
    assert "X-Amz-Expires=300" in img_url
    assert emu.fetched == [img_url, mask_url]
    assert emu.webhooks == []  # polling alone finished the job
    assert len(emu.jobs) == 1
    import boto3

    s3 = boto3.client("s3", endpoint_url=s3_bucket["endpoint_url"], region_name="us-east-1",
                      aws_access_key_id=s3_bucket["access_key_id"],
                      aws_secret_access_key=s3_bucket["secret_access_key"])  # fmt: skip
    assert "Contents" not in s3.list_objects_v2(Bucket=s3_bucket["bucket"])  # deleted at the end
    assert_no_secrets(app_home, [ENH_KEY, s3_bucket["secret_access_key"]], r.stdout, r.stderr)


@pytest.mark.slow
def test_enhancor_portrait_upscaler_through_s3(
    emulator, cli_env, app_home, data_dir, tmp_path, s3_bucket
):
    emu = emulator("enhancor", api_key=ENH_KEY, time_scale=0.1)
    photo = data_dir / "astronaut.png"
    out = tmp_path / "out"
    env = enhancor_env(cli_env, emu, strategy="s3", s3=s3_bucket)
    r = run(env, "--provider", "enhancor", "--op", "portrait_upscale", "--set", "mode=professional",
            "-o", str(out), str(photo), cwd=tmp_path)  # fmt: skip
    assert r.returncode == 0, r.stdout + r.stderr
    result = only_result(out)
    assert Image.open(result).size == (1024, 1024)
    (queued,) = emu.queued("upscaler")
    assert set(queued.json) == {"img_url", "webhookUrl", "mode"}
    assert queued.json["mode"] == "professional"
    assert job_rows(app_home)[0]["cost"] == 360


@pytest.mark.slow
def test_enhancor_general_upscaler_result_from_the_webhook(
    emulator, cli_env, app_home, data_dir, tmp_path
):
    emu = emulator("enhancor", api_key=ENH_KEY, time_scale=0.1, status_result=False)
    photo = data_dir / "coffee.png"
    out = tmp_path / "out"
    r = run(enhancor_env(cli_env, emu), "--provider", "enhancor", "--op", "image_upscale",
            "-o", str(out), str(photo), cwd=tmp_path)  # fmt: skip
    assert r.returncode == 0, r.stdout + r.stderr
    result = only_result(out)
    assert Image.open(result).size == (1200, 800)
    down = Image.open(result).convert("RGB").resize((600, 400), Image.LANCZOS)
    src = Image.open(photo).convert("RGB")
    assert np.abs(np.asarray(down, np.int16) - np.asarray(src, np.int16)).mean() < 10
    (queued,) = emu.queued("image-upscaler")
    assert set(queued.json) == {"img_url", "webhookUrl"}
    assert [status for _, _, status in emu.webhooks] == [200]
    assert len(emu.jobs) == 1


# -- Enhancor fault modes --------------------------------------------------------------------


@pytest.mark.parametrize(
    "fault",
    ["rate_limit", "burst_5xx", "dropped", "slow", "malformed", "expired_link"],
)
@pytest.mark.slow
def test_enhancor_faults_are_survived_without_queueing_twice(
    emulator, cli_env, app_home, data_dir, tmp_path, fault
):
    emu = emulator("enhancor", api_key=ENH_KEY, time_scale=0.1)
    status = "/api/image-upscaler/v1/status"
    queue = "/api/image-upscaler/v1/queue"
    env = enhancor_env(cli_env, emu)
    if fault == "rate_limit":
        emu.faults.rate_limit(retry_after=1, path=queue)
        emu.faults.rate_limit(retry_after=1, path=status)
    elif fault == "burst_5xx":
        emu.faults.status(503, times=2, path=queue)
        emu.faults.status(500, times=3, path=status)
        emu.faults.status(502, times=1, path=status)
    elif fault == "dropped":
        emu.faults.drop(times=2, path=status)
    elif fault == "slow":
        # The answer comes after the read timeout: the status call is sent again.
        env["RETOUCHDESK_NETWORK_READ_TIMEOUT"] = "1"
        emu.faults.slow(2.5, times=1, path=status)
    elif fault == "malformed":
        emu.faults.malformed(times=2, path=status)
    elif fault == "expired_link":
        emu.faults.status(403, times=1, path="/_results/.*",
                          body=b"<Error><Code>AccessDenied</Code><Message>Request has expired"
                               b"</Message></Error>")  # fmt: skip
    out = tmp_path / "out"
    r = run(env, "--provider", "enhancor", "--op", "image_upscale", "-o", str(out),
            str(data_dir / "chelsea.png"), cwd=tmp_path)  # fmt: skip
    assert r.returncode == 0, r.stdout + r.stderr
    assert Image.open(only_result(out)).size == (902, 600)
    assert len(emu.jobs) == 1
    assert sum(f.hits for f in emu.faults._rules) >= 1  # the fault really happened
    assert_no_secrets(app_home, [ENH_KEY], r.stdout, r.stderr)


@pytest.mark.slow
def test_enhancor_lost_queue_answer_is_adopted_by_the_webhook_never_repeated(
    emulator, cli_env, app_home, data_dir, tmp_path
):
    """The queue call reached Enhancor but its answer was lost: the job is unconfirmed, never
    queued again, and the webhook (carrying the request id) adopts it."""
    emu = emulator("enhancor", api_key=ENH_KEY, time_scale=0.1)
    emu.faults.drop(path="/api/upscaler/v1/queue", after=True)
    out = tmp_path / "out"
    r = run(enhancor_env(cli_env, emu), "--provider", "enhancor", "--op", "portrait_upscale",
            "-o", str(out), str(data_dir / "astronaut.png"), cwd=tmp_path)  # fmt: skip
    assert r.returncode == 0, r.stdout + r.stderr
    (row,) = job_rows(app_home)
    assert row["state"] == "done" and row["remote_id"] in emu.jobs
    assert len(emu.queued("upscaler")) == 1  # queued once at the vendor, never re-sent
    assert len(emu.jobs) == 1
    assert Image.open(only_result(out)).size == (1024, 1024)
    assert_no_secrets(app_home, [ENH_KEY], r.stdout, r.stderr)


def test_enhancor_unreachable_image_fails_with_the_vendor_sentence(
    emulator, cli_env, app_home, data_dir, tmp_path
):
    emu = emulator("enhancor", api_key=ENH_KEY, time_scale=0.1)
    env = enhancor_env(cli_env, emu)
    # A public URL that points nowhere: Enhancor cannot download the photo.
    env["RETOUCHDESK_RECEIVER_PUBLIC_URL"] = emu.url + "/nowhere"
    # a public URL needs the fixed port the tunnel forwards to
    env["RETOUCHDESK_RECEIVER_PORT"] = str(free_port())
    r = run(env, "--provider", "enhancor", "--op", "image_upscale", "-o", str(tmp_path / "o"),
            str(data_dir / "coffee.png"), cwd=tmp_path)  # fmt: skip
    assert r.returncode != 0
    (row,) = job_rows(app_home)
    assert error_of(row) == (
        "Enhancor could not download the image: check that its URL is reachable from the internet"
    )
    assert "could not download the image" in r.stdout + r.stderr
    assert len(emu.jobs) == 0


# -- CodeFormer ------------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("upload", ["multipart", "json"])
def test_codeformer_restore(emulator, cli_env, app_home, data_dir, tmp_path, upload):
    emu = emulator("codeformer", time_scale=0.1, token=CF_TOKEN)
    emu.faults.status(503, times=1, path="/api/process", body=b"<html>starting</html>")
    photo = data_dir / "astronaut.png"
    out = tmp_path / "out"
    env = dict(
        cli_env,
        RETOUCHDESK_CODEFORMER_BASE_URL=emu.url,
        RETOUCHDESK_CODEFORMER_TOKEN=CF_TOKEN,
        RETOUCHDESK_CODEFORMER_UPLOAD=upload,
    )
    given = {"fidelity": "0.7", "upscale": "1", "face_upsample": "true"}
    args = [f"--set={k}={v}" for k, v in given.items()]
    r = run(env, "--provider", "codeformer", "--op", "restore", *args, "-o", str(out),
            str(photo), cwd=tmp_path)  # fmt: skip
    assert r.returncode == 0, r.stdout + r.stderr
    result = only_result(out)
    assert Image.open(result).size == (512, 512)
    assert_retouched(result, photo)
    rec = emu.received("/api/process")[-1]
    assert rec.header("authorization") == f"Bearer {CF_TOKEN}"
    expected = expected_fields("codeformer", "restore", given)
    if upload == "multipart":
        sent = {k: v[0] for k, v in rec.form.items()}
        assert sent == {k: str(v).lower() if isinstance(v, bool) else str(v)
                        for k, v in expected.items()}  # fmt: skip
        assert rec.files["image"][0].data == photo.read_bytes()
    else:
        sent = {k: v for k, v in rec.json.items() if k in expected}
        assert sent == expected and rec.json["return_base64"] is True
    assert emu.processed == 1
    assert_no_secrets(app_home, [CF_TOKEN], r.stdout, r.stderr)


@pytest.mark.parametrize("too_large", ["caught", "html"])
def test_codeformer_too_large_fails_with_a_sentence(
    emulator, cli_env, app_home, data_dir, tmp_path, too_large
):
    emu = emulator("codeformer", time_scale=0.1, max_body=20_000, too_large=too_large)
    env = dict(cli_env, RETOUCHDESK_CODEFORMER_BASE_URL=emu.url)
    r = run(env, "--provider", "codeformer", "--op", "restore", "-o", str(tmp_path / "o"),
            str(data_dir / "astronaut.png"), cwd=tmp_path)  # fmt: skip
    assert r.returncode != 0
    (row,) = job_rows(app_home)
    assert error_of(row) == (
        "CodeFormer refused the upload during restoring the photo: the file is too large"
    )


# -- AdCreative ------------------------------------------------------------------------------


def adcreative_env(env, emu):
    return dict(
        env,
        RETOUCHDESK_ADCREATIVE_BASE_URL=emu.url,
        RETOUCHDESK_ADCREATIVE_APPLICATION_ID=ADC["application_id"],
        RETOUCHDESK_ADCREATIVE_JWT_PRIVATE_KEY=ADC["jwt_private_key"],
        RETOUCHDESK_ADCREATIVE_API_KEY=ADC["api_key"],
        RETOUCHDESK_ADCREATIVE_API_SECRET=ADC["api_secret"],
    )


@pytest.mark.slow
def test_adcreative_face_enhance_with_tokens_expiring_early(
    emulator, cli_env, app_home, data_dir, tmp_path
):
    # Tokens announced for an hour die after 0.3 s: the client renews on 401, once per call.
    emu = emulator("adcreative", time_scale=0.1, token_actual_ttl=0.3,
                   **{k: v for k, v in ADC.items()})  # fmt: skip
    emu.faults.status(503, times=2, path=".*/CheckUserProgress")
    emu.faults.rate_limit(retry_after=0.5, path=".*/AdCreative")
    photo = data_dir / "astronaut.png"
    env = adcreative_env(cli_env, emu)
    given = {"ariaRatio": "0.6", "maxFaceCount": "2"}
    args = [f"--set={k}={v}" for k, v in given.items()]
    out = tmp_path / "out"
    r = run(env, "--provider", "adcreative", "--op", "face_enhance", *args, "-o", str(out),
            str(photo), cwd=tmp_path)  # fmt: skip
    assert r.returncode == 0, r.stdout + r.stderr
    result = only_result(out)
    assert Image.open(result).size == (512, 512)
    assert_retouched(result, photo)
    starts = emu.received("/api/v1/Image/FaceEnhancing/AdCreative")
    assert 2 <= len(starts) <= 3  # refused once by 429, maybe once by an expired token
    sent = {k: v[0] for k, v in starts[-1].form.items()}
    user_id = sent.pop("userId")
    assert sent == {"applicationId": ADC["application_id"],
                    **{k: str(v) for k, v in expected_fields("adcreative", "face_enhance",
                                                             given).items()}}  # fmt: skip
    assert len(emu.processes) == 1
    for rec in emu.requests:
        if "FaceEnhancing" in rec.path:
            assert rec.header("authorization", "").startswith("Bearer ")
            assert rec.header("x-api-key") == ADC["api_key"]
            assert rec.header("x-api-secret") == ADC["api_secret"]
    assert emu.tokens.issued >= 2
    # The userId is a stable per-installation GUID kept in the settings file.
    settings = (app_home / "config" / "settings.toml").read_text()
    assert user_id in settings
    r2 = run(env, "--provider", "adcreative", "--op", "face_enhance", "--force", "-o",
             str(tmp_path / "out2"), str(photo), cwd=tmp_path)  # fmt: skip
    assert r2.returncode == 0, r2.stdout + r2.stderr
    assert emu.received("/api/v1/Image/FaceEnhancing/AdCreative")[-1].field("userId") == user_id
    secrets = [*ADC.values(), *emu.tokens.all_issued]
    secrets.remove(ADC["application_id"])  # an id, not a secret
    scanned = assert_no_secrets(app_home, secrets, r.stdout, r.stderr, r2.stdout, r2.stderr)
    assert scanned >= 2  # at least the job database and the settings file


def test_adcreative_problem_details_sentence(emulator, cli_env, app_home, data_dir, tmp_path):
    emu = emulator("adcreative", time_scale=0.1, notification_channel=False, **ADC)
    r = run(adcreative_env(cli_env, emu), "--provider", "adcreative", "--op", "face_enhance",
            "-o", str(tmp_path / "o"), str(data_dir / "coffee.png"), cwd=tmp_path)  # fmt: skip
    assert r.returncode != 0
    (row,) = job_rows(app_home)
    assert error_of(row) == (
        "AdCreative needs an active notification channel for this application: "
        "configure one in the AdCreative dashboard"
    )


# -- secrets in a debug log ------------------------------------------------------------------

LOGGED_CLI = """
import logging, sys
handler = logging.FileHandler(sys.argv[1])
logging.basicConfig(level=logging.DEBUG, handlers=[handler],
                    format="%(levelname)s %(name)s: %(message)s")
from retouchdesk import cli
sys.exit(cli.main(sys.argv[2:]))
"""


@pytest.mark.slow
def test_debug_log_file_of_a_run_holds_no_secret(
    emulator, cli_env, app_home, data_dir, tmp_path, s3_bucket
):
    """Everything logged at DEBUG to a file during Enhancor (S3) and AdCreative runs: headers
    and URLs are there, keys, secrets, tokens and S3 signatures are not."""
    enh = emulator("enhancor", api_key=ENH_KEY, time_scale=0.1)
    adc = emulator("adcreative", time_scale=0.1, **ADC)
    env = adcreative_env(enhancor_env(cli_env, enh, strategy="s3", s3=s3_bucket), adc)
    log_file = app_home / "logs" / "debug.log"
    log_file.parent.mkdir(parents=True, exist_ok=True)
    outputs = []
    for provider, op in (("enhancor", "portrait_upscale"), ("adcreative", "face_enhance")):
        out = tmp_path / provider
        r = subprocess.run(
            [sys.executable, "-c", LOGGED_CLI, str(log_file), "run", "--quiet", "--provider",
             provider, "--op", op, "-o", str(out), str(data_dir / "coffee.png")],
            env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert r.returncode == 0, r.stdout + r.stderr
        outputs += [r.stdout, r.stderr]
    text = log_file.read_text()
    assert "x-api-key" in text.lower() and "authorization" in text.lower()  # headers logged
    signature = enh.queued("upscaler")[0].json["img_url"].split("X-Amz-Signature=")[1]
    secrets = [ENH_KEY, ADC["api_key"], ADC["api_secret"], ADC["jwt_private_key"],
               s3_bucket["secret_access_key"], signature, *adc.tokens.all_issued]  # fmt: skip
    assert_no_secrets(app_home, secrets, *outputs)


@pytest.mark.slow
def test_enhancor_job_resumes_after_the_cli_is_killed(
    emulator, cli_env, app_home, data_dir, tmp_path
):
    """SIGKILL while Enhancor works on the job; the same command again polls it to the end
    (the receiver and its webhook are gone with the process) and never queues it again."""
    import signal
    import time

    emu = emulator("enhancor", api_key=ENH_KEY, time_scale=1.0, step=1.5)
    env = enhancor_env(cli_env, emu)
    out = tmp_path / "out"
    args = [sys.executable, "-m", "retouchdesk", "run", "--quiet", "--provider", "enhancor",
            "--op", "image_upscale", "-o", str(out), str(data_dir / "coffee.png")]  # fmt: skip
    proc = subprocess.Popen(args, env=env, cwd=tmp_path, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)  # fmt: skip
    deadline = time.monotonic() + 60
    while not emu.jobs and time.monotonic() < deadline:
        time.sleep(0.05)
    assert emu.jobs, "the job was never queued"
    while time.monotonic() < deadline:  # the engine has recorded the request id
        rows = []
        if (app_home / "data" / "jobs.sqlite3").exists():  # never create it ourselves
            with contextlib.suppress(sqlite3.Error):  # its tables are not there yet
                rows = job_rows(app_home)
        if rows and rows[0]["remote_id"]:
            break
        time.sleep(0.05)
    assert emu.state(next(iter(emu.jobs.values()))) != "COMPLETED"  # killed mid-job
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    assert not list(out.rglob("*.png"))
    r = run(env, "--provider", "enhancor", "--op", "image_upscale", "-o", str(out),
            str(data_dir / "coffee.png"), cwd=tmp_path)  # fmt: skip
    assert r.returncode == 0, r.stdout + r.stderr
    assert Image.open(only_result(out)).size == (1200, 800)
    assert len(emu.queued("image-upscaler")) == 1 and len(emu.jobs) == 1
    (row,) = job_rows(app_home)
    assert row["state"] == "done" and row["cost"] == 240
