"""`retouchdesk config --set-secret` stores a key read from stdin, never from the arguments."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from retouchdesk import cli
from retouchdesk.services.secrets import EncryptedFileStore

KEY = "enh-cli-1f2e3d4c5b6a79881726354a"


@pytest.fixture
def file_store(monkeypatch: pytest.MonkeyPatch, app_home: Path) -> Path:
    monkeypatch.setenv("RETOUCHDESK_SECRETS_BACKEND", "file")
    monkeypatch.setenv("RETOUCHDESK_SECRETS_PASSPHRASE", "headless pass")
    return app_home / "config" / "secrets.enc"


def test_set_and_delete_a_secret_from_stdin(
    file_store: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(KEY + "\n"))
    assert cli.main(["config", "--set-secret", "enhancor.api_key"]) == 0
    out = capsys.readouterr().out
    assert "enhancor.api_key stored in the encrypted file" in out and KEY not in out
    assert KEY.encode() not in file_store.read_bytes()
    assert EncryptedFileStore(file_store).get("enhancor", "api_key") == KEY
    assert cli.main(["config", "--delete-secret", "enhancor.api_key"]) == 0
    assert EncryptedFileStore(file_store).get("enhancor", "api_key") is None


def test_refuses_non_secrets_and_empty_input(
    file_store: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    assert cli.main(["config", "--set-secret", "enhancor.base_url"]) == 1
    assert "not a secret" in capsys.readouterr().err
    assert cli.main(["config", "--set-secret", "enhancor.api_key"]) == 1
    assert "No value for enhancor.api_key" in capsys.readouterr().err
    assert cli.main(["config", "--set-secret", "nothing.here"]) == 1
    assert "is not a setting" in capsys.readouterr().err
