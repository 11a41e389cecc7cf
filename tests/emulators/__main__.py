"""Run one vendor emulator in the foreground: ``python -m tests.emulators enhancor --port 8701``.

Handy for demos and for pointing the app at an emulator by hand, e.g.::

    python -m tests.emulators enhancor --port 8701 &
    RETOUCHDESK_ENHANCOR_BASE_URL=http://127.0.0.1:8701 RETOUCHDESK_ENHANCOR_API_KEY=demo-key \
        retouchdesk run --provider enhancor --op realistic_skin photo.jpg

Options given as ``--set key=value`` are passed to the vendor's ``create`` (numbers and
true/false are converted), e.g. ``--set api_key=demo-key``. Faults for a demo are given as
``--fault KIND[:key=value,...]`` with the arguments of ``FaultPlan``'s shorthands, e.g.
``--fault status:status=503,times=2,path=.*/queue`` or ``--fault rate_limit:retry_after=5``
(kinds: status, rate_limit, drop, slow, malformed).
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from typing import Any

from tests.emulators import load


def _value(text: str) -> Any:
    low = text.lower()
    if low in ("true", "false"):
        return low == "true"
    for conv in (int, float):
        try:
            return conv(text)
        except ValueError:
            pass
    return text


FAULT_KINDS = ("status", "rate_limit", "drop", "slow", "malformed")


def add_fault(emulator: Any, spec: str) -> None:
    """Add one ``KIND[:key=value,...]`` fault to ``emulator.faults``."""
    kind, _, rest = spec.partition(":")
    if kind not in FAULT_KINDS:
        raise ValueError(f"unknown kind {kind!r} (use {', '.join(FAULT_KINDS)})")
    kwargs: dict[str, Any] = {}
    for item in filter(None, rest.split(",")):
        key, sep, value = item.partition("=")
        if not sep:
            raise ValueError(f"{item!r} is not key=value")
        kwargs[key.strip()] = _value(value.strip())
    if kind == "status" and "status" in kwargs:
        getattr(emulator.faults, kind)(kwargs.pop("status"), **kwargs)
    elif kind == "slow" and "delay" in kwargs:
        emulator.faults.slow(kwargs.pop("delay"), **kwargs)
    else:
        getattr(emulator.faults, kind)(**kwargs)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.emulators", description=__doc__)
    parser.add_argument("vendor", help="enhancor, codeformer, adcreative, youcam, ...")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 = any free port")
    parser.add_argument(
        "--time-scale", type=float, default=1.0, help="multiplies every emulated delay"
    )
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--fault", action="append", default=[], metavar="KIND[:K=V,...]")
    args = parser.parse_args(argv)
    options: dict[str, Any] = {"time_scale": args.time_scale}
    for item in args.set:
        key, sep, value = item.partition("=")
        if not sep:
            parser.error(f"--set needs KEY=VALUE (got {item!r})")
        options[key.strip()] = _value(value.strip())
    try:
        emulator = load(args.vendor, **options)
    except ValueError as exc:
        parser.error(str(exc))
    for spec in args.fault:
        try:
            add_fault(emulator, spec)
        except (TypeError, ValueError) as exc:
            parser.error(f"--fault {spec!r}: {exc}")
    emulator.start(args.host, args.port)
    print(f"{args.vendor} emulator listening on {emulator.url}", flush=True)
    describe = getattr(emulator, "describe", None)  # e.g. the credentials to use
    if callable(describe):
        print(describe(), flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        stop.wait()
    except KeyboardInterrupt:
        pass
    finally:
        emulator.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
