"""YouCam sign-in against the emulator: RSA id_token, token reuse, renewal, v2 keys."""

from __future__ import annotations

import asyncio
import base64
import time

import pytest
from cryptography.hazmat.primitives.asymmetric import padding
from tests.emulators.youcam_support import FAST, make_provider

from retouchdesk.core.errors import AuthError, ConfigurationError
from retouchdesk.providers.youcam import Credentials
from retouchdesk.providers.youcam.auth import TokenCache, make_id_token

pytestmark = pytest.mark.timeout(60)


def test_id_token_is_the_rsa_encrypted_client_id_and_timestamp(emulator):
    emu = emulator("youcam")
    token = make_id_token(emu.client_id, emu.client_secret, timestamp_ms=1700000000123)
    plain = emu.access.key.decrypt(base64.b64decode(token), padding.PKCS1v15())
    assert plain == f"client_id={emu.client_id}&timestamp=1700000000123".encode()
    # PKCS#1 v1.5 is randomised: two tokens of the same text differ
    assert token != make_id_token(emu.client_id, emu.client_secret, timestamp_ms=1700000000123)


def test_generation_follows_the_credentials_entered():
    assert Credentials(client_id="a", client_secret="b").generation == "v1"
    assert Credentials(api_key="sk-x").generation == "v2"
    with pytest.raises(ConfigurationError, match="both the client id and the secret"):
        _ = Credentials(client_id="a").generation
    with pytest.raises(ConfigurationError, match="not set up"):
        _ = Credentials().generation


def test_a_malformed_secret_is_a_plain_configuration_error():
    with pytest.raises(ConfigurationError, match="Secret key"):
        make_id_token("id", "not base64 at all!")


async def test_wrong_client_id_and_stale_timestamp_are_refused(emulator, tmp_path, monkeypatch):
    emu = emulator("youcam", **FAST)
    bad = make_provider(emu, "v1", tmp_path)
    bad.client.creds = Credentials(client_id="someone-else", client_secret=emu.client_secret)
    with pytest.raises(AuthError, match="client id"):
        await bad.balance()
    await bad.aclose()
    late = make_provider(emu, "v1", tmp_path)
    # the computer's clock six minutes fast: the emulator allows five
    monkeypatch.setattr(
        "retouchdesk.providers.youcam.api.make_id_token",
        lambda cid, secret: make_id_token(
            cid, secret, timestamp_ms=int(time.time() * 1000) + 360_000
        ),
    )
    with pytest.raises(AuthError, match="clock"):
        await late.balance()
    await late.aclose()
    assert emu.rejected_sign_ins == ["client_id", "timestamp"]
    assert emu.sign_ins == 0


async def test_token_is_reused_then_renewed_once_after_early_expiry(emulator, tmp_path):
    emu = emulator("youcam", **FAST)
    prov = make_provider(emu, "v1", tmp_path)
    try:
        await asyncio.gather(*(prov.balance() for _ in range(5)))
        assert emu.sign_ins == 1  # concurrent callers share one sign-in
        emu.expire_tokens()  # the fault mode: tokens die before their announced 2 hours
        balance = await prov.balance()
        assert balance.total == 1000
        assert emu.sign_ins == 2
        statuses = [r.path for r in emu.received() if r.path.endswith("/client/credit")]
        assert len(statuses) == 7  # 5 + the refused one + its renewed retry
    finally:
        await prov.aclose()


async def test_token_is_renewed_before_its_announced_expiry():
    fetched = []

    async def fetch() -> str:
        fetched.append(1)
        return f"t{len(fetched)}"

    now = [0.0]
    cache = TokenCache(fetch, lifetime=7200, margin=600, clock=lambda: now[0])
    assert await cache.get() == "t1"
    now[0] = 6500  # within 10 minutes of the end
    assert await cache.get() == "t1"
    now[0] = 6601
    assert await cache.get() == "t2"


async def test_v2_sends_the_api_key_as_bearer_and_refuses_a_wrong_one(emulator, tmp_path):
    emu = emulator("youcam", **FAST)
    prov = make_provider(emu, "v2", tmp_path)
    try:
        assert (await prov.balance()).total == 1000
        [req] = emu.received("/s2s/v1.0/client/credit")  # v2 keys use v1.0 too (YouCam-API/skills)
        assert req.header("authorization") == f"Bearer {emu.api_key}"
        assert emu.sign_ins == 0
    finally:
        await prov.aclose()
    wrong = make_provider(emu, "v2", tmp_path)
    wrong.client.creds = Credentials(api_key="sk-wrong")
    try:
        with pytest.raises(AuthError, match="refused the API key"):
            await wrong.balance()
    finally:
        await wrong.aclose()
