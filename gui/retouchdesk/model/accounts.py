"""View-model of the settings dialog: provider accounts, keys, hosting and output settings.

Pages are generated from the option schemas: every provider's ``[[credentials]]`` become the
fields of its page (credentials sharing an ``alternative`` tag form one way to sign in, e.g.
YouCam's client id + secret or API key), plus its server address with the documented default.

Where things go:

* secrets (API keys, tokens, client secrets, S3 keys) go to the secret store only
  (``services.secrets``: the OS keyring or the encrypted file) and are never read back into a
  widget: a stored secret shows as "stored", and typing replaces it;
* everything else goes to the settings file, including ``accounts.configured``, the list of
  providers that are set up (never what their keys are);
* environment variables (``RETOUCHDESK_ENHANCOR_API_KEY``...) win over both and are shown as
  such, read-only.

"Test connection" builds the provider from the values typed in the dialog (as environment
overrides on a copy of the settings, nothing is saved) and calls its ``test_connection()``
coroutine, or ``balance()`` for providers with credits. It reports success or the provider's
plain sentence; typed secrets are scrubbed from anything shown.

Signals:
    status_changed(str): a provider's "set up" state changed (saved or removed).
    credits_changed(str, str): provider id and a short balance text ("1,250 credits").
    output_changed(): output settings were saved.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Signal

from retouchdesk.core import naming
from retouchdesk.core.errors import ConfigurationError, RetouchError
from retouchdesk.core.schema import Catalog, Credential, ProviderSchema
from retouchdesk.services import registry, secrets
from retouchdesk.services.hosting import STRATEGIES
from retouchdesk.services.settings import Settings, SettingSpec, spec

log = logging.getLogger(__name__)

ProviderBuilder = Callable[[str, Settings], Any]

NOT_AVAILABLE = "Test connection is not available for this provider yet."
OUTPUT_FORMATS = (
    ("same", "Same as the original"),
    ("jpeg", "JPEG"),
    ("png", "PNG (lossless)"),
    ("tiff", "TIFF (lossless)"),
    ("webp", "WebP"),
)
_EXT = {"jpeg": "jpg", "png": "png", "tiff": "tif", "webp": "webp"}


@dataclass(frozen=True)
class CredentialField:
    """One input of a provider page."""

    section: str
    key: str
    label: str
    secret: bool
    required: bool = True
    help: str = ""
    alternative: str = ""  # credentials with the same tag are one way to sign in
    default: str = ""
    multiline: bool = False

    @property
    def env_name(self) -> str:
        return spec(self.section, self.key).env_name


@dataclass(frozen=True)
class CredentialGaps:
    """What a provider still needs before it can sign in; nothing in either: it is set up."""

    missing: tuple[Credential, ...]  # required credentials outside any way to sign in
    # When no way to sign in is complete: each way's required credentials, and those absent.
    ways: tuple[tuple[Credential, ...], ...] = ()
    way_gaps: tuple[tuple[Credential, ...], ...] = ()

    @property
    def complete(self) -> bool:
        return not self.missing and not self.ways


def credential_gaps(prov: ProviderSchema, present: Callable[[str], bool]) -> CredentialGaps:
    """The one rule for "set up": every required credential outside an ``alternative``, plus
    every required one of at least one way to sign in. ``present(key)`` says whether the
    credential ``key`` has a value. The window's provider status and the settings pages both
    read it."""
    missing = tuple(c for c in prov.credentials if c.required and not c.alternative)
    missing = tuple(c for c in missing if not present(c.key))
    ways: dict[str, list[Credential]] = {}
    for c in prov.credentials:
        if c.alternative:
            ways.setdefault(c.alternative, [])
            if c.required:
                ways[c.alternative].append(c)
    gaps = [tuple(c for c in way if not present(c.key)) for way in ways.values()]
    if not ways or any(not g for g in gaps):
        return CredentialGaps(missing)
    return CredentialGaps(missing, tuple(tuple(w) for w in ways.values()), tuple(gaps))


@dataclass(frozen=True)
class FieldState:
    """What the dialog shows for a field without revealing a secret."""

    value: str  # the value for non-secrets; always "" for secrets
    stored: bool  # a value exists (file, secret store or environment)
    source: str  # "environment (RETOUCHDESK_...)", "secret store", "file (...)", "default"

    @property
    def from_environment(self) -> bool:
        return self.source.startswith("environment")


def _hosting(section: str, key: str, label: str, help: str = "", secret: bool = False):
    """A hosting input; its placeholder shows the setting's default (``127.0.0.1``)."""
    default = "" if secret else str(spec(section, key).default or "")
    return CredentialField(section, key, label, secret, False, help, default=default)


# How URL-input providers reach local photos: shown on the page of each provider that needs
# hosting (its ``needs_hosting`` in the TOML), one group per strategy of ``services.hosting``.
HOSTING_FIELDS: tuple[CredentialField, ...] = (
    _hosting(
        "receiver",
        "public_url",
        "Public URL",
        "The https address of a tunnel or reverse proxy that forwards to this "
        "computer's receiver (the service must be able to download your photo).",
    ),
    _hosting(
        "receiver",
        "host",
        "Listen on",
        "Address of the local receiver (127.0.0.1 keeps it private to the tunnel).",
    ),
    _hosting("receiver", "port", "Port", "0 picks any free port."),
    _hosting(
        "s3",
        "endpoint_url",
        "Endpoint",
        "Leave empty for AWS; for R2, MinIO or Backblaze their S3 endpoint.",
    ),
    _hosting("s3", "bucket", "Bucket", "Bucket for temporary inputs."),
    _hosting("s3", "region", "Region"),
    _hosting("s3", "access_key_id", "Access key id", secret=True),
    _hosting("s3", "secret_access_key", "Secret access key", secret=True),
)


HOSTING_HELP = (
    "This service downloads each photo from a web address. Either run the built-in receiver "
    "behind a tunnel or reverse proxy you control, or let the app upload to S3-compatible "
    "storage and hand out short-lived links."
)


@dataclass(frozen=True)
class HostingChoice:
    """One way to make photos reachable by URL, with the inputs that configure it."""

    key: str  # the value of hosting.strategy
    title: str
    fields: tuple[CredentialField, ...]


class _RegistryBuilder:
    """Builds providers through the registry for one check, with their own shared extras.

    Extras the runtime already has (its hosting service) are reused; any the factory had to
    create for the check (a local receiver) are closed with the provider afterwards.
    """

    def __init__(self, extras: dict[str, Any], catalog: Catalog) -> None:
        self._base = extras
        self._catalog = catalog
        self._made: list[dict[str, Any]] = []

    def __call__(self, provider_id: str, settings: Settings) -> Any:
        extras = dict(self._base)
        self._made.append(extras)
        return registry.build_provider(
            provider_id, registry.ProviderEnv(settings, self._catalog, extras)
        )

    async def cleanup(self) -> None:
        made, self._made = self._made, []
        for extras in made:
            for key, value in extras.items():
                if self._base.get(key) is value:
                    continue
                closer = getattr(value, "aclose", None)
                if closer is not None:
                    try:
                        await closer()
                    except Exception:
                        log.debug("closing %s after a connection test failed", key, exc_info=True)


class AccountsModel(QObject):
    """Reads and writes provider accounts and output settings for the settings dialog."""

    status_changed = Signal(str)
    credits_changed = Signal(str, str)
    output_changed = Signal()

    def __init__(
        self,
        settings: Settings,
        store: secrets.SecretStore | None,
        catalog: Catalog,
        *,
        build_provider: ProviderBuilder | None = None,
        extras: dict[str, Any] | None = None,
        environ: Mapping[str, str] | None = None,
        store_source: Callable[[], secrets.SecretStore | None] | None = None,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.settings = settings
        self._store_value = store
        # The window opens its store after the first paint: until then ``store_source``
        # gives it (waiting for it if need be) the first time it is wanted.
        self._store_source = store_source
        self._prompt: Callable[[bool], str | None] | None = None
        self.catalog = catalog
        self._environ = os.environ if environ is None else environ
        self._build = build_provider or _RegistryBuilder(
            extras if extras is not None else {}, catalog
        )
        self._credits: dict[str, str] = {}

    @property
    def store(self) -> secrets.SecretStore | None:
        """The secret store (None: keys only from the environment)."""
        if self._store_source is not None:
            source, self._store_source = self._store_source, None
            self._store_value = source()
            if self._prompt is not None:
                self.set_passphrase_prompt(self._prompt)
        return self._store_value

    # -- the encrypted key file ---------------------------------------------------------------
    @property
    def locked(self) -> bool:
        """True while the encrypted key file exists and its passphrase has not been given."""
        store = self.store
        if not isinstance(store, secrets.EncryptedFileStore):
            return False
        return not store.unlocked and store.path.exists()

    def unlock(self) -> None:
        """Open the encrypted key file (asks for the passphrase through the prompt)."""
        if isinstance(self.store, secrets.EncryptedFileStore):
            self.store.unlock()

    def set_passphrase_prompt(self, ask: Callable[[bool], str | None]) -> None:
        """``ask(creating)`` is called when the key file needs its passphrase."""
        self._prompt = ask
        if self._store_source is not None:
            return  # given to the store when it is opened
        if isinstance(self.store, secrets.EncryptedFileStore):
            self.store.set_passphrase_callback(ask)

    # -- what exists ------------------------------------------------------------------------
    @property
    def store_name(self) -> str:
        if self.store is None:
            return "no secret store (keys only from environment variables)"
        return self.store.backend_name

    def providers(self) -> list[ProviderSchema]:
        """Providers with an account page: every cloud provider of the catalog."""
        return [p for p in self.catalog.providers.values() if p.kind != "local"]

    def fields(self, provider_id: str) -> list[CredentialField]:
        """The inputs of a provider page, in schema order, its server address last."""
        prov = self.catalog.provider(provider_id)
        out: list[CredentialField] = []
        for c in prov.credentials:
            s = _spec_or_none(provider_id, c.key)
            if s is None:  # its catalog was not loaded through load_full_catalog: a dev error
                log.warning("credential %s.%s is not a known setting", provider_id, c.key)
                continue
            out.append(
                CredentialField(
                    section=provider_id,
                    key=c.key,
                    label=c.label,
                    secret=c.secret or s.secret,
                    required=c.required,
                    help=c.help,
                    alternative=c.alternative,
                    default=str(s.default) if s.default else "",
                    multiline=c.multiline,
                )
            )
        has_url = any(f.key == "base_url" for f in out)
        s = _spec_or_none(provider_id, "base_url")
        if not has_url and s is not None:
            default = prov.base_url or str(s.default)
            out.append(
                CredentialField(
                    provider_id,
                    "base_url",
                    "Server address",
                    False,
                    False,
                    f"Leave empty for the documented address {default}; change it only for a "
                    "proxy or a test server.",
                    default=default,
                )
            )
        return out

    def alternatives(self, provider_id: str) -> list[str]:
        """The tags of the ways to sign in ([] when there is one way)."""
        tags: list[str] = []
        for f in self.fields(provider_id):
            if f.alternative and f.alternative not in tags:
                tags.append(f.alternative)
        return tags

    def has_hosting(self, provider_id: str) -> bool:
        """Providers that take inputs only by URL, so the app must host them (Enhancor)."""
        return self.catalog.provider(provider_id).needs_hosting

    def has_credits(self, provider_id: str) -> bool:
        """Providers with a balance to show (YouCam)."""
        return self.catalog.provider(provider_id).has_credits

    def hosting_choices(self) -> list[HostingChoice]:
        """The hosting strategies the services offer, each with its fields, default first."""
        return [
            HostingChoice(
                s.key, s.title, tuple(f for f in HOSTING_FIELDS if f.section in s.sections)
            )
            for s in STRATEGIES.values()
        ]

    def hosting_strategy(self) -> str:
        """The strategy in use (the default when the setting names none we know)."""
        chosen = str(self.settings.get("hosting", "strategy") or "").strip().lower()
        return chosen if chosen in STRATEGIES else next(iter(STRATEGIES))

    # -- reading ----------------------------------------------------------------------------
    def state(self, f: CredentialField) -> FieldState:
        try:
            value, source = self.settings.get_with_source(f.section, f.key)
        except RetouchError as exc:  # a locked or damaged secret file
            return FieldState("", False, str(exc))
        stored = bool(value) and source != "default"
        if f.secret:
            return FieldState("", stored, source)
        shown = "" if source == "default" else str(value)
        return FieldState(shown, stored, source)

    def missing(self, provider_id: str) -> list[str]:
        """Labels of the required inputs still missing (empty when the account is set up):
        those outside the ways to sign in, then the shortest list that completes one way."""
        stored = {f.key: self.state(f).stored for f in self.fields(provider_id)}
        gaps = credential_gaps(
            self.catalog.provider(provider_id), lambda key: stored.get(key, False)
        )
        out = [c.label for c in gaps.missing]
        if gaps.way_gaps:
            out += [c.label for c in min(gaps.way_gaps, key=len)]
        return out

    def is_configured(self, provider_id: str) -> bool:
        return not self.missing(provider_id)

    def status_text(self, provider_id: str) -> str:
        gaps = self.missing(provider_id)
        if not gaps:
            return "Set up"
        if self.alternatives(provider_id):
            return "Not set up yet: fill in one of the ways to sign in below."
        names = gaps[0] if len(gaps) == 1 else ", ".join(gaps[:-1]) + " and " + gaps[-1]
        return f"Not set up yet: enter the {names}."

    def configured_list(self) -> list[str]:
        raw = str(self.settings.get("accounts", "configured") or "")
        return [p for p in (s.strip() for s in raw.split(",")) if p]

    # -- writing ----------------------------------------------------------------------------
    def save(
        self, provider_id: str, values: Mapping[tuple[str, str], str], *, alternative: str = ""
    ) -> None:
        """Store the typed values of a page; empty secret fields keep what is stored.

        ``values`` maps (section, key) to text. With ``alternative`` (the chosen way to sign
        in), the credentials of the other ways are deleted so a stale key is never used.
        """
        known = {(f.section, f.key): f for f in self.fields(provider_id)}
        known.update({(f.section, f.key): f for f in HOSTING_FIELDS})
        for (section, key), raw in values.items():
            f = known.get((section, key))
            if f is None:
                raise KeyError(f"{section}.{key} is not a field of {provider_id}")
            text = raw.strip() if not f.multiline else raw.strip("\n")
            if f.secret:
                if text:
                    self._store().set(section, key, text)
            elif text:
                self.settings.set(section, key, text)
            else:
                self.settings.unset(section, key)
        if alternative:
            for f in known.values():
                if f.alternative and f.alternative != alternative and f.section == provider_id:
                    self._forget(f)
        self._update_configured(provider_id)

    def set_hosting(self, strategy: str) -> None:
        if strategy not in STRATEGIES:
            raise ValueError(f"unknown hosting strategy {strategy!r}")
        self.settings.set("hosting", "strategy", strategy)

    def remove_account(self, provider_id: str) -> None:
        """Forget a provider's account: its secrets leave the store, its ids the file."""
        for f in self.fields(provider_id):
            self._forget(f)
        if self.store is not None:
            secrets.remove_account(self.store, provider_id)
        if self.has_hosting(provider_id) and not any(
            p.id != provider_id and p.needs_hosting and self.is_configured(p.id)
            for p in self.providers()
        ):
            # The storage keys were entered on this account's page and serve only URL-input
            # providers: with the last of them gone, they go too (the bucket name etc. stay).
            for f in HOSTING_FIELDS:
                if f.secret:
                    self._forget(f)
        self._update_configured(provider_id)

    def _forget(self, f: CredentialField) -> None:
        if f.secret:
            if self.store is not None:
                self.store.delete(f.section, f.key)
        else:
            self.settings.unset(f.section, f.key)

    def _store(self) -> secrets.SecretStore:
        if self.store is None:
            raise ConfigurationError(
                "No secret store is available: set the key as an environment variable instead"
            )
        return self.store

    def _update_configured(self, provider_id: str) -> None:
        listed = self.configured_list()
        now = self.is_configured(provider_id)
        if now and provider_id not in listed:
            listed.append(provider_id)
        elif not now and provider_id in listed:
            listed.remove(provider_id)
        self.settings.set("accounts", "configured", ",".join(listed))
        self.status_changed.emit(provider_id)

    # -- talking to the provider -------------------------------------------------------------
    def _trial_settings(self, values: Mapping[tuple[str, str], str]) -> Settings:
        """Settings as they would be with ``values`` saved, without saving anything."""
        env = dict(self._environ)
        for (section, key), text in values.items():
            if text.strip():
                env[spec(section, key).env_name] = text.strip()
        lookup = self.store.get if self.store is not None else None
        return Settings(self.settings.path, environ=env, secret_lookup=lookup)

    async def test_connection(
        self, provider_id: str, values: Mapping[tuple[str, str], str] | None = None
    ) -> tuple[bool, str]:
        """One cheap authenticated call with the page's values; (success, sentence)."""
        typed = {k: v for k, v in (values or {}).items() if v.strip()}
        scrub = [v.strip() for v in typed.values() if len(v.strip()) >= 4]
        scrub += self._stored_secrets(provider_id)
        provider = None
        try:
            provider = self._build(provider_id, self._trial_settings(typed))
            detail = await provider.test_connection()
            if detail is not None:
                ok, text = True, f"Connected. {detail}".strip()
            elif self.has_credits(provider_id):
                credits = self._credit_text(await provider.balance())
                self._set_credits(provider_id, credits)
                ok, text = True, f"Connected: {credits}."
            else:
                ok, text = False, NOT_AVAILABLE
            if ok:  # the doctor's live checks: did the vendor change an answer's shape?
                from retouchdesk.doctor.providers import shape_checks

                failed = [
                    r for r in await shape_checks(provider_id, provider, self.catalog) if not r.ok
                ]
                if failed:
                    ok, text = False, f"{text} But {failed[0].name}: {failed[0].detail}."
        except RetouchError as exc:
            ok, text = False, str(exc)
        except Exception as exc:  # a bug in a provider must not take the dialog down
            log.warning("test connection of %s failed", provider_id, exc_info=True)
            ok, text = False, f"The test failed unexpectedly ({type(exc).__name__})."
        finally:
            if provider is not None:
                await _close(provider, self._build)
        return ok, _scrub(text, scrub)

    def _stored_secrets(self, provider_id: str) -> list[str]:
        """The provider's stored secrets, to be scrubbed from any sentence shown."""
        out: list[str] = []
        for f in [*self.fields(provider_id), *HOSTING_FIELDS]:
            if f.secret and (f.section == provider_id or self.has_hosting(provider_id)):
                try:
                    value = self.settings.get(f.section, f.key)
                except RetouchError:
                    continue
                if value and len(str(value)) >= 4:
                    out.append(str(value))
        return out

    async def refresh_credits(self, provider_id: str) -> str:
        """Ask the provider for its balance (saved settings); the text, or the reason not."""
        provider = None
        try:
            if not self.has_credits(provider_id):
                return ""
            provider = self._build(provider_id, self._trial_settings({}))
            balance = await provider.balance()
            if balance is None:
                return ""
            text = self._credit_text(balance)
        except RetouchError as exc:
            text = _scrub(f"Balance unavailable: {exc}", self._stored_secrets(provider_id))
        finally:
            if provider is not None:
                await _close(provider, self._build)
        self._set_credits(provider_id, text)
        return text

    def credits(self, provider_id: str) -> str:
        return self._credits.get(provider_id, "")

    def _set_credits(self, provider_id: str, text: str) -> None:
        self._credits[provider_id] = text
        self.credits_changed.emit(provider_id, text)

    @staticmethod
    def _credit_text(balance: Any) -> str:
        total = getattr(balance, "total", balance)
        try:
            amount = float(total)
        except (TypeError, ValueError):
            return str(total)
        shown = f"{amount:,.0f}" if amount.is_integer() else f"{amount:,.2f}"
        text = f"{shown} credit{'s' if amount != 1 else ''}"
        expiry = getattr(balance, "nearest_expiry", None)
        if expiry is not None:
            text += f" (some expire on {expiry:%Y-%m-%d})"
        return text

    # -- output settings ---------------------------------------------------------------------
    def output(self) -> dict[str, Any]:
        keys = (
            "dir",
            "subfolder",
            "template",
            "format",
            "jpeg_quality",
            "keep_exif",
            "keep_icc",
            "keep_xmp",
            "keep_gps",
        )
        return {k: self.settings.get("output", k) for k in keys}

    def save_output(self, values: Mapping[str, Any]) -> None:
        """Write output settings; the template is checked first (a plain sentence if bad)."""
        if "template" in values:
            naming.check_template(str(values["template"]))
        fmt = values.get("format")
        if fmt is not None and fmt not in dict(OUTPUT_FORMATS):
            raise ConfigurationError(
                f"Output format must be one of {', '.join(dict(OUTPUT_FORMATS))}"
            )
        for key, value in values.items():
            if key == "dir" and not str(value).strip():
                self.settings.unset("output", "dir")
            else:
                self.settings.set("output", key, value)
        self.output_changed.emit()

    @staticmethod
    def example_name(
        template: str,
        fmt: str,
        *,
        folder: str = "",
        subfolder: str = "retouched",
        source: Path = Path("IMG_2041.jpg"),
    ) -> str:
        """Where a result of ``source`` goes: ``retouched/IMG_2041_restore_codeformer.jpg``.

        Raises ConfigurationError with the template's problem in a plain sentence.
        """
        ext = source.suffix.lstrip(".") if fmt == "same" else _EXT.get(fmt, fmt)
        out_dir = Path(folder) if folder.strip() else Path(subfolder or ".")
        path = naming.result_path(
            source, out_dir, template, operation="restore", provider="codeformer", ext=ext
        )
        return str(path)


def _spec_or_none(section: str, key: str) -> SettingSpec | None:
    try:
        return spec(section, key)
    except KeyError:
        return None


def _scrub(text: str, values: list[str]) -> str:
    for v in values:
        text = text.replace(v, "••••")
    return text


async def _close(provider: Any, builder: Any = None) -> None:
    try:
        await provider.aclose()
    except Exception:  # closing a half-built client must not hide the test's result
        log.debug("closing provider failed", exc_info=True)
    cleanup = getattr(builder, "cleanup", None)
    if cleanup is not None:
        await cleanup()
