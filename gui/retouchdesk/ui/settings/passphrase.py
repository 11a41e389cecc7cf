"""The key file's passphrase prompt (asked twice when the file is created)."""

from __future__ import annotations

from PySide6.QtWidgets import QInputDialog, QLabel, QLineEdit, QMessageBox, QWidget

PASSPHRASE_TITLE = "Key file passphrase"


def passphrase_dialog(parent: QWidget | None, text: str) -> QInputDialog:
    """A password prompt wide enough for its title and sentence (Qt's default is so narrow
    that window managers cut the title)."""
    dialog = QInputDialog(parent)
    dialog.setWindowTitle(PASSPHRASE_TITLE)
    dialog.setLabelText(text)
    dialog.setTextEchoMode(QLineEdit.EchoMode.Password)
    title = dialog.fontMetrics().horizontalAdvance(PASSPHRASE_TITLE)
    dialog.setMinimumWidth(max(440, title + 200))  # + the window buttons and icon
    label = dialog.findChild(QLabel)
    if label is not None:
        label.setWordWrap(True)
    return dialog


def _secret_text(parent: QWidget | None, text: str) -> tuple[str, bool]:
    dialog = passphrase_dialog(parent, text)
    ok = dialog.exec() == QInputDialog.DialogCode.Accepted
    return dialog.textValue(), ok


def ask_passphrase(parent: QWidget | None, creating: bool) -> str | None:
    """Ask for the passphrase of the encrypted key file (twice when creating it)."""
    if creating:
        text = (
            "No system keyring is available, so your keys will be kept in a file encrypted "
            "with a passphrase. Choose a passphrase:"
        )
    else:
        text = "Enter the passphrase of your encrypted key file:"
    first, ok = _secret_text(parent, text)
    if not ok or not first:
        return None
    if creating:
        again, ok = _secret_text(parent, "Type the passphrase again:")
        if not ok or again != first:
            QMessageBox.warning(parent, PASSPHRASE_TITLE, "The two passphrases differ.")
            return None
    return first
