"""The History dock: the version tree of the current photo, and what to do with a version.

Each row is a version (thumbnail, operation, provider, cost), indented under the version it
was made from; the working version is bold with a ▶. Clicking a row shows that version in the
compare view against the original; the buttons make it the working version (Continue from
this version), pin it, move it to the trash, or save the chain leading to it as a recipe.
Photo › Apply Recipe to All… runs a saved recipe on every open photo.

:func:`install` adds the dock to the main window and routes Edit › Undo / Redo to the
working version when no mask is being painted.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QEvent, QObject, QSize, Qt
from PySide6.QtGui import QFont, QIcon
from PySide6.QtWidgets import (
    QDockWidget,
    QFileDialog,
    QHBoxLayout,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from retouchdesk.model.history import HistoryModel, VersionItem
from retouchdesk.model.thumbnails import ThumbnailCache

if TYPE_CHECKING:
    from retouchdesk.model.app_model import AppModel
    from retouchdesk.ui.main_window import MainWindow

JOB_ROLE = Qt.ItemDataRole.UserRole + 1
THUMB = 56


class HistoryPanel(QWidget):
    """The list of versions and its buttons (see module docstring)."""

    def __init__(
        self, model: HistoryModel, thumbs: ThumbnailCache, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.model = model
        self.thumbs = thumbs
        self.list = QListWidget()
        self.list.setObjectName("historyList")
        self.list.setIconSize(QSize(THUMB, THUMB))
        self.list.setUniformItemSizes(True)
        self.continue_button = QPushButton("Continue from this")
        self.continue_button.setObjectName("continueFrom")
        self.continue_button.setToolTip(
            "Make this version the working image: the next operation starts from it"
        )
        self.pin_button = QPushButton("Pin")
        self.pin_button.setCheckable(True)
        self.pin_button.setToolTip("Pin this version: kept, exported with the pinned ones")
        self.trash_button = QPushButton("Trash")
        self.trash_button.setToolTip("Move this version's file to the system trash")
        self.recipe_button = QPushButton("Save recipe…")
        self.recipe_button.setToolTip("Save the steps that led to this version as a recipe")
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.addWidget(self.list, 1)
        row = QHBoxLayout()
        for b in (self.continue_button, self.pin_button, self.trash_button):
            row.addWidget(b)
        lay.addLayout(row)
        lay.addWidget(self.recipe_button)
        model.changed.connect(self._fill)
        thumbs.ready.connect(lambda _p: self._fill())
        self.list.currentItemChanged.connect(lambda *_a: self._update_buttons())
        self.pin_button.clicked.connect(self._pin)
        self.trash_button.clicked.connect(self._trash)
        self.continue_button.clicked.connect(self._continue)
        self._fill()

    # -- rows -------------------------------------------------------------------------------------
    def _fill(self) -> None:
        selected = self.selected_job()
        self.list.blockSignals(True)
        self.list.clear()
        for it in self.model.items:
            row = QListWidgetItem(self._text(it))
            row.setData(JOB_ROLE, it.job_id)
            row.setToolTip(self._tooltip(it))
            pm = self.thumbs.pixmap(it.path)
            if pm is None:
                self.thumbs.request(it.path)
            else:
                row.setIcon(QIcon(pm))
            if it.working:
                font = QFont(row.font())
                font.setBold(True)
                row.setFont(font)
            self.list.addItem(row)
            if it.job_id == selected:
                self.list.setCurrentItem(row)
        self.list.blockSignals(False)
        self._update_buttons()

    @staticmethod
    def _text(it: VersionItem) -> str:
        mark = "▶ " if it.working else ""
        pin = " ★" if it.pinned else ""
        # A child is drawn under its parent with a hook, so siblings read as branches.
        indent = "    " * max(0, it.depth - 2) + ("↳ " if it.depth > 1 else "")
        if it.job_id is None:
            return f"{mark}Original{pin}"
        cost = f" · {it.cost}" if it.cost else ""
        pad = " " * (len(indent) + (1 if indent else 0))
        return f"{indent}{mark}{it.operation}{pin}\n{pad}{it.provider}{cost}"

    @staticmethod
    def _tooltip(it: VersionItem) -> str:
        lines = [str(it.path)]
        if it.params:
            lines.append(", ".join(f"{k}={_short(v)}" for k, v in it.params.items()))
        if it.seconds is not None:
            lines.append(f"{it.seconds:.1f} s")
        return "\n".join(lines)

    def selected_job(self) -> str | None:
        row = self.list.currentItem()
        return row.data(JOB_ROLE) if row is not None else None

    def selected(self) -> VersionItem | None:
        row = self.list.currentItem()
        return self.model.item(row.data(JOB_ROLE)) if row is not None else None

    def select(self, job_id: str | None) -> None:
        for i in range(self.list.count()):
            if self.list.item(i).data(JOB_ROLE) == job_id:
                self.list.setCurrentRow(i)
                return

    def _update_buttons(self) -> None:
        it = self.selected()
        is_result = it is not None and it.job_id is not None
        self.continue_button.setEnabled(it is not None and not it.working)
        self.pin_button.setEnabled(is_result)
        self.pin_button.setChecked(bool(it and it.pinned))
        self.trash_button.setEnabled(is_result and not (it and it.pinned))
        self.recipe_button.setEnabled(is_result)

    # -- actions ----------------------------------------------------------------------------------
    def _continue(self) -> None:
        it = self.selected()
        if it is not None:
            self.model.continue_from(it.job_id)

    def _pin(self) -> None:
        it = self.selected()
        if it is not None and it.job_id:
            self.model.pin(it.job_id, self.pin_button.isChecked())

    def _trash(self) -> None:
        it = self.selected()
        if it is not None and it.job_id:
            self.model.move_to_trash(it.job_id)


def _short(v: Any) -> str:
    text = Path(v).name if isinstance(v, str) and "/" in v else str(v)
    return text if len(text) <= 24 else text[:21] + "…"


class _SaveSessionOnClose(QObject):
    """Writes the session (open photos, working versions) when the window closes."""

    def __init__(self, model: AppModel, parent: QObject) -> None:
        super().__init__(parent)
        self._model = model

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Close:
            self._model.save_session()
        return False


class History:
    """The dock, its menu entries and the undo routing inside one main window."""

    def __init__(self, window: MainWindow) -> None:
        self.window = window
        model = window.model
        self.model: HistoryModel = model.history
        self.panel = HistoryPanel(self.model, model.thumbs)
        self.dock = QDockWidget("History", window)
        self.dock.setObjectName("historyDock")
        self.dock.setWidget(self.panel)
        window.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self.dock)
        window.tabifyDockWidget(window.side_dock, self.dock)
        window.side_dock.raise_()
        self.panel.list.itemClicked.connect(self._clicked)
        self.panel.recipe_button.clicked.connect(self.save_recipe_dialog)
        self.apply_recipe_action = window.add_action(
            "Apply &Recipe to All…", self.apply_recipe_dialog, "Ctrl+Shift+R"
        )
        self.continue_action = window.add_action(
            "Continue from &This Version", self.continue_from_shown, "Ctrl+Shift+C"
        )
        photo_menu = window.menus["Photo"]
        before = photo_menu.actions()[2]  # after Apply and Apply to All
        photo_menu.insertAction(before, self.continue_action)
        photo_menu.insertAction(before, self.apply_recipe_action)
        window.menus["View"].addAction(self.dock.toggleViewAction())
        self.dock.toggleViewAction().setShortcut("Ctrl+H")
        window.photo_actions.extend([self.apply_recipe_action, self.continue_action])
        self._closing = _SaveSessionOnClose(window.model, window)
        window.installEventFilter(self._closing)

    def reopen_last_session(self) -> list[Path]:
        """Open the photos of the last session, each at its working version."""
        photos = self.window.model.restore_session()
        if photos:
            n = len(photos)
            self.window.show_message(
                f"Reopened {n} photo{'s' if n != 1 else ''} from the last session"
            )
        return photos

    # -- clicks -----------------------------------------------------------------------------------
    def _clicked(self, row: QListWidgetItem) -> None:
        """Show the clicked version: a result in the compare view, the original on the canvas."""
        job_id = row.data(JOB_ROLE)
        if job_id is None:
            self.window.close_compare()
        else:
            self.window.show_compare(job_id)

    def continue_from_shown(self) -> None:
        """Continue from the version compared (or selected in the panel)."""
        w = self.window
        job_id = None
        if w.stack.currentWidget() is w.compare and w.model.compare.right_version is not None:
            job_id = w.model.compare.right_version.job_id
        elif self.panel.selected() is not None:
            job_id = self.panel.selected_job()
        if job_id is None:
            w.show_message("Pick a version in the History panel or the compare view first")
            return
        self.model.continue_from(job_id)
        w.close_compare()
        w.show_message("The next operation starts from this version (Ctrl+Z goes back)")

    # -- recipes ----------------------------------------------------------------------------------
    def save_recipe_dialog(self) -> None:
        it = self.panel.selected()
        if it is None or it.job_id is None:
            return
        dest, _ = QFileDialog.getSaveFileName(
            self.window, "Save recipe", str(it.path.with_suffix(".toml")), "Recipe (*.toml)"
        )
        if dest:
            path = Path(dest) if dest.endswith(".toml") else Path(dest + ".toml")
            self.save_recipe(it.job_id, path)

    def save_recipe(self, job_id: str, path: Path) -> None:
        try:
            self.model.save_recipe(job_id, path)
        except (OSError, Exception) as exc:  # a sentence in the status bar, never a traceback
            self.window.show_message(f"The recipe cannot be saved: {exc}")

    def apply_recipe_dialog(self) -> None:
        src, _ = QFileDialog.getOpenFileName(
            self.window, "Apply recipe to all photos", "", "Recipe (*.toml)"
        )
        if src:
            self.apply_recipe(Path(src))

    def apply_recipe(self, path: Path, photos: list[Path] | None = None) -> None:
        w = self.window
        try:
            recipe = w.model.recipes.load(path)
        except Exception as exc:
            w.show_message(str(exc))
            return
        targets = photos if photos is not None else list(w.model.photos.paths)
        w.model.runner.spawn(
            w.model.recipes.apply(recipe, targets, path.parent), name="recipe:apply"
        )


def install(window: MainWindow) -> History:
    """Add the History dock to ``window`` (a ``ui.main_window.MainWindow``)."""
    return History(window)
