"""The YouCam HTTP client: both API generations behind one set of calls.

Built on the shared layer (``providers.http``): its client factory, retrying transport and
transport-error mapping. 429 is *not* retried by the transport here: YouCam's answer is turned
into :class:`RateLimited` with ``retry_after`` so that the wait is visible ("rate limited,
retrying in N s"), and the keep-alive poller decides itself how to wait without losing a task.

Paths (api-reference section 4): v1 ``/s2s/v1.0/...`` (uploads ``/s2s/v1.1/file/<slug>``),
answers wrapped in ``result``; v2 ``/s2s/v2.0/...``, answers wrapped in ``data``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

import httpx

from retouchdesk.core.errors import ConfigurationError, ProviderError
from retouchdesk.providers import http
from retouchdesk.providers.youcam import errors
from retouchdesk.providers.youcam.auth import AUTH_PATH, TokenCache, make_id_token

V1 = "v1"
V2 = "v2"
# 429 stays with us (see the module docstring); 5xx and dropped connections are retried by the
# transport only for requests that are safe to repeat.
RETRY = http.RetryPolicy(max_attempts=4, retry_statuses=frozenset({500, 502, 503, 504}))
PAGE_SIZE_STYLES = 20
PAGE_SIZE_HISTORY = 30


@dataclass(frozen=True)
class Credentials:
    """What the user entered; the generation follows from it (id + secret: v1, key: v2)."""

    client_id: str = ""
    client_secret: str = ""
    api_key: str = ""

    @property
    def generation(self) -> str:
        if self.client_id and self.client_secret:
            return V1
        if self.api_key:
            return V2
        if self.client_id or self.client_secret:
            raise ConfigurationError(
                "YouCam v1 sign-in needs both the client id and the secret key"
            )
        raise ConfigurationError(
            "YouCam is not set up: enter a client id and secret key (v1) or an API key (v2)"
        )

    @property
    def account(self) -> str:
        """A stable name of the account, for per-account caches (never the secret)."""
        if self.generation == V1:
            return f"v1-{self.client_id}"
        return "v2-" + hashlib.sha256(self.api_key.encode()).hexdigest()[:12]


class YouCamClient:
    """One account's API client; every method returns the unwrapped ``result``/``data``."""

    def __init__(
        self,
        base_url: str,
        creds: Credentials,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: float | None = None,
        token_lifetime: float | None = None,
        retry: http.RetryPolicy | None = None,
    ) -> None:
        self.gen = creds.generation
        # 429 is never retried inside the transport (see the module docstring).
        self.retry = replace(retry or RETRY, retry_statuses=(retry or RETRY).retry_statuses - {429})
        self.creds = creds
        self.base_url = base_url.rstrip("/")
        self._transport = transport
        self._timeout = timeout
        self._http: httpx.AsyncClient | None = None
        self.tokens = TokenCache(self._sign_in)
        if token_lifetime is not None:
            self.tokens.lifetime = token_lifetime
            self.tokens.margin = min(self.tokens.margin, token_lifetime / 4)
        # v1: the access token, renewed once when a call answers 401; v2: the key itself, read
        # when sent. Passed per request: result downloads never carry it (http.Downloads).
        source: http.TokenSource = (
            self.tokens if self.gen == V1 else http.StaticToken(lambda: self.creds.api_key)
        )
        self.auth = http.BearerAuth(source, vendor=errors.VENDOR)
        # ``doctor`` reports the first answer as it came: no renewal there.
        self._probe_auth = http.BearerAuth(source, vendor=errors.VENDOR, renew_on=frozenset())
        http.register_secret(creds.client_secret)
        http.register_secret(creds.api_key)

    @property
    def client(self) -> httpx.AsyncClient:
        # Created lazily on the loop that uses it (the provider's I/O thread).
        if self._http is None:
            self._http = http.make_client(
                self.base_url,
                retry=self.retry,
                transport=self._transport,
                timeout=self._timeout,
                secrets=[s for s in (self.creds.client_secret, self.creds.api_key) if s],
            )
        return self._http

    async def aclose(self) -> None:
        if self._http is not None:
            await self._http.aclose()
            self._http = None

    # -- plumbing ---------------------------------------------------------------------------

    async def _sign_in(self) -> str:
        token = make_id_token(self.creds.client_id, self.creds.client_secret)
        resp = await http.send(
            self.client,
            "POST",
            AUTH_PATH,
            vendor=errors.VENDOR,
            action="signing in",
            safe=True,
            check=False,
            json={"client_id": self.creds.client_id, "id_token": token},
        )
        body = await self._check(resp, "signing in")
        access = (body.get("result") or {}).get("access_token") if isinstance(body, dict) else None
        if not access:
            raise ProviderError("YouCam sent no access token when signing in", retryable=True)
        return str(access)  # the cache registers it for redaction

    async def call(
        self,
        method: str,
        path: str,
        *,
        action: str,
        json: Any = None,
        params: Mapping[str, Any] | None = None,
        safe: bool = False,
    ) -> Any:
        """Send one authorised request and return the unwrapped answer.

        On 401 a v1 token is renewed once and the request sent again (a token can be revoked
        before its announced expiry): :class:`~retouchdesk.providers.http.BearerAuth`.
        """
        resp = await http.send(
            self.client,
            method,
            path,
            vendor=errors.VENDOR,
            action=action,
            safe=safe,
            check=False,
            json=json,
            params=params,
            auth=self.auth,
        )
        body = await self._check(resp, action)
        return self.unwrap(body)

    async def probe(
        self, method: str, path: str, *, params: Mapping[str, Any] | None = None
    ) -> tuple[int, Any]:
        """One authorised request as it answered: (HTTP status, JSON body or None). For
        ``retouchdesk doctor``, which checks the shapes the other calls rely on."""
        resp = await http.send(
            self.client,
            method,
            path,
            vendor=errors.VENDOR,
            action="checking the account",
            check=False,
            params=params,
            auth=self._probe_auth,
        )
        await resp.aread()
        try:
            return resp.status_code, resp.json()
        except ValueError:
            return resp.status_code, None

    async def _check(self, resp: httpx.Response, action: str) -> Any:
        """The JSON of a 2xx answer; a refusal through the shared table in YouCam's words."""
        await http.check_response(resp, vendor=errors.VOCABULARY, action=action)
        return http.json_body(resp, vendor=errors.VENDOR, action=action)

    def unwrap(self, body: Any) -> Any:
        if not isinstance(body, dict):
            raise ProviderError("YouCam sent an unexpected answer", retryable=True)
        for key in ("data", "result", "results"):
            if key in body:
                return body[key]
        return body

    # -- calls ------------------------------------------------------------------------------

    # Both generations use the v1.0 credit paths with their own bearer (a v2 API key too):
    # Perfect Corp's own client, github.com/YouCam-API/skills (skills/*/scripts/constants.py
    # DEFAULT_API_BALANCE_PATH, api-fallback.yaml credit.balance_path / history_path), reads
    # ``results`` from the balance. There is no /s2s/v2.0/client/credit.
    CREDIT_PATH = "/s2s/v1.0/client/credit"
    CREDIT_HISTORY_PATH = "/s2s/v1.0/client/credit/history"
    # Same source (DEFAULT_API_FEAT_COST_PATH, youcam_api.get_feature_cost): paged with
    # page_size=20 and starting_token -> next_token, the list under ``skus``.
    FEATURE_COST_PATH = "/s2s/v2.0/credit/feature-cost"
    FEATURE_COST_PAGE = 20
    MAX_PAGES = 50  # a server that keeps answering the same token must not loop forever

    async def credits(self) -> list[dict[str, Any]]:
        data = await self.call("GET", self.CREDIT_PATH, action="reading the credit balance")
        if isinstance(data, dict):  # tolerant: a wrapped list under either name
            data = data.get("results") or data.get("credits") or []
        return [c for c in (data or []) if isinstance(c, dict)]

    async def credit_history(
        self, page_size: int = PAGE_SIZE_HISTORY, token: str | None = None
    ) -> tuple[list[dict[str, Any]], str | None]:
        params: dict[str, Any] = {"page_size": max(1, min(PAGE_SIZE_HISTORY, page_size))}
        if token:
            params["starting_token"] = token
        data = await self.call(
            "GET", self.CREDIT_HISTORY_PATH, action="reading the credit history", params=params
        )
        if not isinstance(data, dict):
            return [], None
        return list(data.get("history") or []), data.get("next_token") or None

    async def create_uploads(self, slug: str, files: list[dict[str, Any]]) -> list[dict[str, Any]]:
        path = f"/s2s/v1.1/file/{slug}" if self.gen == V1 else "/s2s/v2.0/file"
        data = await self.call(
            "POST", path, action="preparing the upload", json={"files": files}, safe=True
        )
        return list(data.get("files") or [])

    async def put_file(self, request: Mapping[str, Any], content: bytes) -> None:
        """Send the bytes with exactly the method, URL and headers YouCam returned."""
        method = str(request.get("method") or "PUT").upper()
        headers = {str(k): str(v) for k, v in (request.get("headers") or {}).items()}
        resp = await http.send(
            self.client,
            method,
            str(request["url"]),
            vendor=errors.VENDOR,
            action="uploading the file",
            content=content,
            headers=headers,
            check=False,
        )
        await resp.aread()
        if resp.status_code >= 400:
            # A presigned address that expired or whose signed headers differ: a new upload
            # (the engine's retry prepares one) is the cure, never the credentials.
            raise ProviderError(
                f"YouCam's storage refused the upload (HTTP {resp.status_code}): the upload "
                "address expired or its headers did not match",
                retryable=resp.status_code in (403, 408, 500, 502, 503, 504),
                status=resp.status_code,
                code="upload_refused",
            )

    def task_path(self, slug: str) -> str:
        return f"/s2s/v1.0/task/{slug}" if self.gen == V1 else f"/s2s/v2.0/task/{slug}"

    async def run_task(self, slug: str, body: dict[str, Any]) -> str:
        """Start a task; safe to resend because the body carries its ``request_id``."""
        data = await self.call(
            "POST", self.task_path(slug), action="starting the task", json=body, safe=True
        )
        task_id = data.get("task_id") if isinstance(data, dict) else None
        if not task_id:
            raise ProviderError("YouCam accepted the task but sent no task id", retryable=True)
        return str(task_id)

    async def task_status(self, slug: str, task_id: str) -> dict[str, Any]:
        if self.gen == V1:
            data = await self.call(
                "GET", self.task_path(slug), action="checking the task", params={"task_id": task_id}
            )
        else:
            data = await self.call(
                "GET", f"{self.task_path(slug)}/{task_id}", action="checking the task"
            )
        return data if isinstance(data, dict) else {}

    async def delete_task(self, task_id: str) -> None:
        if self.gen == V2:
            await self.call(
                "POST",
                "/s2s/v2.0/task/delete",
                action="cancelling the task",
                json={"task_id": task_id},
                safe=True,
            )

    async def style_groups(
        self, slug: str, token: str | None = None, page_size: int = PAGE_SIZE_STYLES
    ) -> tuple[list[dict[str, Any]], str | None]:
        params: dict[str, Any] = {"page_size": page_size}
        if token:
            params["starting_token"] = token
        data = await self.call(
            "GET", f"/s2s/v1.0/task/style-group/{slug}", action="listing styles", params=params
        )
        return list(data.get("groups") or data.get("style_groups") or []), data.get("next_token")

    async def styles(
        self, slug: str, group_id: str, token: str | None = None, page_size: int = PAGE_SIZE_STYLES
    ) -> tuple[list[dict[str, Any]], str | None]:
        params: dict[str, Any] = {"page_size": page_size, "style_group_id": group_id}
        if token:
            params["starting_token"] = token
        data = await self.call(
            "GET", f"/s2s/v1.0/task/style/{slug}", action="listing styles", params=params
        )
        return list(data.get("styles") or []), data.get("next_token")

    async def templates(
        self, slug: str, token: str | None = None, page_size: int = PAGE_SIZE_STYLES
    ) -> tuple[list[dict[str, Any]], str | None]:
        params: dict[str, Any] = {"page_size": page_size}
        if token:
            params["starting_token"] = token
        data = await self.call(
            "GET", f"/s2s/v2.0/task/template/{slug}", action="listing templates", params=params
        )
        return list(data.get("templates") or []), data.get("next_token")

    async def feature_costs(self) -> list[dict[str, Any]]:
        """v2's price list, every page: ``[{description, amount, unit, run_task_url}]`` (v1
        has none)."""
        if self.gen == V1:
            return []
        skus: list[dict[str, Any]] = []
        token: str | None = None
        seen: set[str] = set()
        for _ in range(self.MAX_PAGES):
            params: dict[str, Any] = {"page_size": self.FEATURE_COST_PAGE}
            if token:
                params["starting_token"] = token
            data = await self.call(
                "GET", self.FEATURE_COST_PATH, action="reading prices", params=params
            )
            if not isinstance(data, dict):
                break
            skus.extend(s for s in data.get("skus") or [] if isinstance(s, dict))
            token = data.get("next_token") or None
            if not token or token in seen:
                break
            seen.add(token)
        return skus

    async def download(self, url: str) -> bytes:
        """A result or thumbnail (absolute URL, no credentials sent)."""
        resp = await http.send(
            self.client, "GET", url, vendor=errors.VENDOR, action="downloading the result"
        )
        return resp.content
