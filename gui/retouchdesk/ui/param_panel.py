"""The parameter panel: the controls of the current operation, laid out by schema group.

Built entirely from the schema through :func:`make_control`; bound to the
:class:`OperationModel`, which decides applicability, live ranges and defaults. Parameters
that do not apply stay visible but disabled, with the schema's reason under them ("only for
model v3"), so the photographer learns what unlocks them. Every parameter can be reset to its
default (the ↺ button, or the right-click menu of a toggle in a grid).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QApplication,
    QCheckBox,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QMenu,
    QPushButton,
    QScrollArea,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from retouchdesk.core.errors import ParameterError
from retouchdesk.core.schema import Operation, Param, ParamGroup, ParamKind
from retouchdesk.model.operation import OperationModel
from retouchdesk.ui.param_controls import ParamControl, make_control


class ParamRow(QWidget):
    """Label, reset button, control and the 'does not apply' note of one parameter."""

    def __init__(self, control: ParamControl, on_reset: Callable[[str], None]) -> None:
        super().__init__()
        p = control.param
        self.control = control
        self.setObjectName(f"row_{p.name}")
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 2, 0, 2)
        lay.setSpacing(2)
        head = QHBoxLayout()
        head.setContentsMargins(0, 0, 0, 0)
        self.label: QLabel | None = None
        if control.inline_label:
            head.addWidget(control, 1)
        else:
            self.label = QLabel(
                p.label
                + (
                    f" ({p.unit})"
                    if p.unit and p.kind not in (ParamKind.INT, ParamKind.FLOAT)
                    else ""
                )
            )
            self.label.setToolTip(p.help)
            head.addWidget(self.label, 1)
        self.reset = QToolButton()
        self.reset.setText("↺")
        self.reset.setObjectName("reset")
        self.reset.setAutoRaise(True)
        self.reset.setToolTip(f"Reset {p.label} to its default")
        self.reset.clicked.connect(lambda: on_reset(p.name))
        head.addWidget(self.reset)
        lay.addLayout(head)
        if not control.inline_label:
            lay.addWidget(control)
        self.note = QLabel()
        self.note.setProperty("hint", True)
        self.note.setObjectName("note")
        self.note.hide()
        lay.addWidget(self.note)

    def focus_widgets(self) -> list[QWidget]:
        return [*self.control.focus_widgets(), self.reset]

    def refresh(self, model: OperationModel) -> None:
        p = self.control.param
        applies = model.applies(p.name)
        self.control.set_effective(model.effective(p.name))
        self.control.set_value(model.value(p.name))
        self.control.set_applicable(applies)
        if self.label is not None:
            self.label.setEnabled(applies)
        self.reset.setVisible(applies)
        self.reset.setEnabled(not model.is_default(p.name))
        note = "" if applies else (p.applies_note or "does not apply with these settings")
        self.note.setText(note[:1].upper() + note[1:])
        self.note.setVisible(bool(note))


class AreaGrid(QWidget):
    """A compact grid of many toggles grouped by subgroup, with All / None and group boxes.

    A schema group declared with ``widget = "area_grid"`` uses it; the group's declaration
    gives the subgroup order and the hint sentence (what a checked toggle means).
    """

    def __init__(
        self, group: ParamGroup, controls: list[ParamControl], model: OperationModel
    ) -> None:
        super().__init__()
        self.setObjectName("areaGrid")
        self.model = model
        self.controls = controls
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(4)
        if group.hint:
            hint = QLabel(group.hint)
            hint.setProperty("hint", True)
            hint.setWordWrap(True)
            lay.addWidget(hint)
        bar = QHBoxLayout()
        bar.setSpacing(4)
        self.all_button = QPushButton("All")
        self.none_button = QPushButton("None")
        self.defaults_button = QPushButton("Defaults")
        for b in (self.all_button, self.none_button, self.defaults_button):
            b.setProperty("small", True)
            bar.addWidget(b)
        self.all_button.clicked.connect(lambda: self._set_all(True))
        self.none_button.clicked.connect(lambda: self._set_all(False))
        self.defaults_button.clicked.connect(self._defaults)
        bar.addStretch(1)
        lay.addLayout(bar)
        grid = QGridLayout()
        grid.setHorizontalSpacing(10)
        grid.setVerticalSpacing(1)
        by_sub: dict[str, list[ParamControl]] = {}
        for c in controls:
            by_sub.setdefault(c.param.subgroup, []).append(c)
        order = [s for s in group.subgroups if s in by_sub] + [
            s for s in by_sub if s not in group.subgroups
        ]
        self.heads: dict[str, QCheckBox] = {}
        row = 0
        for sub in order:
            if len(by_sub[sub]) == 1:
                # A one-toggle subgroup (hair) needs no heading of its own.
                c = by_sub[sub][0]
                c.setProperty("heading", True)
                grid.addWidget(c, row, 0, 1, 2)
                row += 1
                continue
            head = QCheckBox(sub.capitalize())
            head.setObjectName(f"sub_{sub}")
            head.setTristate(True)
            head.setProperty("heading", True)
            head.clicked.connect(lambda _=False, s=sub: self._toggle_sub(s))
            grid.addWidget(head, row, 0, 1, 2)
            self.heads[sub] = head
            row += 1
            for i, c in enumerate(by_sub[sub]):
                c.setContentsMargins(14, 0, 0, 0)
                c.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
                c.customContextMenuRequested.connect(lambda _pos, c=c: self._menu(c))
                grid.addWidget(c, row + i // 2, i % 2)
            row += (len(by_sub[sub]) + 1) // 2
        self._by_sub = by_sub
        self._order = order
        lay.addLayout(grid)

    def focus_widgets(self) -> list[QWidget]:
        """All / None / Defaults, then each subgroup's heading and toggles row by row."""
        out: list[QWidget] = [self.all_button, self.none_button, self.defaults_button]
        for sub in self._order:
            if sub in self.heads:
                out.append(self.heads[sub])
            for c in self._by_sub[sub]:
                out.extend(c.focus_widgets())
        return out

    def _menu(self, c: ParamControl) -> None:
        menu = QMenu(self)
        act = menu.addAction(f"Reset {c.param.label} to default")
        act.triggered.connect(lambda: self.model.reset(c.param.name))
        menu.exec(c.mapToGlobal(c.rect().center()))

    def _set_all(self, on: bool) -> None:
        self.model.set_values({c.param.name: on for c in self.controls})

    def _defaults(self) -> None:
        for c in self.controls:
            self.model.reset(c.param.name)

    def _toggle_sub(self, sub: str) -> None:
        controls = self._by_sub[sub]
        turn_on = not all(self.model.value(c.param.name) for c in controls)
        self.model.set_values({c.param.name: turn_on for c in controls})

    def refresh(self, model: OperationModel) -> None:
        for c in self.controls:
            c.set_value(model.value(c.param.name))
            c.set_applicable(model.applies(c.param.name))
        for sub, controls in self._by_sub.items():
            if sub not in self.heads:
                continue
            on = sum(bool(model.value(c.param.name)) for c in controls)
            state = (
                Qt.CheckState.Checked
                if on == len(controls)
                else Qt.CheckState.Unchecked
                if on == 0
                else Qt.CheckState.PartiallyChecked
            )
            self.heads[sub].setCheckState(state)


class ParamPanel(QScrollArea):
    """Scrollable panel of the current operation's parameters.

    Signals:
        rebuilt(): the controls were made anew (another operation); the tab chain follows.
    """

    rebuilt = Signal()

    def __init__(
        self,
        model: OperationModel,
        style_loader: Callable[..., None] | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("paramPanel")
        self.model = model
        self._style_loader = style_loader
        self.setWidgetResizable(True)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        # Tab goes through the controls, not to the scroll area itself (it scrolls to them).
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        app = QApplication.instance()
        if isinstance(app, QApplication):
            # QScrollArea scrolls to a focused child only when Tab moves within it; focus
            # arriving from outside (Tab from the pickers, Shift+Tab from Apply) must too.
            app.focusChanged.connect(self._focus_changed)
        self.controls: dict[str, ParamControl] = {}
        self.rows: list[ParamRow] = []
        self.grids: list[AreaGrid] = []
        self._built_for = ""
        model.operation_changed.connect(self.rebuild)
        model.values_changed.connect(self.refresh)
        self.rebuild()

    def rebuild(self, *_args: Any) -> None:
        self.controls, self.rows, self.grids = {}, [], []
        content = QWidget()
        content.setObjectName("paramContent")
        lay = QVBoxLayout(content)
        lay.setContentsMargins(10, 6, 10, 10)
        lay.setSpacing(6)
        self._blocks: list[ParamRow | AreaGrid] = []
        if not self.model.operation_id:
            self.setWidget(content)
            self.rebuilt.emit()
            return
        op: Operation = self.model.operation
        self._built_for = op.key
        groups: dict[str, list[Param]] = {}
        for p in op.params:
            groups.setdefault(p.group, []).append(p)
        if not op.params:
            empty = QLabel("This operation has no options.")
            empty.setProperty("hint", True)
            lay.addWidget(empty)
        for group, params in groups.items():
            title = QLabel(group)
            title.setProperty("section", True)
            lay.addWidget(title)
            controls = [make_control(p, style_loader=self._style_loader) for p in params]
            for c in controls:
                self.controls[c.param.name] = c
                c.edited.connect(lambda v, name=c.param.name: self._edited(name, v))
            if op.group(group).widget == "area_grid":
                grid = AreaGrid(op.group(group), controls, self.model)
                self.grids.append(grid)
                self._blocks.append(grid)
                lay.addWidget(grid)
            else:
                for c in controls:
                    row = ParamRow(c, self.model.reset)
                    self.rows.append(row)
                    self._blocks.append(row)
                    lay.addWidget(row)
        lay.addStretch(1)
        self.setWidget(content)
        self.refresh()
        self.rebuilt.emit()

    def _focus_changed(self, _old: QWidget | None, new: QWidget | None) -> None:
        content = self.widget()
        if new is not None and content is not None and content.isAncestorOf(new):
            self.ensureWidgetVisible(new, 10, 24)

    def focus_widgets(self) -> list[QWidget]:
        """Every control's focusable widgets in the order they are drawn, top to bottom."""
        out: list[QWidget] = []
        for block in getattr(self, "_blocks", []):
            out.extend(block.focus_widgets())
        return out

    def _edited(self, name: str, value: Any) -> None:
        try:
            self.model.set_value(name, value)
        except ParameterError:
            self.refresh()  # the control shows the model's (still valid) value again

    def refresh(self) -> None:
        if not self.model.operation_id or self.model.operation.key != self._built_for:
            return
        for row in self.rows:
            row.refresh(self.model)
        for grid in self.grids:
            grid.refresh(self.model)
