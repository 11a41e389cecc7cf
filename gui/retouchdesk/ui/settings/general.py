"""Settings › General: default provider, theme, offline engine, concurrency, cost threshold.

One form over :class:`~retouchdesk.model.general_settings.GeneralSettingsModel`; a value set
by an environment variable is shown greyed with the variable's name (editing it here would not
take effect). The theme applies at once when saved.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from retouchdesk.model.general_settings import (
    THEMES,
    FieldState,
    GeneralSettingsModel,
    format_concurrency,
    parse_concurrency,
)
from retouchdesk.ui.settings.common import page_title


class GeneralPage(QWidget):
    """Signals: changed() on any edit."""

    changed = Signal()

    def __init__(self, model: GeneralSettingsModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("page_general")
        self.model = model
        values = model.values()
        outer = QVBoxLayout(self)
        outer.addWidget(page_title("General"))
        outer.addWidget(self._window_group())
        outer.addWidget(self._offline_group())
        outer.addWidget(self._concurrency_group(values["engine.concurrency"]))
        outer.addStretch(1)

        i = self.provider.findData(values["general.default_provider"].value)
        self.provider.setCurrentIndex(max(0, i))
        self.theme.setCurrentIndex(max(0, self.theme.findData(values["ui.theme"].value)))
        self.threshold.setValue(float(values["general.cost_threshold"].value or 0))
        self.device.setCurrentText(str(values["local.device"].value))
        self.tile.setValue(int(values["local.tile_size"].value or 0))
        self.workers.setValue(int(values["local.workers"].value or 1))
        self.keep_days.setValue(int(values["jobs.keep_days"].value or 0))
        widgets: dict[str, QWidget] = {
            "jobs.keep_days": self.keep_days,
            "general.default_provider": self.provider,
            "ui.theme": self.theme,
            "general.cost_threshold": self.threshold,
            "local.device": self.device,
            "local.tile_size": self.tile,
            "local.workers": self.workers,
        }
        for name, w in widgets.items():
            env = values[name].env
            if env:
                w.setEnabled(False)
                w.setToolTip(f"Set by the environment variable {env}")
        for combo in (self.provider, self.theme, self.device):
            combo.currentIndexChanged.connect(self.changed)
        self.device.editTextChanged.connect(self.changed)
        spins = (self.threshold, self.tile, self.workers, self.keep_days)
        for spin in (*spins, *self.concurrency.values()):
            spin.valueChanged.connect(self.changed)

    def _window_group(self) -> QGroupBox:
        box = QGroupBox("Window")
        form = QFormLayout(box)
        self.provider = QComboBox()
        self.provider.setObjectName("general_default_provider")
        for pid, name in self.model.providers():
            self.provider.addItem(name, pid)
        self.theme = QComboBox()
        self.theme.setObjectName("ui_theme")
        for t in THEMES:
            self.theme.addItem(t.capitalize(), t)
        self.threshold = QDoubleSpinBox()
        self.threshold.setObjectName("general_cost_threshold")
        self.threshold.setRange(0, 1_000_000)
        self.threshold.setDecimals(2)
        self.threshold.setToolTip(
            "Ask before sending work that costs more than this, in the service's own unit "
            "(credits, units...); 0 asks for every paid batch"
        )
        self.keep_days = QSpinBox()
        self.keep_days.setObjectName("jobs_keep_days")
        self.keep_days.setRange(0, 36500)
        self.keep_days.setSuffix(" days")
        self.keep_days.setSpecialValueText("Forever")
        self.keep_days.setToolTip(
            "Finished jobs older than this are forgotten when the window starts (their result "
            "files and your photos stay). Unfinished and unconfirmed jobs are always kept. "
            "A forgotten job's photo is sent again if you apply the same operation to it."
        )
        form.addRow("Provider at start", self.provider)
        form.addRow("Theme", self.theme)
        form.addRow("Ask above this cost", self.threshold)
        form.addRow("Keep finished jobs", self.keep_days)
        return box

    def _offline_group(self) -> QGroupBox:
        """The offline engine's settings, with the range and help its TOML declares."""
        box = QGroupBox("Offline engine")
        form = QFormLayout(box)
        self.device = QComboBox()
        self.device.setObjectName("local_device")
        self.device.setEditable(True)  # a GPU index is typed (0, 1...)
        for d in ("auto", "cpu", "0"):
            self.device.addItem(d)
        self.tile = self._spin("local", "tile_size", 0, 4096)
        self.tile.setSpecialValueText("Automatic (from free memory)")
        self.workers = self._spin("local", "workers", 1, 16)
        decl = self.model.declared("local", "device")
        if decl is not None and decl.help:
            self.device.setToolTip(decl.help)
        form.addRow("AI device", self.device)
        form.addRow("Upscaler tile size", self.tile)
        form.addRow("Worker processes", self.workers)
        return box

    def _spin(self, section: str, key: str, low: int, high: int) -> QSpinBox:
        """A spin box over a declared setting: its declared range where it has one, else
        ``low``..``high`` (a sensible span for the widget)."""
        spin = QSpinBox()
        spin.setObjectName(f"{section}_{key}")
        decl = self.model.declared(section, key)
        lo = int(decl.min) if decl is not None and decl.min is not None else low
        hi = int(decl.max) if decl is not None and decl.max is not None else high
        spin.setRange(lo, hi)
        if decl is not None and decl.help:
            spin.setToolTip(decl.help)
        return spin

    def _concurrency_group(self, state: FieldState) -> QGroupBox:
        box = QGroupBox("Jobs at once per provider")
        form = QFormLayout(box)
        limits = parse_concurrency(str(state.value))
        self.concurrency: dict[str, QSpinBox] = {}
        for pid, name in self.model.providers():
            spin = QSpinBox()
            spin.setObjectName(f"concurrency_{pid}")
            spin.setRange(0, 32)
            spin.setSpecialValueText("The provider's own limit")
            spin.setValue(limits.get(pid, 0))
            if state.env:
                spin.setEnabled(False)
                spin.setToolTip(f"Set by {state.env}")
            self.concurrency[pid] = spin
            form.addRow(name, spin)
        return box

    def values(self) -> dict[str, Any]:
        limits = {pid: s.value() for pid, s in self.concurrency.items()}
        return {
            "general.default_provider": self.provider.currentData(),
            "ui.theme": self.theme.currentData(),
            "general.cost_threshold": float(self.threshold.value()),
            "local.device": self.device.currentText().strip() or "auto",
            "local.tile_size": int(self.tile.value()),
            "local.workers": int(self.workers.value()),
            "engine.concurrency": format_concurrency(limits),
            "jobs.keep_days": int(self.keep_days.value()),
        }

    def apply(self) -> list[str]:
        """Save (raises RetouchError with a sentence); a new theme is applied at once."""
        written = self.model.save(self.values())
        if "ui.theme" in written:
            from PySide6.QtWidgets import QApplication

            from retouchdesk.ui.theme import apply_theme

            app = QApplication.instance()
            if isinstance(app, QApplication):
                apply_theme(app, self.theme.currentData())
        return written
