"""`retouchdesk run` opens the secret store only when a secret is needed and not in the env."""

from __future__ import annotations

from pathlib import Path

import pytest

from retouchdesk.services import runtime


class _Store:
    def __init__(self) -> None:
        self.values = {("s3", "secret_access_key"): "from-store"}

    def get(self, section: str, key: str) -> str | None:
        return self.values.get((section, key))


def test_the_store_opens_at_the_first_secret_lookup_only(
    app_home: Path, monkeypatch: pytest.MonkeyPatch
):
    opened: list[int] = []

    def fake_open(settings, passphrase_callback=None):
        opened.append(1)
        return _Store()

    monkeypatch.setattr(runtime, "open_secret_store", fake_open)
    rt = runtime.build_runtime(lazy_secrets=True)
    try:
        rt.settings.get("general", "default_provider")  # not a secret
        monkeypatch.setenv("RETOUCHDESK_S3_ACCESS_KEY_ID", "AKIAENV")
        assert rt.settings.get("s3", "access_key_id") == "AKIAENV"  # a secret, from the env
        assert opened == []
        assert rt.settings.get("s3", "secret_access_key") == "from-store"
        assert rt.settings.get("s3", "secret_access_key") == "from-store"
        assert opened == [1]  # once
    finally:
        rt.store.close()


def test_a_store_that_cannot_open_reads_as_not_set(app_home: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(runtime, "open_secret_store", lambda s, p=None: None)
    rt = runtime.build_runtime(lazy_secrets=True)
    try:
        assert not rt.settings.get("s3", "secret_access_key")
    finally:
        rt.store.close()
