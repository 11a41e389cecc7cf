"""The runtime: one provider instance per id, test hooks from the environment, clean close."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.doubles.fake_provider import SCHEMA_DIR, SERVER_ENV

from retouchdesk.core.errors import ConfigurationError
from retouchdesk.services import registry
from retouchdesk.services.runtime import (
    build_runtime,
    load_full_catalog,
    register_test_providers,
    safe_lookup,
)
from retouchdesk.services.settings import Settings


@pytest.fixture
def fake_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv(SERVER_ENV, str(tmp_path / "server"))
    monkeypatch.setenv("RETOUCHDESK_TEST_PROVIDERS", "tests.doubles.fake_provider:make")
    monkeypatch.setenv("RETOUCHDESK_EXTRA_SCHEMAS", str(SCHEMA_DIR))
    yield
    registry.unregister("fake")


async def test_providers_are_built_once_and_closed(fake_env, app_home: Path):
    rt = build_runtime(settings=Settings())
    assert "fake" in rt.catalog.providers and "local" in rt.catalog.providers
    assert rt.store.path == app_home / "data" / "jobs.sqlite3"
    first = rt.provider("fake")
    assert rt.provider("fake") is first
    await rt.aclose()
    assert first.closed


def test_unknown_provider_is_a_plain_configuration_error(app_home: Path):
    rt = build_runtime(settings=Settings())
    with pytest.raises(ConfigurationError, match="Unknown provider 'nope'"):
        rt.provider("nope")
    rt.store.close()


def test_register_test_providers_with_explicit_ids():
    try:
        assert register_test_providers("other=tests.doubles.fake_provider:make") == ["other"]
        assert "other" in registry.known_providers(load_full_catalog())
    finally:
        registry.unregister("other")


def test_catalog_without_extra_schemas_has_no_test_double(monkeypatch):
    monkeypatch.delenv("RETOUCHDESK_EXTRA_SCHEMAS", raising=False)
    assert "fake" not in load_full_catalog().providers
    assert "fake" in load_full_catalog([SCHEMA_DIR]).providers


def test_safe_lookup_turns_store_failures_into_not_set():
    class Locked:
        def get(self, section: str, key: str) -> str | None:
            raise ConfigurationError("The secret file is locked")

    class Open:
        def get(self, section: str, key: str) -> str | None:
            return "value" if key == "api_key" else None

    assert safe_lookup(Locked())("enhancor", "api_key") is None
    assert safe_lookup(Open())("enhancor", "api_key") == "value"
    settings = Settings(environ={}, secret_lookup=safe_lookup(Locked()))
    assert settings.get_with_source("enhancor", "api_key") == ("", "not set")
