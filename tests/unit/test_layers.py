"""The layering rule, checked on the source: ui -> model -> services -> providers -> core.

``core``, ``providers`` and ``services`` never import Qt (PySide6, shiboken6, qasync) nor an
upper layer; ``providers`` never import ``services``; the CLI stays headless; widgets (``ui``)
reach the engine, settings and providers only through the view-models in ``model``. Imports
are read with ``ast``, so an import hidden inside a function (or under ``TYPE_CHECKING``)
counts too.

The facade between ``ui`` and ``model`` is typed as well: no ``ui`` function takes the window,
the runtime or a view-model as ``Any`` (or unannotated), no ``ui`` module reads the engine,
the runtime, the secret store or the settings off a view-model (``model.engine``...: the
view-models answer instead), and no ``ui`` module other than the window's own sets attributes
on the window: what a part installed from another module gives the window is what its
``install()`` returns.
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


# Services objects a view-model holds that widgets must not reach through it.
SERVICE_ATTRS = {"engine", "runtime", "secrets", "settings"}
# Parameters of ui functions that must carry a real type (never Any, never left out).
TYPED_PARAMS = {"window", "runtime", "model", "app", "engine", "settings", "thumbs", "accounts"}


def _is_any(annotation: ast.expr | None) -> bool:
    if annotation is None:
        return True
    if isinstance(annotation, ast.Constant) and isinstance(annotation.value, str):
        return annotation.value.strip() in {"Any", "typing.Any"}
    if isinstance(annotation, ast.Name):
        return annotation.id == "Any"
    return isinstance(annotation, ast.Attribute) and annotation.attr == "Any"


def _targets_window(node: ast.expr) -> bool:
    """``window.x`` or ``<anything>.window.x`` as an assignment target."""
    if not isinstance(node, ast.Attribute):
        return False
    owner = node.value
    if isinstance(owner, ast.Name):
        return owner.id == "window"
    return isinstance(owner, ast.Attribute) and owner.attr == "window"


def facade_violations() -> list[str]:
    found = []
    for path in sorted((PACKAGE / "ui").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        where = path.relative_to(PACKAGE.parent)
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                args = node.args
                for a in [*args.posonlyargs, *args.args, *args.kwonlyargs]:
                    if a.arg in TYPED_PARAMS and _is_any(a.annotation):
                        found.append(
                            f"{where}:{a.lineno} {node.name}() takes {a.arg} untyped or as Any"
                        )
            elif isinstance(node, ast.Attribute) and node.attr in SERVICE_ATTRS:
                found.append(f"{where}:{node.lineno} reads .{node.attr} off a view-model")
            if isinstance(node, ast.Assign | ast.AugAssign | ast.AnnAssign):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                for t in targets:
                    if _targets_window(t) and path.name != "main_window.py":
                        found.append(f"{where}:{t.lineno} sets an attribute on the window")
    return found


def test_ui_functions_take_typed_view_models_and_leave_the_window_alone():
    assert facade_violations() == []


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("from typing import Any\ndef install(window: Any): ...\n", "takes window untyped"),
        ("def open_settings(window, provider_id=None): ...\n", "takes window untyped"),
        ("class A:\n    def f(self, runtime: 'Any') -> None: ...\n", "takes runtime untyped"),
        ("async def g(*, model: typing.Any): ...\n", "takes model untyped"),
        ("def install(window: W) -> None:\n    window.credits_label = 1\n", "sets an attr"),
        ("class H:\n    def f(self):\n        self.window.undo_target = None\n", "sets an attr"),
        ("def f(w: W) -> None:\n    w.model.engine.jobs()\n", "reads .engine off"),
        ("def f(w: W) -> None:\n    w.model.session.runtime.aclose()\n", "reads .runtime off"),
    ],
)
def test_the_facade_checker_catches_violations(tmp_path, monkeypatch, source, expected):
    fake_pkg = tmp_path / "retouchdesk"
    (fake_pkg / "ui").mkdir(parents=True)
    (fake_pkg / "ui" / "part.py").write_text(source)
    monkeypatch.setattr(__import__(__name__, fromlist=["PACKAGE"]), "PACKAGE", fake_pkg)
    [problem] = facade_violations()
    assert expected in problem


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
