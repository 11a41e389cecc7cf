"""S3-compatible storage for inputs of URL-only vendors (AWS S3, Cloudflare R2, MinIO, B2).

Each published file is uploaded under ``<prefix><job id>/<random token><suffix>`` and handed
out as a presigned GET URL that expires after ``url_expiry`` seconds; ``release`` deletes the
job's objects. boto3 is synchronous, so every call runs in a worker thread and the event loop
never blocks. Credentials come from settings/secret store and are never logged.
"""

from __future__ import annotations

import asyncio
import logging
import mimetypes
import secrets
from pathlib import Path
from typing import Any

from retouchdesk.core.errors import ConfigurationError, ProviderError

log = logging.getLogger("retouchdesk.s3")


class S3Storage:
    """Uploads job files and presigns them; the file half of ``Hosting`` (no webhooks)."""

    description = "S3 storage"

    def __init__(
        self,
        *,
        bucket: str,
        endpoint_url: str = "",
        region: str = "us-east-1",
        access_key_id: str = "",
        secret_access_key: str = "",
        url_expiry: int = 3600,
        prefix: str = "retouchdesk/",
    ) -> None:
        self.bucket = bucket
        self.endpoint_url = endpoint_url or None
        self.region = region or "us-east-1"
        self._access_key_id = access_key_id
        self._secret_access_key = secret_access_key
        self.url_expiry = int(url_expiry)
        self.prefix = prefix
        self._client: Any = None
        self._keys: dict[str, dict[str, str]] = {}  # job id -> role -> object key

    def _s3(self) -> Any:
        if not self.bucket:
            raise ConfigurationError(
                "S3 hosting needs a bucket: set s3.bucket (RETOUCHDESK_S3_BUCKET) in Settings"
            )
        if self._client is None:
            try:
                import boto3
                from botocore.config import Config
            except ImportError:
                raise ConfigurationError(
                    "S3 hosting needs the boto3 package, which is not installed"
                ) from None
            kwargs: dict[str, Any] = {
                "region_name": self.region,
                "config": Config(
                    signature_version="s3v4",
                    retries={"max_attempts": 4, "mode": "standard"},
                    connect_timeout=10,
                    read_timeout=60,
                ),
            }
            if self.endpoint_url:
                kwargs["endpoint_url"] = self.endpoint_url
            if self._access_key_id and self._secret_access_key:
                kwargs["aws_access_key_id"] = self._access_key_id
                kwargs["aws_secret_access_key"] = self._secret_access_key
            self._client = boto3.Session().client("s3", **kwargs)
        return self._client

    async def publish(self, job_id: str, path: Path, *, role: str = "input") -> str:
        path = Path(path)
        if not path.is_file():
            raise ConfigurationError(f"Cannot upload {path.name}: the file does not exist")
        client = self._s3()
        key = f"{self.prefix}{job_id}/{secrets.token_urlsafe(24)}{path.suffix.lower()}"
        ctype = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        old = self._keys.setdefault(job_id, {}).get(role)
        try:
            await asyncio.to_thread(
                client.upload_file, str(path), self.bucket, key, ExtraArgs={"ContentType": ctype}
            )
            url = await asyncio.to_thread(
                client.generate_presigned_url,
                "get_object",
                Params={"Bucket": self.bucket, "Key": key},
                ExpiresIn=self.url_expiry,
            )
        except Exception as exc:
            raise _storage_error(exc, f"uploading {path.name}") from None
        self._keys[job_id][role] = key
        if old:
            await self._delete([old])
        return url

    async def release(self, job_id: str) -> None:
        keys = list(self._keys.pop(job_id, {}).values())
        if keys:
            await self._delete(keys)

    async def _delete(self, keys: list[str]) -> None:
        client = self._s3()
        for key in keys:
            try:
                await asyncio.to_thread(client.delete_object, Bucket=self.bucket, Key=key)
            except Exception as exc:  # a leftover object is not worth failing a job for
                log.warning("could not delete a temporary upload: %s", type(exc).__name__)

    async def aclose(self) -> None:
        for job_id in list(self._keys):
            await self.release(job_id)
        self._client = None


def _storage_error(exc: Exception, action: str) -> Exception:
    """A plain sentence for a boto3/botocore failure (never the credentials)."""
    name = type(exc).__name__
    code = ""
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        code = str(response.get("Error", {}).get("Code", ""))
    text = str(exc)
    if not code:  # upload_file wraps the ClientError in S3UploadFailedError: read its text
        for known in (
            "NoSuchBucket",
            "InvalidAccessKeyId",
            "SignatureDoesNotMatch",
            "AccessDenied",
        ):
            if known in text:
                code = known
    if code in ("NoSuchBucket",):
        return ConfigurationError("The S3 bucket set in Settings does not exist")
    if code in ("InvalidAccessKeyId", "SignatureDoesNotMatch", "AccessDenied", "403"):
        return ConfigurationError("S3 refused the access key set in Settings while " + action)
    if name in ("NoCredentialsError", "PartialCredentialsError"):
        return ConfigurationError("S3 hosting needs an access key id and secret access key")
    if name in ("EndpointConnectionError", "ConnectTimeoutError", "ConnectionClosedError"):
        return ProviderError(f"Could not reach the S3 storage while {action}", retryable=True)
    return ProviderError(f"S3 storage failed while {action} ({code or name})", retryable=True)
