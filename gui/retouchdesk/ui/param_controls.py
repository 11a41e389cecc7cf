"""One factory that turns a schema parameter into its control (:func:`make_control`).

Every control has the same small interface (``value``, ``set_value``, ``set_effective``,
``set_applicable`` and the ``edited`` signal) so that the parameter panel treats a toggle, a
slider, a segmented choice, a text field, a file picker and a style picker alike. The factory
is the only place that decides which widget a parameter gets.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QEvent, QObject, QSize, Qt, Signal
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import (
    QAbstractButton,
    QAbstractSpinBox,
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QPushButton,
    QSizePolicy,
    QSlider,
    QSpinBox,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from retouchdesk.core.schema import Effective, Param, ParamKind

SLIDER_STEPS = 1000  # resolution of a slider when a float has no step


class WheelGuard(QObject):
    """Lets the wheel scroll the panel instead of changing the value under the pointer.

    A slider, spin box or combo box inside a scrolling panel takes the wheel only once the
    user has given it focus (a click or Tab): otherwise scrolling the panel would change
    every value that passes under the pointer (Skin realism 1.7 -> 5.0 unnoticed before a
    paid job). The ignored event goes on to the scroll area, which scrolls.
    """

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Wheel and isinstance(obj, QWidget) and not obj.hasFocus():
            event.ignore()
            return True
        return False


_WHEEL_GUARD: WheelGuard | None = None
WHEEL_TAKERS = (QSlider, QAbstractSpinBox, QComboBox)


def guard_wheel(root: QWidget) -> None:
    """Install :class:`WheelGuard` on every wheel-taking widget inside ``root``."""
    global _WHEEL_GUARD
    if _WHEEL_GUARD is None:
        _WHEEL_GUARD = WheelGuard()
    widgets = [root] if isinstance(root, WHEEL_TAKERS) else []
    for kind in WHEEL_TAKERS:
        widgets.extend(root.findChildren(kind))
    for w in widgets:
        # Focus by click or Tab, never by the wheel (WheelFocus would defeat the guard).
        w.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        w.installEventFilter(_WHEEL_GUARD)


class ParamControl(QWidget):
    """Base of every parameter control.

    Signals:
        edited(object): the user changed the value (not emitted by ``set_value``).
    """

    edited = Signal(object)

    def __init__(self, param: Param, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.param = param
        self.setObjectName(f"param_{param.name}")
        self._setting = False
        if param.help:
            self.setToolTip(param.help)

    def focus_widgets(self) -> list[QWidget]:
        """The widgets Tab visits in this control, left to right as they are drawn."""
        return []

    def value(self) -> Any:
        raise NotImplementedError

    def set_value(self, value: Any) -> None:
        self._setting = True
        try:
            self._show(value)
        finally:
            self._setting = False

    def _show(self, value: Any) -> None:
        raise NotImplementedError

    def set_effective(self, eff: Effective) -> None:
        """Apply the current range and choices (conditional overrides)."""

    def set_applicable(self, applies: bool) -> None:
        self.setEnabled(applies)

    def _emit(self, *_args: Any) -> None:
        if not self._setting:
            self.edited.emit(self.value())

    @property
    def inline_label(self) -> bool:
        """True when the control shows its own label (a checkbox)."""
        return False


class ToggleControl(ParamControl):
    def __init__(self, param: Param, parent: QWidget | None = None) -> None:
        super().__init__(param, parent)
        self.box = QCheckBox(param.label, self)
        self.box.setToolTip(param.help)
        lay = QHBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.box)
        self.box.toggled.connect(self._emit)

    def focus_widgets(self) -> list[QWidget]:
        return [self.box]

    def value(self) -> bool:
        return self.box.isChecked()

    def _show(self, value: Any) -> None:
        self.box.setChecked(bool(value))

    @property
    def inline_label(self) -> bool:
        return True


class NumberControl(ParamControl):
    """A slider paired with a spin box; the meaning of both ends is written under it."""

    def __init__(self, param: Param, parent: QWidget | None = None) -> None:
        super().__init__(param, parent)
        self.is_int = param.kind is ParamKind.INT
        self.spin: QSpinBox | QDoubleSpinBox
        if self.is_int:
            self.spin = QSpinBox(self)
            self.spin.setRange(-(2**31) + 1, 2**31 - 1)
        else:
            self.spin = QDoubleSpinBox(self)
            self.spin.setRange(-1e12, 1e12)
            self.spin.setDecimals(_decimals(param.step))
        if isinstance(self.spin, QSpinBox):
            self.spin.setSingleStep(max(1, round(param.step or 1)))
        else:
            self.spin.setSingleStep(param.step or 0.1)
        if param.unit:
            self.spin.setSuffix(f" {param.unit}")
        self.spin.setKeyboardTracking(False)
        self.spin.setMinimumWidth(78)
        self.slider = QSlider(Qt.Orientation.Horizontal, self)
        self.slider.setToolTip(param.help)
        self._min: float | None = None
        self._max: float | None = None
        top = QHBoxLayout()
        top.setContentsMargins(0, 0, 0, 0)
        top.addWidget(self.slider, 1)
        top.addWidget(self.spin)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(0)
        lay.addLayout(top)
        self.ends: tuple[QLabel, QLabel] | None = None
        if param.ends:
            row = QHBoxLayout()
            row.setContentsMargins(2, 0, 0, 0)
            lo, hi = QLabel(f"← {param.ends[0]}"), QLabel(f"{param.ends[1]} →")
            for lab in (lo, hi):
                lab.setObjectName("ends")
                lab.setProperty("hint", True)
            row.addWidget(lo)
            row.addStretch(1)
            row.addWidget(hi)
            row.addSpacing(86)
            lay.addLayout(row)
            self.ends = (lo, hi)
        self.set_effective(Effective(param.default, param.min, param.max, param.values))
        self.spin.valueChanged.connect(self._spin_changed)
        self.slider.valueChanged.connect(self._slider_changed)

    def focus_widgets(self) -> list[QWidget]:
        return [self.slider, self.spin]

    def _steps(self) -> tuple[float, int]:
        assert self._min is not None and self._max is not None
        span = self._max - self._min
        step = self.param.step or (1 if self.is_int else span / SLIDER_STEPS)
        return step, max(1, round(span / step)) if step else SLIDER_STEPS

    def set_effective(self, eff: Effective) -> None:
        self._min, self._max = eff.min, eff.max
        lo = eff.min if eff.min is not None else (-(2**31) + 1 if self.is_int else -1e12)
        hi = eff.max if eff.max is not None else (2**31 - 1 if self.is_int else 1e12)
        cur = self.spin.value()
        self._setting = True
        try:
            if isinstance(self.spin, QSpinBox):
                self.spin.setRange(int(lo), int(hi))
            else:
                self.spin.setRange(lo, hi)
            bounded = eff.min is not None and eff.max is not None
            self.slider.setVisible(bounded)
            if bounded:
                _, n = self._steps()
                self.slider.setRange(0, n)
                self.slider.setPageStep(max(1, n // 10))
                self._sync_slider(cur)
        finally:
            self._setting = False

    def value(self) -> float | int:
        return int(self.spin.value()) if self.is_int else round(self.spin.value(), 10)

    def _show(self, value: Any) -> None:
        if value is None:
            return
        self.spin.setValue(value)
        self._sync_slider(value)

    def _sync_slider(self, value: float) -> None:
        if self._min is None or self._max is None:
            return
        step, _ = self._steps()
        blocked = self.slider.blockSignals(True)
        self.slider.setValue(round((value - self._min) / step) if step else 0)
        self.slider.blockSignals(blocked)

    def _spin_changed(self, value: float) -> None:
        self._sync_slider(value)
        self._emit()

    def _slider_changed(self, pos: int) -> None:
        if self._min is None:
            return
        step, _ = self._steps()
        v = self._min + pos * step
        v = min(v, self._max) if self._max is not None else v
        blocked = self.spin.blockSignals(True)
        if isinstance(self.spin, QSpinBox):
            self.spin.setValue(round(v))
        else:
            self.spin.setValue(v)
        self.spin.blockSignals(blocked)
        self._emit()


class SegmentedControl(ParamControl):
    """Mutually exclusive buttons side by side (few, short choices)."""

    def __init__(self, param: Param, parent: QWidget | None = None) -> None:
        super().__init__(param, parent)
        self.group = QButtonGroup(self)
        self.group.setExclusive(True)
        self._lay = QHBoxLayout(self)
        self._lay.setContentsMargins(0, 0, 0, 0)
        self._lay.setSpacing(0)
        self._buttons: list[tuple[Any, QAbstractButton]] = []
        self.set_effective(Effective(param.default, None, None, param.values))
        self.group.buttonClicked.connect(self._emit)

    def set_effective(self, eff: Effective) -> None:
        if [v for v, _ in self._buttons] == [c.value for c in eff.values]:
            return
        cur = self.value() if self._buttons else None
        for _, b in self._buttons:
            self.group.removeButton(b)
            b.deleteLater()
        self._buttons = []
        n = len(eff.values)
        for i, c in enumerate(eff.values):
            b = QToolButton(self)
            b.setText(c.label)
            b.setCheckable(True)
            b.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
            b.setToolTip(c.help or self.param.help)
            b.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
            pos = "only" if n == 1 else "first" if i == 0 else "last" if i == n - 1 else "middle"
            b.setProperty("segment", pos)
            self.group.addButton(b, i)
            self._lay.addWidget(b)
            self._buttons.append((c.value, b))
        if cur is not None:
            self.set_value(cur)

    def focus_widgets(self) -> list[QWidget]:
        return [b for _, b in self._buttons]

    def value(self) -> Any:
        b = self.group.checkedButton()
        for v, btn in self._buttons:
            if btn is b:
                return v
        return None

    def _show(self, value: Any) -> None:
        for v, b in self._buttons:
            b.setChecked(v == value)

    def buttons(self) -> list[QAbstractButton]:
        return [b for _, b in self._buttons]


class ChoiceControl(ParamControl):
    """A combo box for longer lists of choices."""

    def __init__(self, param: Param, parent: QWidget | None = None) -> None:
        super().__init__(param, parent)
        self.combo = QComboBox(self)
        self.combo.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
        )
        self.combo.setMinimumContentsLength(10)
        lay = QHBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.combo)
        self.set_effective(Effective(param.default, None, None, param.values))
        self.combo.currentIndexChanged.connect(self._emit)

    def set_effective(self, eff: Effective) -> None:
        values = [c.value for c in eff.values]
        if [self.combo.itemData(i) for i in range(self.combo.count())] == values:
            return
        cur = self.value()
        self._setting = True
        try:
            self.combo.clear()
            for c in eff.values:
                self.combo.addItem(c.label, c.value)
                if c.help:
                    self.combo.setItemData(
                        self.combo.count() - 1, c.help, Qt.ItemDataRole.ToolTipRole
                    )
            if cur is not None:
                self._show(cur)
        finally:
            self._setting = False

    def focus_widgets(self) -> list[QWidget]:
        return [self.combo]

    def value(self) -> Any:
        return self.combo.currentData()

    def _show(self, value: Any) -> None:
        for i in range(self.combo.count()):
            if self.combo.itemData(i) == value:
                self.combo.setCurrentIndex(i)
                return


class TextControl(ParamControl):
    def __init__(self, param: Param, parent: QWidget | None = None) -> None:
        super().__init__(param, parent)
        lay = QHBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        self.multiline = param.widget == "multiline"
        self.edit: QLineEdit | QPlainTextEdit
        if self.multiline:
            self.edit = QPlainTextEdit(self)
            self.edit.setFixedHeight(64)
            self.edit.textChanged.connect(self._limit_and_emit)
        else:
            self.edit = QLineEdit(self)
            if param.max_length:
                self.edit.setMaxLength(param.max_length)
            self.edit.editingFinished.connect(self._emit)
        self.edit.setPlaceholderText(param.help[:80] if param.help else "")
        lay.addWidget(self.edit)

    def _limit_and_emit(self) -> None:
        assert isinstance(self.edit, QPlainTextEdit)
        text = self.edit.toPlainText()
        if self.param.max_length and len(text) > self.param.max_length:
            self.edit.setPlainText(text[: self.param.max_length])
            return
        self._emit()

    def focus_widgets(self) -> list[QWidget]:
        return [self.edit]

    def value(self) -> str:
        if isinstance(self.edit, QPlainTextEdit):
            return self.edit.toPlainText()
        return self.edit.text()

    def _show(self, value: Any) -> None:
        text = "" if value is None else str(value)
        if isinstance(self.edit, QPlainTextEdit):
            if self.edit.toPlainText() != text:
                self.edit.setPlainText(text)
        else:
            self.edit.setText(text)


class FileControl(ParamControl):
    """Picks a reference image or a mask file; shows a small preview of the choice."""

    def __init__(self, param: Param, parent: QWidget | None = None) -> None:
        super().__init__(param, parent)
        self._path: str | None = None
        self.preview = QLabel(self)
        self.preview.setFixedSize(40, 40)
        self.preview.setObjectName("filePreview")
        self.preview.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.name = QLabel("None", self)
        self.name.setProperty("hint", True)
        self.name.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.choose = QPushButton("Choose…", self)
        self.clear = QToolButton(self)
        self.clear.setText("✕")
        self.clear.setToolTip("Remove")
        lay = QHBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.preview)
        lay.addWidget(self.name, 1)
        lay.addWidget(self.choose)
        lay.addWidget(self.clear)
        self.choose.clicked.connect(self._pick)
        self.clear.clicked.connect(lambda: self._set_and_emit(None))
        self._show(None)

    def _pick(self) -> None:
        what = "mask (white = selected)" if self.param.kind is ParamKind.MASK else "image"
        path, _ = QFileDialog.getOpenFileName(
            self,
            f"Choose a {what} for {self.param.label}",
            "",
            "Images (*.png *.jpg *.jpeg *.webp *.tif *.tiff)",
        )
        if path:
            self._set_and_emit(path)

    def _set_and_emit(self, path: str | None) -> None:
        self._show(path)
        self._emit()

    def focus_widgets(self) -> list[QWidget]:
        return [self.choose, self.clear]

    def value(self) -> str | None:
        return self._path

    def _show(self, value: Any) -> None:
        self._path = str(value) if value else None
        self.clear.setEnabled(bool(self._path))
        if not self._path:
            self.name.setText("None")
            self.preview.setPixmap(QPixmap())
            self.preview.setText("—")
            return
        self.name.setText(Path(self._path).name)
        self.name.setToolTip(self._path)
        pm = QPixmap(self._path)
        if pm.isNull():
            self.preview.setText("?")
        else:
            self.preview.setPixmap(
                pm.scaled(
                    40,
                    40,
                    Qt.AspectRatioMode.KeepAspectRatio,
                    Qt.TransformationMode.SmoothTransformation,
                )
            )


class StyleControl(ParamControl):
    """A grid of style thumbnails, filled lazily from the provider's style listing.

    Without a listing (provider not configured or offline) the style id can still be typed.
    Each listed style is ``{"id", "label", "thumbnail": QPixmap | None}``.
    """

    def __init__(
        self,
        param: Param,
        loader: Callable[[Param, Callable[[list[dict[str, Any]]], None]], None] | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(param, parent)
        self._loader = loader
        self._loaded = False
        self.edit = QLineEdit(self)
        self.edit.setPlaceholderText("style id" + ("s, comma separated" if param.multiple else ""))
        self.browse = QPushButton("Show styles", self)
        self.grid = QListWidget(self)
        self.grid.setViewMode(QListWidget.ViewMode.IconMode)
        self.grid.setIconSize(QSize(64, 64))
        self.grid.setResizeMode(QListWidget.ResizeMode.Adjust)
        self.grid.setMovement(QListWidget.Movement.Static)
        self.grid.setFixedHeight(180)
        self.grid.setSelectionMode(
            QListWidget.SelectionMode.MultiSelection
            if param.multiple
            else QListWidget.SelectionMode.SingleSelection
        )
        self.grid.hide()
        self.status = QLabel("", self)
        self.status.setProperty("hint", True)
        self.status.hide()
        self._more: Callable[..., None] | None = None
        self.more_button = QPushButton("More styles", self)
        self.more_button.hide()
        self.more_button.clicked.connect(self._load_more)
        top = QHBoxLayout()
        top.setContentsMargins(0, 0, 0, 0)
        top.addWidget(self.edit, 1)
        top.addWidget(self.browse)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addLayout(top)
        lay.addWidget(self.status)
        lay.addWidget(self.grid)
        lay.addWidget(self.more_button)
        self.browse.setEnabled(loader is not None)
        if loader is None:
            self.browse.setToolTip("This provider does not list its styles here; type an id.")
        self.browse.clicked.connect(self._toggle_grid)
        self.edit.editingFinished.connect(self._emit)
        self.grid.itemSelectionChanged.connect(self._grid_changed)

    def _toggle_grid(self) -> None:
        if self.grid.isVisible():
            self.grid.hide()
            self.more_button.hide()
            self.browse.setText("Show styles")
            return
        self.grid.show()
        self.more_button.setVisible(self._more is not None)
        self.browse.setText("Hide styles")
        if not self._loaded and self._loader is not None:
            self._loaded = True
            self.status.setText("Loading styles…")
            self.status.show()
            self._loader(self.param, self.set_styles)

    def set_styles(
        self,
        styles: list[dict[str, Any]],
        error: str = "",
        more: Callable[..., None] | None = None,
    ) -> None:
        """Fill the grid (called when the listing arrives, on the GUI thread)."""
        self.grid.clear()
        self._add_styles(styles, error, more)

    def _add_styles(
        self,
        styles: list[dict[str, Any]],
        error: str = "",
        more: Callable[..., None] | None = None,
    ) -> None:
        self._more = more
        self.more_button.setVisible(more is not None)
        self.more_button.setEnabled(True)
        if error:
            self.status.setText(error)
            self.status.show()
            self._loaded = False
            return
        self.status.hide()
        current = set(self._ids())
        for s in styles:
            item = QListWidgetItem(str(s.get("label") or s["id"]))
            item.setData(Qt.ItemDataRole.UserRole, str(s["id"]))
            item.setToolTip(f"{s.get('label', '')}\n{s['id']}")
            thumb = s.get("thumbnail")
            if isinstance(thumb, QPixmap) and not thumb.isNull():
                item.setIcon(thumb)
            self.grid.addItem(item)
            item.setSelected(str(s["id"]) in current)

    def _load_more(self) -> None:
        if self._more is not None:
            self.more_button.setEnabled(False)
            self._more(self._add_styles)  # the next page is appended to the grid

    def _grid_changed(self) -> None:
        if self._setting:
            return
        ids = [i.data(Qt.ItemDataRole.UserRole) for i in self.grid.selectedItems()]
        self.edit.setText(",".join(ids))
        self._emit()

    def _ids(self) -> list[str]:
        return [s.strip() for s in self.edit.text().split(",") if s.strip()]

    def focus_widgets(self) -> list[QWidget]:
        return [self.edit, self.browse, self.grid, self.more_button]

    def value(self) -> Any:
        ids = self._ids()
        if self.param.multiple:
            return ids or None
        return ids[0] if ids else None

    def _show(self, value: Any) -> None:
        if value is None:
            text = ""
        elif isinstance(value, list | tuple):
            text = ",".join(map(str, value))
        else:
            text = str(value)
        self.edit.setText(text)
        # The grid shows the same choice: Reset all (or a preset) must not leave a stale
        # thumbnail highlighted.
        ids = set(self._ids())
        blocked = self.grid.blockSignals(True)
        for i in range(self.grid.count()):
            item = self.grid.item(i)
            item.setSelected(item.data(Qt.ItemDataRole.UserRole) in ids)
        self.grid.blockSignals(blocked)
        self.grid.viewport().update()


def _decimals(step: float | None) -> int:
    if not step:
        return 3
    return max(0, min(6, -math.floor(math.log10(step) + 1e-9)))


def make_control(
    param: Param,
    parent: QWidget | None = None,
    *,
    style_loader: Callable[..., None] | None = None,
) -> ParamControl:
    """The control for ``param``: the one place that maps schema kinds to widgets."""
    control = _make(param, parent, style_loader)
    guard_wheel(control)
    return control


def _make(
    param: Param, parent: QWidget | None, style_loader: Callable[..., None] | None
) -> ParamControl:
    kind = param.kind
    if kind is ParamKind.BOOL:
        return ToggleControl(param, parent)
    if kind in (ParamKind.INT, ParamKind.FLOAT):
        return NumberControl(param, parent)
    if kind is ParamKind.ENUM:
        short = len(param.values) <= 4 and sum(len(c.label) for c in param.values) <= 36
        if param.widget == "segmented" or (param.widget != "combo" and short):
            return SegmentedControl(param, parent)
        return ChoiceControl(param, parent)
    if kind in (ParamKind.IMAGE, ParamKind.MASK):
        return FileControl(param, parent)
    if kind is ParamKind.STYLE:
        return StyleControl(param, style_loader, parent)
    return TextControl(param, parent)
