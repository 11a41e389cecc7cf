"""One typed settings layer: a TOML file in the config folder, overridden by the environment.

Every setting is declared once: the application's own in :data:`SPECS` with its type, default
and description, and each provider's in its schema (``resources/providers/<id>.toml``): its
``[[credentials]]`` become text settings of the provider's section, its ``[[settings]]``
(server address, poll interval, ...) typed settings of the same section.
``RETOUCHDESK_<SECTION>_<KEY>`` (upper case) wins over the file, so the CLI and CI can
configure everything without a file. Secret settings are never written to the file: they are
read from the environment or the secret store (``services.secrets``), and ``describe()``
masks them.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from retouchdesk.core import tomlread
from retouchdesk.core.errors import ConfigurationError
from retouchdesk.core.schema import ProviderSchema
from retouchdesk.services import paths


@dataclass(frozen=True)
class SettingSpec:
    section: str
    key: str
    type: type
    default: Any
    help: str = ""
    secret: bool = False

    @property
    def env_name(self) -> str:
        return f"RETOUCHDESK_{self.section}_{self.key}".upper()

    @property
    def dotted(self) -> str:
        return f"{self.section}.{self.key}"


def _s(section: str, key: str, typ: type, default: Any, help: str = "", secret: bool = False):
    return SettingSpec(section, key, typ, default, help, secret)


SPECS: tuple[SettingSpec, ...] = (
    _s("general", "default_provider", str, "local", "Provider selected at start"),
    _s(
        "general",
        "cost_threshold",
        float,
        0.0,
        "Ask before sending work that costs more than this (in the service's own unit: "
        "credits, units...); 0 = ask for every paid batch",
    ),
    _s("output", "dir", str, "", "Output folder; empty = a 'retouched' folder beside each photo"),
    _s("output", "subfolder", str, "retouched", "Subfolder beside the photo when dir is empty"),
    _s("output", "template", str, "{stem}_{operation}_{provider}.{ext}", "Result file name"),
    _s("output", "format", str, "same", "same, jpeg, png, tiff or webp"),
    _s("output", "jpeg_quality", int, 95, "JPEG quality of results"),
    _s("output", "keep_exif", bool, True, "Copy EXIF to results"),
    _s("output", "keep_icc", bool, True, "Copy the ICC profile to results"),
    _s("output", "keep_xmp", bool, True, "Copy XMP to results"),
    _s("output", "keep_gps", bool, True, "Keep GPS position in copied EXIF"),
    _s("engine", "max_attempts", int, 4, "Tries of a job step before it fails"),
    _s("engine", "backoff_base", float, 1.0, "First retry delay in seconds"),
    _s("engine", "backoff_max", float, 60.0, "Longest retry delay in seconds"),
    _s("engine", "concurrency", str, "", "Jobs at once per provider, e.g. 'youcam=1,local=2'"),
    _s(
        "engine",
        "job_deadline",
        float,
        3600.0,
        "Seconds one run follows a cloud job before reporting it stalled (it stays resumable)",
    ),
    _s(
        "engine",
        "unconfirmed_wait",
        float,
        120.0,
        "Seconds to wait for a late answer (webhook) to a submission whose answer was lost",
    ),
    _s(
        "jobs",
        "keep_days",
        int,
        # Forever by default: a done job is what stops the same paid work being sent again
        # (services.batch), so forgetting it is the photographer's choice, not ours.
        0,
        "Days finished jobs stay in the job list (0 = forever); result files are kept",
    ),
    _s("hosting", "strategy", str, "local", "How Enhancor reaches inputs: local or s3"),
    _s("receiver", "host", str, "127.0.0.1", "Address the local receiver listens on"),
    _s("receiver", "port", int, 0, "Port of the local receiver (0 = any free port)"),
    _s("receiver", "public_url", str, "", "Public URL of a tunnel in front of the receiver"),
    _s("network", "max_attempts", int, 4, "Tries of one HTTP call (connection errors, 429, 5xx)"),
    _s("network", "backoff_base", float, 0.5, "First HTTP retry delay in seconds"),
    _s("network", "max_retry_after", float, 30.0, "Longest Retry-After waited inside one call"),
    _s("network", "read_timeout", float, 60.0, "Seconds to wait for a cloud service's answer"),
    _s("s3", "endpoint_url", str, "", "S3-compatible endpoint (empty = AWS)"),
    _s("s3", "bucket", str, "", "Bucket for temporary inputs"),
    _s("s3", "region", str, "us-east-1", "Bucket region"),
    _s("s3", "access_key_id", str, "", "Access key id", secret=True),
    _s("s3", "secret_access_key", str, "", "Secret access key", secret=True),
    _s("s3", "url_expiry", int, 3600, "Lifetime of presigned URLs in seconds"),
    _s("ui", "theme", str, "system", "system, light or dark"),
    _s("secrets", "backend", str, "auto", "Secret store: auto (keyring, else file), keyring, file"),
    _s("accounts", "configured", str, "", "Providers with an account set up (comma-separated)"),
    _s("mask", "undo_mb", int, 256, "Memory for mask undo steps in MB (oldest go first)"),
)
_BY_NAME = {s.dotted: s for s in SPECS}
_installed_loaded = False


def register_provider_settings(providers: Iterable[ProviderSchema]) -> None:
    """Make what each provider schema declares settings of its section: every credential a
    text setting (secret or not), every ``[[settings]]`` entry a setting of its type."""
    for prov in providers:
        for c in prov.credentials:
            s = SettingSpec(prov.id, c.key, str, "", f"{prov.name} {c.label}", c.secret)
            _BY_NAME.setdefault(s.dotted, s)
        for d in prov.settings:
            s = SettingSpec(prov.id, d.key, d.py_type, d.default, d.help)
            _BY_NAME.setdefault(s.dotted, s)


def _load_installed() -> None:
    """The installed providers' credentials, read once from their schemas."""
    global _installed_loaded
    if not _installed_loaded:
        _installed_loaded = True
        from retouchdesk.core.schema import load_catalog

        register_provider_settings(load_catalog().providers.values())


def all_specs() -> list[SettingSpec]:
    """Every setting: the application's and every known provider's credentials."""
    _load_installed()
    return list(_BY_NAME.values())


def spec(section: str, key: str) -> SettingSpec:
    _load_installed()
    try:
        return _BY_NAME[f"{section}.{key}"]
    except KeyError:
        raise KeyError(f"unknown setting {section}.{key}") from None


def _convert(s: SettingSpec, raw: Any) -> Any:
    if s.type is bool and isinstance(raw, str):
        return raw.strip().lower() in {"1", "true", "yes", "on"}
    try:
        return s.type(raw)
    except (TypeError, ValueError):
        raise ConfigurationError(
            f"Setting {s.dotted} must be a {s.type.__name__} (got {raw!r})"
        ) from None


class Settings:
    """Typed access to the settings file, the environment and the secret store."""

    def __init__(
        self,
        path: Path | None = None,
        *,
        environ: dict[str, str] | None = None,
        secret_lookup: Callable[[str, str], str | None] | None = None,
    ) -> None:
        self.path = path or paths.config_dir() / "settings.toml"
        self._environ = os.environ if environ is None else environ
        self._secret_lookup = secret_lookup
        self._file: dict[str, dict[str, Any]] = {}
        self.reload()

    def reload(self) -> None:
        try:
            self._file = tomlread.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            self._file = {}
        except (OSError, tomlread.TOMLDecodeError) as exc:
            raise ConfigurationError(f"The settings file {self.path} is damaged: {exc}") from None

    def set_secret_lookup(self, lookup: Callable[[str, str], str | None]) -> None:
        self._secret_lookup = lookup

    def get(self, section: str, key: str) -> Any:
        return self.get_with_source(section, key)[0]

    def get_with_source(self, section: str, key: str) -> tuple[Any, str]:
        """The effective value and where it came from: env, file, secret store or default."""
        s = spec(section, key)
        if s.env_name in self._environ:
            return _convert(s, self._environ[s.env_name]), f"environment ({s.env_name})"
        if s.secret:
            if self._secret_lookup is not None:
                value = self._secret_lookup(section, key)
                if value:
                    return value, "secret store"
            return s.default, "not set"
        if key in self._file.get(section, {}):
            return _convert(s, self._file[section][key]), f"file ({self.path})"
        return s.default, "default"

    def set(self, section: str, key: str, value: Any) -> None:
        """Write a non-secret setting to the file (atomically)."""
        s = spec(section, key)
        if s.secret:
            raise ValueError(f"{s.dotted} is a secret: store it with services.secrets")
        self._file.setdefault(section, {})[key] = _convert(s, value)
        self._save()

    def unset(self, section: str, key: str) -> None:
        self._file.get(section, {}).pop(key, None)
        self._save()

    def installation_id(self, section: str = "adcreative", key: str = "user_id") -> str:
        """A stable per-installation GUID, generated once and kept in the file."""
        value = self.get(section, key)
        if not value:
            value = str(uuid.uuid4())
            self.set(section, key, value)
        return value

    def _save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        import tomli_w  # only when a setting is saved

        tmp.write_bytes(tomli_w.dumps(self._file).encode("utf-8"))
        os.replace(tmp, self.path)

    def describe(self) -> Iterator[tuple[str, str, str]]:
        """(name, shown value, source) for every setting, secrets masked."""
        for s in all_specs():
            value, source = self.get_with_source(s.section, s.key)
            shown = mask(value) if s.secret else repr(value)
            yield s.dotted, shown, source


def mask(value: Any) -> str:
    """Never show a secret: only whether it is set and how long it is."""
    if not value:
        return "(not set)"
    return f"******** ({len(str(value))} characters)"
