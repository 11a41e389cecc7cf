"""The mask painter's tool bar: tools, brush size and hardness, overlay, whole-mask commands.

It binds to :class:`~retouchdesk.model.mask.MaskTools` (shared with the canvas layer) and to
the current photo's :class:`~retouchdesk.model.mask.MaskDocument`. Every control names its
keyboard shortcut in its tool tip so photographers learn the keys while using the mouse.

Signals:
    editing_toggled(bool): the "Paint mask" switch; the window turns the layer's editing on.
    message(str): a plain sentence for the status bar (import errors, what was exported).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QSignalBlocker, Qt, Signal
from PySide6.QtGui import QAction, QActionGroup, QColor, QIcon, QKeySequence, QPainter, QPixmap
from PySide6.QtWidgets import (
    QColorDialog,
    QFileDialog,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QMenu,
    QSizePolicy,
    QSlider,
    QSpinBox,
    QToolBar,
    QToolButton,
    QWidget,
    QWidgetAction,
)

from retouchdesk.core.errors import RetouchError
from retouchdesk.model.mask import MAX_BRUSH, MIN_BRUSH, MaskDocument, MaskTool, MaskTools

_TOOLS = (
    (MaskTool.BRUSH, "Brush", "B", "Paint the area to select"),
    (MaskTool.ERASER, "Eraser", "E", "Remove from the selection"),
    (MaskTool.LASSO, "Lasso", "L", "Draw around an area freehand; it closes when you let go"),
    (
        MaskTool.POLYGON,
        "Polygon",
        "P",
        "Click corner points; double-click, Enter or click the first point to close",
    ),
    (MaskTool.RECTANGLE, "Rectangle", "R", "Drag a rectangle"),
)


def _swatch(color: QColor) -> QIcon:
    pm = QPixmap(16, 16)
    pm.fill(Qt.GlobalColor.transparent)
    p = QPainter(pm)
    p.setPen(QColor(0, 0, 0, 160))
    p.setBrush(color)
    p.drawRoundedRect(1, 1, 14, 14, 3, 3)
    p.end()
    return QIcon(pm)


class _LabeledSlider(QWidget):
    """A caption, a slider and a spin box kept in step (size in px, percentages)."""

    def __init__(self, caption: str, lo: int, hi: int, suffix: str, tip: str) -> None:
        super().__init__()
        lay = QHBoxLayout(self)
        lay.setContentsMargins(4, 0, 4, 0)
        lay.setSpacing(4)
        self.label = QLabel(caption)
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setRange(lo, hi)
        self.slider.setFixedWidth(64)
        self.spin = QSpinBox()
        self.spin.setRange(lo, hi)
        self.spin.setSuffix(suffix)
        self.spin.setKeyboardTracking(False)
        self.spin.setFixedWidth(66)
        for w in (self.label, self.slider, self.spin):
            w.setToolTip(tip)
            lay.addWidget(w)
        self.slider.valueChanged.connect(self.spin.setValue)
        self.spin.valueChanged.connect(self.slider.setValue)
        # Its natural width, no more: a wide window must not stretch it, nor a narrow one
        # push the tool bar's last items (Feather) out of sight.
        self.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)

    def set_value(self, value: int) -> None:
        with QSignalBlocker(self.slider), QSignalBlocker(self.spin):
            self.slider.setValue(value)
            self.spin.setValue(value)


class MaskToolBar(QToolBar):
    """Tools and commands of the mask painter; see the module docstring."""

    editing_toggled = Signal(bool)
    message = Signal(str)

    def __init__(
        self, tools: MaskTools, document: MaskDocument | None = None, parent: QWidget | None = None
    ) -> None:
        super().__init__("Mask", parent)
        self.setObjectName("mask_toolbar")
        self.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        self._tools = tools
        self._doc: MaskDocument | None = None

        self.edit_action = QAction("Paint mask", self)
        self.edit_action.setCheckable(True)
        keys = "\n".join(f"{what}: {key}" for what, key in standard_keys().items())
        self.edit_action.setToolTip(
            "Paint a mask on the photo to limit an operation to an area.\n\n" + keys
        )
        self.edit_action.toggled.connect(self._editing_toggled)
        self.addAction(self.edit_action)
        self.addSeparator()

        self._add_tools(tools)
        self._add_brush(tools)
        self._add_undo()
        self._add_mask_menu()
        self._add_overlay(tools)

        tools.tool_changed.connect(self._tool_changed)
        tools.size_changed.connect(self.size_box.set_value)
        tools.hardness_changed.connect(lambda h: self.hardness_box.set_value(round(h * 100)))
        tools.opacity_changed.connect(lambda o: self.opacity_box.set_value(round(o * 100)))
        tools.color_changed.connect(self._color_changed)
        tools.visible_changed.connect(self._visible_changed)
        self.set_document(document)

    def _add_tools(self, tools: MaskTools) -> None:
        """The brush, eraser and selection tools, one checkable action each."""
        self._tool_group = QActionGroup(self)
        self._tool_group.setExclusive(True)
        self.tool_actions: dict[str, QAction] = {}
        for tool, label, key, tip in _TOOLS:
            act = QAction(label, self)
            act.setCheckable(True)
            act.setToolTip(f"{label} ({key}): {tip}. Hold Alt or Ctrl to subtract.")
            act.setData(tool)
            act.triggered.connect(lambda _checked=False, t=tool: self._tools.set_tool(t))
            self._tool_group.addAction(act)
            self.addAction(act)
            self.tool_actions[tool] = act
        self.tool_actions[tools.tool].setChecked(True)

    def _add_brush(self, tools: MaskTools) -> None:
        """Brush size and hardness, each a slider with a spin box."""
        self.size_box = _LabeledSlider(
            "Size",
            MIN_BRUSH,
            MAX_BRUSH,
            " px",
            "Brush diameter in photo pixels ( [ and ] keys, or Shift + right-drag sideways)",
        )
        self.size_box.slider.setRange(MIN_BRUSH, 500)  # the spin box goes further
        self.size_box.set_value(tools.size)
        self.size_box.spin.valueChanged.connect(self._tools.set_size)
        self.addWidget(self.size_box)
        self.hardness_box = _LabeledSlider(
            "Hardness",
            0,
            100,
            " %",
            "Edge of the brush: 100 % is crisp, lower is softer "
            "( { and } keys, or Shift + right-drag up and down)",
        )
        self.hardness_box.set_value(round(tools.hardness * 100))
        self.hardness_box.spin.valueChanged.connect(lambda v: self._tools.set_hardness(v / 100))
        self.addWidget(self.hardness_box)
        self.addSeparator()

    def _add_undo(self) -> None:
        """Undo and redo of mask edits."""
        self.undo_action = self._command(
            "Undo", "Undo the last mask edit (Ctrl+Z)", self._on_document("undo")
        )
        self.redo_action = self._command(
            "Redo", "Redo the mask edit (Ctrl+Shift+Z)", self._on_document("redo")
        )
        self.addAction(self.undo_action)
        self.addAction(self.redo_action)
        self.addSeparator()

    def _add_mask_menu(self) -> None:
        """Whole-mask commands and files: one menu keeps the bar short enough for a laptop."""
        menu = QMenu("Mask", self)
        self.fill_action = self._command(
            "Select all", "Select the whole photo", self._on_document("fill_all")
        )
        self.clear_action = self._command(
            "Clear", "Remove the whole mask", self._on_document("clear")
        )
        self.invert_action = self._command(
            "Invert",
            "Select what is not selected, and the other way round",
            self._on_document("invert"),
        )
        self.import_action = self._command(
            "Import mask…", "Load a mask PNG of the same size (white = selected)", self._import
        )
        self.export_action = self._command(
            "Export mask…",
            "Save the mask as a PNG of the photo's size (white = selected)",
            self._export,
        )
        self.grow_action = self._command(
            "Grow…", "Enlarge the selection by some pixels on every side", self._grow
        )
        self.shrink_action = self._command(
            "Shrink…", "Make the selection smaller by some pixels on every side", self._shrink
        )
        for act in (
            self.fill_action,
            self.clear_action,
            self.invert_action,
            self.grow_action,
            self.shrink_action,
        ):
            menu.addAction(act)
        menu.addSeparator()
        menu.addAction(self.import_action)
        menu.addAction(self.export_action)
        menu.setToolTipsVisible(True)
        self.mask_menu_button = QToolButton()
        self.mask_menu_button.setText("Mask")
        self.mask_menu_button.setToolTip("Select all, clear, invert, import or export the mask")
        self.mask_menu_button.setMenu(menu)
        self.mask_menu_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.addWidget(self.mask_menu_button)

    def _add_overlay(self, tools: MaskTools) -> None:
        """Show/hide, and the overlay look (colour and opacity) in a small drop-down panel."""
        self.show_action = QAction("Show", self)
        self.show_action.setCheckable(True)
        self.show_action.setChecked(tools.visible)
        self.show_action.setToolTip("Show or hide the mask overlay (H)")
        self.show_action.toggled.connect(self._tools.set_visible)
        self.addAction(self.show_action)
        self.color_button = QToolButton()
        self.color_button.setToolTip("Colour of the mask overlay")
        self.color_button.setIcon(_swatch(tools.color))
        self.color_button.clicked.connect(self._pick_color)
        self.opacity_box = _LabeledSlider(
            "Opacity", 5, 100, " %", "How strongly the overlay covers the photo"
        )
        self.opacity_box.set_value(round(tools.opacity * 100))
        self.opacity_box.spin.valueChanged.connect(lambda v: self._tools.set_opacity(v / 100))
        panel = QWidget()
        pl = QHBoxLayout(panel)
        pl.setContentsMargins(6, 4, 6, 4)
        pl.addWidget(QLabel("Colour"))
        pl.addWidget(self.color_button)
        pl.addWidget(self.opacity_box)
        look = QWidgetAction(self)
        look.setDefaultWidget(panel)
        look_menu = QMenu(self)
        look_menu.addAction(look)
        self.overlay_button = QToolButton()
        self.overlay_button.setIcon(_swatch(tools.color))
        self.overlay_button.setToolTip("Overlay colour and opacity")
        self.overlay_button.setMenu(look_menu)
        self.overlay_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.addWidget(self.overlay_button)

    def _command(self, text: str, tip: str, slot) -> QAction:
        act = QAction(text, self)
        act.setToolTip(tip)
        act.setStatusTip(tip)
        act.triggered.connect(slot)
        return act

    def _color_changed(self, color: QColor) -> None:
        self.color_button.setIcon(_swatch(color))
        self.overlay_button.setIcon(_swatch(color))

    # -- document -------------------------------------------------------------------------
    @property
    def document(self) -> MaskDocument | None:
        return self._doc

    def set_document(self, document: MaskDocument | None) -> None:
        if self._doc is not None:
            self._doc.undo_state_changed.disconnect(self._undo_state)
        self._doc = document
        if document is not None:
            document.undo_state_changed.connect(self._undo_state)
        for act in (
            self.fill_action,
            self.clear_action,
            self.invert_action,
            self.grow_action,
            self.shrink_action,
            self.import_action,
            self.export_action,
        ):
            act.setEnabled(document is not None)
        self._undo_state()

    def _undo_state(self) -> None:
        doc = self._doc
        self.undo_action.setEnabled(bool(doc and doc.can_undo()))
        self.redo_action.setEnabled(bool(doc and doc.can_redo()))
        undo = doc.undo_label() if doc else ""
        redo = doc.redo_label() if doc else ""
        # Fixed labels keep the bar from jumping; the tool tip names the step.
        self.undo_action.setToolTip(f"Undo {undo.lower()} (Ctrl+Z)" if undo else "Nothing to undo")
        self.redo_action.setToolTip(
            f"Redo {redo.lower()} (Ctrl+Shift+Z)" if redo else "Nothing to redo"
        )

    # -- slots ----------------------------------------------------------------------------
    def _editing_toggled(self, on: bool) -> None:
        for act in self.tool_actions.values():
            act.setEnabled(True)
        self.editing_toggled.emit(on)

    def _tool_changed(self, tool: str) -> None:
        self.tool_actions[tool].setChecked(True)

    def _visible_changed(self, visible: bool) -> None:
        with QSignalBlocker(self.show_action):
            self.show_action.setChecked(visible)

    def _grow(self) -> None:
        self._ask_grow(+1)

    def _shrink(self) -> None:
        self._ask_grow(-1)

    def _on_document(self, method: str) -> Callable[[], None]:
        """A slot that calls ``method`` on the current mask document, if there is one."""

        def call() -> None:
            if self._doc is not None:
                getattr(self._doc, method)()

        return call

    def _ask_grow(self, sign: int) -> None:
        if self._doc is None:
            return
        word = "Grow" if sign > 0 else "Shrink"
        px, ok = QInputDialog.getInt(self, f"{word} mask", "Pixels:", 5, 1, 500)
        if ok:
            self._doc.grow(sign * px)

    def _pick_color(self) -> None:
        color = QColorDialog.getColor(self._tools.color, self, "Mask overlay colour")
        if color.isValid():
            self._tools.set_color(color)

    def _import(self) -> None:
        if self._doc is None:
            return
        name, _ = QFileDialog.getOpenFileName(
            self, "Import mask", "", "Mask images (*.png *.tif *.tiff *.jpg *.jpeg *.webp)"
        )
        if name:
            self.import_mask(Path(name))

    def import_mask(self, path: Path) -> bool:
        """Load ``path`` into the current mask; problems go to the status bar as a sentence."""
        if self._doc is None:
            return False
        try:
            self._doc.import_png(path)
        except RetouchError as exc:
            self.message.emit(str(exc))
            return False
        self.message.emit(f"Mask loaded from {path.name}")
        return True

    def _export(self) -> None:
        if self._doc is None:
            return
        name, _ = QFileDialog.getSaveFileName(self, "Export mask", "mask.png", "PNG (*.png)")
        if name:
            path = self._doc.export_png(Path(name))
            self.message.emit(f"Mask saved to {path}")


def standard_keys() -> dict[str, str]:
    """The keys of the painter, for the window's shortcut overview (Help > Keyboard)."""
    return {
        "Brush / eraser / lasso / polygon / rectangle": "B / E / L / P / R",
        "Swap brush and eraser": "X",
        "Brush smaller / larger": "[ / ]",
        "Brush softer / harder": "{ / }",
        "Show or hide the mask": "H",
        "Undo / redo mask edit": (
            f"{QKeySequence(QKeySequence.StandardKey.Undo).toString()} / Ctrl+Shift+Z"
        ),
        "Subtract with any tool": "hold Alt or Ctrl",
        "Pan while painting": "space + drag, or the middle button",
    }
