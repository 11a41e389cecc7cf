"""Settings › Output: where results go, how they are named, their format and metadata.

The example name under the template is computed by the accounts view-model as the user types,
so a template that cannot work says why before it is saved (and OK stays disabled).
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QRadioButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from retouchdesk.core.errors import RetouchError
from retouchdesk.model.accounts import OUTPUT_FORMATS, AccountsModel
from retouchdesk.ui.settings.common import ERROR_STYLE, hint, page_title


class OutputPage(QWidget):
    """Where results go, how they are named, their format and the metadata they keep."""

    changed = Signal()

    def __init__(self, model: AccountsModel) -> None:
        super().__init__()
        self.setObjectName("page_output")
        self.model = model
        self.valid = True  # the template makes a name (OK is disabled while it does not)
        values = model.output()
        outer = QVBoxLayout(self)
        outer.addWidget(page_title("Output"))
        outer.addWidget(self._where_group(values))
        outer.addWidget(self._names_group(values))
        outer.addWidget(self._format_group(values))
        outer.addWidget(self._metadata_group(values))
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

    def _where_group(self, values: dict[str, Any]) -> QGroupBox:
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
        return where

    def _names_group(self, values: dict[str, Any]) -> QGroupBox:
        names = QGroupBox("File names")
        form = QFormLayout(names)
        self.template = QLineEdit(str(values["template"]))
        self.template.setObjectName("output_template")
        form.addRow("Template", self.template)
        form.addRow(
            "",
            hint(
                "Fields: {stem} original name, {operation}, {provider}, {variant}, {date}, "
                "{counter}, {ext}. An existing file is never overwritten: _2, _3… is added."
            ),
        )
        self.example = QLabel()
        self.example.setObjectName("output_example")
        self.example.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        form.addRow("Example", self.example)
        return names

    def _format_group(self, values: dict[str, Any]) -> QGroupBox:
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
        return fmt_box

    def _metadata_group(self, values: dict[str, Any]) -> QGroupBox:
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
        return meta

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
