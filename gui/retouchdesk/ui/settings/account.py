"""The account page of one cloud provider, generated from its schema.

Its credentials (grouped into "Sign in with one of" when there are several ways), its server
address, the hosting choice when the provider takes photos only by URL, Test connection (with
what is typed, nothing saved), the credit balance when it has one, and Remove account.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QButtonGroup,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QPushButton,
    QRadioButton,
    QVBoxLayout,
    QWidget,
)

from retouchdesk.model.accounts import HOSTING_FIELDS, AccountsModel, CredentialField
from retouchdesk.ui.settings.common import (
    ERROR_STYLE,
    OK_STYLE,
    WARN_STYLE,
    page_title,
    store_short,
)
from retouchdesk.ui.settings.fields import CredentialInput, FieldKey, add_inputs
from retouchdesk.ui.settings.hosting import HostingBox

Runner = Callable[[Coroutine[Any, Any, Any]], Any]


def _alternative_title(fields: list[CredentialField]) -> str:
    return " + ".join(f.label for f in fields)


class AccountPage(QWidget):
    """Signals: changed() when something was typed or picked (the dialog enables Apply)."""

    changed = Signal()

    def __init__(self, model: AccountsModel, provider_id: str, run: Runner) -> None:
        super().__init__()
        self.model = model
        self.provider_id = provider_id
        self._run = run
        prov = model.catalog.provider(provider_id)
        self.setObjectName(f"page_{provider_id}")
        outer = QVBoxLayout(self)
        outer.addWidget(page_title(prov.name))
        desc = QLabel(prov.description)
        desc.setWordWrap(True)
        outer.addWidget(desc)
        if prov.homepage:
            link = QLabel(f'<a href="{prov.homepage}">{prov.homepage}</a>')
            link.setOpenExternalLinks(True)
            outer.addWidget(link)
        self.status = QLabel()
        self.status.setObjectName("status")
        outer.addWidget(self.status)

        self.fields: dict[FieldKey, CredentialInput] = {}
        self.alt_group = QButtonGroup(self)
        self.alt_boxes: dict[str, QGroupBox] = {}
        tags = model.alternatives(provider_id)
        if tags:
            outer.addWidget(self._alternatives_box(tags))
        plain = [x for x in model.fields(provider_id) if not x.alternative]
        form_box = QGroupBox("Account" if not tags else "Server")
        self._add_fields(QFormLayout(form_box), plain)
        if plain:
            outer.addWidget(form_box)

        self.hosting: HostingBox | None = None
        self.hosting_radio: dict[str, QRadioButton] = {}
        if model.has_hosting(provider_id):
            self.hosting = HostingBox(model)
            self.fields.update(self.hosting.inputs)
            self.hosting_radio = self.hosting.radios
            self.hosting.changed.connect(self.changed)
            outer.addWidget(self.hosting)

        outer.addLayout(self._test_row())
        self.credits_label: QLabel | None = None
        if model.has_credits(provider_id):
            outer.addLayout(self._credits_row())
        outer.addStretch(1)
        self.remove_button = QPushButton(f"Remove {prov.name} account…")
        self.remove_button.setObjectName("remove_account")
        self.remove_button.setToolTip("Delete this provider's keys from the secret store")
        self.remove_button.clicked.connect(self._confirm_remove)
        bottom = QHBoxLayout()
        bottom.addStretch(1)
        bottom.addWidget(self.remove_button)
        outer.addLayout(bottom)
        self.refresh_status()
        model.status_changed.connect(self._status_changed)

    # -- building -------------------------------------------------------------------------
    def _add_fields(self, form: QFormLayout, fields: list[CredentialField]) -> None:
        self.fields.update(add_inputs(form, fields, self.model, self.changed))

    def _alternatives_box(self, tags: list[str]) -> QGroupBox:
        box = QGroupBox("Sign in with one of")
        lay = QVBoxLayout(box)
        chosen = self._configured_alternative(tags)
        all_fields = self.model.fields(self.provider_id)
        for tag in tags:
            group_fields = [x for x in all_fields if x.alternative == tag]
            radio = QRadioButton(_alternative_title(group_fields))
            radio.setObjectName(f"alt_{tag}")
            radio.setProperty("tag", tag)
            self.alt_group.addButton(radio)
            lay.addWidget(radio)
            sub = QGroupBox()
            sub.setFlat(True)
            form = QFormLayout(sub)
            form.setContentsMargins(24, 0, 0, 0)
            self._add_fields(form, group_fields)
            lay.addWidget(sub)
            self.alt_boxes[tag] = sub
            radio.setChecked(tag == chosen)
        self.alt_group.buttonToggled.connect(self._alt_toggled)
        self._alt_toggled()
        return box

    def _test_row(self) -> QHBoxLayout:
        actions = QHBoxLayout()
        self.test_button = QPushButton("Test connection")
        self.test_button.setObjectName("test_connection")
        self.test_button.setToolTip("One cheap call with the values above (nothing is saved)")
        self.test_button.clicked.connect(self.start_test)
        actions.addWidget(self.test_button)
        self.test_result = QLabel()
        self.test_result.setObjectName("test_result")
        self.test_result.setWordWrap(True)
        self.test_result.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        actions.addWidget(self.test_result, 1)
        return actions

    def _credits_row(self) -> QHBoxLayout:
        row = QHBoxLayout()
        row.addWidget(QLabel("Credits:"))
        self.credits_label = QLabel(self.model.credits(self.provider_id) or "not checked yet")
        self.credits_label.setObjectName("credits")
        row.addWidget(self.credits_label, 1)
        refresh = QPushButton("Check balance")
        refresh.clicked.connect(self.start_credits)
        row.addWidget(refresh)
        self.model.credits_changed.connect(self._credits_changed)
        return row

    def _configured_alternative(self, tags: list[str]) -> str:
        for tag in tags:
            fields = [f for f in self.model.fields(self.provider_id) if f.alternative == tag]
            if fields and all(self.model.state(f).stored for f in fields if f.required):
                return tag
        return tags[0]

    def _alt_toggled(self, *_args: object) -> None:
        tag = self.alternative()
        for t, box in self.alt_boxes.items():
            box.setEnabled(t == tag)
        self.changed.emit()

    # -- values ---------------------------------------------------------------------------
    def alternative(self) -> str:
        button = self.alt_group.checkedButton()
        return str(button.property("tag")) if button is not None else ""

    def values(self) -> dict[FieldKey, str]:
        """The typed values of the active inputs (disabled ones are not part of the save)."""
        alt = self.alternative()
        out: dict[FieldKey, str] = {}
        for key, fld in self.fields.items():
            if not fld.widget.isEnabled():
                continue
            if fld.spec.alternative and fld.spec.alternative != alt:
                continue
            out[key] = fld.text()
        return out

    def apply(self) -> None:
        self.model.save(self.provider_id, self.values(), alternative=self.alternative())
        if self.hosting is not None:
            self.hosting.apply()
        for fld in self.fields.values():  # typed secrets are now stored: forget the text
            if fld.spec.secret:
                fld.set_text("")
                fld.widget.setPlaceholderText(
                    f"Stored in the {store_short(self.model)}; type to replace"
                    if self.model.state(fld.spec).stored
                    else fld.widget.placeholderText()
                )

    # -- status, test, credits, remove ------------------------------------------------------
    def refresh_fields(self) -> None:
        for fld in self.fields.values():
            fld.refresh(self.model)
        self.refresh_status()

    def refresh_status(self) -> None:
        text = self.model.status_text(self.provider_id)
        ok = text == "Set up"
        where = ""
        if ok:
            where = self._where_keys_are()
        elif self.model.locked:
            # Not "not set up": the keys may well be in the file; entering them again would
            # only make a second copy.
            text = "The key file is locked: click Unlock keys… to use the keys stored in it."
        self.status.setText(("✓ " if ok else "") + text + where)
        self.status.setStyleSheet(OK_STYLE if ok else WARN_STYLE)

    def _where_keys_are(self) -> str:
        """' (keys in the system keyring)', or the environment variables they come from."""
        stored = [
            f.spec
            for f in self.fields.values()
            if f.spec.secret and self.model.state(f.spec).stored
        ]
        env = [s.env_name for s in stored if self.model.state(s).from_environment]
        if not stored:
            return ""
        if len(env) == len(stored):
            return f" (from the environment: {', '.join(env)})"
        store = store_short(self.model)
        if env:
            return f" (keys in the {store}; {', '.join(env)} from the environment)"
        return f" (keys in the {store})"

    def _status_changed(self, provider_id: str) -> None:
        if provider_id == self.provider_id:
            self.refresh_status()

    def start_test(self) -> Any:
        self.test_button.setEnabled(False)
        self.test_result.setStyleSheet("")
        self.test_result.setText("Testing…")
        return self._run(self._test())

    async def _test(self) -> None:
        try:
            ok, text = await self.model.test_connection(self.provider_id, self.values())
        finally:
            self.test_button.setEnabled(True)
        self.test_result.setText(text)
        self.test_result.setStyleSheet(OK_STYLE if ok else ERROR_STYLE)

    def start_credits(self) -> Any:
        if self.credits_label is not None:
            self.credits_label.setText("Checking…")
        return self._run(self.model.refresh_credits(self.provider_id))

    def _credits_changed(self, provider_id: str, text: str) -> None:
        if provider_id == self.provider_id and self.credits_label is not None:
            self.credits_label.setText(text)

    def _confirm_remove(self) -> None:
        prov = self.model.catalog.provider(self.provider_id)
        answer = QMessageBox.question(
            self,
            "Remove account",
            f"Delete the {prov.name} keys from the {store_short(self.model)}? "
            "Jobs already sent keep their results.",
        )
        if answer == QMessageBox.StandardButton.Yes:
            self.remove()

    def remove(self) -> None:
        self.model.remove_account(self.provider_id)
        for fld in self.fields.values():
            hosting_secret = fld.spec.secret and fld.spec in HOSTING_FIELDS
            if fld.spec.section == self.provider_id or hosting_secret:
                fld.set_text("")
                if fld.spec.secret:
                    fld.widget.setPlaceholderText("Not set")
        self.test_result.clear()
