"""The layering rule, checked on the source: ui -> model -> services -> providers -> core.

``core``, ``providers`` and ``services`` never import Qt (PySide6, shiboken6, qasync) nor an
upper layer; ``providers`` never import ``services``; the CLI stays headless; widgets (``ui``)
reach the engine, settings and providers only through the view-models in ``model``. Imports
are read with ``ast``, so an import hidden inside a function (or under ``TYPE_CHECKING``)
counts too.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "gui" / "retouchdesk"
QT = {"PySide6", "shiboken6", "qasync", "PyQt5", "PyQt6"}
LAYERS = ["core", "providers", "services", "model", "ui"]
# What each layer may not import (besides Qt for the headless ones).
FORBIDDEN = {
    "core": {"providers", "services", "model", "ui", "app", "cli"},
    "providers": {"services", "model", "ui", "app", "cli"},
    "services": {"model", "ui", "app", "cli"},
    "model": {"ui", "app", "cli"},
    "ui": {"services", "providers", "app", "cli"},  # the view-models are the only bridge
    "cli": {"model", "ui", "app"},  # the command line stays headless
}
HEADLESS = {"core", "providers", "services", "cli"}


def imported_modules(path: Path) -> list[tuple[int, str]]:
    """Absolute module names imported by ``path`` (relative imports resolved)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    rel = path.relative_to(PACKAGE.parent).with_suffix("")
    package_parts = list(rel.parts[:-1])  # the package a relative import starts from
    out: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package_parts[: len(package_parts) - (node.level - 1)]
                mod = ".".join([*base, node.module] if node.module else base)
            else:
                mod = node.module or ""
            if mod == "retouchdesk":  # from retouchdesk import services
                out += [(node.lineno, f"{mod}.{a.name}") for a in node.names]
            else:
                out.append((node.lineno, mod))
    return out


def layer_of(path: Path) -> str:
    rel = path.relative_to(PACKAGE)
    return rel.parts[0] if len(rel.parts) > 1 else rel.stem


def violations() -> list[str]:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        layer = layer_of(path)
        for line, mod in imported_modules(path):
            top = mod.split(".")[0]
            where = f"{path.relative_to(PACKAGE.parent)}:{line}"
            if layer in HEADLESS and top in QT:
                found.append(f"{where} imports {mod} (Qt in a headless layer)")
            if top == "retouchdesk":
                parts = mod.split(".")
                target = parts[1] if len(parts) > 1 else ""
                if target in FORBIDDEN.get(layer, set()):
                    found.append(f"{where} imports {mod} ({layer} must not import {target})")
    return found


def test_the_package_is_where_the_test_expects_it():
    assert (PACKAGE / "core" / "jobs.py").exists()


def test_no_layer_imports_upward_or_qt_where_it_must_not():
    assert violations() == []


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("import PySide6.QtCore\n", "Qt in a headless layer"),
        ("from qasync import QEventLoop\n", "Qt in a headless layer"),
        ("from retouchdesk.services import paths\n", "core must not import services"),
        ("from ..ui import window\n", "core must not import ui"),
        ("def f():\n    from retouchdesk.model import x\n", "core must not import model"),
        ("from retouchdesk.services.engine import JobRequest\n", "ui must not import services"),
        ("from ..providers import base\n", "ui must not import providers"),
    ],
)
def test_the_checker_catches_violations(tmp_path, monkeypatch, source, expected):
    layer = expected.split()[0] if "must not" in expected else "core"
    fake_pkg = tmp_path / "retouchdesk"
    (fake_pkg / layer).mkdir(parents=True)
    (fake_pkg / layer / "bad.py").write_text(source)
    monkeypatch.setattr(__import__(__name__, fromlist=["PACKAGE"]), "PACKAGE", fake_pkg)
    [problem] = violations()
    assert expected in problem
