"""Presigned-style uploads: a file record and a PUT URL per file, and the PUT's checks.

The PUT must carry exactly the headers the file call answered (403 ``SignatureDoesNotMatch``
otherwise) and no ``x-amz-*`` header it did not sign (403 ``AccessDenied``, as S3 answers a
SigV4 presigned PUT); only then does the file hold data a task may name.
"""

from __future__ import annotations

import hashlib
import secrets
from typing import Any

from tests.emulators.harness import Recorded, Response, raw_response
from tests.emulators.youcam.errors import Invalid
from tests.emulators.youcam.features import CONTENT_TYPES
from tests.emulators.youcam.store import StoredFile, TaskStore


def create_files(body: Any, account: str, base_url: str, store: TaskStore) -> list[dict[str, Any]]:
    """The answer's ``files``: one new file and its PUT request per requested file."""
    if not isinstance(body, dict) or set(body) != {"files"} or not body["files"]:
        raise Invalid("files is required")
    return [_create_file(f, account, base_url, store) for f in body["files"]]


def _create_file(f: Any, account: str, base_url: str, store: TaskStore) -> dict[str, Any]:
    if not isinstance(f, dict) or not {"content_type", "file_name"} <= set(f):
        raise Invalid("content_type and file_name are required")
    extra = set(f) - {"content_type", "file_name", "file_size"}
    if extra:
        raise Invalid(f"unknown fields {sorted(extra)}")
    if f["content_type"] not in CONTENT_TYPES:
        raise Invalid(f"content_type {f['content_type']} is not supported")
    size = f.get("file_size")
    if size is not None and (not isinstance(size, int) or size <= 0):
        raise Invalid("file_size must be a positive integer")
    file_id = secrets.token_urlsafe(24)
    token = secrets.token_urlsafe(16)
    headers = {"Content-Type": f["content_type"], "x-amz-meta-file-id": file_id[:16]}
    if size is not None:
        headers["Content-Length"] = str(size)
    stored = StoredFile(file_id, f["content_type"], f["file_name"], size, account, headers)
    store.add_file(stored, upload_token=token)
    sig = hashlib.sha256(token.encode()).hexdigest()[:32]
    url = f"{base_url}/_upload/{token}?X-Amz-Expires=3600&X-Amz-Signature={sig}"
    return {
        "content_type": f["content_type"],
        "file_name": f["file_name"],
        "file_id": file_id,
        "requests": [{"method": "PUT", "url": url, "headers": headers}],
    }


def refuse_put(stored: StoredFile, rec: Recorded) -> Response | None:
    """S3's 403 for a PUT that differs from what was signed, or None for a good one."""
    signed = {k.lower() for k in stored.headers}
    unsigned = sorted(k for k in rec.headers if k.startswith("x-amz-") and k not in signed)
    if unsigned:
        # What S3 answers a presigned (SigV4) PUT carrying an x-amz-* header it did not
        # sign: 403 AccessDenied, "There were headers present in the request which were not
        # signed", the names in <HeadersNotSigned>.
        body = (
            "<Error><Code>AccessDenied</Code><Message>There were headers present in the "
            "request which were not signed</Message><HeadersNotSigned>"
            + ", ".join(unsigned)
            + "</HeadersNotSigned></Error>"
        ).encode()
        return raw_response(body, "application/xml", 403)
    wrong = [k for k, v in stored.headers.items() if (rec.header(k) or "") != v]
    if rec.header("authorization"):
        wrong.append("Authorization (not signed)")
    if stored.file_size is not None and len(rec.body) != stored.file_size:
        wrong.append("body size")
    if wrong:
        body = (
            "<Error><Code>SignatureDoesNotMatch</Code><Message>Headers differ: "
            + ", ".join(wrong)
            + "</Message></Error>"
        ).encode()
        return raw_response(body, "application/xml", 403)
    return None
