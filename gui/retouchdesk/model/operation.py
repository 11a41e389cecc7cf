"""The chosen provider and operation and the values of its parameters.

The parameter panel edits this model and nothing else; the model applies the schema's rules
live (``applies_when``, conditional defaults and ranges, constraints) so that the panel can
grey out what does not apply and prevent invalid combinations before anything is queued.
``request()`` is exactly what a job will send (``Operation.serialize`` of the validated values).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Signal

from retouchdesk.core import tomlread
from retouchdesk.core.errors import ParameterError
from retouchdesk.core.schema import (
    Catalog,
    Effective,
    Inapplicable,
    Operation,
    Param,
    ParamKind,
    ProviderSchema,
)


@dataclass(frozen=True)
class ProviderStatus:
    """Whether a provider can run now, and if not, how the user makes it work."""

    ready: bool
    reason: str = ""


CredentialCheck = Callable[[ProviderSchema], ProviderStatus]


class OperationModel(QObject):
    """View-model of the operation picker and the parameter panel.

    Signals:
        provider_changed(str), operation_changed(str): the current ids.
        values_changed(): any value, applicability or range may have changed.
        problem_changed(str): why the current values cannot run ("" when they can).
        statuses_changed(): credentials of some provider changed.
    """

    provider_changed = Signal(str)
    operation_changed = Signal(str)
    values_changed = Signal()
    problem_changed = Signal(str)
    statuses_changed = Signal()

    def __init__(
        self,
        catalog: Catalog,
        check: CredentialCheck | None = None,
        presets_dir: Path | None = None,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.catalog = catalog
        self._check = check or (lambda prov: ProviderStatus(True))
        self._statuses: dict[str, ProviderStatus] = {}
        self.presets_dir = presets_dir
        self._values: dict[str, dict[str, Any]] = {}  # per operation key, remembered
        self._touched: dict[str, set[str]] = {}
        self._provider = ""
        self._op_id = ""
        self._problem = ""
        self.refresh_statuses()
        first = next(iter(catalog.providers), "")
        if first:
            self.set_provider(first)

    # -- providers ----------------------------------------------------------------------------
    def refresh_statuses(self) -> None:
        self._statuses = {pid: self._check(p) for pid, p in self.catalog.providers.items()}
        self.statuses_changed.emit()
        self._recompute()

    def status(self, provider_id: str) -> ProviderStatus:
        return self._statuses.get(provider_id, ProviderStatus(False, "unknown provider"))

    @property
    def provider_id(self) -> str:
        return self._provider

    @property
    def operation_id(self) -> str:
        return self._op_id

    @property
    def provider(self) -> ProviderSchema:
        return self.catalog.provider(self._provider)

    @property
    def operation(self) -> Operation:
        return self.catalog.operation(self._provider, self._op_id)

    def set_provider(self, provider_id: str) -> None:
        if provider_id == self._provider:
            return
        prov = self.catalog.provider(provider_id)
        self._provider = provider_id
        self._op_id = ""
        self.provider_changed.emit(provider_id)
        self.set_operation(next(iter(prov.operations), ""))

    def set_operation(self, op_id: str) -> None:
        if op_id == self._op_id:
            return
        self._op_id = op_id
        if op_id:
            key = self.operation.key
            if key not in self._values:
                self._values[key] = self.operation.initial_values()
                self._touched[key] = set()
        self.operation_changed.emit(op_id)
        self._recompute()

    def select(self, op_key: str) -> None:
        """Select ``provider.operation``."""
        provider, _, op = op_key.partition(".")
        self.set_provider(provider)
        self.set_operation(op)

    # -- values -------------------------------------------------------------------------------
    @property
    def values(self) -> dict[str, Any]:
        """Every parameter's current value, including those that do not apply now."""
        return dict(self._values.get(self._key(), {}))

    def value(self, name: str) -> Any:
        return self._values[self._key()].get(name)

    def applies(self, name: str) -> bool:
        return self.operation.param(name).applies(self._values[self._key()])

    def effective(self, name: str) -> Effective:
        return self.operation.param(name).effective(self._values[self._key()])

    def is_default(self, name: str) -> bool:
        return self.value(name) == self.effective(name).default

    def set_value(self, name: str, value: Any) -> None:
        """Set a value from the panel; raises ParameterError for a value of the wrong type."""
        p = self.operation.param(name)
        vals = self._values[self._key()]
        value = p.coerce(value, self._loose(p)) if value is not None and value != "" else None
        if vals.get(name) == value:
            return
        vals[name] = value
        self._touched[self._key()].add(name)
        self._settle(vals)
        self._recompute()

    def set_values(self, values: dict[str, Any]) -> None:
        for k, v in values.items():
            self.set_value(k, v)

    def reset(self, name: str) -> None:
        vals = self._values[self._key()]
        vals[name] = self.effective(name).default
        self._touched[self._key()].discard(name)
        self._settle(vals)
        self._recompute()

    def reset_all(self) -> None:
        key = self._key()
        self._values[key] = self.operation.initial_values()
        self._touched[key] = set()
        self._recompute()

    def _settle(self, vals: dict[str, Any]) -> None:
        """Follow conditional defaults and ranges after a change (e.g. v1 -> v3 realism)."""
        touched = self._touched[self._key()]
        for p in self.operation.params:
            eff = p.effective(vals)
            v = vals.get(p.name)
            if p.name not in touched:
                vals[p.name] = eff.default
                continue
            if p.kind in (ParamKind.INT, ParamKind.FLOAT) and v is not None:
                if eff.min is not None and v < eff.min:
                    vals[p.name] = eff.min if p.kind is ParamKind.FLOAT else int(eff.min)
                if eff.max is not None and v > eff.max:
                    vals[p.name] = eff.max if p.kind is ParamKind.FLOAT else int(eff.max)
            if p.kind is ParamKind.ENUM and eff.values and v not in [c.value for c in eff.values]:
                vals[p.name] = eff.default

    @staticmethod
    def _loose(p: Param) -> Effective:
        values = list(p.values)
        for ov in p.overrides:
            values.extend(c for c in ov.values or () if c not in values)
        return Effective(p.default, None, None, tuple(values))

    # -- the request ---------------------------------------------------------------------------
    def validated(self) -> dict[str, Any]:
        """The applicable, typed values (raises ParameterError when they cannot run)."""
        raw = {k: v for k, v in self._values[self._key()].items() if v is not None}
        return self.operation.validate(raw, inapplicable=Inapplicable.DROP)

    def request(self) -> dict[str, Any]:
        """The request fields a job with these values will send."""
        return self.operation.serialize(self.validated())

    @property
    def problem(self) -> str:
        return self._problem

    @property
    def can_run(self) -> bool:
        return not self._problem

    def _recompute(self) -> None:
        problem = ""
        if self._op_id:
            status = self.status(self._provider)
            # A style or text not chosen yet gets its own sentence before validation's.
            problem = self._missing_required(self._values[self._key()])
            if not problem:
                try:
                    self.validated()
                except ParameterError as exc:
                    problem = str(exc)
            if not status.ready:
                problem = status.reason
        if problem != self._problem:
            self._problem = problem
            self.problem_changed.emit(problem)
        self.values_changed.emit()

    def _missing_required(self, values: dict[str, Any]) -> str:
        """A sentence when a value the service cannot run without (a style) is not chosen.

        The schema marks them ``required``; files (a mask to paint) have their own sentences.
        """
        op = self.operation
        for p in op.params:
            if not p.required or p.is_file:
                continue
            if p.applies(values) and values.get(p.name) in (None, "", []):
                verb = "Choose" if p.kind in (ParamKind.STYLE, ParamKind.ENUM) else "Fill in"
                return f"{verb} {p.label.lower()} first: {op.label} cannot run without it."
        return ""

    def _key(self) -> str:
        return f"{self._provider}.{self._op_id}"

    # -- cost ---------------------------------------------------------------------------------
    def cost_text(self, count: int) -> str:
        """The price of running the operation on ``count`` photos, where one is published."""
        cost = self.operation.cost
        if cost.amount is not None:
            total = cost.amount * count
            if total == 0:
                return "Free"
            unit = f" {cost.unit}" if cost.unit else ""
            return f"{total:g}{unit} for {count} photo{'s' if count != 1 else ''}"
        return cost.text

    # -- presets ------------------------------------------------------------------------------
    def preset_folder(self) -> Path:
        if self.presets_dir is None:
            from retouchdesk.services import paths

            self.presets_dir = paths.config_dir() / "presets"
        folder = self.presets_dir / self._key()
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    def presets(self) -> list[Path]:
        return sorted(self.preset_folder().glob("*.toml"), key=lambda p: p.stem.lower())

    def save_preset(self, name: str, path: Path | None = None) -> Path:
        """Write the current parameters as a small shareable TOML file."""
        name = name.strip() or "Preset"
        if path is None:
            safe = re.sub(r"[^\w\- ]+", "_", name).strip() or "preset"
            path = self.preset_folder() / f"{safe}.toml"
        values = {
            k: v
            for k, v in self.validated().items()
            if v is not None and not self.operation.param(k).is_file
        }
        doc = {"preset": {"name": name, "operation": self.operation.key}, "values": values}
        tmp = path.with_suffix(".tmp")
        import tomli_w  # only when a preset is saved

        tmp.write_text(tomli_w.dumps(doc), encoding="utf-8")
        tmp.replace(path)
        return path

    def load_preset(self, path: Path) -> str:
        """Apply a preset file (switching operation if needed); returns its name.

        Raises ParameterError with a plain sentence when the file does not fit.
        """
        try:
            doc = tomlread.loads(path.read_text(encoding="utf-8"))
        except (OSError, tomlread.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ParameterError(f"The preset {path.name} cannot be read: {exc}") from None
        head = doc.get("preset", {})
        op_key = head.get("operation", self.operation.key)
        provider, _, op_id = op_key.partition(".")
        op = self.catalog.operation(provider, op_id)  # raises for an unknown operation
        values = doc.get("values", {})
        try:
            op.validate(values, inapplicable=Inapplicable.DROP)
        except ParameterError as exc:
            raise ParameterError(f"The preset {path.name} does not fit {op.label}: {exc}") from None
        self.select(op_key)
        self.reset_all()
        key = self._key()
        for k, v in values.items():
            self._values[key][k] = op.param(k).coerce(v, self._loose(op.param(k)))
            self._touched[key].add(k)
        self._settle(self._values[key])
        self._recompute()
        return str(head.get("name", path.stem))
