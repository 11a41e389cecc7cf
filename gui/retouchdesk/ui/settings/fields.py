"""One credential or server input of an account page, and a form of them.

Secrets are never put back into a widget: a stored key shows as "Stored in the <store>" in
the placeholder, and typing replaces it. A value set by an environment variable is shown
greyed with the variable's name, since an edit here would not take effect.
"""

from __future__ import annotations

from collections.abc import Iterable

from PySide6.QtCore import SignalInstance
from PySide6.QtWidgets import (
    QFormLayout,
    QHBoxLayout,
    QLineEdit,
    QPlainTextEdit,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from retouchdesk.model.accounts import AccountsModel, CredentialField
from retouchdesk.ui.settings.common import hint, store_short

FieldKey = tuple[str, str]  # (settings section, key)


class CredentialInput:
    """A line edit (password style for secrets) or a text box for a PEM key."""

    def __init__(self, f: CredentialField, model: AccountsModel) -> None:
        self.spec = f
        state = model.state(f)
        if f.multiline:
            self.widget: QLineEdit | QPlainTextEdit = QPlainTextEdit()
            self.widget.setFixedHeight(84)
            self.widget.setTabChangesFocus(True)
        else:
            self.widget = QLineEdit()
            self.widget.setClearButtonEnabled(True)
        self.widget.setObjectName(f"field_{f.section}_{f.key}")
        if f.secret:
            if isinstance(self.widget, QLineEdit):
                self.widget.setEchoMode(QLineEdit.EchoMode.Password)
            if state.from_environment:
                placeholder = f"Set by {f.env_name} in the environment"
            elif state.stored:
                placeholder = f"Stored in the {store_short(model)}; type to replace"
            else:
                placeholder = "Not set" if f.required else "Not set (optional)"
        else:
            self.set_text(state.value)
            placeholder = f"{f.default} (default)" if f.default else ""
            if state.from_environment:
                placeholder = f"Set by {f.env_name} in the environment"
        self.widget.setPlaceholderText(placeholder)
        if state.from_environment:
            self.widget.setEnabled(False)
            self.widget.setToolTip(f"{f.env_name} is set, and wins over what is typed here.")
        self.show_button: QToolButton | None = None
        if f.secret and isinstance(self.widget, QLineEdit):
            self.show_button = QToolButton()
            self.show_button.setText("Show")
            self.show_button.setCheckable(True)
            self.show_button.setToolTip("Show what you typed (a stored key is never shown)")
            self.show_button.toggled.connect(self._reveal)

    def refresh(self, model: AccountsModel) -> None:
        """Show where the value is now (after an unlock), keeping anything typed."""
        state = model.state(self.spec)
        if self.spec.secret:
            if state.stored and not state.from_environment:
                self.widget.setPlaceholderText(
                    f"Stored in the {store_short(model)}; type to replace"
                )
        elif not self.text() and state.value:
            self.set_text(state.value)

    def _reveal(self, on: bool) -> None:
        assert isinstance(self.widget, QLineEdit)
        mode = QLineEdit.EchoMode.Normal if on else QLineEdit.EchoMode.Password
        self.widget.setEchoMode(mode)
        assert self.show_button is not None
        self.show_button.setText("Hide" if on else "Show")

    def set_text(self, text: str) -> None:
        if isinstance(self.widget, QPlainTextEdit):
            self.widget.setPlainText(text)
        else:
            self.widget.setText(text)

    def text(self) -> str:
        if isinstance(self.widget, QPlainTextEdit):
            return self.widget.toPlainText()
        return self.widget.text()

    def row(self) -> QWidget:
        """The input, its Show button and its help line, kept together."""
        box = QWidget()
        col = QVBoxLayout(box)
        col.setContentsMargins(0, 0, 0, 0)
        col.setSpacing(2)
        line = QHBoxLayout()
        line.setContentsMargins(0, 0, 0, 0)
        line.addWidget(self.widget, 1)
        if self.show_button is not None:
            line.addWidget(self.show_button)
        col.addLayout(line)
        if self.spec.help:
            col.addWidget(hint(self.spec.help))
        return box


def add_inputs(
    form: QFormLayout,
    specs: Iterable[CredentialField],
    model: AccountsModel,
    edited: SignalInstance,
) -> dict[FieldKey, CredentialInput]:
    """A row in ``form`` for each spec; ``edited`` (a page's changed signal) fires on every
    keystroke."""
    made: dict[FieldKey, CredentialInput] = {}
    for spec in specs:
        fld = CredentialInput(spec, model)
        made[(spec.section, spec.key)] = fld
        form.addRow(spec.label, fld.row())
        if isinstance(fld.widget, QPlainTextEdit):
            fld.widget.textChanged.connect(edited)
        else:
            fld.widget.textEdited.connect(edited)
    return made
