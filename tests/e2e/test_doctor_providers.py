"""`retouchdesk doctor` against every vendor emulator: live, free calls and shape checks.

The CLI runs in this process (``cli.main``) with the app pointed at the four emulators by
``RETOUCHDESK_*`` variables. Every provider gets its lines; nothing is queued or charged on
the server side; a server whose answers changed shape makes a check fail and the command
exit 1; a wrong key is one plain line, not a traceback, and never printed.
"""

from __future__ import annotations

import pytest
from tests.emulators.youcam_support import settings_env

from retouchdesk import cli
from retouchdesk.doctor import exit_code
from retouchdesk.doctor.providers import check_provider
from retouchdesk.services.runtime import build_runtime

pytestmark = pytest.mark.timeout(120)

ENH_KEY = "enh-doctor-key-5d2e8a"
ADC = {
    "application_id": "4f7d8a9c-b5e6-4d3e-b7a9-d5c3e1b7a4f6",
    "jwt_private_key": "adc-doctor-jwt-private-11",
    "api_key": "adc-doctor-api-key-22",
    "api_secret": "adc-doctor-api-secret-33",
}


@pytest.fixture
def emulators(emulator):
    return {
        "enhancor": emulator("enhancor", api_key=ENH_KEY, time_scale=0.05),
        "codeformer": emulator("codeformer", time_scale=0.05, device="cpu"),
        "adcreative": emulator("adcreative", time_scale=0.05, **ADC),
        "youcam": emulator("youcam", time_scale=0.05),
    }


def point_at(monkeypatch, emus, youcam_gen="v2"):
    env = {
        "RETOUCHDESK_ENHANCOR_API_KEY": ENH_KEY,
        "RETOUCHDESK_ENHANCOR_BASE_URL": emus["enhancor"].url,
        "RETOUCHDESK_RECEIVER_PUBLIC_URL": "https://tunnel.example.test",  # URL input set up
        "RETOUCHDESK_CODEFORMER_BASE_URL": emus["codeformer"].url,
        "RETOUCHDESK_ADCREATIVE_BASE_URL": emus["adcreative"].url,
        "RETOUCHDESK_SECRETS_BACKEND": "file",
        "RETOUCHDESK_SECRETS_PASSPHRASE": "doctor-passphrase",
        "RETOUCHDESK_NETWORK_BACKOFF_BASE": "0.02",
        **{f"RETOUCHDESK_ADCREATIVE_{k.upper()}": v for k, v in ADC.items()},
        **settings_env(emus["youcam"], youcam_gen),
    }
    for k, v in env.items():
        monkeypatch.setenv(k, v)


def lines_of(text: str, area: str) -> list[str]:
    return [line for line in text.splitlines() if line.split("]", 1)[-1].split()[:1] == [area]]


@pytest.mark.slow
def test_doctor_reports_every_provider_against_the_emulators(
    app_home, monkeypatch, capsys, emulators
):
    point_at(monkeypatch, emulators)
    names = ["enhancor", "codeformer", "adcreative", "youcam"]
    code = cli.main(["doctor", *names])
    out = capsys.readouterr().out
    live = {n: [x for x in lines_of(out, n) if "HTTP" in x] for n in names}
    assert all(live.values()), out
    assert not [x for n in names for x in live[n] if x.startswith("[FAIL]")], out
    assert "online (cpu)" in out and "credit buckets" in out and "access token received" in out
    assert ".NET reference-preserving JSON" in out
    # Free: nothing was queued, uploaded or charged anywhere.
    assert not emulators["enhancor"].jobs and emulators["codeformer"].processed == 0
    assert emulators["youcam"].charged_total() == 0 and not emulators["youcam"].received(
        "/s2s/v2.0/file"
    )
    assert not emulators["adcreative"].received("/api/v1/Image/FaceEnhancing/AdCreative")
    for secret in (ENH_KEY, ADC["api_secret"], emulators["youcam"].api_key):
        assert secret not in out
    # Exit 1 only for a failed line (on this machine none: the environment half is fine too).
    assert code == int(any(x.startswith("[FAIL]") for x in out.splitlines())), out


@pytest.mark.parametrize("gen", ["v1", "v2"])
async def test_youcam_checks_follow_the_generation(app_home, monkeypatch, emulators, gen):
    point_at(monkeypatch, emulators, youcam_gen=gen)
    runtime = build_runtime()
    try:
        results = await check_provider("youcam", runtime.provider("youcam"))
    finally:
        await runtime.aclose()
    names = [r.name for r in results]
    assert all(r.ok for r in results), results
    assert ("sign-in" in names) == (gen == "v1") and ("price list" in names) == (gen == "v2")
    assert "unknown task" in names


async def test_a_changed_shape_fails_the_check(app_home, monkeypatch, emulators):
    point_at(monkeypatch, emulators)
    # The vendor "changed something": health without a device, a balance under another name.
    emulators["codeformer"].faults.status(200, path="/api/health", body=b'{"status": "up"}')
    emulators["youcam"].faults.status(
        200, path="/s2s/v1.0/client/credit", body=b'{"status": 200, "data": {"credits": []}}'
    )
    runtime = build_runtime()
    try:
        cf = await check_provider("codeformer", runtime.provider("codeformer"))
        yc = await check_provider("youcam", runtime.provider("youcam"))
    finally:
        await runtime.aclose()
    health = next(r for r in cf if r.name == "health")
    credits = next(r for r in yc if r.name == "credits")
    assert not health.ok and health.detail.startswith("shape not as expected")
    assert not credits.ok and "no 'results' list" in credits.detail
    assert exit_code(cf + yc) == 1


async def test_a_wrong_key_is_one_line(app_home, monkeypatch, emulators):
    point_at(monkeypatch, emulators)
    monkeypatch.setenv("RETOUCHDESK_ENHANCOR_API_KEY", "enh-wrong-key-000000")
    runtime = build_runtime()
    try:
        results = await check_provider("enhancor", runtime.provider("enhancor"))
    finally:
        await runtime.aclose()
    assert results and all(not r.ok for r in results)
    assert all("refused the API key" in r.detail for r in results)
    assert not any("enh-wrong-key" in r.detail for r in results)
