"""Small pieces the settings pages share: titles, hint lines, status colours, store names."""

from __future__ import annotations

from PySide6.QtGui import QFont
from PySide6.QtWidgets import QLabel

from retouchdesk.model.accounts import AccountsModel

OK_STYLE = "color: #2e8b57;"
ERROR_STYLE = "color: #c0392b;"
WARN_STYLE = "color: #b9770e;"


def page_title(text: str) -> QLabel:
    """The bold heading at the top of a page."""
    title = QLabel(text)
    f = QFont(title.font())
    f.setPointSizeF(f.pointSizeF() * 1.35)
    f.setBold(True)
    title.setFont(f)
    return title


def hint(text: str) -> QLabel:
    """Help text under a field: the app theme's hint style (grey, small) in either palette."""
    label = QLabel(text)
    label.setWordWrap(True)
    label.setProperty("hint", True)
    return label


def store_short(model: AccountsModel) -> str:
    """The secret store in a few words, for placeholders and confirmations."""
    name = model.store_name
    return "system keyring" if name.startswith("system keyring") else "encrypted key file"
