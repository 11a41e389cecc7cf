"""The secret store: keyring when real, else an encrypted file; nothing ever in plain text."""

from __future__ import annotations

import json
from pathlib import Path

import keyring
import pytest
from keyring.backends import fail
from keyrings.alt.file import PlaintextKeyring

from retouchdesk.core.errors import ConfigurationError
from retouchdesk.services import secrets
from retouchdesk.services.secrets import (
    EncryptedFileStore,
    KeyringStore,
    WrongPassphrase,
    open_store,
    remove_account,
)
from retouchdesk.services.settings import Settings

SECRET = "sk-live-9f3c1e5b7a2d4c6e8f0a1b3c5d7e9f1a"
FAST_N = 2**12  # scrypt cost for tests: same code path, faster derivation


@pytest.fixture
def file_keyring(app_home: Path) -> PlaintextKeyring:
    """The real, file-backed keyring backend that tests/conftest.py installs in the test home."""
    backend = keyring.get_keyring()
    assert isinstance(backend, PlaintextKeyring)
    assert Path(backend.file_path).is_relative_to(app_home)  # never the user's keyring
    return backend


def test_keyring_store_round_trip_and_delete(file_keyring: PlaintextKeyring) -> None:
    store = open_store(preference="keyring")
    assert isinstance(store, KeyringStore)
    assert "keyring" in store.backend_name
    store.set("enhancor", "api_key", SECRET)
    assert store.get("enhancor", "api_key") == SECRET
    # It really went into the backend under our service name, not somewhere else.
    assert file_keyring.get_password(secrets.SERVICE, "enhancor.api_key") == SECRET
    store.delete("enhancor", "api_key")
    assert store.get("enhancor", "api_key") is None
    store.delete("enhancor", "api_key")  # deleting twice is fine


def test_auto_refuses_plaintext_and_fail_backends(
    file_keyring: PlaintextKeyring, tmp_path: Path
) -> None:
    # keyrings.alt's PlaintextKeyring is no place for real secrets: auto picks the file store.
    store = open_store(preference="auto", path=tmp_path / "s.enc")
    assert isinstance(store, EncryptedFileStore)
    assert "encrypted file" in store.backend_name
    keyring.set_keyring(fail.Keyring())
    assert secrets.real_keyring() is None
    with pytest.raises(ConfigurationError, match="No system keyring"):
        open_store(preference="keyring")


def test_preference_from_environment(
    file_keyring: PlaintextKeyring, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("RETOUCHDESK_SECRETS_BACKEND", "keyring")
    assert isinstance(open_store(), KeyringStore)
    monkeypatch.setenv("RETOUCHDESK_SECRETS_BACKEND", "file")
    assert isinstance(open_store(), EncryptedFileStore)
    monkeypatch.setenv("RETOUCHDESK_SECRETS_BACKEND", "paper")
    with pytest.raises(ConfigurationError, match="auto, keyring or file"):
        open_store()


def test_encrypted_file_round_trips_and_is_not_plain_text(tmp_path: Path) -> None:
    path = tmp_path / "secrets.enc"
    store = EncryptedFileStore(path, passphrase="correct horse", scrypt_n=FAST_N)
    store.set("enhancor", "api_key", SECRET)
    store.set("youcam", "client_secret", "cs-" + "x" * 30)
    raw = path.read_bytes()
    assert SECRET.encode() not in raw and b"cs-xxxx" not in raw
    assert b"enhancor" not in raw  # even which providers are set up stays private
    doc = json.loads(raw)
    assert doc["cipher"] == "AES-256-GCM" and doc["kdf"]["name"] == "scrypt"
    assert path.stat().st_mode & 0o077 == 0  # owner-only

    reopened = EncryptedFileStore(path, passphrase="correct horse")
    assert reopened.get("enhancor", "api_key") == SECRET
    assert reopened.get("youcam", "client_secret") == "cs-" + "x" * 30
    assert reopened.get("youcam", "api_key") is None


def test_encrypted_file_refuses_wrong_passphrase(tmp_path: Path) -> None:
    path = tmp_path / "secrets.enc"
    EncryptedFileStore(path, passphrase="right", scrypt_n=FAST_N).set("enhancor", "api_key", SECRET)
    before = path.read_bytes()
    wrong = EncryptedFileStore(path, passphrase="wrong")
    with pytest.raises(WrongPassphrase) as info:
        wrong.get("enhancor", "api_key")
    message = str(info.value)
    assert message == f"The passphrase does not open the secret file {path}"
    assert SECRET not in message and "wrong" not in message
    with pytest.raises(WrongPassphrase):
        EncryptedFileStore(path, passphrase="wrong").set("enhancor", "api_key", "other")
    with pytest.raises(ConfigurationError, match="passphrase is needed"):
        wrong.get("enhancor", "api_key")  # a refused passphrase is forgotten, not retried
    assert path.read_bytes() == before  # a wrong passphrase never overwrites the file


def test_tampered_header_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "secrets.enc"
    EncryptedFileStore(path, passphrase="pw", scrypt_n=FAST_N).set("s3", "access_key_id", "AK")
    doc = json.loads(path.read_text())
    doc["kdf"]["r"] = 4  # weaken the KDF: must be detected, not silently accepted
    path.write_text(json.dumps(doc))
    with pytest.raises(WrongPassphrase):
        EncryptedFileStore(path, passphrase="pw").get("s3", "access_key_id")
    path.write_text("not json at all")
    with pytest.raises(ConfigurationError, match="damaged"):
        EncryptedFileStore(path, passphrase="pw").get("s3", "access_key_id")


def test_passphrase_from_callback_and_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "secrets.enc"
    asked: list[bool] = []

    def ask(creating: bool) -> str:
        asked.append(creating)
        return "from dialog"

    store = EncryptedFileStore(path, passphrase_callback=ask, scrypt_n=FAST_N)
    assert store.get("enhancor", "api_key") is None  # no file: nothing to unlock yet
    assert asked == []
    store.set("enhancor", "api_key", SECRET)
    store.set("codeformer", "token", "tok")
    assert asked == [True]  # asked once, for creating; the derived key is kept

    monkeypatch.setenv("RETOUCHDESK_SECRETS_PASSPHRASE", "from dialog")
    assert EncryptedFileStore(path).get("enhancor", "api_key") == SECRET

    monkeypatch.delenv("RETOUCHDESK_SECRETS_PASSPHRASE")
    declined = EncryptedFileStore(path, passphrase_callback=lambda creating: None)
    with pytest.raises(ConfigurationError, match="RETOUCHDESK_SECRETS_PASSPHRASE"):
        declined.get("enhancor", "api_key")


def test_change_passphrase(tmp_path: Path) -> None:
    path = tmp_path / "secrets.enc"
    store = EncryptedFileStore(path, passphrase="old", scrypt_n=FAST_N)
    store.set("enhancor", "api_key", SECRET)
    store.change_passphrase("new")
    with pytest.raises(WrongPassphrase):
        EncryptedFileStore(path, passphrase="old").get("enhancor", "api_key")
    assert EncryptedFileStore(path, passphrase="new").get("enhancor", "api_key") == SECRET


def test_remove_account_deletes_all_its_secrets(
    file_keyring: PlaintextKeyring, tmp_path: Path
) -> None:
    for store in (
        KeyringStore(),
        EncryptedFileStore(tmp_path / "s.enc", passphrase="pw", scrypt_n=FAST_N),
    ):
        for key in ("jwt_private_key", "api_key", "api_secret"):
            store.set("adcreative", key, f"{key}-value")
        store.set("enhancor", "api_key", SECRET)
        remove_account(store, "adcreative")
        assert all(
            store.get("adcreative", k) is None for k in ("jwt_private_key", "api_key", "api_secret")
        )
        assert store.get("enhancor", "api_key") == SECRET  # other accounts untouched


def test_settings_reads_store_and_environment_wins(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = EncryptedFileStore(tmp_path / "s.enc", passphrase="pw", scrypt_n=FAST_N)
    store.set("enhancor", "api_key", SECRET)
    settings = Settings(tmp_path / "settings.toml", secret_lookup=store.get)
    assert settings.get_with_source("enhancor", "api_key") == (SECRET, "secret store")
    monkeypatch.setenv("RETOUCHDESK_ENHANCOR_API_KEY", "from-env")
    settings = Settings(tmp_path / "settings.toml", secret_lookup=store.get)
    assert settings.get("enhancor", "api_key") == "from-env"


def test_backend_preference_from_settings_file(app_home: Path) -> None:
    Settings().set("secrets", "backend", "keyring")
    assert isinstance(open_store(), KeyringStore)
    Settings().set("secrets", "backend", "file")
    store = open_store()
    assert isinstance(store, EncryptedFileStore)
    assert store.path.is_relative_to(app_home)  # the config folder of the test home


def test_keyring_failures_are_plain_sentences_without_the_secret(file_keyring) -> None:
    from keyring.errors import KeyringLocked

    class Locked(PlaintextKeyring):
        def get_password(self, service, username):
            raise KeyringLocked("collection is locked")

        def set_password(self, service, username, password):
            raise KeyringLocked(f"cannot store {password}")

    backend = Locked()
    backend.file_path = file_keyring.file_path
    store = KeyringStore(backend)
    with pytest.raises(ConfigurationError, match="could not be read") as info:
        store.get("enhancor", "api_key")
    with pytest.raises(ConfigurationError, match=r"refused to store enhancor\.api_key") as info:
        store.set("enhancor", "api_key", SECRET)
    assert SECRET not in str(info.value)


def test_a_declined_or_wrong_passphrase_is_not_asked_again_by_lookups(tmp_path: Path) -> None:
    path = tmp_path / "secrets.enc"
    EncryptedFileStore(path, passphrase="pw", scrypt_n=FAST_N).set("enhancor", "api_key", SECRET)
    answers = iter([None, "wrong", "pw"])
    asked: list[bool] = []

    def ask(creating: bool) -> str | None:
        asked.append(creating)
        return next(answers)

    store = EncryptedFileStore(path, passphrase_callback=ask)
    for _ in range(3):  # background lookups after the user declined: no more dialogs
        with pytest.raises(ConfigurationError):
            store.get("enhancor", "api_key")
    assert len(asked) == 1
    with pytest.raises(WrongPassphrase):
        store.unlock()  # explicit: asks again; mistyped
    with pytest.raises(ConfigurationError):
        store.get("enhancor", "api_key")
    assert len(asked) == 2
    store.unlock()
    assert store.get("enhancor", "api_key") == SECRET and len(asked) == 3
