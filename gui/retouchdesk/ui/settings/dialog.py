"""The settings dialog: a list of pages on the left, the chosen page on the right.

It only assembles the pages (General, Output, then one account page per cloud provider,
generated from the option schemas through :class:`~retouchdesk.model.accounts.AccountsModel`)
and saves them together: OK and Apply save every page, Cancel forgets. The store the keys are
kept in (system keyring or encrypted file) is named at the bottom, with Unlock keys… while the
encrypted file is locked.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any

from PySide6.QtWidgets import (
    QAbstractButton,
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QPushButton,
    QScrollArea,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from retouchdesk.core.errors import RetouchError
from retouchdesk.model.accounts import AccountsModel
from retouchdesk.model.general_settings import GeneralSettingsModel
from retouchdesk.ui.settings.account import AccountPage, Runner
from retouchdesk.ui.settings.common import ERROR_STYLE
from retouchdesk.ui.settings.general import GeneralPage
from retouchdesk.ui.settings.output import OutputPage

if TYPE_CHECKING:
    from retouchdesk.ui.main_window import MainWindow


class SettingsDialog(QDialog):
    """Output settings and provider accounts; OK and Apply save, Cancel forgets."""

    def __init__(
        self,
        model: AccountsModel,
        parent: QWidget | None = None,
        *,
        general: GeneralSettingsModel | None = None,
        run: Runner | None = None,
        page: str = "",
    ) -> None:
        super().__init__(parent)
        self.setObjectName("settings_dialog")
        self.setWindowTitle("Settings")
        self.model = model
        self._run: Runner = run or _ensure_future
        self.resize(900, 700)
        self.pages_list = QListWidget()
        self.pages_list.setObjectName("pages")
        self.pages_list.setFixedWidth(170)
        self.stack = QStackedWidget()

        self.general_page = GeneralPage(general or GeneralSettingsModel.for_accounts(model))
        self.output_page = OutputPage(model)
        self.provider_pages: dict[str, AccountPage] = {}
        self._add_page("General", self.general_page)
        self._add_page("Output", self.output_page)
        for prov in model.providers():
            page_widget = AccountPage(model, prov.id, self._run)
            self.provider_pages[prov.id] = page_widget
            self._add_page(prov.name, page_widget)
            page_widget.changed.connect(self._changed)
        self.output_page.changed.connect(self._changed)
        self.general_page.changed.connect(self._changed)
        model.status_changed.connect(self._refresh_list)
        self._refresh_list()
        self.pages_list.currentRowChanged.connect(self.stack.setCurrentIndex)

        self.store_label = QLabel(f"Keys are kept in: {model.store_name}")
        self.store_label.setObjectName("store_name")
        self.store_label.setWordWrap(True)
        self.store_label.setProperty("hint", True)
        self.error = QLabel()
        self.error.setObjectName("error")
        self.error.setWordWrap(True)
        self.error.setStyleSheet(ERROR_STYLE)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok
            | QDialogButtonBox.StandardButton.Cancel
            | QDialogButtonBox.StandardButton.Apply
        )
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        self.buttons.clicked.connect(self._clicked)
        self._apply_button().setEnabled(False)

        body = QHBoxLayout()
        body.addWidget(self.pages_list)
        body.addWidget(self.stack, 1)
        lay = QVBoxLayout(self)
        lay.addLayout(body, 1)
        lay.addWidget(self.error)
        self.unlock_button = QPushButton("Unlock keys…")
        self.unlock_button.setObjectName("unlock")
        self.unlock_button.setToolTip("Enter the passphrase of the encrypted key file")
        self.unlock_button.clicked.connect(self.unlock)
        foot = QHBoxLayout()
        foot.addWidget(self.store_label, 1)
        foot.addWidget(self.unlock_button)
        foot.addWidget(self.buttons)
        self._update_unlock()
        lay.addLayout(foot)
        self.show_page(page or "output")

    def _update_unlock(self) -> None:
        self.unlock_button.setVisible(self.model.locked)

    def unlock(self) -> bool:
        """Ask for the key file's passphrase; on success the pages show what is stored."""
        try:
            self.model.unlock()
        except RetouchError as exc:
            self.error.setText(str(exc))
            return False
        self.error.clear()
        for page_widget in self.provider_pages.values():
            page_widget.refresh_fields()
        self._refresh_list()
        self._update_unlock()
        return True

    def _add_page(self, title: str, widget: QWidget) -> None:
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        scroll.setWidget(widget)
        self.stack.addWidget(scroll)
        self.pages_list.addItem(title)

    def _refresh_list(self, *_args: object) -> None:
        for i, (pid, _page) in enumerate(self.provider_pages.items(), start=2):
            item = self.pages_list.item(i)
            name = self.model.catalog.provider(pid).name
            ok = self.model.is_configured(pid)
            item.setText(f"{name}  ✓" if ok else name)
            item.setToolTip(self.model.status_text(pid))

    def show_page(self, key: str) -> None:
        """Open on ``general``, ``output`` or a provider id ("Add account" links)."""
        keys = ["general", "output", *self.provider_pages]
        self.pages_list.setCurrentRow(keys.index(key) if key in keys else 0)

    def page(self, provider_id: str) -> AccountPage:
        return self.provider_pages[provider_id]

    def _apply_button(self) -> QPushButton:
        return self.buttons.button(QDialogButtonBox.StandardButton.Apply)

    def _changed(self) -> None:
        self._apply_button().setEnabled(True)
        ok = self.output_page.valid
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setEnabled(ok)

    def _clicked(self, button: QAbstractButton) -> None:
        if button is self._apply_button():
            self.apply()

    def apply(self) -> bool:
        """Save every page; a problem is shown as one sentence and nothing is lost."""
        try:
            self.general_page.apply()
            self.output_page.apply()
            for page_widget in self.provider_pages.values():
                page_widget.apply()
        except RetouchError as exc:
            self.error.setText(str(exc))
            return False
        self.error.clear()
        self._apply_button().setEnabled(False)
        return True

    def accept(self) -> None:
        if self.apply():
            super().accept()


def _ensure_future(coro: Coroutine[Any, Any, Any]) -> Any:
    return asyncio.ensure_future(coro)


def open_settings(window: MainWindow, provider_id: str | None = None) -> int:
    """File › Settings (and "add an account" links): the dialog over the window's accounts."""
    app = window.model
    dialog = SettingsDialog(
        app.accounts,
        window,
        general=app.general_settings(),
        run=app.runner.spawn,
        page=provider_id or "",
    )
    result = dialog.exec()
    if result == QDialog.DialogCode.Accepted:
        app.settings_applied()
    return int(result)
