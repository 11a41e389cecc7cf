"""The doctor's live half: the cheapest real calls that cost nothing, per cloud provider.

For each configured provider: sign in, read the balance, ask for the status of an id that
does not exist, check the server's health. Each line says what answered (HTTP status, time)
and whether the answer has the shape the client relies on, so that a user with an account
can tell in seconds whether a vendor changed something. A shape that does not match is a
failed required check: ``retouchdesk doctor`` exits 1. The shapes come from the same public
material as the clients (resources/providers/GUESSES.md lists what is still a guess).

Nothing here queues a job, uploads a photo or spends a credit.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Awaitable, Callable, Iterable
from typing import TYPE_CHECKING, Any

from retouchdesk.core.errors import RetouchError
from retouchdesk.core.schema import Catalog, load_catalog
from retouchdesk.doctor import CheckResult

if TYPE_CHECKING:
    from retouchdesk.services.runtime import Runtime

UNKNOWN_ID = "retouchdesk-doctor-unknown-id"


class Mismatch(Exception):
    """The server answered, but not in the shape the client expects."""


Check = Callable[[], Awaitable[str]]


async def provider_checks(runtime: Runtime, names: Iterable[str]) -> list[CheckResult]:
    """Live checks of ``names`` (provider ids) through ``runtime``'s provider instances."""
    out: list[CheckResult] = []
    for name in names:
        try:
            provider = runtime.provider(name)
        except RetouchError as exc:
            out.append(CheckResult(name, "set up", False, str(exc)))
            continue
        out += await check_provider(name, provider, runtime.catalog)
    return out


async def check_provider(
    name: str, provider: Any, catalog: Catalog | None = None
) -> list[CheckResult]:
    """The live checks of one built provider, one result per check. A provider whose schema
    declares no ``[health]`` checks (an extra one), or a stand-in under a vendor's id, gets
    its own ``test_connection`` as the one check."""
    checks = _checks_for(name, provider, catalog)
    if checks is None:
        return [await _run(name, "connection", lambda: _generic(provider))]
    return [await _run(name, label, check) for label, check in checks]


async def shape_checks(
    name: str, provider: Any, catalog: Catalog | None = None
) -> list[CheckResult]:
    """Only the vendor checks (nothing for other providers): for the Settings dialog, which
    has already made the provider's own connection test."""
    checks = _checks_for(name, provider, catalog) or []
    return [await _run(name, label, check) for label, check in checks]


def _checks_for(
    name: str, provider: Any, catalog: Catalog | None
) -> list[tuple[str, Check]] | None:
    """The checks the provider's schema names (``[health] checks``), None when it names none
    or ``provider`` is not the class they were written for."""
    schema = (catalog or load_catalog()).providers.get(name)
    if schema is None or not schema.health_checks:
        return None
    module, _, func = schema.health_checks.partition(":")
    import importlib

    build: Callable[[Any], list[tuple[str, Check]] | None]
    build = getattr(importlib.import_module(module), func)
    return build(provider)


async def _run(area: str, label: str, check: Check) -> CheckResult:
    started = time.monotonic()
    try:
        detail = await check()
    except Mismatch as exc:
        return CheckResult(area, label, False, f"shape not as expected: {exc}")
    except RetouchError as exc:
        return CheckResult(area, label, False, str(exc))
    except Exception as exc:  # a check must never take the doctor down
        return CheckResult(area, label, False, f"the check failed ({type(exc).__name__}: {exc})")
    return CheckResult(area, label, True, f"{detail} ({time.monotonic() - started:.2f} s)")


async def _generic(provider: Any) -> str:
    text = await provider.test_connection()
    return str(text or "answered")


def _keys(data: Any) -> str:
    if isinstance(data, dict):
        return "keys " + ", ".join(sorted(map(str, data))[:8])
    return type(data).__name__


def _expect(cond: bool, what: str, data: Any) -> None:
    if not cond:
        raise Mismatch(f"{what} (got {_keys(data)})")


# -- YouCam -----------------------------------------------------------------------------------
# Paths and shapes: Perfect Corp's own client, github.com/YouCam-API/skills
# (scripts/constants.py, api-fallback.yaml, youcam_api.py) and the v1 document (seed).


def youcam_checks(p: Any) -> list[tuple[str, Check]] | None:
    """YouCam's checks (``[health]`` of youcam.toml); None for a stand-in provider."""
    from retouchdesk.providers.youcam import YouCamProvider
    from retouchdesk.providers.youcam.api import V1, V2, YouCamClient

    if not isinstance(p, YouCamProvider):
        return None

    client = p.client

    async def probe(path: str, params: dict[str, Any] | None = None) -> tuple[int, Any]:
        return await p.io.run(client.probe("GET", path, params=params))

    def refused(status: int, body: Any) -> None:
        if status in (401, 403):
            code = body.get("error_code") if isinstance(body, dict) else None
            raise RetouchError(f"YouCam refused the credentials (HTTP {status} {code or ''})")

    async def sign_in() -> str:
        await p.io.run(client.tokens.get())
        return "signed in with the client id and secret key (access token received)"

    async def credits() -> str:
        status, body = await probe(YouCamClient.CREDIT_PATH)
        refused(status, body)
        _expect(status == 200, f"HTTP {status} for the balance", body)
        items = body.get("results") if isinstance(body, dict) else None
        _expect(isinstance(items, list), "no 'results' list in the balance", body)
        assert isinstance(items, list)
        _expect(
            all(isinstance(c, dict) and "amount" in c for c in items),
            "credits without 'amount'",
            body,
        )
        total = sum(float(c.get("amount") or 0) for c in items)
        return f"HTTP 200: {len(items)} credit buckets, {total:g} credits"

    async def history() -> str:
        status, body = await probe(YouCamClient.CREDIT_HISTORY_PATH, {"page_size": 1})
        refused(status, body)
        _expect(status == 200, f"HTTP {status} for the history", body)
        inner = client.unwrap(body) if isinstance(body, dict) else None
        _expect(isinstance(inner, dict) and isinstance(inner.get("history"), list),
                "no 'history' list in the credit history", body)  # fmt: skip
        return "HTTP 200: credit history readable"

    async def prices() -> str:
        params = {"page_size": YouCamClient.FEATURE_COST_PAGE}
        status, body = await probe(YouCamClient.FEATURE_COST_PATH, params)
        refused(status, body)
        _expect(status == 200, f"HTTP {status} for the price list", body)
        inner = client.unwrap(body) if isinstance(body, dict) else None
        skus = inner.get("skus") if isinstance(inner, dict) else None
        _expect(isinstance(skus, list), "no 'skus' list in the price list", body)
        assert isinstance(skus, list)
        _expect(all(isinstance(s, dict) and "run_task_url" in s and "amount" in s for s in skus),
                "prices without 'run_task_url' or 'amount'", body)  # fmt: skip
        more = " (more pages)" if isinstance(inner, dict) and inner.get("next_token") else ""
        return f"HTTP 200: {len(skus)} prices on the first page{more}"

    async def unknown_task() -> str:
        if client.gen == V1:
            status, body = await probe(client.task_path("enhance"), {"task_id": UNKNOWN_ID})
        else:
            status, body = await probe(f"{client.task_path('enhance')}/{UNKNOWN_ID}")
        refused(status, body)
        code = body.get("error_code") if isinstance(body, dict) else None
        _expect(400 <= status < 500 and bool(code), f"HTTP {status} without an error_code", body)
        return f"HTTP {status} {code} for a task that does not exist, as expected"

    checks: list[tuple[str, Check]] = []
    if client.gen == V1:
        checks.append(("sign-in", sign_in))
    checks += [("credits", credits), ("credit history", history)]
    if client.gen == V2:
        checks.append(("price list", prices))
    checks.append(("unknown task", unknown_task))
    return checks


# -- CodeFormer ------------------------------------------------------------------------------
# seeds/codeformer-api.md: GET /api/health {"status": "online", "device"}; errors
# {"status": "error", "message"}. A sleeping Space answers 503 while it starts.


def codeformer_checks(p: Any) -> list[tuple[str, Check]] | None:
    """CodeFormer's checks (``[health]`` of codeformer.toml); None for a stand-in provider."""
    import httpx

    from retouchdesk.providers.codeformer import CodeFormerProvider

    if not isinstance(p, CodeFormerProvider):
        return None

    async def health() -> str:
        r = await p._api().get("/api/health", timeout=httpx.Timeout(15.0))
        if r.status_code == 503:
            return "HTTP 503: the Space is waking up (try again in a minute)"
        if r.status_code in (401, 403):
            raise RetouchError(
                f"The CodeFormer server refused the access token (HTTP {r.status_code})"
            )
        body = _json(r)
        _expect(r.status_code == 200 and isinstance(body, dict), f"HTTP {r.status_code}", body)
        _expect(str(body.get("status", "")).lower() == "online" and "device" in body,
                "no status 'online' and 'device'", body)  # fmt: skip
        return f"HTTP 200: online ({body['device']})"

    async def error_answer() -> str:
        r = await p._api().post("/api/process", json={})  # no image: refused, nothing processed
        if r.status_code == 503:
            return "HTTP 503: the Space is waking up"
        body = _json(r)
        documented = (
            isinstance(body, dict)
            and str(body.get("status", "")).lower() == "error"
            and "message" in body
        )
        _expect(documented, f"HTTP {r.status_code} without the error body", body)
        return f"HTTP {r.status_code}: error body as documented ({body['message']})"

    return [("health", health), ("error answer", error_answer)]


# -- Enhancor --------------------------------------------------------------------------------
# The status of an id that does not exist: "not found" to a valid key, 401 to a wrong one;
# errors as {"error": {"message"}} or {"error": "..."} (seeds; public probes of the live API).


def enhancor_checks(p: Any) -> list[tuple[str, Check]] | None:
    """Enhancor's checks (``[health]`` of enhancor.toml); None for a stand-in provider."""
    from retouchdesk.providers.enhancor import EnhancorProvider

    if not isinstance(p, EnhancorProvider):
        return None

    def status_of(product: str) -> Check:
        async def check() -> str:
            r = await p._api().post(f"/api/{product}/v1/status", json={"request_id": UNKNOWN_ID})
            body = _json(r)
            if r.status_code in (401, 403):
                raise RetouchError(f"Enhancor refused the API key (HTTP {r.status_code})")
            _expect(400 <= r.status_code < 500 and isinstance(body, dict) and "error" in body,
                    f"HTTP {r.status_code} without an 'error'", body)  # fmt: skip
            return f"key accepted; HTTP {r.status_code} for an unknown request id, as expected"

        return check

    return [(f"{product} status", status_of(product))
            for product in ("realistic-skin", "upscaler", "image-upscaler")]  # fmt: skip


# -- AdCreative ------------------------------------------------------------------------------
# https://api-docs.adcreative.ai/docs/getting-started/authentication (token answer with
# "$id": .NET reference preservation, read by providers.adcreative.dotnet_plain).


def adcreative_checks(p: Any) -> list[tuple[str, Check]] | None:
    """AdCreative's checks (``[health]`` of adcreative.toml); None for a stand-in provider."""
    from retouchdesk.providers.adcreative import AdCreativeProvider, dotnet_plain

    if not isinstance(p, AdCreativeProvider):
        return None

    base = "/api/v1/Image/FaceEnhancing"

    def net(body: Any) -> str:
        return " (.NET reference-preserving JSON)" if '"$id"' in _dump(body) else ""

    async def token() -> str:
        status, body = await p.probe("/api/v1/Authorization/GenerateJwtToken")
        if status in (400, 401, 403):
            raise RetouchError(
                f"AdCreative refused the application id or private key (HTTP {status})"
            )
        plain = dotnet_plain(body)
        _expect(bool(status == 200 and isinstance(plain, dict) and plain.get("accessToken")
                and plain.get("accessTokenExpiration")), "no accessToken and accessTokenExpiration",
                plain)  # fmt: skip
        return f"HTTP 200: access token received{net(body)}"

    async def jobs() -> str:
        status, body = await p.probe(
            f"{base}/CheckApplicationAllProgresses", {"applicationId": p.application_id}
        )
        if status in (401, 403):
            raise RetouchError(f"AdCreative refused the API key or secret (HTTP {status})")
        if status == 404:
            return "HTTP 404: no jobs on this application yet"
        plain = dotnet_plain(body)
        _expect(status == 200 and isinstance(plain, list | dict), f"HTTP {status}", plain)
        count = len(plain) if isinstance(plain, list) else 1
        return f"HTTP 200: {count} jobs listed{net(body)}"

    async def unknown_process() -> str:
        params = {"userId": p.user_id, "imageFaceEnhancerProcessId": str(uuid.uuid4())}
        status, body = await p.probe(f"{base}/CheckUserProgress", params)
        if status in (401, 403):
            raise RetouchError(f"AdCreative refused the API key or secret (HTTP {status})")
        _expect(status == 404, f"HTTP {status} for a process that does not exist", body)
        return "HTTP 404 for a process that does not exist, as expected"

    return [("sign-in", token), ("job list", jobs), ("unknown process", unknown_process)]


def _json(r: Any) -> Any:
    try:
        return r.json()
    except ValueError:
        return None


def _dump(body: Any) -> str:
    import json

    try:
        return json.dumps(body)
    except (TypeError, ValueError):
        return ""
