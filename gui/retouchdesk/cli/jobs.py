"""``retouchdesk jobs [--state S] [-n N]``: recent jobs from the job database, newest first."""

from __future__ import annotations

import argparse
import time
from typing import Any

from retouchdesk.cli.common import EXIT_OK, escape, rel
from retouchdesk.core.jobs import JobState


def add_parser(sub: Any) -> None:
    jobs = sub.add_parser("jobs", help="recent jobs from the job database")
    jobs.add_argument("--limit", "-n", type=int, default=20, help="how many (newest first)")
    jobs.add_argument(
        "--state", choices=[s.value for s in JobState], help="only jobs in this state"
    )
    jobs.set_defaults(func=cmd_jobs)


def cmd_jobs(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from retouchdesk.services.store import JobStore

    store = JobStore()
    try:
        recs = [r for r in store.all() if args.state is None or r.state.value == args.state]
    finally:
        store.close()
    recs = recs[-max(0, args.limit) :][::-1] if args.limit else recs[::-1]
    table = Table(title=f"Jobs ({len(recs)} shown, newest first)")
    for col in ("Queued", "Photo", "Operation", "State", "Result or problem"):
        table.add_column(col, overflow="fold")
    for r in recs:
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(r.created_at))
        detail = r.error or ", ".join(rel(p) for p in r.results) or r.message
        table.add_row(when, rel(r.input_path), r.op_key, r.state.value, escape(detail))
    Console(highlight=False, soft_wrap=True).print(table)
    return EXIT_OK
