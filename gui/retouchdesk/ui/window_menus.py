"""The main window's menu bar: File, Edit, View, Photo and Help with their actions.

The parts installed later (export, history, Try On, queue controls, photo info, shortcuts)
add their own actions to these menus by name (``WindowMenus.menus``). Every action calls a
public method of the window: the menus decide where a command is and which key runs it, the
window what it does.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import QMenu

from retouchdesk import APP_NAME

if TYPE_CHECKING:
    from PySide6.QtGui import QAction

    from retouchdesk.ui.main_window import MainWindow

SK = QKeySequence.StandardKey


class WindowMenus:
    """The menus by name and the actions the window enables, disables or tests reach."""

    def __init__(self, window: MainWindow) -> None:
        self.window = window
        self.menus: dict[str, QMenu] = {
            "File": self._file_menu(),
            "Edit": self._edit_menu(),
            "View": self._view_menu(),
            "Photo": self._photo_menu(),
            "Help": self._help_menu(),
        }
        # What needs an open photo looks (and is) unavailable without one.
        self.photo_actions: list[QAction] = [
            *self.view_actions,
            self.compare_action,
            self.save_action,
            self.apply_action,
            self.apply_all_action,
            self.next_action,
            self.previous_action,
            self.close_photo_action,
        ]

    def _file_menu(self) -> QMenu:
        """Open, recent photos, paste, save a result, settings, quit."""
        w = self.window
        file = w.menuBar().addMenu("&File")
        self.open_action = w.add_action("&Open…", w.opener.open_dialog, SK.Open)
        file.addAction(self.open_action)
        file.addAction(w.add_action("Open &Folder…", w.opener.open_folder_dialog, "Ctrl+Shift+O"))
        self.recent_menu = file.addMenu("Open &Recent")
        self.recent_menu.aboutToShow.connect(lambda: w.opener.fill_recent(self.recent_menu))
        file.addSeparator()
        self.paste_action = w.add_action("&Paste Image", w.opener.paste, SK.Paste)
        file.addAction(self.paste_action)
        self.save_action = w.add_action(
            "&Save Result As…", w.save_result_as, SK.Save, tip="Copy the compared result"
        )
        file.addAction(self.save_action)
        file.addSeparator()
        file.addAction(w.add_action("&Settings…", lambda: w.open_settings(""), SK.Preferences))
        file.addSeparator()
        file.addAction(w.add_action("&Quit", w.close, SK.Quit))
        return file

    def _edit_menu(self) -> QMenu:
        """Undo and redo (mask strokes, discards, versions), reset parameters."""
        w = self.window
        edit = w.menuBar().addMenu("&Edit")
        self.undo_action = w.add_action("&Undo", w.undo, SK.Undo)
        self.redo_action = w.add_action("&Redo", w.redo, SK.Redo)
        edit.addAction(self.undo_action)
        edit.addAction(self.redo_action)
        edit.addSeparator()
        edit.addAction(w.add_action("Reset Parameters", w.model.operation.reset_all))
        return edit

    def _view_menu(self) -> QMenu:
        """Zoom, compare, the docks, full screen."""
        w = self.window
        view = w.menuBar().addMenu("&View")
        # Zoom acts on what is shown: the photo, or the compare view's canvases.
        self.view_actions = [
            w.add_action("Zoom &In", lambda: w.shown_view().zoom_in(), SK.ZoomIn),
            w.add_action("Zoom &Out", lambda: w.shown_view().zoom_out(), SK.ZoomOut),
            w.add_action("&Fit", lambda: w.shown_view().fit(), "Ctrl+0"),
            w.add_action("&100%", lambda: w.shown_view().actual_size(), "Ctrl+1"),
        ]
        for act in self.view_actions:
            view.addAction(act)
        view.addSeparator()
        self.compare_action = w.add_action(
            "&Compare Before/After", w.toggle_compare, "C", context=w.centre
        )
        view.addAction(self.compare_action)
        view.addSeparator()
        view.addAction(w.side_dock.toggleViewAction())
        view.addAction(w.jobs_dock.toggleViewAction())
        w.jobs_dock.toggleViewAction().setShortcut(QKeySequence("Ctrl+J"))
        w.side_dock.toggleViewAction().setShortcut(QKeySequence("Ctrl+R"))
        self.fullscreen_action = w.add_action("&Full Screen", w.toggle_full_screen, SK.FullScreen)
        view.addAction(self.fullscreen_action)
        return view

    def _photo_menu(self) -> QMenu:
        """Apply, Apply to all, moving between photos, closing one."""
        w = self.window
        photo = w.menuBar().addMenu("&Photo")
        self.apply_action = w.add_action("&Apply", w.apply_current, "Ctrl+Return")
        self.apply_all_action = w.add_action("Apply to &All", w.apply_all, "Ctrl+Shift+Return")
        photo.addAction(self.apply_action)
        photo.addAction(self.apply_all_action)
        photo.addSeparator()
        self.next_action = w.add_action("&Next Photo", lambda: w.step(1), "Right", context=w.centre)
        self.previous_action = w.add_action(
            "&Previous Photo", lambda: w.step(-1), "Left", context=w.centre
        )
        self.close_photo_action = w.add_action("&Close Photo", w.close_photo, SK.Close)
        for act in (self.next_action, self.previous_action, self.close_photo_action):
            photo.addAction(act)
        return photo

    def _help_menu(self) -> QMenu:
        w = self.window
        help_ = w.menuBar().addMenu("&Help")
        help_.addAction(w.add_action(f"&About {APP_NAME}", w.about))
        return help_


def install(window: MainWindow) -> WindowMenus:
    return WindowMenus(window)
