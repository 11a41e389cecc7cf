"""Settings › General: default provider, theme, offline engine, concurrency, cost threshold,
how long finished jobs are kept.

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

        start = QGroupBox("Window")
        form = QFormLayout(start)
        self.provider = QComboBox()
        self.provider.setObjectName("general_default_provider")
        for pid, name in model.providers():
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
        outer.addWidget(start)

        local = QGroupBox("Offline engine")
        lform = QFormLayout(local)
        self.device = QComboBox()
        self.device.setObjectName("local_device")
        self.device.setEditable(True)  # a GPU index is typed (0, 1...)
        for d in ("auto", "cpu", "0"):
            self.device.addItem(d)
        self.device.setToolTip("auto, cpu or a GPU index for the AI upscaler")
        self.tile = QSpinBox()
        self.tile.setObjectName("local_tile_size")
        self.tile.setRange(0, 4096)
        self.tile.setSpecialValueText("Automatic (from free memory)")
        self.workers = QSpinBox()
        self.workers.setObjectName("local_workers")
        self.workers.setRange(1, 16)
        lform.addRow("AI device", self.device)
        lform.addRow("Upscaler tile size", self.tile)
        lform.addRow("Worker processes", self.workers)
        outer.addWidget(local)

        conc = QGroupBox("Jobs at once per provider")
        cform = QFormLayout(conc)
        limits = parse_concurrency(str(values["engine.concurrency"].value))
        self.concurrency: dict[str, QSpinBox] = {}
        for pid, name in model.providers():
            spin = QSpinBox()
            spin.setObjectName(f"concurrency_{pid}")
            spin.setRange(0, 32)
            spin.setSpecialValueText("The provider's own limit")
            spin.setValue(limits.get(pid, 0))
            self.concurrency[pid] = spin
            cform.addRow(name, spin)
        outer.addWidget(conc)
        outer.addStretch(1)

        i = self.provider.findData(values["general.default_provider"].value)
        self.provider.setCurrentIndex(max(0, i))
        self.theme.setCurrentIndex(max(0, self.theme.findData(values["ui.theme"].value)))
        self.threshold.setValue(float(values["general.cost_threshold"].value or 0))
        self.device.setCurrentText(str(values["local.device"].value))
        self.tile.setValue(int(values["local.tile_size"].value or 0))
        self.workers.setValue(int(values["local.workers"].value or 1))
        self.keep_days.setValue(int(values["jobs.keep_days"].value or 0))
        widgets: dict[str, Any] = {
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
        if values["engine.concurrency"].env:
            for spin in self.concurrency.values():
                spin.setEnabled(False)
                spin.setToolTip(f"Set by {values['engine.concurrency'].env}")
        for combo in (self.provider, self.theme, self.device):
            combo.currentIndexChanged.connect(self.changed)
        self.device.editTextChanged.connect(self.changed)
        spins = (self.threshold, self.tile, self.workers, self.keep_days)
        for spin in (*spins, *self.concurrency.values()):
            spin.valueChanged.connect(self.changed)

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
