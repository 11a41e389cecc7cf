"""The composition of the headless core, shared by the CLI and the window.

:func:`build_runtime` reads the settings (with the secret store behind them), loads the option
schemas, opens the job store and creates the :class:`JobEngine`. Providers are built lazily
through the registry, one instance per provider id, and closed by :meth:`Runtime.aclose`.
``extras`` carries shared services that factories may use (the hosting service, ...).

Two environment variables exist **for tests only** (subprocess tests of the CLI use them):

* ``RETOUCHDESK_TEST_PROVIDERS``: comma-separated ``[id=]module:function`` entries registered
  as provider factories (without ``id=``, the module's ``PROVIDER_ID`` is used);
* ``RETOUCHDESK_EXTRA_SCHEMAS``: folders (``os.pathsep``-separated) of extra schema TOMLs
  merged into the catalog.
"""

from __future__ import annotations

import importlib
import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from retouchdesk.core.jobs import EventKind, JobEvent
from retouchdesk.core.schema import Catalog, load_catalog
from retouchdesk.providers.base import Provider
from retouchdesk.services import registry
from retouchdesk.services.engine import JobEngine
from retouchdesk.services.jobspec import EngineConfig
from retouchdesk.services.settings import Settings, register_provider_settings
from retouchdesk.services.store import JobStore

if TYPE_CHECKING:  # imported when a store is opened: keyring and cryptography are slow to load
    from retouchdesk.services.secrets import PassphraseCallback, SecretStore

log = logging.getLogger(__name__)

#: A secret lookup: (section, key) -> the value, or None when it is not set.
Lookup = Callable[[str, str], str | None]

TEST_PROVIDERS_ENV = "RETOUCHDESK_TEST_PROVIDERS"
EXTRA_SCHEMAS_ENV = "RETOUCHDESK_EXTRA_SCHEMAS"


@dataclass
class Runtime:
    """Everything the front ends need: settings, catalog, store, engine, providers."""

    settings: Settings
    catalog: Catalog
    store: JobStore
    engine: JobEngine = field(init=False)
    secrets: SecretStore | None = None
    extras: dict[str, Any] = field(default_factory=dict)
    engine_config: EngineConfig | None = None
    #: The window's secret store while it is still being opened (after the first paint).
    pending_secrets: DeferredSecrets | None = None
    _providers: dict[str, Provider] = field(default_factory=dict)

    def __post_init__(self) -> None:
        config = self.engine_config or EngineConfig.from_settings(self.settings)
        # Providers' persistent counters (YouCam's request_id) come from the job store.
        self.extras.setdefault("next_counter", self.store.next_counter)
        self.engine = JobEngine(self.store, self.catalog, self.provider, config=config)
        self.engine.subscribe(self._job_event)

    def _job_event(self, event: JobEvent) -> None:
        """A finished job's hosted photo stops being served, however the job ended."""
        if event.kind is EventKind.STATE and event.state.terminal:
            hosting = self.extras.get("hosting")
            finished = getattr(hosting, "job_finished", None)
            if finished is not None:
                finished(event.job_id)

    def provider(self, provider_id: str) -> Provider:
        """The one instance of a provider, built on first use (raises ConfigurationError)."""
        prov = self._providers.get(provider_id)
        if prov is None:
            env = registry.ProviderEnv(self.settings, self.catalog, self.extras)
            prov = self._providers[provider_id] = registry.build_provider(provider_id, env)
        return prov

    def forget_provider(self, provider_id: str) -> Provider | None:
        """Drop a built provider (after its settings changed); the caller closes it."""
        return self._providers.pop(provider_id, None)

    async def aclose(self) -> None:
        """Stop the engine (jobs keep their state), close providers, extras and the store."""
        await self.engine.close()
        for pid, prov in list(self._providers.items()):
            try:
                await prov.aclose()
            except Exception:
                log.exception("closing provider %s failed", pid)
        self._providers.clear()
        for name, extra in list(self.extras.items()):
            closer = getattr(extra, "aclose", None)
            if closer is not None:
                try:
                    await closer()
                except Exception:
                    log.exception("closing %s failed", name)
        self.store.close()


def open_secret_store(
    settings: Settings | None = None, passphrase_callback: PassphraseCallback | None = None
) -> SecretStore | None:
    """The secret store (OS keyring or encrypted file), or None when neither can open.

    The ``secrets.backend`` setting chooses the store; a store that cannot open is logged and
    skipped: the environment variables still provide secrets.
    """
    from retouchdesk.services import secrets

    preference = settings.get("secrets", "backend") if settings is not None else None
    try:
        return secrets.open_store(passphrase_callback, preference=preference)
    except Exception as exc:  # no keyring backend and no file: the environment still works
        log.warning("secret store unavailable: %s", exc)
        return None


def safe_lookup(store: SecretStore) -> Lookup:
    """``store.get`` that never raises: a locked or damaged store reads as 'not set' (logged)."""
    warned: set[str] = set()

    def lookup(section: str, key: str) -> str | None:
        try:
            return store.get(section, key)
        except Exception as exc:
            if str(type(exc)) not in warned:
                warned.add(str(type(exc)))
                log.warning("secret store: %s", exc)
            return None

    return lookup


class DeferredSecrets:
    """The secret store, opened once: by :meth:`open` (a worker thread) or at the first lookup.

    The window opens it after its first paint: finding the OS keyring's backend imports
    keyring, secretstorage and cryptography (a few hundred milliseconds) and no pixel of the
    first paint depends on a key. A lookup before that (a job resumed at start) waits for it.
    """

    def __init__(
        self, settings: Settings, passphrase_callback: PassphraseCallback | None = None
    ) -> None:
        self._settings = settings
        self._callback = passphrase_callback
        self._lock = threading.Lock()  # providers may be built from worker threads
        self._opened = False
        self._lookup: Lookup | None = None
        self.store: SecretStore | None = None

    @property
    def opened(self) -> bool:
        return self._opened

    def open(self) -> SecretStore | None:
        """The store (None when none can open); opens it on the first call, in any thread."""
        with self._lock:
            if not self._opened:
                self.store = open_secret_store(self._settings, self._callback)
                self._lookup = safe_lookup(self.store) if self.store is not None else None
                self._opened = True
        return self.store

    def lookup(self, section: str, key: str) -> str | None:
        self.open()
        return self._lookup(section, key) if self._lookup is not None else None


def _lazy_lookup(
    settings: Settings, passphrase_callback: PassphraseCallback | None = None
) -> Lookup:
    """A secret lookup that opens the store at its first call (once, even if it fails)."""
    opened: list[Lookup | None] = []
    lock = threading.Lock()

    def lookup(section: str, key: str) -> str | None:
        with lock:  # providers may be built from worker threads
            if not opened:
                store = open_secret_store(settings, passphrase_callback)
                opened.append(safe_lookup(store) if store is not None else None)
        found = opened[0]
        return found(section, key) if found is not None else None

    return lookup


def register_test_providers(spec: str | None = None) -> list[str]:
    """Register the provider factories named in ``RETOUCHDESK_TEST_PROVIDERS`` (tests only)."""
    spec = os.environ.get(TEST_PROVIDERS_ENV, "") if spec is None else spec
    ids: list[str] = []
    for entry in filter(None, (e.strip() for e in spec.split(","))):
        pid, _, target = entry.rpartition("=")
        module_name = target.partition(":")[0]
        if not pid:
            pid = importlib.import_module(module_name).PROVIDER_ID
        registry.register(pid, target)
        ids.append(pid)
    return ids


def load_full_catalog(extra_dirs: list[Path] | None = None) -> Catalog:
    """The installed schemas plus any extra schema folders (tests)."""
    base = load_catalog()
    if extra_dirs is None:
        raw = os.environ.get(EXTRA_SCHEMAS_ENV, "")
        extra_dirs = [Path(p) for p in raw.split(os.pathsep) if p]
    if not extra_dirs:
        return base
    providers = dict(base.providers)
    for d in extra_dirs:
        providers.update(load_catalog(d).providers)
    register_provider_settings(providers.values())  # their credentials become settings
    return Catalog(providers)


def build_runtime(
    *,
    settings: Settings | None = None,
    catalog: Catalog | None = None,
    store: JobStore | None = None,
    db_path: Path | None = None,
    engine_config: EngineConfig | None = None,
    extras: dict[str, Any] | None = None,
    passphrase_callback: PassphraseCallback | None = None,
    lazy_secrets: bool = False,
) -> Runtime:
    """Build the runtime from settings; every argument replaces one part (tests).

    With ``lazy_secrets`` (the headless ``run`` command) the secret store is opened only when a
    secret is first looked up and not already in the environment: detecting the OS keyring
    costs over half a second, which an offline job or a key given in the environment never
    needs. ``Runtime.secrets`` then stays None (nothing there writes secrets).
    """
    secrets = None
    if settings is None:
        settings = Settings()
        if lazy_secrets:
            settings.set_secret_lookup(_lazy_lookup(settings, passphrase_callback))
        else:
            secrets = open_secret_store(settings, passphrase_callback)
            if secrets is not None:
                settings.set_secret_lookup(safe_lookup(secrets))
    register_test_providers()
    return Runtime(
        settings=settings,
        catalog=catalog or load_full_catalog(),
        store=store or JobStore(db_path),
        secrets=secrets,
        extras=dict(extras or {}),
        engine_config=engine_config,
    )
