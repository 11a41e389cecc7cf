"""``retouchdesk jobs [--state S] [-n N]``: recent jobs from the job database, newest first.

``retouchdesk jobs prune --older-than DAYS``: forget finished jobs (done, failed, cancelled)
that finished more than DAYS days ago, as the window does at start with ``jobs.keep_days``.
Unfinished, unconfirmed and stalled jobs are never touched; result files and photos stay.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

from retouchdesk.cli.common import EXIT_OK, EXIT_USAGE, escape, rel
from retouchdesk.core.jobs import JobState


def add_parser(sub: Any) -> None:
    jobs = sub.add_parser("jobs", help="recent jobs from the job database")
    jobs.add_argument("--limit", "-n", type=int, default=20, help="how many (newest first)")
    jobs.add_argument(
        "--state", choices=[s.value for s in JobState], help="only jobs in this state"
    )
    jobs.set_defaults(func=cmd_jobs)
    actions = jobs.add_subparsers(dest="jobs_action", metavar="prune")
    prune = actions.add_parser(
        "prune", help="forget finished jobs older than some days (result files are kept)"
    )
    prune.add_argument(
        "--older-than",
        type=float,
        required=True,
        metavar="DAYS",
        help="finished more than this many days ago (0: every finished job)",
    )
    prune.set_defaults(func=cmd_prune)


def cmd_jobs(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from retouchdesk.services.store import JobStore

    store = JobStore()
    try:  # the newest N through the created_at index, not the whole history
        recs = store.recent(max(0, args.limit), args.state)
    finally:
        store.close()
    table = Table(title=f"Jobs ({len(recs)} shown, newest first)")
    for col in ("Queued", "Photo", "Operation", "State", "Result or problem"):
        table.add_column(col, overflow="fold")
    for r in recs:
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(r.created_at))
        detail = r.error or ", ".join(rel(p) for p in r.results) or r.message
        table.add_row(when, rel(r.input_path), r.op_key, r.state.value, escape(detail))
    Console(highlight=False, soft_wrap=True).print(table)
    return EXIT_OK


def cmd_prune(args: argparse.Namespace) -> int:
    from retouchdesk.cli.common import err
    from retouchdesk.services import paths
    from retouchdesk.services.jobfiles import remove_scratch
    from retouchdesk.services.store import JobStore

    if args.older_than < 0:
        err("--older-than is a number of days, 0 or more")
        return EXIT_USAGE
    store = JobStore()
    try:
        ids = store.prune(time.time() - args.older_than * 86400)
    finally:
        store.close()
    work = paths.cache_dir() / "jobs"
    for job_id in ids:  # scratch folders only: results and photos stay where they are
        remove_scratch(work / job_id)
    n = len(ids)
    print(
        f"Forgot {n} finished job{'s' if n != 1 else ''} older than {args.older_than:g} "
        "days (result files kept)"
    )
    return EXIT_OK
