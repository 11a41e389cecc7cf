"""Settings › General edits settings.toml; Help › Keyboard Shortcuts lists every shortcut the
window registers (the last session's reopening is tested in test_last_session.py).
"""

from __future__ import annotations

import asyncio
import tomllib
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence


def run(qtbot: Any, coro: Any, timeout: int = 20_000) -> Any:
    task = asyncio.ensure_future(coro)
    qtbot.waitUntil(task.done, timeout=timeout)
    return task.result()


def test_general_page_writes_settings_toml(qtbot, make_window, monkeypatch):
    from retouchdesk.services.settings import Settings
    from retouchdesk.ui.settings.dialog import SettingsDialog

    monkeypatch.setenv("RETOUCHDESK_LOCAL_WORKERS", "3")  # the environment wins: read-only
    w = make_window()
    dlg = SettingsDialog(w.model.accounts, w, page="general")
    qtbot.addWidget(dlg)
    page = dlg.general_page
    assert dlg.pages_list.currentItem().text() == "General"
    assert not page.workers.isEnabled() and "RETOUCHDESK_LOCAL_WORKERS" in page.workers.toolTip()
    assert page.workers.value() == 3
    page.provider.setCurrentIndex(page.provider.findData("codeformer"))
    page.theme.setCurrentIndex(page.theme.findData("dark"))
    page.threshold.setValue(25)
    page.device.setCurrentText("cpu")
    page.tile.setValue(256)
    page.concurrency["youcam"].setValue(1)
    page.concurrency["local"].setValue(2)
    assert dlg._apply_button().isEnabled()
    qtbot.mouseClick(dlg.buttons.button(dlg.buttons.StandardButton.Ok), Qt.MouseButton.LeftButton)
    path = Settings().path
    doc = tomllib.loads(path.read_text(encoding="utf-8"))
    assert doc["general"] == {"default_provider": "codeformer", "cost_threshold": 25.0}
    assert doc["ui"] == {"theme": "dark"}
    assert doc["local"] == {"device": "cpu", "tile_size": 256}  # workers: from the environment
    assert doc["engine"] == {"concurrency": "local=2,youcam=1"} or doc["engine"] == {
        "concurrency": "youcam=1,local=2"
    }
    from retouchdesk.services.jobspec import parse_concurrency

    assert parse_concurrency(doc["engine"]["concurrency"]) == {"youcam": 1, "local": 2}
    # Reopened, the page shows what was saved.
    again = SettingsDialog(w.model.accounts, w, page="general")
    qtbot.addWidget(again)
    assert again.general_page.tile.value() == 256
    assert again.general_page.concurrency["local"].value() == 2
    assert again.general_page.provider.currentData() == "codeformer"
    # A bad value is one sentence and nothing is written.
    before = path.read_bytes()
    again.general_page.workers.setEnabled(True)
    monkeypatch.delenv("RETOUCHDESK_LOCAL_WORKERS")
    again.general_page.model.settings = Settings()
    bad = dict(again.general_page.values(), **{"local.workers": 0})
    import pytest

    from retouchdesk.core.errors import RetouchError

    with pytest.raises(RetouchError, match=r"local\.workers must be at least 1"):
        again.general_page.model.save(bad)
    assert path.read_bytes() == before


def test_general_page_takes_ranges_from_the_offline_engine_toml(qtbot, tmp_path):
    """The limits of local.* are the ones local.toml declares: a changed declaration moves
    the spin box's range and what the model refuses, with no code change."""
    import dataclasses

    import pytest

    from retouchdesk.core.errors import RetouchError
    from retouchdesk.core.schema import load_catalog
    from retouchdesk.model.general_settings import GeneralSettingsModel
    from retouchdesk.services.settings import Settings
    from retouchdesk.ui.settings.general import GeneralPage

    catalog = load_catalog()
    local = catalog.providers["local"]
    workers = next(s for s in local.settings if s.key == "workers")
    page = GeneralPage(GeneralSettingsModel(Settings(tmp_path / "s.toml"), catalog))
    qtbot.addWidget(page)
    assert page.workers.minimum() == workers.min == 1
    assert page.tile.toolTip() == next(s.help for s in local.settings if s.key == "tile_size")

    narrower = dataclasses.replace(workers, min=2, max=4)
    settings = tuple(narrower if s.key == "workers" else s for s in local.settings)
    providers = dict(catalog.providers, local=dataclasses.replace(local, settings=settings))
    changed = dataclasses.replace(catalog, providers=providers)
    model = GeneralSettingsModel(Settings(tmp_path / "s.toml"), changed)
    page = GeneralPage(model)
    qtbot.addWidget(page)
    assert (page.workers.minimum(), page.workers.maximum()) == (2, 4)
    with pytest.raises(RetouchError, match=r"local\.workers must be at most 4"):
        model.save({"local.workers": 5})
    assert not (tmp_path / "s.toml").exists()


def _registered(w) -> set[int]:
    """Every action of the window with a shortcut, found independently of the dialog."""
    out = set()
    for act in w.findChildren(QAction):
        if any(not s.isEmpty() for s in act.shortcuts()):
            out.add(id(act))
    return out


def test_keyboard_shortcuts_lists_every_registered_shortcut(qtbot, make_window):
    from retouchdesk.ui.shortcuts import shortcut_rows

    w = make_window()
    help_menu = next(a.menu() for a in w.menuBar().actions() if a.text() == "&Help")
    entry = next(a for a in help_menu.actions() if "Keyboard Shortcuts" in a.text())
    entry.trigger()
    dlg = w.shortcuts.dialog
    assert dlg is not None
    qtbot.waitUntil(dlg.isVisible)
    listed = {id(r.obj) for r in dlg.rows}
    assert listed == _registered(w)
    assert dlg.table.rowCount() == len(dlg.rows) >= 20
    texts = {(r.keys, r.action) for r in dlg.rows}
    assert ("Ctrl+T", "Try On") in texts
    assert ("J", "Show Clipping") in texts
    assert ("Ctrl+/", "Keyboard Shortcuts") in texts
    where = {r.action: r.where for r in dlg.rows}
    assert where["Apply"] == "Photo" and where["Fit"] == "View"
    # Ambiguous shortcuts never fire in Qt: no two actions share one.
    keys = [r.keys for r in dlg.rows]
    assert len(keys) == len(set(keys)), sorted(k for k in keys if keys.count(k) > 1)
    # Typing filters the table.
    dlg.search.setText("clipping")
    shown = [i for i in range(dlg.table.rowCount()) if not dlg.table.isRowHidden(i)]
    assert [dlg.table.item(i, 1).text() for i in shown] == ["Show Clipping"]
    dlg.close()
    # A shortcut added anywhere shows up: the list is generated, not written by hand.
    extra = QAction("Sharpen a Lot", w.jobs)
    extra.setShortcut(QKeySequence("Ctrl+Alt+K"))
    w.jobs.addAction(extra)
    assert ("Ctrl+Alt+K", "Sharpen a Lot") in {(r.keys, r.action) for r in shortcut_rows(w)}
