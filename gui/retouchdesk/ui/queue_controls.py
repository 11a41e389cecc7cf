"""Photo › Pause Queue: hold back queued jobs, and the way back in sight while paused.

Pausing starts nothing new; jobs already sent to a service (and paid for) or running on this
computer go on. While paused, the status bar says how many jobs wait, with a Resume button.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtWidgets import QPushButton


class QueueControls:
    """The pause action and the status-bar button inside one main window."""

    def __init__(self, window: Any) -> None:
        self.window = window
        self.jobs = window.model.jobs
        self.pause_action = window._action("&Pause Queue", self.toggle, "Ctrl+Shift+P")
        self.pause_action.setCheckable(True)
        self.pause_action.setToolTip("Start no further job; jobs already sent or running go on")
        self.resume_button = QPushButton("Resume queue")
        self.resume_button.setObjectName("resumeQueue")
        self.resume_button.hide()
        self.resume_button.clicked.connect(lambda: self.set_paused(False))
        window.statusBar().addPermanentWidget(self.resume_button)
        for act in window.menuBar().actions():
            menu = act.menu()
            if act.text().replace("&", "") == "Photo" and menu is not None:
                menu.insertAction(menu.actions()[2], self.pause_action)
        self.jobs.counts_changed.connect(self._update)

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


def install(window: Any) -> QueueControls:
    return QueueControls(window)
