"""Settings › General: the README's settings that are not about output or one account.

Default provider, theme, the offline engine (device, tile size, workers), how many jobs each
provider runs at once, the cost above which the window asks first, and how long finished jobs
stay in the job list. Values are read and
written through the settings layer (``settings.toml``, written atomically); a value set by a
``RETOUCHDESK_*`` environment variable wins over the file, so the page shows it read-only
with the variable's name instead of pretending an edit would take effect.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from retouchdesk.core.errors import RetouchError
from retouchdesk.core.schema import Catalog, ProviderSetting
from retouchdesk.services.jobspec import parse_concurrency
from retouchdesk.services.settings import Settings

if TYPE_CHECKING:
    from retouchdesk.model.accounts import AccountsModel

#: (section, key) of every field of the page, in the page's order.
FIELDS: tuple[tuple[str, str], ...] = (
    ("general", "default_provider"),
    ("ui", "theme"),
    ("general", "cost_threshold"),
    ("local", "device"),
    ("local", "tile_size"),
    ("local", "workers"),
    ("engine", "concurrency"),
    ("jobs", "keep_days"),
)
THEMES = ("system", "light", "dark")


@dataclass(frozen=True)
class FieldState:
    value: Any
    env: str = ""  # the environment variable that sets it ("" when the file or default does)


__all__ = ["FIELDS", "THEMES", "FieldState", "GeneralSettingsModel", "parse_concurrency"]


def format_concurrency(limits: dict[str, int]) -> str:
    return ",".join(f"{k}={v}" for k, v in limits.items() if v > 0)


class GeneralSettingsModel:
    """Reads and writes the General page's settings (see module docstring)."""

    def __init__(self, settings: Settings, catalog: Catalog) -> None:
        self.settings = settings
        self.catalog = catalog

    @classmethod
    def for_accounts(cls, accounts: AccountsModel) -> GeneralSettingsModel:
        """Over the same settings file and catalog as the accounts pages."""
        return cls(accounts.settings, accounts.catalog)

    def providers(self) -> list[tuple[str, str]]:
        """(id, name) of every provider, for the default provider and concurrency rows."""
        return [(pid, p.name) for pid, p in self.catalog.providers.items()]

    def declared(self, section: str, key: str) -> ProviderSetting | None:
        """A provider's own declaration of ``section.key`` in its TOML (type, range, help),
        None for the app's settings (``general``, ``ui``, ``engine``, ``jobs``)."""
        prov = self.catalog.providers.get(section)
        if prov is None:
            return None
        return next((s for s in prov.settings if s.key == key), None)

    def state(self, section: str, key: str) -> FieldState:
        value, source = self.settings.get_with_source(section, key)
        env = source.split("(", 1)[1].rstrip(")") if source.startswith("environment") else ""
        return FieldState(value, env)

    def values(self) -> dict[str, FieldState]:
        return {f"{s}.{k}": self.state(s, k) for s, k in FIELDS}

    def save(self, values: dict[str, Any]) -> list[str]:
        """Write the changed values (dotted names); returns the names written.

        Raises RetouchError with one sentence for a value that cannot be right; nothing is
        written then.
        """
        current = self.values()
        problems = []
        provider = values.get("general.default_provider")
        if provider is not None and provider not in self.catalog.providers:
            problems.append(f"There is no provider called {provider}.")
        theme = values.get("ui.theme")
        if theme is not None and theme not in THEMES:
            problems.append("The theme is system, light or dark.")
        for name, v in values.items():
            decl = self.declared(*name.split(".", 1))
            if decl is None or v is None or decl.type not in ("int", "number"):
                continue
            if decl.min is not None and float(v) < decl.min:
                problems.append(f"{name} must be at least {decl.min:g}.")
            elif decl.max is not None and float(v) > decl.max:
                problems.append(f"{name} must be at most {decl.max:g}.")
        keep = values.get("jobs.keep_days")
        if keep is not None and int(keep) < 0:
            problems.append("Finished jobs are kept 0 days (forever) or more.")
        threshold = values.get("general.cost_threshold")
        if threshold is not None and float(threshold) < 0:
            problems.append("The cost threshold cannot be negative.")
        if problems:
            raise RetouchError(" ".join(problems))
        written = []
        for name, value in values.items():
            state = current.get(name)
            if state is None or state.env or state.value == value:
                continue  # unknown, set by the environment, or unchanged
            section, key = name.split(".", 1)
            self.settings.set(section, key, value)
            written.append(name)
        return written
