"""Samples another process's threads from outside, for stall hunting (a bench helper).

    python tests/bench/thread_sampler.py PID OUT.json

Every millisecond it reads, for each thread of PID, the kernel's view: its state (R running
or runnable, S sleeping, D uninterruptible) and the system call it is in
(``/proc/PID/task/TID/syscall``: a number, "running" in user space, or -1 in the kernel
outside a call, e.g. a page fault). It needs no GIL: a sampler inside the process stops
exactly when another thread holds the GIL in C code, which is the moment worth seeing. On
SIGTERM it writes the samples (``perf_counter`` times, the same clock as the process's) to
OUT.json and exits. ``explain`` turns the samples of one stall into lines to print.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from collections import Counter
from pathlib import Path

# x86-64 system call numbers worth naming in a stall.
SYSCALLS = {
    0: "read",
    1: "write",
    3: "close",
    7: "poll",
    9: "mmap",
    10: "mprotect",
    11: "munmap",
    12: "brk",
    17: "pread64",
    18: "pwrite64",
    23: "select",
    25: "mremap",
    28: "madvise",
    74: "fsync",
    202: "futex",
    232: "epoll_wait",
    257: "openat",
    270: "pselect6",
    271: "ppoll",
    281: "epoll_pwait",
    441: "epoll_pwait2",
}


def _read(path: str) -> str:
    try:
        with open(path, "rb") as fh:
            return fh.read().decode("ascii", "replace")
    except OSError:
        return ""


def _thread(pid: int, tid: str) -> tuple[str, str, float, float]:
    """(state letter, system call name or "user" / "kernel", CPU ms so far, ms spent waiting
    for a CPU so far)."""
    stat = _read(f"/proc/{pid}/task/{tid}/stat")
    state = stat[stat.rfind(")") + 2 : stat.rfind(")") + 3] if stat else "?"
    call = _read(f"/proc/{pid}/task/{tid}/syscall").split(" ", 1)[0].strip()
    if call == "running":
        where = "user"
    elif call in ("", "-1"):
        where = "kernel"
    else:
        where = SYSCALLS.get(int(call), f"sys{call}") if call.isdigit() else call
    sched = _read(f"/proc/{pid}/task/{tid}/schedstat").split()
    ran, waited = (int(sched[0]) / 1e6, int(sched[1]) / 1e6) if len(sched) >= 2 else (0.0, 0.0)
    return state, where, ran, waited


def sample(pid: int, out: Path) -> None:
    samples: list[list] = []

    def stop(*_: object) -> None:
        out.write_text(json.dumps(samples))
        sys.exit(0)

    signal.signal(signal.SIGTERM, stop)
    while os.path.exists(f"/proc/{pid}"):
        now = time.perf_counter()
        try:
            tids = os.listdir(f"/proc/{pid}/task")
        except OSError:
            break
        samples.append([now, {tid: _thread(pid, tid) for tid in tids}])
        del samples[:-200_000]  # about 3 minutes at 1 ms: the memory stays bounded
        time.sleep(0.001)
    stop()


def explain(
    samples: list, start: float, end: float, gui_tid: int, names: dict[int, str]
) -> list[str]:
    """What the GUI thread and the running threads were doing between ``start`` and ``end``."""
    inside = [s for s in samples if start <= s[0] <= end]
    if not inside:
        return ["  (no samples in the stall)"]
    gui = Counter(tuple(s[1].get(str(gui_tid), ("?", "?"))[:2]) for s in inside)
    running: Counter[str] = Counter()
    for _, threads in inside:
        for tid, (state, where, *_) in threads.items():
            if state == "R" and int(tid) != gui_tid:
                running[f"{names.get(int(tid), 'tid ' + tid)} ({where})"] += 1
    n = len(inside)
    lines = [f"  {n} samples over {(end - start) * 1000:.0f} ms; GUI thread:"]
    for (state, where), c in gui.most_common(4):
        lines.append(f"    {c * 100 // n:3d} % {state} in {where}")
    lines.append("  other threads in state R (running or runnable):")
    lines += [f"    {c * 100 // n:3d} % {who}" for who, c in running.most_common(6)]
    # CPU time and run-queue wait of each thread over the stall: a thread that held the GIL
    # but waited for a CPU (a low-priority worker) shows a long wait.
    first, last = inside[0][1], inside[-1][1]
    spent = []
    for tid, after in last.items():
        before = first.get(tid)
        if before is None:
            continue
        ran, waited = after[2] - before[2], after[3] - before[3]
        if ran + waited >= 1.0:
            who = "GUI" if int(tid) == gui_tid else names.get(int(tid), f"tid {tid}")
            spent.append((ran + waited, who, ran, waited))
    lines.append("  ms on a CPU / waiting for one:")
    for _, who, ran, waited in sorted(spent)[::-1][:6]:
        lines.append(f"    {who}: {ran:.1f} / {waited:.1f}")
    return lines


if __name__ == "__main__":
    sample(int(sys.argv[1]), Path(sys.argv[2]))
