"""The right-hand panel: operation picker, presets, parameters, cost and the Apply buttons."""

from __future__ import annotations

from collections.abc import Callable
from itertools import pairwise
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QFrame,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QMenu,
    QPushButton,
    QSizePolicy,
    QStyle,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from retouchdesk.core.errors import ParameterError
from retouchdesk.model.operation import OperationModel
from retouchdesk.ui.param_panel import ParamPanel


class SidePanel(QWidget):
    """Signals: apply_requested(), apply_all_requested(), settings_requested(str provider)."""

    apply_requested = Signal()
    apply_all_requested = Signal()
    settings_requested = Signal(str)
    message = Signal(str)

    def __init__(
        self,
        model: OperationModel,
        style_loader: Callable[..., None] | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("sidePanel")
        self.model = model
        self._photo_count = 0
        self._photo_problem = ""
        # () -> (seconds, "measured" | "estimated") for the current photo; set by the window.
        self.estimator: Callable[[], tuple[float | None, str]] | None = None
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 6, 0, 6)
        lay.setSpacing(4)

        lay.addLayout(self._pickers())
        self.params = ParamPanel(model, style_loader)
        lay.addWidget(self.params, 1)
        lay.addLayout(self._actions())

        self.params.rebuilt.connect(self._chain_focus)
        self._fill_providers()
        self._chain_focus()
        self.provider_combo.currentIndexChanged.connect(self._provider_picked)
        self.operation_combo.currentIndexChanged.connect(self._operation_picked)
        self.banner_button.clicked.connect(
            lambda: self.settings_requested.emit(self.model.provider_id)
        )
        self.reset_button.clicked.connect(model.reset_all)
        self.apply_button.clicked.connect(self.apply_requested)
        self.apply_all_button.clicked.connect(self.apply_all_requested)
        model.provider_changed.connect(self._sync)
        model.operation_changed.connect(self._sync)
        model.problem_changed.connect(self._update_state)
        model.values_changed.connect(self._update_state)  # the time depends on the values
        model.statuses_changed.connect(self._fill_providers)
        self._sync()

    def _pickers(self) -> QVBoxLayout:
        """Provider and operation pickers, the description, the account banner, presets."""
        top = QVBoxLayout()
        top.setContentsMargins(10, 0, 10, 0)
        self.provider_combo = QComboBox()
        self.provider_combo.setObjectName("providerCombo")
        self.operation_combo = QComboBox()
        self.operation_combo.setObjectName("operationCombo")
        # Long provider or operation names must not widen the dock (it would jump with each
        # provider): the combos take the dock's width, their lists show the full names.
        for combo in (self.provider_combo, self.operation_combo):
            combo.setSizeAdjustPolicy(
                QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
            )
            combo.setMinimumContentsLength(8)
            combo.view().setMinimumWidth(260)
        row = QHBoxLayout()
        row.addWidget(self.provider_combo, 2)
        row.addWidget(self.operation_combo, 3)
        top.addLayout(row)
        self.description = QLabel()
        self.description.setWordWrap(True)
        self.description.setProperty("hint", True)
        top.addWidget(self.description)

        self.banner = QFrame()
        self.banner.setObjectName("banner")
        b_lay = QVBoxLayout(self.banner)
        b_lay.setContentsMargins(8, 6, 8, 6)
        self.banner_text = QLabel()
        self.banner_text.setWordWrap(True)
        self.banner_button = QPushButton("Add account…")
        self.banner_button.setProperty("small", True)
        b_lay.addWidget(self.banner_text, 1)
        b_lay.addWidget(self.banner_button, 0, Qt.AlignmentFlag.AlignRight)
        self.banner.hide()
        top.addWidget(self.banner)

        presets = QHBoxLayout()
        self.preset_button = QToolButton()
        self.preset_button.setText("Presets")
        self.preset_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.preset_menu = QMenu(self.preset_button)
        self.preset_button.setMenu(self.preset_menu)
        self.preset_menu.aboutToShow.connect(self._fill_presets)
        self.reset_button = QToolButton()
        self.reset_button.setText("Reset all")
        self.reset_button.setToolTip("Every parameter back to its default")
        presets.addWidget(self.preset_button)
        presets.addStretch(1)
        presets.addWidget(self.reset_button)
        top.addLayout(presets)
        return top

    def _actions(self) -> QVBoxLayout:
        """The problem line, the cost and the Apply buttons."""
        bottom = QVBoxLayout()
        bottom.setContentsMargins(10, 4, 10, 0)
        self.cost = QLabel()
        self.cost.setProperty("hint", True)
        self.cost.setWordWrap(True)
        self.problem = QLabel()
        self.problem.setObjectName("problem")
        self.problem.setWordWrap(True)
        self.problem.hide()
        bottom.addWidget(self.problem)
        bottom.addWidget(self.cost)
        buttons = QHBoxLayout()
        self.apply_button = QPushButton("Apply")
        self.apply_button.setObjectName("apply")
        self.apply_button.setToolTip("Run on the current photo (Ctrl+Return)")
        self.apply_all_button = QPushButton("Apply to all")
        self.apply_all_button.setToolTip("Run on every photo in the filmstrip (Ctrl+Shift+Return)")
        for b in (self.apply_button, self.apply_all_button):
            b.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        buttons.addWidget(self.apply_all_button)
        buttons.addWidget(self.apply_button)
        bottom.addLayout(buttons)
        return bottom

    def _chain_focus(self) -> None:
        """Tab order as the panel reads: pickers, presets, every parameter, then Apply."""
        chain: list[QWidget] = [
            self.provider_combo,
            self.operation_combo,
            self.banner_button,
            self.preset_button,
            self.reset_button,
            *self.params.focus_widgets(),
            self.apply_all_button,
            self.apply_button,
        ]
        for a, b in pairwise(chain):
            QWidget.setTabOrder(a, b)

    # -- pickers ----------------------------------------------------------------------------
    def _fill_providers(self) -> None:
        blocked = self.provider_combo.blockSignals(True)
        self.provider_combo.clear()
        ok_icon = self.style().standardIcon(QStyle.StandardPixmap.SP_DialogApplyButton)
        lock_icon = self.style().standardIcon(QStyle.StandardPixmap.SP_MessageBoxWarning)
        for pid, prov in self.model.catalog.providers.items():
            status = self.model.status(pid)
            name = prov.name + (" (offline)" if prov.kind == "local" else "")
            self.provider_combo.addItem(ok_icon if status.ready else lock_icon, name, pid)
            i = self.provider_combo.count() - 1
            tip = prov.description + ("" if status.ready else f"\n{status.reason}")
            self.provider_combo.setItemData(i, tip, Qt.ItemDataRole.ToolTipRole)
        self.provider_combo.blockSignals(blocked)
        self._sync()

    def _provider_picked(self, i: int) -> None:
        pid = self.provider_combo.itemData(i)
        if pid:
            self.model.set_provider(pid)

    def _operation_picked(self, i: int) -> None:
        oid = self.operation_combo.itemData(i)
        if oid:
            self.model.set_operation(oid)

    def _sync(self, *_args: object) -> None:
        m = self.model
        blocked = self.provider_combo.blockSignals(True)
        i = self.provider_combo.findData(m.provider_id)
        if i >= 0:
            self.provider_combo.setCurrentIndex(i)
        self.provider_combo.blockSignals(blocked)
        blocked = self.operation_combo.blockSignals(True)
        self.operation_combo.clear()
        if m.provider_id:
            last_cat = None
            for op in m.provider.operations.values():
                if op.category and op.category != last_cat and last_cat is not None:
                    self.operation_combo.insertSeparator(self.operation_combo.count())
                last_cat = op.category
                self.operation_combo.addItem(op.label, op.id)
                self.operation_combo.setItemData(
                    self.operation_combo.count() - 1, op.description, Qt.ItemDataRole.ToolTipRole
                )
            j = self.operation_combo.findData(m.operation_id)
            if j >= 0:
                self.operation_combo.setCurrentIndex(j)
        self.operation_combo.blockSignals(blocked)
        self.description.setText(m.operation.description if m.operation_id else "")
        self._update_state()

    def refresh(self) -> None:
        """Recompute the cost and time line and the buttons (a photo's size became known)."""
        self._update_state()

    @property
    def photo_problem(self) -> str:
        return self._photo_problem

    def set_photo_problem(self, text: str) -> None:
        """Why the current photo cannot be sent ("" when it can): Apply is off and says why."""
        self._photo_problem = text
        self._update_state()

    def set_photo_count(self, n: int) -> None:
        self._photo_count = n
        self._update_state()

    def _update_state(self, *_args: object) -> None:
        m = self.model
        status = m.status(m.provider_id) if m.provider_id else None
        if status is not None and not status.ready:
            # A long variable name (RETOUCHDESK_CODEFORMER_BASE_URL) is one word: let it
            # break after its underscores, or it widens the whole dock.
            self.banner_text.setText(status.reason.replace("_", "_\u200b"))
            self.banner.show()
        else:
            self.banner.hide()
        problem = m.problem if status is None or status.ready else ""
        problem = problem or self._photo_problem
        self.problem.setText(problem)
        self.problem.setVisible(bool(problem))
        if m.operation_id:
            cost = m.operation.cost
            n = self._photo_count
            if cost.amount is None:
                text = cost.text  # the provider reports the price when the job runs
            elif cost.amount == 0:
                text = "Free"
            else:
                from retouchdesk.model.jobs import counted

                text = f"{counted(cost.amount, cost.unit)} per photo"
                if n > 1:
                    text += f" · all {n}: {m.cost_text(n).split(' for ')[0]}"
            line = f"Cost: {text}" if text else ""
            seconds, how = self.estimator() if self.estimator is not None else (None, "")
            if seconds is not None:
                from retouchdesk.model.estimate import duration_text

                line += f"\nTime: {duration_text(seconds)} for this photo ({how})"
            self.cost.setText(line)
        has_photo = self._photo_count > 0
        self.apply_button.setEnabled(m.can_run and has_photo and not self._photo_problem)
        self.apply_all_button.setEnabled(m.can_run and self._photo_count > 1)
        self.apply_all_button.setText(
            f"Apply to all {self._photo_count}" if self._photo_count > 1 else "Apply to all"
        )

    # -- presets ------------------------------------------------------------------------------
    def _fill_presets(self) -> None:
        menu = self.preset_menu
        menu.clear()
        for path in self.model.presets():
            act = menu.addAction(path.stem)
            act.triggered.connect(lambda _=False, p=path: self.load_preset(p))
        if not self.model.presets():
            menu.addAction("No saved presets").setEnabled(False)
        menu.addSeparator()
        menu.addAction("Save current as preset…").triggered.connect(self._save_preset)
        menu.addAction("Import preset file…").triggered.connect(self._import_preset)
        menu.addAction("Export current to file…").triggered.connect(self._export_preset)

    def load_preset(self, path: Path) -> None:
        try:
            name = self.model.load_preset(path)
        except ParameterError as exc:
            self.message.emit(str(exc))
            return
        self.message.emit(f"Preset “{name}” loaded")

    def _save_preset(self) -> None:
        name, ok = QInputDialog.getText(self, "Save preset", "Preset name:")
        if ok and name.strip():
            try:
                path = self.model.save_preset(name)
            except ParameterError as exc:
                self.message.emit(str(exc))
                return
            self.message.emit(f"Preset saved to {path}")

    def _import_preset(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Import preset", "", "Presets (*.toml)")
        if path:
            self.load_preset(Path(path))

    def _export_preset(self) -> None:
        path, _ = QFileDialog.getSaveFileName(
            self, "Export preset", f"{self.model.operation.id}.toml", "Presets (*.toml)"
        )
        if path:
            try:
                self.model.save_preset(Path(path).stem, Path(path))
            except ParameterError as exc:
                self.message.emit(str(exc))
                return
            self.message.emit(f"Preset exported to {path}")
