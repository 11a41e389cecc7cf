"""``retouchdesk config --set-secret NAME`` / ``--delete-secret NAME``: keys from a terminal.

The key is read from standard input (typed without echo on a terminal, or piped), never from
the command line, where it would stay in the shell history and the process list. It goes to
the same store as the window's settings dialog (``services.secrets.open_store``: the OS
keyring, or the encrypted file whose passphrase is asked on the terminal or read from
``RETOUCHDESK_SECRETS_PASSPHRASE``).
"""

from __future__ import annotations

import getpass
import sys
from typing import TextIO, cast

from retouchdesk.core.errors import RetouchError
from retouchdesk.services import secrets
from retouchdesk.services.settings import Settings, SettingSpec, spec


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
