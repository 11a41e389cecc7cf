"""``retouchdesk doctor [PROVIDER ...] [--offline]``: environment checks, then live checks.

The environment half (``doctor.environment``) always runs; the live half
(``doctor.providers``, free calls to each configured cloud service) runs for the named
providers, or all configured ones, unless ``--offline``. Exit code 1 when a required check
failed. ``--qt-probe`` (hidden) is the child process of the Qt check.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from typing import Any

from retouchdesk.doctor import CheckResult, exit_code, render


def add_parser(sub: Any) -> None:
    doc = sub.add_parser("doctor", help="check this installation, its libraries and accounts")
    doc.add_argument("providers", nargs="*", metavar="PROVIDER", help="providers to check live")
    doc.add_argument("--offline", action="store_true", help="no network: environment checks only")
    doc.add_argument("--qt-probe", action="store_true", help=argparse.SUPPRESS)
    doc.set_defaults(func=cmd_doctor)


def cmd_doctor(args: argparse.Namespace) -> int:
    if args.qt_probe:
        from retouchdesk.doctor.environment import qt_probe

        print(json.dumps(qt_probe()), flush=True)
        return 0
    from retouchdesk.doctor.environment import environment_checks
    from retouchdesk.services.runtime import open_secret_store, safe_lookup
    from retouchdesk.services.settings import Settings

    settings = Settings()
    secrets = open_secret_store(settings)
    if secrets is not None:
        settings.set_secret_lookup(safe_lookup(secrets))
    results = environment_checks(settings, providers=args.providers)
    print(render(results), flush=True)
    if not args.offline:
        live = _live_checks(args.providers, results)
        if live:
            print(render(live), flush=True)
        results += live
    return exit_code(results)


def _live_checks(names: list[str], env_results: list[CheckResult]) -> list[CheckResult]:
    """The live checks of the providers; configured providers only, by default."""
    from retouchdesk.doctor.providers import provider_checks

    configured = [r.area for r in env_results if r.ok and r.detail.startswith("account set up")]
    wanted = [n for n in names if n in configured] if names else configured
    if not wanted:
        return []
    from retouchdesk.services.runtime import build_runtime

    async def go() -> list[CheckResult]:
        runtime = build_runtime()
        try:
            return list(await provider_checks(runtime, wanted))
        finally:
            await runtime.aclose()

    return asyncio.run(go())
