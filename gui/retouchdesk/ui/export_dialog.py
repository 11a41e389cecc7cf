"""File › Export… and File › Export Pinned…: the export dialog.

One form for every export choice (format, quality, bit depth, long side, output sharpening,
colour space, metadata, name template, folder); choices that cannot go together (16-bit JPEG)
grey out as they are picked, and the choices are remembered for next time. The shown version
(the compared result, else the working version of the current photo) or every pinned version
is exported by :class:`model.exporting.ExportModel`.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QSettings
from PySide6.QtGui import QStandardItemModel
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QWidget,
)

from retouchdesk.model.exporting import ExportModel, ExportOptions

if TYPE_CHECKING:
    from retouchdesk.ui.main_window import MainWindow

_FORMATS = [("JPEG", "jpeg"), ("PNG", "png"), ("TIFF", "tiff"), ("WebP", "webp")]
_COLOURS = [("Keep the photo's", "keep"), ("sRGB (web, most screens)", "srgb"),
            ("Display P3 (wide gamut)", "p3")]  # fmt: skip
_METADATA = [("All", "all"), ("All but GPS location", "nogps"), ("None", "none")]


class ExportDialog(QDialog):
    """The form (see module docstring); :meth:`options` reads it."""

    def __init__(
        self, files: list[Path], folder: Path, settings: QSettings, parent: QWidget | None
    ):
        super().__init__(parent)
        self.setObjectName("exportDialog")
        n = len(files)
        self.setWindowTitle("Export" if n == 1 else f"Export {n} pinned versions")
        self.files = files
        self.qsettings = settings
        self.setMinimumWidth(480)  # room for the folder's path
        self.format = _combo(_FORMATS)
        self.quality = QSpinBox()
        self.quality.setRange(1, 100)
        self.bits = _combo([("8 bits per channel", 8), ("16 bits per channel", 16)])
        self.long_side = QSpinBox()
        self.long_side.setRange(0, 30000)
        self.long_side.setSpecialValueText("Keep the size")
        self.long_side.setSuffix(" px")
        self.sharpen = QDoubleSpinBox()
        self.sharpen.setRange(0.0, 2.0)
        self.sharpen.setSingleStep(0.1)
        self.sharpen.setSpecialValueText("None")
        self.colour = _combo(_COLOURS)
        self.metadata = _combo(_METADATA)
        self.template = QLineEdit()
        self.template.setToolTip("Fields: {stem} {n} {date} {size} {format}")
        self.folder = QLineEdit(str(folder))
        browse = QPushButton("Choose…")
        browse.clicked.connect(self._browse)
        folder_row = QHBoxLayout()
        folder_row.addWidget(self.folder, 1)
        folder_row.addWidget(browse)
        self.problem = QLabel()
        self.problem.setObjectName("exportProblem")
        self.problem.setWordWrap(True)
        self.problem.setProperty("hint", True)
        form = QFormLayout(self)
        form.addRow("Format", self.format)
        form.addRow("Quality", self.quality)
        form.addRow("Bit depth", self.bits)
        form.addRow("Long side", self.long_side)
        form.addRow("Output sharpening", self.sharpen)
        form.addRow("Colour space", self.colour)
        form.addRow("Metadata", self.metadata)
        form.addRow("File name", self.template)
        form.addRow("Folder", folder_row)
        form.addRow(self.problem)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Export")
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        form.addRow(self.buttons)
        self._load()
        for w in (self.format, self.bits, self.colour, self.metadata):
            w.currentIndexChanged.connect(self._update)
        self.template.textChanged.connect(self._update)
        self._update()

    def options(self) -> ExportOptions:
        return ExportOptions(
            format=self.format.currentData(),
            quality=self.quality.value(),
            bit_depth=int(self.bits.currentData()),
            long_side=self.long_side.value(),
            sharpen=round(self.sharpen.value(), 2),
            colour=self.colour.currentData(),
            metadata=self.metadata.currentData(),
            template=self.template.text() or "{stem}.{ext}",
        )

    def target(self) -> Path:
        return Path(self.folder.text()).expanduser()

    def _update(self) -> None:
        fmt = self.format.currentData()
        lossy = fmt in ("jpeg", "webp")
        self.quality.setEnabled(lossy)
        # 16 bits only where the container holds them: the choice is greyed out, not refused.
        model = self.bits.model()
        if isinstance(model, QStandardItemModel) and model.item(1) is not None:
            model.item(1).setEnabled(not lossy)
        if lossy and self.bits.currentData() == 16:
            self.bits.setCurrentIndex(0)
        problems = self.options().problems()
        self.problem.setText(problems[0] if problems else "")
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setEnabled(not problems)

    def _browse(self) -> None:
        chosen = QFileDialog.getExistingDirectory(self, "Export into", self.folder.text())
        if chosen:
            self.folder.setText(chosen)

    def _load(self) -> None:
        q = self.qsettings
        default = ExportOptions()
        _select(self.format, q.value("export/format", default.format))
        # QSettings gives back text from an INI file and numbers from other back ends.
        self.quality.setValue(int(str(q.value("export/quality", default.quality))))
        _select(self.bits, int(str(q.value("export/bit_depth", default.bit_depth))))
        self.long_side.setValue(int(str(q.value("export/long_side", default.long_side))))
        self.sharpen.setValue(float(str(q.value("export/sharpen", default.sharpen))))
        _select(self.colour, q.value("export/colour", default.colour))
        _select(self.metadata, q.value("export/metadata", default.metadata))
        self.template.setText(str(q.value("export/template", default.template)))

    def save(self) -> None:
        o, q = self.options(), self.qsettings
        for key in ("format", "quality", "bit_depth", "long_side", "sharpen", "colour"):
            q.setValue(f"export/{key}", getattr(o, key))
        q.setValue("export/metadata", o.metadata)
        q.setValue("export/template", o.template)
        q.setValue("export/folder", str(self.target()))


def _combo(items: list[tuple[str, Any]]) -> QComboBox:
    box = QComboBox()
    for label, value in items:
        box.addItem(label, value)
    return box


def _select(box: QComboBox, value: Any) -> None:
    i = box.findData(value)
    if i >= 0:
        box.setCurrentIndex(i)


class Exporter:
    """File › Export… and Export Pinned… inside one main window."""

    def __init__(self, window: MainWindow) -> None:
        self.window = window
        self.model = ExportModel(window.model.runner, parent=window)
        self.model.message.connect(window.show_message)
        self.dialog: ExportDialog | None = None
        self.export_action = window.add_action("&Export…", self.export_shown, "Ctrl+E")
        self.pinned_action = window.add_action("Export &Pinned…", self.export_pinned)
        file_menu = window.menus["File"]
        file_menu.insertAction(window.save_action, self.export_action)
        file_menu.insertAction(window.save_action, self.pinned_action)
        window.photo_actions.append(self.export_action)

    def shown_version(self) -> Path | None:
        """The compared result, else the working version of the current photo."""
        w = self.window
        v = w.model.compare.right_version
        if w.stack.currentWidget() is w.compare and v is not None:
            return v.path
        photo = w.model.photos.current_path
        return w.model.shown_file(photo) if photo is not None else None

    def export_shown(self) -> None:
        path = self.shown_version()
        if path is None:
            self.window.show_message("Open a photo to export it")
            return
        self.open_dialog([path])

    def export_pinned(self) -> None:
        files = self.window.model.history.pinned_files()
        if not files:
            self.window.show_message("No version is pinned: pin versions in the History panel")
            return
        self.open_dialog(files)

    def open_dialog(self, files: list[Path]) -> ExportDialog:
        q = self.window.qsettings
        folder = Path(str(q.value("export/folder", str(files[0].parent / "export"))))
        dialog = ExportDialog(files, folder, q, self.window)
        self.dialog = dialog

        def done(result: int) -> None:
            self.dialog = None
            if result != QDialog.DialogCode.Accepted:
                return
            dialog.save()
            self.window.model.runner.spawn(
                self.model.export(files, dialog.target(), dialog.options()), name="export"
            )

        dialog.finished.connect(done)
        dialog.open()
        return dialog


def install(window: MainWindow) -> Exporter:
    return Exporter(window)
