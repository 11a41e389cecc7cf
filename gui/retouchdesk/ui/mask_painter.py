"""The mask painter in the main window: tool bar, layer on the canvas, masked jobs.

:func:`install` is called once by the main window. It adds

* the :class:`~retouchdesk.ui.mask_toolbar.MaskToolBar` (with "Protect outside the mask" and
  its feather, for cloud results) above the canvas,
* a :class:`~retouchdesk.ui.mask_layer.MaskLayer` on the canvas (``canvas.add_overlay``),
  following the photo shown: scene coordinates are image pixels,
* the link to the job queue: ``SessionModel.job_hook`` freezes the mask for every queued
  photo and records the job options (see :mod:`retouchdesk.model.masking`),
* Edit > Undo / Redo acting on the mask while it is being painted (the window asks
  :attr:`MaskPainter.undo_document`).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QEvent, QObject, QSignalBlocker, Qt
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QLabel, QSpinBox

from retouchdesk.model.mask import MaskDocument
from retouchdesk.model.masking import MaskingModel
from retouchdesk.ui.mask_layer import MaskLayer
from retouchdesk.ui.mask_toolbar import MaskToolBar

if TYPE_CHECKING:
    from retouchdesk.ui.main_window import MainWindow


class _SaveOnClose(QObject):
    """Writes the mask when the window closes (the debounced save may not have run yet)."""

    def __init__(self, masking: MaskingModel, parent: QObject) -> None:
        super().__init__(parent)
        self._masking = masking

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Close:
            self._masking.save_now()  # and waits for the saves still queued
        return False


class MaskPainter:
    """Owns the painter's pieces inside one main window."""

    def __init__(self, window: MainWindow) -> None:
        self.window = window
        model = window.model
        self.masking = model.masking_model(parent=window)
        # The mask being painted, which Edit › Undo / Redo act on (None while not painting).
        self.undo_document: MaskDocument | None = None
        self.tools = self.masking.tools
        self.toolbar = MaskToolBar(self.tools, None, window)
        self.toolbar.message.connect(window.show_message)
        self.toolbar.editing_toggled.connect(self.set_editing)
        self.protect_action = QAction("Protect outside", self.toolbar)
        self.protect_action.setCheckable(True)
        self.protect_action.setToolTip(
            "Keep every pixel outside the mask exactly as in the original: the service's "
            "result is blended back only inside the (feathered) mask"
        )
        self.protect_action.toggled.connect(self._protect_toggled)
        self.toolbar.addSeparator()
        self.toolbar.addAction(self.protect_action)
        self.feather = QSpinBox()
        self.feather.setRange(0, 200)
        self.feather.setSuffix(" px")
        self.feather.setFixedWidth(66)
        self.feather.setValue(round(self.masking.protect_feather))
        self.feather.setToolTip("Soft edge of the protected area, inside the mask")
        self.feather.valueChanged.connect(
            lambda v: self.masking.set_protect_outside(self.masking.protect_outside, feather=v)
        )
        self.feather_label = QLabel("Feather")
        self.toolbar.addWidget(self.feather_label)
        self.toolbar.addWidget(self.feather)
        menu = self.toolbar.mask_menu_button.menu()
        menu.addSeparator()
        self.reuse_action = menu.addAction("Use the previous photo's mask")
        self.reuse_action.setStatusTip(
            "Copy the mask of the photo shown before (same framing; resized if needed)"
        )
        self.reuse_action.triggered.connect(self._reuse)
        menu.aboutToShow.connect(self._update_reuse)
        window.addToolBar(Qt.ToolBarArea.TopToolBarArea, self.toolbar)
        self.layer: MaskLayer | None = None
        self.masking.document_changed.connect(self._document_changed)
        self.masking.protect_changed.connect(self._protect_changed)
        model.document.image_changed.connect(self._image_changed)
        self._close_filter = _SaveOnClose(self.masking, window)
        window.installEventFilter(self._close_filter)
        model.operation.operation_changed.connect(self._hint_for_operation)
        self._protect_changed()
        self._document_changed()

    # -- photo ------------------------------------------------------------------------------
    def _image_changed(self) -> None:
        img = self.window.model.document.image
        if img is None:
            self.masking.set_photo(None, None)
            return
        # A working version (a result continued from) is painted as its photo's mask.
        photo = self.window.model.photo_of_shown(img.path)
        self.masking.set_photo(photo, (img.width, img.height), source=self._source_of(img.path))

    def _source_of(self, photo: Path) -> Path | None:
        """The photo a result was made from (an upscale opened later reuses its mask)."""
        return self.window.model.source_of_result(photo)

    def _document_changed(self) -> None:
        doc = self.masking.document
        self.toolbar.set_document(doc)
        if doc is None:
            if self.layer is not None:
                self.layer.setVisible(False)
            self.toolbar.edit_action.setEnabled(False)
            if not self.masking.loading:  # a photo's mask on its way keeps the painting mode
                self.toolbar.edit_action.setChecked(False)
            self.undo_document = None
            return
        self.toolbar.edit_action.setEnabled(True)
        if self.masking.restored and self.masking.photo is not None:
            self.window.show_message(
                f"{self.masking.photo.name}: the mask painted earlier is back "
                "(Mask › Clear removes it)"
            )
        if self.layer is None:
            self.layer = MaskLayer(doc, self.tools)
            self.window.canvas.add_overlay(self.layer)
        else:
            self.layer.set_document(doc)
        self.layer.setVisible(True)
        if self.toolbar.edit_action.isChecked():
            self.layer.set_editing(True)
            self.undo_document = doc

    def _update_reuse(self) -> None:
        prev = self.masking.previous_photo()
        self.reuse_action.setEnabled(prev is not None)
        self.reuse_action.setText(
            f"Use the mask of {prev.name}" if prev else "Use the previous photo's mask"
        )

    def _reuse(self) -> None:
        if self.masking.reuse_previous():
            self.window.show_message("Mask copied from the previous photo (Ctrl+Z to undo)")

    def _hint_for_operation(self, *_args: object) -> None:
        """Point at the painter when the chosen operation works on a mask and none is painted."""
        doc = self.masking.document
        if not self.masking.mask_params() or doc is None or not doc.is_empty():
            return
        if self.toolbar.edit_action.isChecked():
            return
        label = self.window.model.operation.operation.label
        self.window.show_message(
            f"{label} uses a mask: click Paint mask in the tool bar and paint over the area"
        )

    # -- modes ------------------------------------------------------------------------------
    def set_editing(self, on: bool) -> None:
        if on and self.masking.document is None:
            with QSignalBlocker(self.toolbar.edit_action):
                self.toolbar.edit_action.setChecked(False)
            return
        if self.layer is not None:
            self.layer.set_editing(on)
        self.undo_document = self.masking.document if on else None
        if on:
            self.window.canvas.setFocus()
            self.window.show_message(
                "Painting the mask: B brush, E eraser, L lasso, P polygon, R rectangle, "
                "[ ] size, H hide; hold space to pan"
            )

    def _protect_toggled(self, on: bool) -> None:
        self.masking.set_protect_outside(on, feather=self.feather.value())

    def _protect_changed(self) -> None:
        on = self.masking.protect_outside
        with QSignalBlocker(self.protect_action):
            self.protect_action.setChecked(on)
        self.feather.setEnabled(on)
        self.feather_label.setEnabled(on)


def install(window: MainWindow) -> MaskPainter:
    """Add the mask painter to ``window``."""
    return MaskPainter(window)
