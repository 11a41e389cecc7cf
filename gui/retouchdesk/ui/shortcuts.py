"""Help › Keyboard Shortcuts: every shortcut the window registers, read from its actions.

Nothing here is a hand-written list: the rows are generated from the window's ``QAction``s
(menus first, under their menu path, then actions living on tool bars, docks and panels) and
any ``QShortcut``, so a shortcut added anywhere shows up, and one removed disappears.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QLineEdit,
    QMainWindow,
    QMenu,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

if TYPE_CHECKING:
    from retouchdesk.ui.main_window import MainWindow


@dataclass(frozen=True)
class ShortcutRow:
    keys: str  # in the platform's native text ("Ctrl+O", "⌘O")
    action: str
    where: str  # the menu path, or the widget the action belongs to
    obj: Any = None  # the QAction or QShortcut


def _clean(text: str) -> str:
    return text.replace("&&", "\0").replace("&", "").replace("\0", "&").rstrip(".…").strip()


def _keys(seqs: list[QKeySequence]) -> str:
    return ", ".join(
        s.toString(QKeySequence.SequenceFormat.NativeText) for s in seqs if not s.isEmpty()
    )


def shortcut_rows(window: QWidget) -> list[ShortcutRow]:
    """Every registered shortcut of ``window`` (see module docstring)."""
    rows: list[ShortcutRow] = []
    seen: set[int] = set()

    def walk(menu: QMenu, path: str) -> None:
        for act in menu.actions():
            sub = act.menu()
            if isinstance(sub, QMenu):
                walk(sub, f"{path} › {_clean(act.text())}")
                continue
            if act.isSeparator() or id(act) in seen:
                continue
            seen.add(id(act))
            keys = _keys(act.shortcuts())
            if keys:
                rows.append(ShortcutRow(keys, _clean(act.text()), path, act))

    menubar = window.menuBar() if isinstance(window, QMainWindow) else None
    if menubar is not None:
        for top in menubar.actions():
            sub = top.menu()
            if isinstance(sub, QMenu):
                walk(sub, _clean(top.text()))
    for act in window.findChildren(QAction):
        if id(act) in seen or act.isSeparator():
            continue
        seen.add(id(act))
        keys = _keys(act.shortcuts())
        if keys:
            owner = act.parent()
            where = _owner_name(owner)
            rows.append(ShortcutRow(keys, _clean(act.text() or act.toolTip()), where, act))
    for sc in window.findChildren(QShortcut):
        keys = _keys([sc.key()])
        if keys and sc.isEnabled():
            text = sc.whatsThis() or sc.objectName() or "Shortcut"
            rows.append(ShortcutRow(keys, text, _owner_name(sc.parent()), sc))
    return rows


def _owner_name(owner: Any) -> str:
    if owner is None:
        return ""
    title = getattr(owner, "windowTitle", lambda: "")()
    if title and not hasattr(owner, "menuBar"):
        return title
    name = owner.objectName() if hasattr(owner, "objectName") else ""
    return {"centre": "Photo view", "mainWindow": "Window"}.get(name, name or type(owner).__name__)


class ShortcutsDialog(QDialog):
    """A searchable table of :func:`shortcut_rows`."""

    def __init__(self, window: QWidget) -> None:
        super().__init__(window)
        self.setObjectName("shortcutsDialog")
        self.setWindowTitle("Keyboard Shortcuts")
        self.rows = shortcut_rows(window)
        lay = QVBoxLayout(self)
        self.search = QLineEdit()
        self.search.setPlaceholderText("Find a shortcut or a command")
        self.search.setClearButtonEnabled(True)
        lay.addWidget(self.search)
        self.table = QTableWidget(len(self.rows), 3)
        self.table.setObjectName("shortcutsTable")
        self.table.setHorizontalHeaderLabels(["Shortcut", "Command", "Where"])
        self.table.verticalHeader().hide()
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
        for i, r in enumerate(self.rows):
            for j, text in enumerate((r.keys, r.action, r.where)):
                self.table.setItem(i, j, QTableWidgetItem(text))
        head = self.table.horizontalHeader()
        head.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        head.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        head.setSectionResizeMode(2, QHeaderView.ResizeMode.ResizeToContents)
        lay.addWidget(self.table, 1)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        lay.addWidget(buttons)
        self.search.textChanged.connect(self._filter)
        self.resize(620, 560)

    def _filter(self, text: str) -> None:
        t = text.lower().strip()
        for i, r in enumerate(self.rows):
            hit = not t or t in f"{r.keys} {r.action} {r.where}".lower()
            self.table.setRowHidden(i, not hit)


class Shortcuts:
    """Help › Keyboard Shortcuts in one main window: its action and the dialog last opened."""

    def __init__(self, window: MainWindow) -> None:
        self.window = window
        self.dialog: ShortcutsDialog | None = None
        help_menu = window.menus["Help"]
        self.action = window.add_action("&Keyboard Shortcuts", self.open_dialog, "Ctrl+/")
        first = help_menu.actions()[0] if help_menu.actions() else None
        if first is not None:
            help_menu.insertAction(first, self.action)
        else:
            help_menu.addAction(self.action)

    def open_dialog(self) -> ShortcutsDialog:
        dlg = ShortcutsDialog(self.window)
        dlg.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.dialog = dlg
        dlg.open()
        return dlg


def install(window: MainWindow) -> Shortcuts:
    """Help › Keyboard Shortcuts (Ctrl+/)."""
    return Shortcuts(window)
