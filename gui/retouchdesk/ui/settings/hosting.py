"""The "How the service reaches your photos" group on the page of a URL-input provider.

One radio button per hosting strategy, each over the inputs that configure it; the
strategies, their titles and their inputs come from the accounts view-model (which reads them
from ``services.hosting``), so a new strategy needs no change here.
"""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QButtonGroup,
    QFormLayout,
    QGroupBox,
    QRadioButton,
    QVBoxLayout,
    QWidget,
)

from retouchdesk.model.accounts import HOSTING_HELP, AccountsModel
from retouchdesk.ui.settings.common import hint
from retouchdesk.ui.settings.fields import CredentialInput, FieldKey, add_inputs


class HostingBox(QGroupBox):
    """Signals: changed() when a strategy is picked or an input is edited."""

    changed = Signal()

    def __init__(self, model: AccountsModel, parent: QWidget | None = None) -> None:
        super().__init__("How the service reaches your photos", parent)
        self.model = model
        self.inputs: dict[FieldKey, CredentialInput] = {}
        self.radios: dict[str, QRadioButton] = {}
        lay = QVBoxLayout(self)
        lay.addWidget(hint(HOSTING_HELP))
        current = model.hosting_strategy()
        group = QButtonGroup(self)
        for choice in model.hosting_choices():
            radio = QRadioButton(choice.title)
            radio.setObjectName(f"hosting_{choice.key}")
            radio.setChecked(current == choice.key)
            group.addButton(radio)
            self.radios[choice.key] = radio
            lay.addWidget(radio)
            sub = QWidget()
            form = QFormLayout(sub)
            form.setContentsMargins(24, 0, 0, 0)
            self.inputs.update(add_inputs(form, choice.fields, model, self.changed))
            lay.addWidget(sub)
            radio.toggled.connect(sub.setEnabled)
            sub.setEnabled(current == choice.key)
            radio.toggled.connect(self.changed)

    def chosen(self) -> str:
        """The picked strategy (the model's current one if, oddly, none is checked)."""
        picked = [key for key, radio in self.radios.items() if radio.isChecked()]
        return picked[0] if picked else self.model.hosting_strategy()

    def apply(self) -> None:
        self.model.set_hosting(self.chosen())
