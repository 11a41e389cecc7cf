"""The settings dialog: output files, then one page per provider account.

Everything shown is generated from :class:`~retouchdesk.model.accounts.AccountsModel` (itself
generated from the option schemas), so a new provider gets its page from its TOML file.

Secrets are never put back into a widget: a stored key shows as "stored in <store>", and
typing replaces it. "Test connection" uses what is typed without saving it. The store in use
(system keyring or encrypted file) is named at the bottom of every page.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any

from PySide6.QtCore import QCoreApplication, Qt, QThread, QTimer, Signal
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (
    QAbstractButton,
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QLineEdit,
    QListWidget,
    QMessageBox,
    QPlainTextEdit,
    QPushButton,
    QRadioButton,
    QScrollArea,
    QSpinBox,
    QStackedWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from retouchdesk.core.errors import RetouchError
from retouchdesk.model.accounts import (
    HOSTING_FIELDS,
    OUTPUT_FORMATS,
    AccountsModel,
    CredentialField,
)

Runner = Callable[[Coroutine[Any, Any, Any]], Any]
OK_STYLE = "color: #2e8b57;"
ERROR_STYLE = "color: #c0392b;"
WARN_STYLE = "color: #b9770e;"


def _hint(text: str) -> QLabel:
    """Help text under a field: the app theme's hint style (grey, small) in either palette."""
    label = QLabel(text)
    label.setWordWrap(True)
    label.setProperty("hint", True)
    return label


def _alternative_title(fields: list[CredentialField]) -> str:
    return " + ".join(f.label for f in fields)


class _Field:
    """One input: a line edit (password style for secrets) or a text box for a PEM key."""

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
                placeholder = f"Stored in the {_store_short(model)}; type to replace"
            else:
                placeholder = "Not set" if f.required else "Not set (optional)"
        else:
            self.widget_set(state.value)
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
                    f"Stored in the {_store_short(model)}; type to replace"
                )
        elif not self.text() and state.value:
            self.widget_set(state.value)

    def _reveal(self, on: bool) -> None:
        assert isinstance(self.widget, QLineEdit)
        mode = QLineEdit.EchoMode.Normal if on else QLineEdit.EchoMode.Password
        self.widget.setEchoMode(mode)
        assert self.show_button is not None
        self.show_button.setText("Hide" if on else "Show")

    def widget_set(self, text: str) -> None:
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
            col.addWidget(_hint(self.spec.help))
        return box


def _store_short(model: AccountsModel) -> str:
    name = model.store_name
    return "system keyring" if name.startswith("system keyring") else "encrypted key file"


class ProviderPage(QWidget):
    """The account page of one provider.

    Signals:
        changed(): something was typed (the dialog enables Apply).
    """

    changed = Signal()

    def __init__(self, model: AccountsModel, provider_id: str, run: Runner) -> None:
        super().__init__()
        self.model = model
        self.provider_id = provider_id
        self._run = run
        prov = model.catalog.provider(provider_id)
        self.setObjectName(f"page_{provider_id}")
        outer = QVBoxLayout(self)
        title = QLabel(prov.name)
        f = QFont(title.font())
        f.setPointSizeF(f.pointSizeF() * 1.35)
        f.setBold(True)
        title.setFont(f)
        outer.addWidget(title)
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

        self.fields: dict[tuple[str, str], _Field] = {}
        all_fields = model.fields(provider_id)
        tags = model.alternatives(provider_id)
        self.alt_group = QButtonGroup(self)
        self.alt_boxes: dict[str, QGroupBox] = {}
        plain = [x for x in all_fields if not x.alternative]
        if tags:
            box = QGroupBox("Sign in with one of")
            lay = QVBoxLayout(box)
            chosen = self._configured_alternative(tags)
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
            outer.addWidget(box)
        form_box = QGroupBox("Account" if not tags else "Server")
        form = QFormLayout(form_box)
        self._add_fields(form, plain)
        if plain:
            outer.addWidget(form_box)

        self.hosting_radio: dict[str, QRadioButton] = {}
        if model.has_hosting(provider_id):
            outer.addWidget(self._hosting_box())

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
        outer.addLayout(actions)

        self.credits_label: QLabel | None = None
        if model.has_credits(provider_id):
            row = QHBoxLayout()
            row.addWidget(QLabel("Credits:"))
            self.credits_label = QLabel(model.credits(provider_id) or "not checked yet")
            self.credits_label.setObjectName("credits")
            row.addWidget(self.credits_label, 1)
            refresh = QPushButton("Check balance")
            refresh.clicked.connect(self.start_credits)
            row.addWidget(refresh)
            outer.addLayout(row)
            model.credits_changed.connect(self._credits_changed)

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
        for spec in fields:
            fld = _Field(spec, self.model)
            self.fields[(spec.section, spec.key)] = fld
            label = spec.label
            form.addRow(label, fld.row())
            if isinstance(fld.widget, QPlainTextEdit):
                fld.widget.textChanged.connect(self.changed)
            else:
                fld.widget.textEdited.connect(self.changed)

    def _hosting_box(self) -> QGroupBox:
        box = QGroupBox("How the service reaches your photos")
        lay = QVBoxLayout(box)
        lay.addWidget(
            _hint(
                "This service downloads each photo from a web address. Either run the "
                "built-in receiver behind a tunnel or reverse proxy you control, or let the "
                "app upload to S3-compatible storage and hand out short-lived links."
            )
        )
        strategy = str(self.model.settings.get("hosting", "strategy"))
        group = QButtonGroup(self)
        for key, text, sections in (
            ("local", "Built-in receiver with a public URL", ("receiver",)),
            ("s3", "S3-compatible storage (AWS S3, Cloudflare R2, MinIO, Backblaze)", ("s3",)),
        ):
            radio = QRadioButton(text)
            radio.setObjectName(f"hosting_{key}")
            radio.setChecked(strategy == key)
            group.addButton(radio)
            self.hosting_radio[key] = radio
            lay.addWidget(radio)
            sub = QWidget()
            form = QFormLayout(sub)
            form.setContentsMargins(24, 0, 0, 0)
            self._add_fields(form, [f for f in HOSTING_FIELDS if f.section in sections])
            lay.addWidget(sub)
            radio.toggled.connect(sub.setEnabled)
            sub.setEnabled(strategy == key)
            radio.toggled.connect(self.changed)
        return box

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

    def values(self) -> dict[tuple[str, str], str]:
        """The typed values of the active inputs (disabled ones are not part of the save)."""
        alt = self.alternative()
        out: dict[tuple[str, str], str] = {}
        for key, fld in self.fields.items():
            if not fld.widget.isEnabled():
                continue
            if fld.spec.alternative and fld.spec.alternative != alt:
                continue
            out[key] = fld.text()
        return out

    def apply(self) -> None:
        self.model.save(self.provider_id, self.values(), alternative=self.alternative())
        if self.hosting_radio:
            chosen = next((k for k, r in self.hosting_radio.items() if r.isChecked()), "local")
            self.model.set_hosting(chosen)
        for fld in self.fields.values():  # typed secrets are now stored: forget the text
            if fld.spec.secret:
                fld.widget_set("")
                fld.widget.setPlaceholderText(
                    f"Stored in the {_store_short(self.model)}; type to replace"
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
        store = _store_short(self.model)
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
            f"Delete the {prov.name} keys from the {_store_short(self.model)}? "
            "Jobs already sent keep their results.",
        )
        if answer == QMessageBox.StandardButton.Yes:
            self.remove()

    def remove(self) -> None:
        self.model.remove_account(self.provider_id)
        for fld in self.fields.values():
            hosting_secret = fld.spec.secret and fld.spec in HOSTING_FIELDS
            if fld.spec.section == self.provider_id or hosting_secret:
                fld.widget_set("")
                if fld.spec.secret:
                    fld.widget.setPlaceholderText("Not set")
        self.test_result.clear()


class OutputPage(QWidget):
    """Where results go, how they are named, their format and the metadata they keep."""

    changed = Signal()

    def __init__(self, model: AccountsModel) -> None:
        super().__init__()
        self.setObjectName("page_output")
        self.model = model
        values = model.output()
        outer = QVBoxLayout(self)
        title = QLabel("Output")
        f = QFont(title.font())
        f.setPointSizeF(f.pointSizeF() * 1.35)
        f.setBold(True)
        title.setFont(f)
        outer.addWidget(title)

        where = QGroupBox("Where results are saved")
        form = QFormLayout(where)
        self.beside = QRadioButton("In a subfolder next to each original")
        self.beside.setObjectName("output_beside")
        self.folder_radio = QRadioButton("All in one folder")
        self.subfolder = QLineEdit(str(values["subfolder"]))
        self.subfolder.setObjectName("output_subfolder")
        self.folder = QLineEdit(str(values["dir"]))
        self.folder.setObjectName("output_dir")
        self.folder.setPlaceholderText("Choose a folder")
        browse = QPushButton("Choose…")
        browse.clicked.connect(self._browse)
        row = QWidget()
        rl = QHBoxLayout(row)
        rl.setContentsMargins(0, 0, 0, 0)
        rl.addWidget(self.folder, 1)
        rl.addWidget(browse)
        form.addRow(self.beside)
        form.addRow("Subfolder name", self.subfolder)
        form.addRow(self.folder_radio)
        form.addRow("Folder", row)
        (self.folder_radio if values["dir"] else self.beside).setChecked(True)
        self.beside.toggled.connect(self._where_toggled)
        outer.addWidget(where)

        names = QGroupBox("File names")
        form = QFormLayout(names)
        self.template = QLineEdit(str(values["template"]))
        self.template.setObjectName("output_template")
        form.addRow("Template", self.template)
        form.addRow(
            "",
            _hint(
                "Fields: {stem} original name, {operation}, {provider}, {variant}, {date}, "
                "{counter}, {ext}. An existing file is never overwritten: _2, _3… is added."
            ),
        )
        self.example = QLabel()
        self.example.setObjectName("output_example")
        self.example.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        form.addRow("Example", self.example)
        outer.addWidget(names)

        fmt_box = QGroupBox("Format")
        form = QFormLayout(fmt_box)
        self.format = QComboBox()
        self.format.setObjectName("output_format")
        for key, label in OUTPUT_FORMATS:
            self.format.addItem(label, key)
        self.format.setCurrentIndex(max(0, self.format.findData(values["format"])))
        self.quality = QSpinBox()
        self.quality.setObjectName("output_quality")
        self.quality.setRange(1, 100)
        self.quality.setValue(int(values["jpeg_quality"]))
        self.quality.setToolTip("Used for JPEG results (also when the original is a JPEG)")
        form.addRow("Save as", self.format)
        form.addRow("JPEG quality", self.quality)
        outer.addWidget(fmt_box)

        meta = QGroupBox("Metadata copied from the original")
        lay = QVBoxLayout(meta)
        self.keep: dict[str, QCheckBox] = {}
        for key, text in (
            ("keep_exif", "EXIF (camera, lens, exposure, date)"),
            ("keep_icc", "Colour profile (ICC): keep it, or colours may shift"),
            ("keep_xmp", "XMP (ratings, keywords, editing history)"),
            ("keep_gps", "GPS position (turn off before sharing, for privacy)"),
        ):
            box = QCheckBox(text)
            box.setObjectName(f"output_{key}")
            box.setChecked(bool(values[key]))
            lay.addWidget(box)
            self.keep[key] = box
        self.keep["keep_exif"].toggled.connect(self._exif_toggled)
        outer.addWidget(meta)
        outer.addStretch(1)

        for w in (self.subfolder, self.folder, self.template):
            w.textChanged.connect(self._refresh)
        self.format.currentIndexChanged.connect(self._refresh)
        self.quality.valueChanged.connect(self.changed)
        for box in self.keep.values():
            box.toggled.connect(self.changed)
        self._where_toggled()
        self._exif_toggled(self.keep["keep_exif"].isChecked())
        self._refresh()

    def _browse(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Output folder", self.folder.text())
        if folder:
            self.folder.setText(folder)
            self.folder_radio.setChecked(True)

    def _where_toggled(self, *_args: object) -> None:
        beside = self.beside.isChecked()
        self.subfolder.setEnabled(beside)
        self.folder.setEnabled(not beside)
        self._refresh()

    def _exif_toggled(self, on: bool) -> None:
        gps = self.keep["keep_gps"]
        gps.setEnabled(on)  # GPS lives inside EXIF
        if not on:
            gps.setChecked(False)

    def _refresh(self, *_args: object) -> None:
        fmt = str(self.format.currentData())
        self.quality.setEnabled(fmt in ("same", "jpeg"))
        try:
            name = self.model.example_name(
                self.template.text(),
                fmt,
                folder=self.folder.text() if self.folder_radio.isChecked() else "",
                subfolder=self.subfolder.text(),
            )
        except RetouchError as exc:
            self.example.setText(str(exc))
            self.example.setStyleSheet(ERROR_STYLE)
            self.valid = False
        else:
            self.example.setText(name)
            self.example.setStyleSheet("")
            self.valid = True
        self.changed.emit()

    def values(self) -> dict[str, Any]:
        return {
            "dir": self.folder.text().strip() if self.folder_radio.isChecked() else "",
            "subfolder": self.subfolder.text().strip() or "retouched",
            "template": self.template.text().strip(),
            "format": str(self.format.currentData()),
            "jpeg_quality": self.quality.value(),
            **{k: box.isChecked() for k, box in self.keep.items()},
        }

    def apply(self) -> None:
        self.model.save_output(self.values())


class SettingsDialog(QDialog):
    """Output settings and provider accounts; OK and Apply save, Cancel forgets."""

    def __init__(
        self,
        model: AccountsModel,
        parent: QWidget | None = None,
        *,
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
        from retouchdesk.model.general_settings import GeneralSettingsModel
        from retouchdesk.ui.general_page import GeneralPage

        self.general_page = GeneralPage(GeneralSettingsModel(model.settings, model.catalog))
        self.output_page = OutputPage(model)
        self.provider_pages: dict[str, ProviderPage] = {}
        self._add_page("General", self.general_page)
        self._add_page("Output", self.output_page)
        for prov in model.providers():
            page_widget = ProviderPage(model, prov.id, self._run)
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

    def page(self, provider_id: str) -> ProviderPage:
        return self.provider_pages[provider_id]

    def _apply_button(self) -> QPushButton:
        return self.buttons.button(QDialogButtonBox.StandardButton.Apply)

    def _changed(self) -> None:
        self._apply_button().setEnabled(True)
        ok = getattr(self.output_page, "valid", True)
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


def install(window: Any) -> AccountsModel:
    """Status-bar credits, the key-file passphrase prompt, and a first balance check.

    The start-up work (unlocking the key file, which may ask for the passphrase, then the
    balance) runs once the window is up, never inside its constructor.
    """
    model = window.model.accounts
    model.set_passphrase_prompt(lambda creating: _ask_on_gui_thread(window, creating))
    label = CreditsLabel(model, window)
    window.statusBar().addPermanentWidget(label)
    window.credits_label = label
    runner = window.model.runner

    def refresh(provider_id: str) -> None:
        if not model.has_credits(provider_id):
            return
        try:
            configured = model.is_configured(provider_id)
        except RetouchError:  # a locked key file whose passphrase was not given
            return
        if configured:
            runner.spawn(
                model.refresh_credits(provider_id), name=f"credits-{provider_id}", preempt=True
            )

    def start() -> None:
        # Unlock once, so providers show as set up instead of "needs your key".
        if model.locked and not _unlock(window, model):
            return
        for prov in model.providers():
            refresh(prov.id)  # only those with credits and an account

    QTimer.singleShot(0, start)

    # A finished job has spent credits: show the new balance.
    def finished(job_id: str, *_args: object) -> None:
        provider_id = window.model.provider_of_job(job_id)
        if provider_id:
            refresh(provider_id)

    window.model.jobs.job_finished.connect(finished)
    window.model.jobs.job_failed.connect(finished)
    return model


def _ask_on_gui_thread(window: Any, creating: bool) -> str | None:
    """A dialog only from the GUI thread; a worker asking gets None (a plain error follows)."""
    app = QCoreApplication.instance()
    if app is None or QThread.currentThread() is not app.thread():
        return None
    return ask_passphrase(window, creating)


def _unlock(window: Any, model: AccountsModel) -> bool:
    try:
        model.unlock()
    except RetouchError as exc:  # wrong passphrase, or the user declined
        window.show_message(str(exc))
        return False
    window.model.operation.refresh_statuses()
    return True


def open_settings(window: Any, provider_id: str | None = None) -> int:
    """File > Settings (and "add an account" links): the dialog over the window's accounts."""
    app = window.model
    dialog = SettingsDialog(app.accounts, window, run=app.runner.spawn, page=provider_id or "")
    result = dialog.exec()
    if result == QDialog.DialogCode.Accepted:
        app.settings_applied()
    return int(result)
