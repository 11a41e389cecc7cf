"""Where API keys, tokens and client secrets live: the OS keyring, or an encrypted file.

:func:`open_store` returns a :class:`SecretStore` (``get``/``set``/``delete``/``backend_name``).
It prefers the operating system's keyring (the ``keyring`` package: macOS Keychain, Windows
Credential Locker, Secret Service / KWallet on Linux). A headless Linux often has no keyring
backend at all; there the secrets go to :class:`EncryptedFileStore`, a file protected by a
passphrase (scrypt, a memory-hard KDF, and AES-256-GCM authenticated encryption). Secrets are
never written in plain text, never logged and never put in an exception message.

Which store is used:

* ``preference`` (argument, or ``RETOUCHDESK_SECRETS_BACKEND``, or the ``secrets.backend``
  setting passed in by the runtime): ``auto`` (default), ``keyring`` or ``file``.
* ``auto`` takes the keyring only when a *real* backend is available: keyring's "fail" and
  "null" backends and the keyrings.alt file backends (one of them is plain text) are refused.
* ``keyring`` uses whatever backend keyring is configured with (``keyring.set_keyring`` or
  ``PYTHON_KEYRING_BACKEND``), trusting the user's or the test's choice.

The passphrase of the encrypted file comes from ``RETOUCHDESK_SECRETS_PASSPHRASE`` (headless
use) or from a callback (the window asks the user). It is asked for only when a secret is
read from an existing file or written; a missing file simply holds no secrets.

The environment (``RETOUCHDESK_ENHANCOR_API_KEY``...) wins over any store: ``Settings`` does
that, with ``Settings(secret_lookup=store.get)``.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import secrets as _random
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, Protocol

from retouchdesk.core.errors import ConfigurationError
from retouchdesk.services import paths

log = logging.getLogger(__name__)

SERVICE = "retouchdesk"  # the keyring "service" every secret is filed under
PASSPHRASE_ENV = "RETOUCHDESK_SECRETS_PASSPHRASE"
BACKEND_ENV = "RETOUCHDESK_SECRETS_BACKEND"
FILE_NAME = "secrets.enc"

# scrypt cost: n=2**15, r=8 needs 32 MiB and ~0.1 s per derivation; the key is derived once
# per session and kept in memory, so this only slows down guessing.
SCRYPT_N = 2**15
SCRYPT_R = 8
SCRYPT_P = 1
_FORMAT = "retouchdesk-secrets"
_VERSION = 1

# Called with ``creating=True`` when a new file is about to be made (ask twice, explain),
# ``False`` to unlock an existing one; returns the passphrase or None when the user declines.
PassphraseCallback = Callable[[bool], "str | None"]


class WrongPassphrase(ConfigurationError):
    """The passphrase does not open the encrypted secret file."""


class SecretStore(Protocol):
    """What the app needs from a secret store."""

    backend_name: str

    def get(self, section: str, key: str) -> str | None: ...

    def set(self, section: str, key: str, value: str) -> None: ...

    def delete(self, section: str, key: str) -> None: ...


def secret_keys(section: str) -> list[str]:
    """The secret settings of a provider section (its schema's secret credentials)."""
    from retouchdesk.services.settings import all_specs

    return [s.key for s in all_specs() if s.section == section and s.secret]


def remove_account(store: SecretStore, section: str, keys: Iterable[str] | None = None) -> None:
    """Delete every secret of ``section`` (removing an account deletes its secrets).

    ``keys`` defaults to the section's secret settings; a keyring cannot list its entries, so
    the keys to remove must be named.
    """
    for key in keys if keys is not None else secret_keys(section):
        store.delete(section, key)


# -- the OS keyring ----------------------------------------------------------------------------


class KeyringStore:
    """Secrets in the OS keyring, one entry per ``section.key`` under the service ``SERVICE``."""

    def __init__(self, backend: Any | None = None, *, service: str = SERVICE) -> None:
        import keyring

        self._backend = backend if backend is not None else keyring.get_keyring()
        self._service = service
        self.backend_name = f"system keyring ({_describe_backend(self._backend)})"

    @staticmethod
    def _user(section: str, key: str) -> str:
        return f"{section}.{key}"

    def get(self, section: str, key: str) -> str | None:
        from keyring.errors import KeyringError

        try:
            return self._backend.get_password(self._service, self._user(section, key)) or None
        except (KeyringError, OSError, RuntimeError) as exc:  # locked, D-Bus gone, denied
            raise ConfigurationError(
                f"The system keyring could not be read ({type(exc).__name__})"
            ) from None

    def set(self, section: str, key: str, value: str) -> None:
        from keyring.errors import KeyringError

        if not value:
            self.delete(section, key)
            return
        try:
            self._backend.set_password(self._service, self._user(section, key), value)
        except (KeyringError, OSError, RuntimeError) as exc:
            raise ConfigurationError(
                f"The system keyring refused to store {section}.{key} ({type(exc).__name__})"
            ) from None

    def delete(self, section: str, key: str) -> None:
        from keyring.errors import KeyringError, PasswordDeleteError

        try:
            self._backend.delete_password(self._service, self._user(section, key))
        except PasswordDeleteError:
            pass  # nothing stored: deleting is already done
        except (KeyringError, OSError, RuntimeError) as exc:
            raise ConfigurationError(
                f"The system keyring refused to delete {section}.{key} ({type(exc).__name__})"
            ) from None


def _describe_backend(backend: Any) -> str:
    name = getattr(backend, "name", "") or type(backend).__name__
    return str(name)


def _unsafe(backend: Any) -> bool:
    """True for backends that store nothing or store in plain text (never chosen by 'auto')."""
    module = type(backend).__module__
    if module.startswith("keyrings.alt") or module in (
        "keyring.backends.fail",
        "keyring.backends.null",
    ):
        return True
    try:
        return float(backend.priority) <= 0
    except Exception:  # a backend whose priority check itself fails is not usable
        return True


def real_keyring() -> Any | None:
    """The OS keyring backend when a real one is available, else None."""
    try:
        import keyring
        from keyring.backends.chainer import ChainerBackend
    except ImportError:
        return None
    try:
        backend = keyring.get_keyring()
    except Exception:  # a broken keyring configuration means "no keyring"
        log.warning("The keyring package could not load a backend", exc_info=True)
        return None
    if isinstance(backend, ChainerBackend):
        # Write to one real backend, never through a chain that may hold a plain-text one.
        usable = [b for b in backend.backends if not _unsafe(b)]
        return max(usable, key=lambda b: float(b.priority)) if usable else None
    return None if _unsafe(backend) else backend


# -- the encrypted file ------------------------------------------------------------------------


class EncryptedFileStore:
    """Secrets in one file encrypted with AES-256-GCM under a key derived by scrypt.

    The file is JSON: the format name, the KDF parameters and salt, a fresh 96-bit nonce per
    write, and the ciphertext of ``{section: {key: value}}``. The header is authenticated as
    associated data, so tampering with the KDF parameters is detected like a wrong passphrase.
    Writes are atomic (temp file + ``os.replace``) with owner-only permissions.
    """

    def __init__(
        self,
        path: Path | None = None,
        *,
        passphrase: str | None = None,
        passphrase_callback: PassphraseCallback | None = None,
        scrypt_n: int = SCRYPT_N,
    ) -> None:
        self.path = path or paths.config_dir() / FILE_NAME
        self.backend_name = f"encrypted file ({self.path})"
        self._passphrase = passphrase
        self._callback = passphrase_callback
        self._n = scrypt_n
        self._key: bytes | None = None
        self._salt: bytes | None = None
        self._data: dict[str, dict[str, str]] | None = None
        self._lock = threading.Lock()
        self._quiet = False  # the callback is not asked again (declined or wrong once)

    # public API ---------------------------------------------------------------------------
    def set_passphrase_callback(self, callback: PassphraseCallback | None) -> None:
        """Ask the user through ``callback`` (the window sets a dialog once it exists)."""
        self._callback = callback

    @property
    def unlocked(self) -> bool:
        return self._key is not None

    def unlock(self, passphrase: str | None = None) -> None:
        """Open (or prepare to create) the file; raises :class:`WrongPassphrase`.

        An explicit unlock may ask again after the user declined or mistyped once.
        """
        with self._lock:
            self._quiet = False
            if passphrase is not None:
                self._passphrase = passphrase
            self._load(force=True)

    def get(self, section: str, key: str) -> str | None:
        with self._lock:
            if self._data is None and not self.path.exists():
                return None  # nothing stored yet: no need to ask for a passphrase
            self._load()
            assert self._data is not None
            return self._data.get(section, {}).get(key) or None

    def set(self, section: str, key: str, value: str) -> None:
        with self._lock:
            self._quiet = False  # saving a key is the user's own action: asking is expected
            self._load()
            assert self._data is not None
            if value:
                self._data.setdefault(section, {})[key] = value
            else:
                self._data.get(section, {}).pop(key, None)
            self._save()

    def delete(self, section: str, key: str) -> None:
        with self._lock:
            if self._data is None and not self.path.exists():
                return
            self._load()
            assert self._data is not None
            if key in self._data.get(section, {}):
                del self._data[section][key]
                if not self._data[section]:
                    del self._data[section]
                self._save()

    def change_passphrase(self, new_passphrase: str) -> None:
        """Re-encrypt everything under a new passphrase (and a new salt)."""
        if not new_passphrase:
            raise ConfigurationError("The new passphrase of the secret file is empty")
        with self._lock:
            self._load()
            self._salt = _random.token_bytes(16)
            self._key = _derive(new_passphrase, self._salt, self._n, SCRYPT_R, SCRYPT_P)
            self._passphrase = None
            self._save()

    # internals ----------------------------------------------------------------------------
    def _ask(self, creating: bool) -> str:
        passphrase = self._passphrase or os.environ.get(PASSPHRASE_ENV) or None
        if passphrase is None and self._callback is not None and not self._quiet:
            passphrase = self._callback(creating)
            # Declined or (below) mistyped: background lookups stop asking until the user
            # unlocks explicitly, so a locked file never becomes a storm of dialogs.
            self._quiet = not passphrase
        if not passphrase:
            action = "create" if creating else "open"
            raise ConfigurationError(
                f"A passphrase is needed to {action} the secret file {self.path}: "
                f"enter it when asked, or set {PASSPHRASE_ENV}"
            )
        return passphrase

    def _load(self, force: bool = False) -> None:
        if self._data is not None and not force:
            return
        if not self.path.exists():
            passphrase = self._ask(creating=True)
            self._salt = _random.token_bytes(16)
            self._key = _derive(passphrase, self._salt, self._n, SCRYPT_R, SCRYPT_P)
            self._passphrase = None  # keep the derived key only
            self._data = {}
            return
        try:
            doc = json.loads(self.path.read_text(encoding="utf-8"))
            if doc.get("format") != _FORMAT or doc.get("version") != _VERSION:
                raise ValueError("unknown format")
            kdf = doc["kdf"]
            salt = _b64d(kdf["salt"])
            n, r, p = int(kdf["n"]), int(kdf["r"]), int(kdf["p"])
            nonce, ciphertext = _b64d(doc["nonce"]), _b64d(doc["ciphertext"])
        except (OSError, ValueError, KeyError, TypeError):
            raise ConfigurationError(
                f"The secret file {self.path} is damaged; remove it and enter your keys again"
            ) from None
        key = self._key if (self._key is not None and salt == self._salt) else None
        if key is None:
            key = _derive(self._ask(creating=False), salt, n, r, p)
        from cryptography.exceptions import InvalidTag
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        try:
            plain = AESGCM(key).decrypt(nonce, ciphertext, _aad(salt, n, r, p))
        except InvalidTag:
            self._passphrase = None
            self._quiet = True
            raise WrongPassphrase(
                f"The passphrase does not open the secret file {self.path}"
            ) from None
        self._key, self._salt, self._n = key, salt, n
        self._passphrase = None
        self._data = json.loads(plain.decode("utf-8"))

    def _save(self) -> None:
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        assert self._key is not None and self._salt is not None and self._data is not None
        nonce = _random.token_bytes(12)
        plain = json.dumps(self._data, sort_keys=True).encode("utf-8")
        ciphertext = AESGCM(self._key).encrypt(
            nonce, plain, _aad(self._salt, self._n, SCRYPT_R, SCRYPT_P)
        )
        doc = {
            "format": _FORMAT,
            "version": _VERSION,
            "cipher": "AES-256-GCM",
            "kdf": {
                "name": "scrypt",
                "n": self._n,
                "r": SCRYPT_R,
                "p": SCRYPT_P,
                "salt": _b64e(self._salt),
            },
            "nonce": _b64e(nonce),
            "ciphertext": _b64e(ciphertext),
        }
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(self.path.name + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(doc, fh, indent=1)
        os.replace(tmp, self.path)


def _derive(passphrase: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

    return Scrypt(salt=salt, length=32, n=n, r=r, p=p).derive(passphrase.encode("utf-8"))


def _aad(salt: bytes, n: int, r: int, p: int) -> bytes:
    return f"{_FORMAT}/{_VERSION}/scrypt/{n}/{r}/{p}/".encode() + salt


def _b64e(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _b64d(text: str) -> bytes:
    return base64.b64decode(text.encode("ascii"), validate=True)


# -- choosing ----------------------------------------------------------------------------------


def _configured_backend() -> str:
    """``secrets.backend`` from the settings file (a non-secret setting), else ``auto``."""
    try:
        from retouchdesk.services.settings import Settings

        return str(Settings().get("secrets", "backend") or "auto")
    except ConfigurationError:
        return "auto"  # a damaged settings file is reported elsewhere; keys still work


def open_store(
    passphrase_callback: PassphraseCallback | None = None,
    *,
    preference: str | None = None,
    path: Path | None = None,
) -> SecretStore:
    """The secret store to use: the OS keyring when a real one exists, else an encrypted file.

    ``preference`` is ``auto`` (default), ``keyring`` or ``file``; when None it is read from
    ``RETOUCHDESK_SECRETS_BACKEND``, then from the ``secrets.backend`` setting. ``path``
    places the encrypted file (default: the config folder). Raises
    :class:`ConfigurationError` for ``keyring`` when no backend is available.
    """
    choice = (preference or os.environ.get(BACKEND_ENV) or _configured_backend()).strip().lower()
    if choice not in ("auto", "keyring", "file"):
        raise ConfigurationError(
            f"Setting secrets.backend must be auto, keyring or file (got {choice!r})"
        )
    if choice in ("auto", "keyring"):
        backend = real_keyring()
        if backend is None and choice == "keyring":
            import keyring

            backend = keyring.get_keyring()
            if type(backend).__module__ in ("keyring.backends.fail", "keyring.backends.null"):
                raise ConfigurationError(
                    "No system keyring is available here; use secrets.backend = file"
                )
        if backend is not None:
            return KeyringStore(backend)
    return EncryptedFileStore(path, passphrase_callback=passphrase_callback)
