"""The YouCam emulator's HTTP surface: the vendor's routes, v1 and v2, and the test knobs.

Each route checks the bearer (:mod:`.access`), then hands the body to the part that knows the
rule: uploads (:mod:`.uploads`), task bodies (:mod:`.validation`), files and tasks
(:mod:`.store`), credits (:mod:`.credits`), styles (:mod:`.styles`); accepted tasks are run
later by the engine (:mod:`.worker`). Here live only the wire formats: the ``status`` and
``result`` (v1) or ``data`` (v2) envelopes, paging, and the error bodies.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from tests.emulators.harness import (
    Emulator,
    Recorded,
    Response,
    TokenIssuer,
    json_response,
    raw_response,
    route,
)
from tests.emulators.youcam import styles, uploads
from tests.emulators.youcam.access import Access
from tests.emulators.youcam.credits import Credit, CreditLedger
from tests.emulators.youcam.errors import Invalid
from tests.emulators.youcam.features import BY_V1, BY_V2, FEATURES, UPLOAD_SLUGS, Feature
from tests.emulators.youcam.store import Seen, StoredFile, Task, TaskStore
from tests.emulators.youcam.validation import parse
from tests.emulators.youcam.worker import TaskWorker


class YouCamEmulator(Emulator):
    """The YouCam server: its routes over the access, store, ledger and worker it owns."""

    name = "youcam"

    def __init__(
        self,
        *,
        time_scale: float = 1.0,
        client_id: str = "yce-demo-client",
        api_key: str = "sk-demo-youcam-key",
        credits: int = 1000,
        task_seconds: float = 3.0,
        polling_interval_ms: int = 1000,
        drop_after: float = 10.0,
        token_ttl: float = 7200.0,
        rate_limit: int = 100,
        clock_skew: float = 300.0,
        min_face_width: int = 128,
        result_ttl: float = 7200.0,
        sku_page_cap: int | None = None,
        engine_errors: tuple[str, ...] = (),
    ) -> None:
        super().__init__(time_scale=time_scale, result_ttl=result_ttl)
        # The next tasks end with these engine error codes, one each (transient-error tests).
        self.engine_errors = list(engine_errors)
        self.sku_page_cap = sku_page_cap  # a server may answer fewer SKUs than asked for
        self.access = Access(
            client_id=client_id,
            api_key=api_key,
            token_ttl=token_ttl,
            rate_limit=rate_limit,
            clock_skew=clock_skew,
        )
        self.task_seconds = task_seconds
        self.polling_interval_ms = polling_interval_ms
        self.drop_after = drop_after
        state = threading.RLock()  # one lock over files, tasks and credits
        self.store = TaskStore(state)
        self.ledger = CreditLedger(credits, state)
        self.worker = TaskWorker(
            self.store,
            self.ledger,
            self.results.publish,
            drop_after=drop_after,
            min_face_width=min_face_width,
            engine_errors=self.engine_errors,
        )
        self.duplicate_submissions = 0
        self.rejected_puts = 0
        self.lost_polls = 0

    def describe(self) -> str:
        return (
            f"v1: RETOUCHDESK_YOUCAM_CLIENT_ID={self.client_id} "
            f"RETOUCHDESK_YOUCAM_CLIENT_SECRET={self.client_secret}\n"
            f"v2: RETOUCHDESK_YOUCAM_API_KEY={self.api_key}"
        )

    # -- what tests read and steer ---------------------------------------------------------

    @property
    def client_id(self) -> str:
        return self.access.client_id

    @property
    def client_secret(self) -> str:
        return self.access.client_secret

    @property
    def api_key(self) -> str:
        return self.access.api_key

    @property
    def tokens(self) -> TokenIssuer:
        return self.access.tokens

    @property
    def sign_ins(self) -> int:
        return self.access.sign_ins

    @property
    def rejected_sign_ins(self) -> list[str]:
        return self.access.rejected_sign_ins

    @property
    def files(self) -> dict[str, StoredFile]:
        return self.store.files

    @property
    def tasks(self) -> dict[str, Task]:
        return self.store.tasks

    @property
    def by_request(self) -> dict[tuple[str, int], str]:
        return self.store.by_request

    @property
    def credits(self) -> list[Credit]:
        return self.ledger.buckets

    @property
    def history(self) -> list[dict[str, Any]]:
        return self.ledger.history

    @property
    def balance(self) -> int:
        return self.ledger.balance

    def expire_tokens(self) -> None:
        """Revoke every access token now (tokens expiring before their announced life)."""
        self.tokens.expire_all()

    def set_credits(self, amount: int) -> None:
        self.ledger.set(amount)

    def tasks_created(self, feature: str | None = None) -> list[Task]:
        return self.store.created(feature)

    def charged_total(self) -> int:
        return self.store.charged_total()

    # -- envelopes, bearer, paging -----------------------------------------------------------

    @staticmethod
    def _err(
        status: int, message: str, code: str, headers: dict[str, str] | None = None
    ) -> Response:
        return json_response(
            {"status": status, "error": message, "error_code": code}, status, headers
        )

    def _refuse(self, exc: Invalid) -> Response:
        return self._err(exc.status, str(exc), exc.code, exc.headers)

    def _ok(self, gen: str, data: Any) -> Response:
        return json_response({"status": 200, ("result" if gen == "v1" else "data"): data})

    def _authorise(self, rec: Recorded, gen: str) -> tuple[str | None, Response | None]:
        """The account name of a valid bearer, or the error answer."""
        try:
            return self.access.account(rec.header("authorization") or "", gen), None
        except Invalid as exc:
            return None, self._refuse(exc)

    def _either(self, rec: Recorded) -> tuple[str | None, Response | None]:
        """A v2 ``sk-`` key or a v1 access token (the account-level calls take both)."""
        auth = rec.header("authorization") or ""
        return self._authorise(rec, "v2" if auth.startswith("Bearer sk-") else "v1")

    def _page_size(self, rec: Recorded, hi: int) -> int | Response:
        """The ``page_size`` asked for (20 by default), or the 400 for one outside 1..hi."""
        try:
            size = int(rec.arg("page_size", "20") or 20)
        except ValueError:
            size = 0
        if not 1 <= size <= hi:
            return self._err(400, f"page_size must be 1-{hi}", "InvalidParameters")
        return size

    def _page(self, rec: Recorded, items: list[Any], hi: int) -> tuple[list[Any], str] | Response:
        size = self._page_size(rec, hi)
        if isinstance(size, Response):
            return size
        start = int(rec.arg("starting_token") or 0)
        nxt = str(start + size) if start + size < len(items) else ""
        return items[start : start + size], nxt

    # -- sign-in -------------------------------------------------------------------------------

    @route("POST", "/s2s/v1.0/client/auth")
    def auth(self, rec: Recorded) -> Response:
        try:
            token = self.access.sign_in(rec.json)
        except Invalid as exc:
            return self._refuse(exc)
        return json_response({"status": 200, "result": {"access_token": token}})

    # -- credits -----------------------------------------------------------------------------

    @route("GET", r"/s2s/v1\.0/client/credit")
    def credit(self, rec: Recorded) -> Response:
        _account, err = self._either(rec)
        if err:
            return err
        return json_response({"status": 200, "results": self.ledger.listing()})

    @route("GET", r"/s2s/v1\.0/client/credit/history")
    def credit_history(self, rec: Recorded) -> Response:
        _account, err = self._either(rec)
        if err:
            return err
        size = self._page_size(rec, 30)
        if isinstance(size, Response):
            return size
        items = self.ledger.newest_first()
        start = 0
        token = rec.arg("starting_token")
        if token:
            ids = [h["id"] for h in items]
            if int(token) not in ids:
                return self._err(400, "Unknown starting_token", "InvalidParameters")
            start = ids.index(int(token))
        page = items[start : start + size]
        nxt = str(items[start + size]["id"]) if start + size < len(items) else ""
        return self._ok("v1", {"next_token": nxt, "history": page})

    @route("GET", "/s2s/v2.0/credit/feature-cost")
    def feature_cost(self, rec: Recorded) -> Response:
        _account, err = self._authorise(rec, "v2")
        if err:
            return err
        skus = [self._sku(f) for f in FEATURES.values() if f.cost]
        size = self._page_size(rec, 100)
        if isinstance(size, Response):
            return size
        size = min(size, self.sku_page_cap or size)
        start = int(rec.arg("starting_token") or 0)
        nxt = str(start + size) if start + size < len(skus) else ""
        return json_response(
            {"status": 200, "result": {"skus": skus[start : start + size], "next_token": nxt}}
        )

    def _sku(self, f: Feature) -> dict[str, Any]:
        """One row of the v2 price list."""
        video = f.name == "video_sr"
        return {
            "description": f.name.replace("_", " "),
            "amount": f.cost,
            "unit": "per 2 seconds" if video else "per image",
            "proc_unit": "2s" if video else "image",
            "run_task_url": f"{self.url}/s2s/v2.0/task/{f.v2}",
        }

    # -- uploads -----------------------------------------------------------------------------

    def _create_files(self, rec: Recorded, gen: str, account: str) -> Response:
        try:
            files = uploads.create_files(rec.json, account, self.url, self.store)
        except Invalid as exc:
            return self._refuse(exc)
        return self._ok(gen, {"files": files})

    @route("POST", r"/s2s/v1\.1/file/(?P<slug>[a-z-]+)")
    def file_v1(self, rec: Recorded, slug: str) -> Response:
        account, err = self._authorise(rec, "v1")
        if err:
            return err
        if slug not in UPLOAD_SLUGS:
            return self._err(404, f"No feature {slug}", "InvalidParameters", None)
        return self._create_files(rec, "v1", account or "")

    @route("POST", "/s2s/v2.0/file")
    def file_v2(self, rec: Recorded) -> Response:
        account, err = self._authorise(rec, "v2")
        if err:
            return err
        return self._create_files(rec, "v2", account or "")

    @route("PUT", r"/_upload/(?P<token>[A-Za-z0-9_-]+)")
    def put_upload(self, rec: Recorded, token: str) -> Response:
        stored = self.store.upload_target(token)
        if stored is None or not rec.arg("X-Amz-Signature"):
            return raw_response(b"<Error><Code>NoSuchUpload</Code></Error>", "application/xml", 404)
        refused = uploads.refuse_put(stored, rec)
        if refused is not None:
            self.rejected_puts += 1
            return refused
        with self.store.lock:
            stored.data = rec.body
        return raw_response(b"", "text/plain", 200)

    # -- tasks -------------------------------------------------------------------------------

    def _run(self, rec: Recorded, gen: str, f: Feature | None) -> Response:
        account, err = self._authorise(rec, gen)
        if err:
            return err
        if f is None:
            return self._err(404, "No such task", "InvalidParameters")
        try:
            task = parse(gen, f, rec.json, account or "", self.store)
        except Invalid as exc:
            return self._refuse(exc)
        with self.store.lock:
            known = self.store.first_task(task.account, task.request_id)
            if known is not None:
                # The same request again (a retry): the first task, nothing new, no charge.
                self.duplicate_submissions += 1
                return self._ok(gen, {"task_id": known})
            if f.cost and self.balance < f.cost:
                return self._err(400, "Not enough credits", "CreditInsufficiency")
            self.store.add_task(task)
        self.later(self.task_seconds, lambda: self.worker.finish(task))
        return self._ok(gen, {"task_id": task.task_id})

    @route("POST", r"/s2s/v1\.0/task/(?P<slug>[a-z-]+(?:/pre-process)?)")
    def run_v1(self, rec: Recorded, slug: str) -> Response:
        if slug.startswith(("style", "template")):
            return self._err(405, "Method not allowed", "InvalidParameters")
        return self._run(rec, "v1", BY_V1.get(slug))

    @route("POST", r"/s2s/v2\.0/task/(?P<path>[a-z-]+(?:/[a-z-]+)?)")
    def run_v2(self, rec: Recorded, path: str) -> Response:
        if path == "delete":
            return self._delete(rec)
        return self._run(rec, "v2", BY_V2.get(path))

    def _delete(self, rec: Recorded) -> Response:
        _account, err = self._authorise(rec, "v2")
        if err:
            return err
        task_id = (rec.json or {}).get("task_id") if isinstance(rec.json, dict) else None
        if not self.store.drop(task_id):
            return self._err(400, "Unknown task", "InvalidTaskId")
        return self._ok("v2", {})

    def _status(self, rec: Recorded, gen: str, f: Feature | None, task_id: str | None) -> Response:
        account, err = self._authorise(rec, gen)
        if err:
            return err
        seen = self.store.poll(task_id, account or "", f, self.drop_after)
        if seen is None:
            self.lost_polls += 1
            return self._err(400, "Invalid task id", "InvalidTaskId")
        detect = f is not None and f.name == "face_detect"
        data = self._status_v1(seen, detect) if gen == "v1" else self._status_v2(seen, detect)
        return self._ok(gen, data)

    def _status_v1(self, seen: Seen, detect: bool) -> dict[str, Any]:
        data: dict[str, Any] = {"polling_interval": self.polling_interval_ms, "status": seen.status}
        if seen.status == "error":
            data["error"] = seen.error
        if seen.status == "success":
            item: dict[str, Any] = {
                "id": 0,
                "data": [{"url": u, "dst_id": d} for u, d in seen.results],
            }
            if detect:
                item["faces"] = seen.faces
            data["results"] = [item]
        return data

    def _status_v2(self, seen: Seen, detect: bool) -> dict[str, Any]:
        data: dict[str, Any] = {
            "task_status": seen.status,
            "polling_interval": self.polling_interval_ms,
        }
        if seen.status == "error":
            data["error"] = seen.error
            data["error_message"] = seen.error
        if seen.status == "success":
            if detect:
                data["results"] = {"faces": seen.faces}
            elif len(seen.results) > 1:
                data["results"] = {"output": [u for u, _ in seen.results]}
            else:
                data["results"] = {"url": seen.results[0][0]}
        return data

    @route("GET", r"/s2s/v1\.0/task/(?P<slug>[a-z-]+(?:/pre-process)?)")
    def status_v1(self, rec: Recorded, slug: str) -> Response:
        return self._status(rec, "v1", BY_V1.get(slug), rec.arg("task_id"))

    @route("GET", r"/s2s/v2\.0/task/(?P<path>[a-z-]+(?:/[a-z-]+)?)/(?P<task_id>[A-Za-z0-9_-]{20,})")
    def status_v2(self, rec: Recorded, path: str, task_id: str) -> Response:
        return self._status(rec, "v2", BY_V2.get(path), task_id)

    # -- styles ------------------------------------------------------------------------------

    @route("GET", r"/_thumbs/(?P<key>[A-Za-z0-9_.-]+)\.png")
    def thumb(self, rec: Recorded, key: str) -> Response:
        return raw_response(styles.thumbnail(key), "image/png")

    @route("GET", r"/s2s/v1\.0/task/style-group/(?P<slug>[a-z-]+)")
    def style_groups(self, rec: Recorded, slug: str) -> Response:
        _account, err = self._authorise(rec, "v1")
        if err:
            return err
        f = BY_V1.get(slug)
        if f is None or not f.styles:
            return self._err(400, "This feature has no styles", "InvalidParameters")
        return self._listing(rec, "v1", "groups", styles.groups(slug), self._titled("g"))

    @route("GET", r"/s2s/v1\.0/task/style/(?P<slug>[a-z-]+)")
    def group_styles(self, rec: Recorded, slug: str) -> Response:
        _account, err = self._authorise(rec, "v1")
        if err:
            return err
        try:
            gid = int(rec.arg("style_group_id") or "")
        except ValueError:
            return self._err(400, "style_group_id is required", "InvalidStyleGroup")
        group = next((g for g in styles.groups(slug) if g["id"] == gid), None)
        if group is None:
            return self._err(400, "Unknown style group", "InvalidStyleGroup")
        return self._listing(rec, "v1", "styles", group["styles"], self._titled("s"))

    @route("GET", r"/s2s/v2\.0/task/template/(?P<path>[a-z-]+(?:/[a-z-]+)?)")
    def templates(self, rec: Recorded, path: str) -> Response:
        _account, err = self._authorise(rec, "v2")
        if err:
            return err
        f = BY_V2.get(path)
        if f is None or not f.styles:
            return self._err(400, "This feature has no templates", "InvalidParameters")
        return self._listing(
            rec, "v2", "templates", styles.templates(path),
            lambda t: dict(t, thumb=styles.thumb_url(self.url, t["id"])),
        )  # fmt: skip

    def _listing(
        self, rec: Recorded, gen: str, name: str, items: list[Any], entry: Callable[[Any], Any]
    ) -> Response:
        """One page (20 at most) of a style catalogue, each item as ``entry`` shows it."""
        page = self._page(rec, items, 20)
        if isinstance(page, Response):
            return page
        found, nxt = page
        return self._ok(gen, {"next_token": nxt, name: [entry(item) for item in found]})

    def _titled(self, prefix: str) -> Callable[[dict[str, Any]], dict[str, Any]]:
        """How v1 lists a style group or a style: id, title and a thumbnail."""

        def entry(item: dict[str, Any]) -> dict[str, Any]:
            thumb = styles.thumb_url(self.url, f"{prefix}{item['id']}")
            return {"id": item["id"], "info": {"title": item["title"], "thumb": thumb}}

        return entry


def create(**options: Any) -> YouCamEmulator:
    """The harness's entry point (``tests.emulators.load("youcam", ...)``)."""
    return YouCamEmulator(**options)
