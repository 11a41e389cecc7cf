"""The window's side of accounts: credits in the status bar, the key file's passphrase.

:func:`install` is called once by the main window. The start-up work (unlocking the key
file, which may ask for the passphrase, then the balances) runs once the window is up, never
inside its constructor. Which providers have credits, when a balance is asked for and what a
finished job means for it are decided by :class:`~retouchdesk.model.app_model.AppModel`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QCoreApplication, QThread
from PySide6.QtWidgets import QLabel, QWidget

from retouchdesk.core.errors import RetouchError
from retouchdesk.model.accounts import AccountsModel
from retouchdesk.ui.settings import passphrase

if TYPE_CHECKING:
    from retouchdesk.ui.main_window import MainWindow


class CreditsLabel(QLabel):
    """A status-bar label with the credit balance of providers that have one (YouCam)."""

    def __init__(self, model: AccountsModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("credits_status")
        self.model = model
        self._texts: dict[str, str] = {}
        model.credits_changed.connect(self._changed)
        self.setVisible(False)

    def _changed(self, provider_id: str, text: str) -> None:
        name = self.model.catalog.provider(provider_id).name
        self._texts[provider_id] = f"{name}: {text}" if text else ""
        shown = "   ".join(t for t in self._texts.values() if t)
        self.setText(shown)
        self.setToolTip("Credit balance, checked when the settings are opened or a job ends")
        self.setVisible(bool(shown))


def install(window: MainWindow) -> CreditsLabel:
    """Status-bar credits, the key-file passphrase prompt, and a first balance check."""
    app = window.model
    accounts = app.accounts
    accounts.set_passphrase_prompt(lambda creating: _ask_on_gui_thread(window, creating))
    label = CreditsLabel(accounts, window)
    window.statusBar().addPermanentWidget(label)
    app.follow_credits()

    def start() -> None:
        # Unlock once, so providers show as set up instead of "needs your key".
        if accounts.locked:
            try:
                app.unlock_keys()
            except RetouchError as exc:  # wrong passphrase, or the user declined
                window.show_message(str(exc))
                return
        app.refresh_credits()

    app.after_secrets(start)  # after the first paint, once the keys are read
    return label


def _ask_on_gui_thread(parent: QWidget, creating: bool) -> str | None:
    """A dialog only from the GUI thread; a worker asking gets None (a plain error follows)."""
    app = QCoreApplication.instance()
    if app is None or QThread.currentThread() is not app.thread():
        return None
    return passphrase.ask_passphrase(parent, creating)
