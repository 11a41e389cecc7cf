"""``retouchdesk account PROVIDER [--history N]``: a provider's credit balance and history.

Works for any provider whose schema says ``has_credits = true`` and that implements
``Provider.balance()`` (and, for the history, ``history(limit)``); today that is YouCam.
Credentials come from the settings as everywhere else (environment, then the secret store).
"""

from __future__ import annotations

import argparse
import asyncio
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from retouchdesk.cli.common import EXIT_FAILED, EXIT_OK
from retouchdesk.core.errors import ConfigurationError, RetouchError

if TYPE_CHECKING:
    from rich.console import Console


def add_parser(sub: Any) -> None:
    acc = sub.add_parser("account", help="credits and usage history of a provider")
    acc.add_argument("provider")
    acc.add_argument("--history", type=int, default=0, metavar="N", help="last N transactions")
    acc.set_defaults(func=run_account)


def _when(value: datetime | None) -> str:
    return value.astimezone().strftime("%Y-%m-%d %H:%M") if value else "-"


def _ms(value: Any) -> datetime | None:
    try:
        return datetime.fromtimestamp(float(value) / 1000.0, UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        return None


def _amount(value: float) -> str:
    return f"{value:+,.0f}" if float(value).is_integer() else f"{value:+,.2f}"


def _build(provider_id: str) -> tuple[Any, str]:
    """The provider built from the saved settings, and its name; only one with credits."""
    from retouchdesk.services import registry
    from retouchdesk.services.runtime import load_full_catalog, open_secret_store, safe_lookup
    from retouchdesk.services.settings import Settings

    settings = Settings()
    secrets = open_secret_store(settings)
    if secrets is not None:
        settings.set_secret_lookup(safe_lookup(secrets))
    catalog = load_full_catalog()
    schema = catalog.provider(provider_id)
    if not schema.has_credits:
        raise ConfigurationError(f"{schema.name} has no credit balance to show")
    name = schema.name
    provider = registry.build_provider(provider_id, registry.ProviderEnv(settings, catalog, {}))
    return provider, name


async def _gather(provider: Any, history: int) -> tuple[Any, list[Any]]:
    try:
        balance = await provider.balance()
        items = await provider.history(history) if history > 0 else []
        return balance, items
    finally:
        await provider.aclose()


def run_account(args: argparse.Namespace, *, console: Console | None = None) -> int:
    """Print the balance (total, nearest expiry, each credit) and the last N changes."""
    from rich.console import Console
    from rich.table import Table

    console = console or Console(soft_wrap=False)
    provider_id = str(args.provider).lower()
    history = max(0, int(getattr(args, "history", 0) or 0))
    provider, name = _build(provider_id)
    try:
        balance, items = asyncio.run(_gather(provider, history))
    except RetouchError as exc:
        console.print(f"[red]error:[/red] {exc}")
        return EXIT_FAILED
    gen = getattr(provider, "gen", "")
    signed = f" ({gen} sign-in)" if gen else ""
    console.print(f"[bold]{name}[/bold]{signed}")
    expiry = (
        f", the nearest expiring on {_when(balance.nearest_expiry)}"
        if balance.nearest_expiry
        else ""
    )
    console.print(f"Balance: [bold]{balance.total:,.0f}[/bold] credits{expiry}")
    if balance.credits:
        table = Table("Credit", "Type", "Amount", "Expires", title=None)
        for c in balance.credits:
            table.add_row(
                str(c.get("id", "")),
                str(c.get("type", "")),
                f"{float(c.get('amount', 0)):,.0f}",
                _when(_ms(c.get("expiry"))),
            )
        console.print(table)
    if history > 0:
        table = Table("When", "Action", "Change", "Task or order", title=f"Last {history} changes")
        for h in items:
            table.add_row(_when(h.when), h.action, _amount(h.amount), h.target_id)
        console.print(table)
        if not items:
            console.print("No credit history yet.")
    else:
        console.print("(add --history N to list the last N credit changes)")
    return EXIT_OK
