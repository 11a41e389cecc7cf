"""The shared sign-in layer (``http.BearerAuth`` over ``TokenCache``/``StaticToken``) against a
real loopback server that issues, checks and revokes tokens itself.

What the vendor sees is counted on the server: sign-ins, requests received, jobs acted on.
"""

from __future__ import annotations

import asyncio
import logging

import httpx
import pytest
from tests.emulators.harness import (
    Emulator,
    Recorded,
    Response,
    TokenIssuer,
    json_response,
    route,
)

from retouchdesk.core.errors import AuthError
from retouchdesk.providers import http

FAST = http.RetryPolicy(max_attempts=2, backoff_base=0.01, backoff_max=0.02, jitter=0.0)


class Vault(Emulator):
    """A vendor with a sign-in call and one job call that needs a live bearer token."""

    name = "vault"

    def __init__(self) -> None:
        super().__init__()
        self.tokens = TokenIssuer(ttl=3600)
        self.jobs: list[bytes] = []  # bodies of the jobs acted on
        self.forbid = False  # answer 403 (a refusal that is not about the token's life)

    @route("POST", "/token")
    def token(self, rec: Recorded) -> Response:
        token, ttl = self.tokens.issue()
        return json_response({"access_token": token, "expires_in": ttl})

    @route("POST", "/jobs")
    def job(self, rec: Recorded) -> Response:
        bearer = (rec.header("authorization") or "").removeprefix("Bearer ")
        if self.forbid:
            return json_response({"error": "forbidden"}, status=403)
        if not self.tokens.valid(bearer):
            return json_response({"error": "token expired"}, status=401)
        self.jobs.append(rec.body)
        return json_response({"id": len(self.jobs)})


@pytest.fixture
def vault():
    emu = Vault().start()
    yield emu
    emu.stop()


@pytest.fixture
async def client(vault):
    c = http.make_client(vault.url, retry=FAST, timeout=httpx.Timeout(5.0))
    yield c
    await c.aclose()


def signed_in(client: httpx.AsyncClient) -> http.TokenCache:
    async def fetch() -> str:
        r = await http.send(client, "POST", "/token", vendor="Vault", action="signing in")
        return str(r.json()["access_token"])

    return http.TokenCache(fetch)


async def submit(client: httpx.AsyncClient, auth: httpx.Auth) -> httpx.Response:
    return await http.send(
        client,
        "POST",
        "/jobs",
        vendor="Vault",
        action="submitting the job",
        files={"image": ("a.png", b"\x89PNG fake bytes", "image/png")},
        data={"strength": "0.5"},
        auth=auth,
    )


async def test_a_revoked_token_is_renewed_once_and_the_same_request_sent_again(vault, client):
    cache = signed_in(client)
    auth = http.BearerAuth(cache, vendor="Vault")
    assert (await submit(client, auth)).json() == {"id": 1}
    vault.tokens.expire_all()  # revoked long before its announced hour
    assert (await submit(client, auth)).json() == {"id": 2}
    assert vault.count("/token") == 2 and cache.fetches == 2
    sent = vault.received("/jobs")
    assert len(sent) == 3  # 1 + the refused one + its renewed resend
    assert sent[1].header("authorization") != sent[2].header("authorization")
    assert sent[1].body == sent[2].body  # the multipart body is sent again whole
    assert sent[2].files["image"][0].data == b"\x89PNG fake bytes"
    assert len(vault.jobs) == 2  # the refused request was not acted on


async def test_a_second_refusal_is_the_answer_and_no_secret_leaks(vault, client, caplog):
    caplog.set_level(logging.DEBUG, logger="retouchdesk")
    cache = signed_in(client)
    auth = http.BearerAuth(cache, vendor="Vault")
    vault.tokens.actual_ttl = 0.0  # every token is dead on arrival
    with pytest.raises(AuthError) as info:
        await submit(client, auth)
    assert vault.count("/token") == 2  # renewed once, not twice
    assert vault.count("/jobs") == 2 and vault.jobs == []
    assert info.value.status == 401
    assert "renewing it once" in caplog.text
    text = f"{info.value}\n{info.value!r}\n{caplog.text}"
    assert vault.tokens.all_issued
    for token in vault.tokens.all_issued:
        assert token not in text


async def test_concurrent_callers_share_one_sign_in(vault, client):
    auth = http.BearerAuth(signed_in(client), vendor="Vault")
    await asyncio.gather(*(submit(client, auth) for _ in range(5)))
    assert vault.count("/token") == 1 and len(vault.jobs) == 5


async def test_a_403_is_not_a_reason_to_sign_in_again(vault, client):
    auth = http.BearerAuth(signed_in(client), vendor="Vault")
    vault.forbid = True
    with pytest.raises(AuthError):
        await submit(client, auth)
    assert vault.count("/token") == 1 and vault.count("/jobs") == 1


async def test_a_static_key_is_read_when_sent_and_never_renewed(vault, client):
    key = ["tok_static_key_one"]
    auth = http.BearerAuth(http.StaticToken(lambda: key[0]), vendor="Vault")
    with pytest.raises(AuthError):
        await submit(client, auth)  # the server does not know this key
    key[0] = "tok_static_key_two"
    with pytest.raises(AuthError):
        await submit(client, auth)
    sent = vault.received("/jobs")
    assert [r.header("authorization") for r in sent] == [
        "Bearer tok_static_key_one",
        "Bearer tok_static_key_two",
    ]  # one request each: nothing to renew
    assert vault.count("/token") == 0


async def test_a_token_is_renewed_before_its_expiry_on_the_given_clock():
    now = [0.0]
    fetched: list[float] = []

    async def fetch() -> tuple[str, float]:
        fetched.append(now[0])
        return f"tok_{len(fetched):08d}", now[0] + 600.0  # expiry announced by the vendor

    cache = http.TokenCache(fetch, margin=60.0, clock=lambda: now[0])
    assert await cache.get() == "tok_00000001"
    now[0] = 539.0
    assert await cache.get() == "tok_00000001"
    now[0] = 541.0  # inside the margin
    assert await cache.get() == "tok_00000002"
    assert await cache.renew("tok_00000001") == "tok_00000002"  # someone renewed already
    assert await cache.renew("tok_00000002") == "tok_00000003"
