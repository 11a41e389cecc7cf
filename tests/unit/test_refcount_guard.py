"""PySide6 6.12 on Python 3.11 drops a reference to True on every signal emit: guarded."""

from __future__ import annotations

import os
import subprocess
import sys


def test_many_signal_emits_do_not_abort_the_interpreter() -> None:
    code = (
        "import retouchdesk\n"
        "from PySide6.QtCore import QObject, Signal\n"
        "class D(QObject):\n"
        "    s = Signal()\n"
        "d = D()\n"
        "for _ in range(200_000):\n"
        "    d.s.emit()\n"
        "print('ok')\n"
    )
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=env
    )
    assert proc.returncode == 0, proc.stderr[-500:]
    assert proc.stdout.strip() == "ok"
