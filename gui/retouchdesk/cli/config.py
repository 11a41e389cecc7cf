"""``retouchdesk config``: the effective settings and where each one comes from; keys too.

``--set-secret NAME`` / ``--delete-secret NAME`` store and delete keys from a terminal. The
key is read from standard input (typed without echo on a terminal, or piped), never from
the command line, where it would stay in the shell history and the process list. It goes to
the same store as the window's settings dialog (``services.secrets.open_store``: the OS
keyring, or the encrypted file whose passphrase is asked on the terminal or read from
``RETOUCHDESK_SECRETS_PASSPHRASE``).
"""

from __future__ import annotations

import argparse
import getpass
import sys
from typing import TYPE_CHECKING, Any, TextIO, cast

from retouchdesk.cli.common import EXIT_OK
from retouchdesk.core.errors import RetouchError

if TYPE_CHECKING:
    from retouchdesk.services import secrets
    from retouchdesk.services.settings import SettingSpec


def add_parser(sub: Any) -> None:
    cfg = sub.add_parser("config", help="show the effective settings and their sources")
    # Keys for headless use: the value comes from stdin.
    cfg.add_argument(
        "--set-secret", metavar="SECTION.KEY", help="store a key read from standard input"
    )
    cfg.add_argument("--delete-secret", metavar="SECTION.KEY", help="delete a stored key")
    cfg.set_defaults(func=cmd_config)


def cmd_config(args: argparse.Namespace) -> int:
    from retouchdesk.services.runtime import open_secret_store, safe_lookup
    from retouchdesk.services.settings import Settings

    if getattr(args, "set_secret", None) or getattr(args, "delete_secret", None):
        return run_secret_command(args.set_secret, args.delete_secret)

    settings = Settings()
    store = open_secret_store(settings)
    if store is not None:
        settings.set_secret_lookup(safe_lookup(store))
    rows = list(settings.describe())
    width = max(len(r[0]) for r in rows)
    print(f"Settings file: {settings.path}")
    if store is not None:
        print(f"Secret store: {getattr(store, 'backend_name', type(store).__name__)}")
    for name, shown, source in rows:
        print(f"{name:<{width}}  {shown}  ({source})")
    return EXIT_OK


def _terminal_passphrase(stdin: TextIO) -> secrets.PassphraseCallback | None:
    if not stdin.isatty():
        return None

    def ask(creating: bool) -> str | None:
        first = getpass.getpass("Passphrase of the key file: ")
        if creating and getpass.getpass("Type it again: ") != first:
            print("The two passphrases differ.", file=sys.stderr)
            return None
        return first or None

    return ask


def _secret_spec(name: str) -> SettingSpec:
    from retouchdesk.services.settings import spec

    section, _, key = name.partition(".")
    try:
        s = spec(section, key)
    except KeyError:
        raise RetouchError(f"{name} is not a setting (see `retouchdesk config`)") from None
    if not s.secret:
        raise RetouchError(f"{name} is not a secret: put it in the settings file instead")
    return s


def run_secret_command(
    set_name: str | None,
    delete_name: str | None,
    *,
    stdin: TextIO | None = None,
    out: TextIO | None = None,
) -> int:
    """Store or delete one secret; prints one sentence; 0 on success, 1 with a reason."""
    from retouchdesk.services import secrets
    from retouchdesk.services.settings import Settings

    stdin = cast(TextIO, stdin or sys.stdin)
    out = out or sys.stdout
    try:
        name = set_name or delete_name or ""
        s = _secret_spec(name)
        backend = Settings().get("secrets", "backend")
        store = secrets.open_store(_terminal_passphrase(stdin), preference=backend)
        if delete_name:
            store.delete(s.section, s.key)
            print(f"{name} deleted from the {store.backend_name}", file=out)
            return 0
        tty = stdin.isatty()
        value = getpass.getpass(f"{name}: ") if tty else stdin.readline().rstrip("\r\n")
        if not value.strip():
            raise RetouchError(f"No value for {name} was given on standard input")
        store.set(s.section, s.key, value.strip())
        print(f"{name} stored in the {store.backend_name}", file=out)
        return 0
    except RetouchError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return 1
