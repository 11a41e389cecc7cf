"""Photo › Pause Queue, and a desktop notification when the queue empties in the background.

Pausing starts nothing new; jobs already sent to a service (and paid for) or running on this
computer go on. While paused, the status bar says how many jobs wait, with a Resume button.

When the last running job ends while the window is not the active one, the photographer is
told by a desktop notification (the system tray's message where there is a tray, else the
taskbar entry asks for attention): how many finished and how many failed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtWidgets import QApplication, QPushButton, QSystemTrayIcon

if TYPE_CHECKING:
    from retouchdesk.ui.main_window import MainWindow


class QueueControls:
    """The pause action and the status-bar button inside one main window."""

    def __init__(self, window: MainWindow) -> None:
        self.window = window
        self.jobs = window.model.jobs
        self.pause_action = window.add_action("&Pause Queue", self.toggle, "Ctrl+Shift+P")
        self.pause_action.setCheckable(True)
        self.pause_action.setToolTip("Start no further job; jobs already sent or running go on")
        self.resume_button = QPushButton("Resume queue")
        self.resume_button.setObjectName("resumeQueue")
        self.resume_button.hide()
        self.resume_button.clicked.connect(lambda: self.set_paused(False))
        window.statusBar().addPermanentWidget(self.resume_button)
        photo_menu = window.menus["Photo"]
        photo_menu.insertAction(photo_menu.actions()[2], self.pause_action)
        self.jobs.counts_changed.connect(self._update)
        self.jobs.counts_changed.connect(self._maybe_notify)
        self._was_live = 0
        self._batch_start = {"done": 0, "failed": 0}
        self.notifications: list[str] = []  # what was announced (the newest last)
        self._tray: QSystemTrayIcon | None = None

    def toggle(self) -> None:
        self.set_paused(self.pause_action.isChecked())

    def set_paused(self, on: bool) -> None:
        self.jobs.set_paused(on)
        self.window.show_message(
            "Queue paused: jobs already sent go on, nothing new starts" if on else "Queue resumed"
        )
        self._update()

    def _update(self, *_a: object) -> None:
        on = self.jobs.paused
        self.pause_action.setChecked(on)
        n = self.jobs.waiting()
        self.resume_button.setText(f"Resume queue ({n} waiting)" if n else "Resume queue")
        self.resume_button.setVisible(on)

    # -- notification ------------------------------------------------------------------------
    def _maybe_notify(self, *_a: object) -> None:
        c = self.jobs.counts()
        # Arrivals in done / failed, not rows: older jobs paged into the list (or forgotten)
        # while the queue runs must not change what the notification says.
        if c["live"] and not self._was_live:
            self._batch_start = {"done": c["finished_done"], "failed": c["finished_failed"]}
        ended = self._was_live and not c["live"]
        self._was_live = c["live"]
        if not ended or self.window.isActiveWindow():
            return
        done = c["finished_done"] - self._batch_start["done"]
        failed = c["finished_failed"] - self._batch_start["failed"]
        if done + failed <= 0:
            return
        text = f"{done} photo{'s' if done != 1 else ''} done"
        if failed:
            text += f", {failed} failed"
        self.notify("Retouch Desk: the queue is finished", text)

    def notify(self, title: str, text: str) -> None:
        """A desktop notification; the taskbar entry asks for attention where there is none."""
        self.notifications.append(f"{title}: {text}")
        if QSystemTrayIcon.isSystemTrayAvailable():
            if self._tray is None:
                self._tray = QSystemTrayIcon(self.window.windowIcon(), self.window)
            self._tray.show()
            self._tray.showMessage(title, text, QSystemTrayIcon.MessageIcon.Information, 8000)
        QApplication.alert(self.window, 0)


def install(window: MainWindow) -> QueueControls:
    return QueueControls(window)
