"""``ui.qt_imports``: modules imported after PySide6 are no longer read back as source, and
PySide6 still tells the modules that use it from those that do not.

Runs in a fresh interpreter: the test process already imported its modules under PySide6's
hook, and the check being replaced belongs to the whole process.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

GUI = Path(__file__).resolve().parents[2] / "gui"

PROBE = textwrap.dedent(
    """
    import json, linecache, sys
    sys.path[:0] = [{gui!r}, {mods!r}]
    import PySide6.QtCore
    from retouchdesk.ui.qt_imports import skip_source_scan
    installed = {skip}
    if installed:
        assert skip_source_scan()
    import with_qt, without_qt, lazy_qt
    from shibokensupport.feature import pyside_feature_dict as d
    read = sorted(p for p in linecache.cache if p.endswith(("with_qt.py", "without_qt.py")))
    print(json.dumps({{
        "with_qt": d.get("with_qt"), "without_qt": d.get("without_qt"),
        "lazy_qt": d.get("lazy_qt"), "sources_read": read,
        "aligned": int(with_qt.label_alignment()),
    }}))
    """
)

MODULES = {
    "with_qt.py": (
        "from PySide6.QtCore import Qt\n"
        "def label_alignment():\n"
        "    return Qt.AlignmentFlag.AlignCenter.value\n"
    ),
    "without_qt.py": "import json\nVALUE = json.dumps([1])\n",
    # Mentions the binding only inside a function: PySide's own check says "uses".
    "lazy_qt.py": "def later():\n    import PySide6.QtGui\n    return PySide6.QtGui\n",
}


def _probe(tmp_path: Path, skip: bool) -> dict:
    mods = tmp_path / ("mods_skip" if skip else "mods_plain")
    mods.mkdir()
    for name, text in MODULES.items():
        (mods / name).write_text(text)
    code = PROBE.format(gui=str(GUI), mods=str(mods), skip=skip)
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "PYTHONDONTWRITEBYTECODE": "1"}
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_pyside_reads_every_later_module_back_without_it(tmp_path):
    # The cost being removed, seen on PySide6 as installed: both sources read into memory.
    plain = _probe(tmp_path, skip=False)
    assert len(plain["sources_read"]) == 2
    assert plain["with_qt"] == 0 and plain["without_qt"] == -1


def test_with_the_scan_skipped_no_source_is_read_and_the_answers_stand(tmp_path):
    skipped = _probe(tmp_path, skip=True)
    assert skipped["sources_read"] == []
    # A module holding PySide6 names "uses PySide" (0); one without is ignored (-1).
    assert skipped["with_qt"] == 0
    assert skipped["without_qt"] == -1
    # Qt's enums work as before in a module imported afterwards.
    assert skipped["aligned"] == 0x84
    # The one difference: a module naming PySide6 only inside a function counts as not using
    # it. That decides only whether it switches a __feature__ selection back off, and no
    # module of the app selects one.
    assert skipped["lazy_qt"] == -1
