"""Declarative option schemas: one TOML file per provider under ``resources/providers/``.

The schema of an operation is the single source of truth for its parameters. The same
objects build the parameter panel, validate a request before anything is uploaded, document
the operation in the CLI, and serialise the request body (``Operation.serialize``). Parameter
names are the wire names, spelled exactly as the vendor's API spells them
(``skin_realism_Level``), so serialisation needs no renaming table.

Conditions (``applies_when``), conditional defaults and ranges (``overrides``) and cross-field
``constraints`` are small expressions evaluated by :mod:`retouchdesk.core.expr`.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import Any

from retouchdesk.core import expr, tomlread
from retouchdesk.core import schema_grammar as grammar
from retouchdesk.core.errors import ParameterError, SchemaError


class ParamKind(StrEnum):
    BOOL = "bool"
    INT = "int"
    FLOAT = "float"
    ENUM = "enum"
    STRING = "string"
    IMAGE = "image"  # a further image file, e.g. a makeup or face reference
    MASK = "mask"  # a greyscale mask file the size of the input, white = selected
    STYLE = "style"  # an id picked from a provider's style/template catalogue


class Inapplicable(StrEnum):
    """What ``Operation.validate`` does with a value given for a parameter that does not apply."""

    ERROR = "error"  # the CLI: tell the user the value would be ignored
    DROP = "drop"  # the window and presets: keep quiet, the panel already greys it out


_MISSING: Any = object()
_TRUE = {"1", "true", "yes", "on", "y", "t"}
_FALSE = {"0", "false", "no", "off", "n", "f"}


@dataclass(frozen=True)
class Choice:
    """One value of an enum parameter."""

    value: Any
    label: str
    help: str = ""


@dataclass(frozen=True)
class Override:
    """Default, range or values that replace the base ones when ``when`` holds."""

    when: str
    default: Any = _MISSING
    min: float | None = None
    max: float | None = None
    values: tuple[Choice, ...] | None = None


@dataclass(frozen=True)
class Effective:
    """A parameter's default, range and choices once overrides are applied."""

    default: Any
    min: float | None
    max: float | None
    values: tuple[Choice, ...]


@dataclass(frozen=True)
class Param:
    """One parameter of an operation; ``name`` is the vendor's wire name."""

    name: str
    kind: ParamKind
    label: str
    default: Any = None
    min: float | None = None
    max: float | None = None
    step: float | None = None
    values: tuple[Choice, ...] = ()
    applies_when: str | None = None
    applies_note: str = ""
    group: str = "Options"
    subgroup: str = ""
    help: str = ""
    required: bool = False
    multiple: bool = False
    max_length: int | None = None
    style_source: str | None = None
    unit: str = ""
    send: bool = True
    ends: tuple[str, str] | None = None  # meaning of the low and high end of a slider
    widget: str = ""  # a hint for the panel: "segmented", "combo", "slider", "text", "multiline"
    role: str = ""  # what the parameter means to the application (schema_grammar.ROLES)
    overrides: tuple[Override, ...] = ()

    def effective(self, values: Mapping[str, Any]) -> Effective:
        """Default, range and choices for the current values of the other parameters."""
        eff = Effective(self.default, self.min, self.max, self.values)
        for ov in self.overrides:
            if expr.evaluate(ov.when, values):
                eff = Effective(
                    eff.default if ov.default is _MISSING else ov.default,
                    eff.min if ov.min is None else ov.min,
                    eff.max if ov.max is None else ov.max,
                    eff.values if ov.values is None else ov.values,
                )
        return eff

    def applies(self, values: Mapping[str, Any]) -> bool:
        return self.applies_when is None or bool(expr.evaluate(self.applies_when, values))

    @property
    def chosen_by_user(self) -> bool:
        """A value only the user can give (a file, a style, a text): no default stands in for
        it, so a required one is missing from :meth:`Operation.defaults` until chosen."""
        return self.is_file or self.kind in (ParamKind.STYLE, ParamKind.STRING)

    @property
    def is_file(self) -> bool:
        return self.kind in (ParamKind.IMAGE, ParamKind.MASK)

    def coerce(self, raw: Any, eff: Effective | None = None) -> Any:
        """Turn ``raw`` (a CLI string or a Python value) into this parameter's type, or raise."""
        eff = eff or Effective(self.default, self.min, self.max, self.values)
        if raw is None:
            return None
        kind = self.kind
        try:
            if kind is ParamKind.BOOL:
                value: Any = _to_bool(raw)
            elif kind is ParamKind.INT:
                value = _to_int(raw)
            elif kind is ParamKind.FLOAT:
                value = float(raw)
                if not math.isfinite(value):
                    raise ValueError
            elif kind is ParamKind.ENUM:
                value = _to_choice(raw, eff.values)
            elif kind is ParamKind.STYLE and self.multiple:
                items = raw.split(",") if isinstance(raw, str) else list(raw)
                value = [str(v).strip() for v in items if str(v).strip()]
            else:
                value = str(raw)
        except (TypeError, ValueError):
            raise ParameterError(
                f"{self.name} must be {self.describe_type(eff)} (got {raw!r})", parameter=self.name
            ) from None
        self._check_range(value, eff)
        return value

    def _check_range(self, value: Any, eff: Effective) -> None:
        numeric = self.kind in (ParamKind.INT, ParamKind.FLOAT)
        below = eff.min is not None and numeric and value < eff.min
        above = eff.max is not None and numeric and value > eff.max
        if below or above:
            raise ParameterError(
                f"{self.name} must be {self.describe_type(eff)} (got {value})",
                parameter=self.name,
            )
        too_long = self.max_length is not None and len(str(value)) > self.max_length
        if self.kind is ParamKind.STRING and too_long:
            raise ParameterError(
                f"{self.name} must be at most {self.max_length} characters (got {len(value)})",
                parameter=self.name,
            )

    def describe_type(self, eff: Effective | None = None) -> str:
        """Plain words for the allowed values, used in errors and ``retouchdesk ops``."""
        eff = eff or Effective(self.default, self.min, self.max, self.values)
        kind = self.kind
        if kind is ParamKind.BOOL:
            return "true or false"
        if kind is ParamKind.ENUM:
            return "one of: " + ", ".join(str(c.value) for c in eff.values)
        if kind in (ParamKind.INT, ParamKind.FLOAT):
            noun = "a whole number" if kind is ParamKind.INT else "a number"
            if eff.min is not None and eff.max is not None:
                return f"{noun} from {_fmt(eff.min)} to {_fmt(eff.max)}"
            if eff.min is not None:
                return f"{noun} of at least {_fmt(eff.min)}"
            if eff.max is not None:
                return f"{noun} of at most {_fmt(eff.max)}"
            return noun
        if kind is ParamKind.IMAGE:
            return "the path of an image file"
        if kind is ParamKind.MASK:
            return "the path of a mask image (white = selected)"
        if kind is ParamKind.STYLE:
            return "style ids separated by commas" if self.multiple else "a style id"
        return "text"


@dataclass(frozen=True)
class Limits:
    """What an operation's input may be; checked before anything is uploaded."""

    formats: tuple[str, ...] = ("jpeg", "png", "webp", "tiff", "heic")
    max_side: int | None = None
    min_side: int | None = None
    max_short_side: int | None = None
    max_bytes: int | None = None
    max_megapixels: float | None = None
    max_duration: float | None = None

    def problems(self, *, width: int, height: int, fmt: str, size_bytes: int) -> list[str]:
        """Plain sentences for every limit the input breaks (empty when it fits)."""
        out: list[str] = []
        fmt = normalise_format(fmt)
        if self.formats and fmt not in self.formats:
            out.append(f"{fmt.upper()} is not accepted (use {', '.join(self.formats).upper()})")
        long_side, short_side = max(width, height), min(width, height)
        if self.max_side and long_side > self.max_side:
            out.append(f"the long side is {long_side} px, the limit is {self.max_side} px")
        if self.max_short_side and short_side > self.max_short_side:
            out.append(f"the short side is {short_side} px, the limit is {self.max_short_side} px")
        if self.min_side and short_side < self.min_side:
            out.append(f"the short side is {short_side} px, at least {self.min_side} px needed")
        if self.max_megapixels and width * height > self.max_megapixels * 1e6:
            out.append(
                f"the image has {width * height / 1e6:.1f} megapixels, "
                f"the limit is {self.max_megapixels:g}"
            )
        if self.max_bytes and size_bytes > self.max_bytes:
            out.append(
                f"the file is {size_bytes / 1e6:.1f} MB, the limit is {self.max_bytes / 1e6:g} MB"
            )
        return out

    def downscale_fixes(self, problems: list[str]) -> bool:
        """True when shrinking the image would fix every problem (formats aside)."""
        return bool(problems) and not any("is not accepted" in p for p in problems)

    def fit_size(self, width: int, height: int) -> tuple[int, int]:
        """The largest size with the same aspect ratio that satisfies the pixel limits."""
        scale = 1.0
        long_side, short_side = max(width, height), min(width, height)
        if self.max_side and long_side > self.max_side:
            scale = min(scale, self.max_side / long_side)
        if self.max_short_side and short_side > self.max_short_side:
            scale = min(scale, self.max_short_side / short_side)
        if self.max_megapixels and width * height > self.max_megapixels * 1e6:
            scale = min(scale, math.sqrt(self.max_megapixels * 1e6 / (width * height)))
        return max(1, math.floor(width * scale)), max(1, math.floor(height * scale))


@dataclass(frozen=True)
class ResultSpec:
    """What an operation returns: ``image`` (one), ``images`` (variants), ``video``, ``data``."""

    kind: str = "image"
    format: str = "same"  # "same" as the input, or a fixed one such as "png"
    count: int = 1
    # Bits per channel the result can carry: 8 for every cloud service (they return 8-bit
    # JPEG/PNG), 16 for offline operations that keep a 16-bit photo's precision.
    bit_depth: int = 8


@dataclass(frozen=True)
class CostHint:
    """A price per run where the vendor publishes one; ``amount`` None means unknown."""

    amount: float | None = None
    unit: str = ""
    text: str = ""
    # Seconds per input megapixel where the time is known in advance (an expression over the
    # parameters, e.g. "22 * scale * scale" for the offline AI upscaler); "" when unknown.
    seconds_per_mp: str = ""
    per: str = ""  # the parameter whose sent value the amount is per ("" : per run)
    minimum: float | None = None  # the least a run is charged when ``per`` is set

    def charge(self, per_value: Any = None) -> float | None:
        """What one run costs when ``per`` had ``per_value`` (None: one unit).

        Vendors bill whole units: 0.5 credits per second of a 7 s video is 4 credits.
        """
        if self.amount is None:
            return None
        if not self.per:
            return float(self.amount)
        units = 1.0 if per_value in (None, "") else float(per_value)
        cost = float(math.ceil(self.amount * units - 1e-9))
        return max(cost, float(self.minimum or 0))


@dataclass(frozen=True)
class Constraint:
    expr: str
    message: str


@dataclass(frozen=True)
class ParamGroup:
    """How the panel shows one group of parameters (``[[operations.groups]]`` in the TOML).

    ``widget = "area_grid"`` lays many toggles out by ``subgroups`` (in that order) under the
    ``hint`` sentence, which says what checking a toggle means for this operation.
    """

    name: str
    widget: str = ""
    hint: str = ""
    subgroups: tuple[str, ...] = ()


@dataclass(frozen=True)
class Operation:
    """One operation of a provider, e.g. ``enhancor.realistic_skin``."""

    provider: str
    id: str
    label: str
    description: str
    endpoint: str
    params: tuple[Param, ...]
    limits: Limits = field(default_factory=Limits)
    result: ResultSpec = field(default_factory=ResultSpec)
    cost: CostHint = field(default_factory=CostHint)
    constraints: tuple[Constraint, ...] = ()
    category: str = ""
    input_kind: str = "image"  # "image" or "video"
    try_on: int = 0  # rank among Try On's suggestions (1 first); 0: not suggested
    api: Mapping[str, Any] = field(default_factory=dict)  # typed by the provider's api_fields
    groups: tuple[ParamGroup, ...] = ()  # only the groups that need more than a title

    @property
    def key(self) -> str:
        return f"{self.provider}.{self.id}"

    def group(self, name: str) -> ParamGroup:
        """The declared look of group ``name``; a plain titled list when none is declared."""
        for g in self.groups:
            if g.name == name:
                return g
        return ParamGroup(name)

    def param_with_role(self, role: str) -> Param | None:
        """The parameter that plays ``role`` (``mask_expand``...), or None."""
        for p in self.params:
            if p.role == role:
                return p
        return None

    def param(self, name: str) -> Param:
        for p in self.params:
            if p.name == name:
                return p
        raise ParameterError(
            f"Unknown parameter '{name}' for {self.key}; known: "
            + ", ".join(p.name for p in self.params),
            parameter=name,
        )

    @property
    def file_params(self) -> tuple[Param, ...]:
        return tuple(p for p in self.params if p.is_file)

    @property
    def required_inputs(self) -> tuple[str, ...]:
        """The files a run needs: the input itself plus required masks and references."""
        extra = tuple(p.name for p in self.params if p.is_file and p.required)
        return (self.input_kind, *extra)

    def initial_values(self, given: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """``given`` plus every other parameter at its (conditional) default, unvalidated.

        Not :meth:`defaults`: that validates, and an operation whose mask is required has no
        valid defaults until the photographer paints or picks one. Inapplicable parameters are
        kept, so a panel can show them greyed and an operation can read every name.
        """
        given = dict(given or {})
        values = {p.name: p.default for p in self.params} | given
        for _ in range(3):  # a conditional default may depend on another conditional default
            values = {p.name: p.effective(values).default for p in self.params} | given
        return values

    def defaults(self) -> dict[str, Any]:
        """Every applicable parameter at its (conditional) default.

        A required file (a mask the user must paint) has no default: it is None here.
        """
        return self.validate({}, require_files=False)

    def validate(
        self,
        raw: Mapping[str, Any],
        *,
        inapplicable: Inapplicable = Inapplicable.ERROR,
        require_files: bool = True,
    ) -> dict[str, Any]:
        """Check and complete ``raw``: the applicable parameters, typed, defaults filled in.

        Raises :class:`ParameterError` naming the parameter and the allowed values. With
        ``require_files`` False a required value only the user can give (a file, a style, a
        text: :attr:`Param.chosen_by_user`) may be missing, as in :meth:`defaults`.
        """
        by_name = {p.name: p for p in self.params}
        for name in raw:
            if name not in by_name:
                self.param(name)  # raises with the list of known names
        # Pass 1: the values the conditions look at, before conditional defaults.
        values: dict[str, Any] = {}
        for p in self.params:
            if name_given(raw, p.name):
                values[p.name] = p.coerce(raw[p.name], _loose(p))
            else:
                values[p.name] = p.default
        # Pass 2: conditional defaults, ranges and applicability against those values.
        out: dict[str, Any] = {}
        for p in self.params:
            applies = p.applies(values)
            given = name_given(raw, p.name)
            if not applies:
                if given and inapplicable is Inapplicable.ERROR and raw[p.name] != p.default:
                    raise ParameterError(
                        f"{p.name} does not apply here ({p.applies_note or p.applies_when})",
                        parameter=p.name,
                    )
                continue
            eff = p.effective(values)
            value = p.coerce(raw[p.name], eff) if given else eff.default
            missing = value is None or (value == "" and p.kind is ParamKind.STRING)
            if missing and p.required and (require_files or not p.chosen_by_user):
                raise ParameterError(
                    f"{p.name} is required ({p.describe_type(eff)})", parameter=p.name
                )
            if value is not None and not given:
                p._check_range(value, eff)
            out[p.name] = value
        for c in self.constraints:
            if not expr.names_in(c.expr) <= out.keys():
                continue
            if not expr.evaluate(c.expr, out):
                raise ParameterError(c.message)
        return out

    def serialize(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """The request fields for already validated ``values``: applicable, sendable, set."""
        return {
            p.name: values[p.name]
            for p in self.params
            if p.send and not p.is_file and p.name in values and values[p.name] is not None
        }


@dataclass(frozen=True)
class Credential:
    """A setting the user must enter for a provider; ``secret`` ones go to the keyring."""

    key: str
    label: str
    secret: bool = True
    required: bool = True
    help: str = ""
    alternative: str = ""  # credentials sharing a non-empty tag form one way to sign in
    multiline: bool = False  # entered in a text box (a PEM private key)


#: Python types of the setting types a provider file may declare (``schema_grammar.SETTING``).
SETTING_PY_TYPES: dict[str, type] = {"text": str, "int": int, "number": float, "bool": bool}


@dataclass(frozen=True)
class ProviderSetting:
    """A non-secret setting of one provider (``[[settings]]``): ``<provider id>.<key>``.

    The settings layer makes each one a typed setting (file, environment, Settings dialog),
    and the registry hands its value to the provider's constructor.
    """

    key: str
    type: str  # one of schema_grammar.SETTING_TYPES
    default: Any
    help: str = ""
    values: tuple[Any, ...] = ()  # allowed values of a text setting (empty: any)
    min: float | None = None  # a number outside [min, max] is clamped to it
    max: float | None = None
    generated: str = ""  # "uuid": made once per installation when empty, kept in the file

    @property
    def py_type(self) -> type:
        return SETTING_PY_TYPES[self.type]

    def clamp(self, value: Any) -> Any:
        """The value within ``min``..``max`` (numbers only), in the setting's own type."""
        if self.type in ("int", "number"):
            if self.min is not None:
                value = max(self.py_type(self.min), value)
            if self.max is not None:
                value = min(self.py_type(self.max), value)
        return value


@dataclass(frozen=True)
class ProviderSchema:
    id: str
    name: str
    description: str
    kind: str  # "local" or "cloud"
    base_url: str
    homepage: str
    credentials: tuple[Credential, ...]
    operations: Mapping[str, Operation]
    api_fields: Mapping[str, str] = field(default_factory=dict)  # api key -> its type
    factory: str = ""  # "module:function(ProviderEnv) -> Provider"
    needs_hosting: bool = False  # inputs reach it only by URL, so the app hosts them
    has_credits: bool = False  # a credit balance to show (Provider.balance)
    lists_styles: bool = False  # Provider.list_styles fills its style parameters
    settings: tuple[ProviderSetting, ...] = ()  # its own non-secret settings (and base_url)
    concurrency: int | None = None  # jobs at once the vendor allows; None: the provider's own
    health_checks: str = ""  # "module:function(provider)": the doctor's live vendor checks


@dataclass(frozen=True)
class Catalog:
    """Every provider schema found in the resources directory."""

    providers: Mapping[str, ProviderSchema]

    def provider(self, provider_id: str) -> ProviderSchema:
        try:
            return self.providers[provider_id]
        except KeyError:
            raise ParameterError(
                f"Unknown provider '{provider_id}'; known: " + ", ".join(sorted(self.providers))
            ) from None

    def operation(self, provider_id: str, op_id: str) -> Operation:
        prov = self.provider(provider_id)
        try:
            return prov.operations[op_id]
        except KeyError:
            raise ParameterError(
                f"Unknown operation '{op_id}' for {prov.name}; known: " + ", ".join(prov.operations)
            ) from None

    def operations(self) -> Iterator[Operation]:
        for prov in self.providers.values():
            yield from prov.operations.values()


# -- loading -------------------------------------------------------------------------------
#
# Every table is checked against :mod:`retouchdesk.core.schema_grammar` before it is read, so
# ``d[key]`` below never meets an unknown, misspelt or mistyped key. Error sentences start
# with where the problem is: "youcam.toml, operation hairstyle, parameter template_id: ...".


def load_provider(path: Path) -> ProviderSchema:
    """Parse and check one provider file; errors name the file and the offending entry."""
    try:
        data = tomlread.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomlread.TOMLDecodeError) as exc:
        raise SchemaError(f"{path.name}: {exc}") from None
    grammar.check(data, grammar.PROVIDER, path.name)
    pid = data["id"]
    api_fields = _api_fields(data.get("api_fields", {}), path.name)
    ops: dict[str, Operation] = {}
    for raw_op in data.get("operations", []):  # a list: the grammar checked it
        op = _operation(pid, raw_op, api_fields, path.name)
        if op.id in ops:
            raise SchemaError(f"{path.name}: operation {op.id} is declared twice")
        ops[op.id] = op
    where = f"{path.name}, credentials"
    creds = tuple(
        Credential(
            key=c["key"],
            label=c.get("label", c["key"]),
            secret=c.get("secret", True),
            required=c.get("required", True),
            help=c.get("help", ""),
            alternative=c.get("alternative", ""),
            multiline=c.get("multiline", False),
        )
        for c in grammar.check_list(data.get("credentials", []), grammar.CREDENTIAL, where)
    )
    settings = _settings(data, creds, path.name)
    health = grammar.check(data.get("health", {}), grammar.HEALTH, f"{path.name}, health")
    concurrency = data.get("concurrency")
    if concurrency is not None and concurrency < 1:
        raise SchemaError(f"{path.name}: 'concurrency' must be 1 or more (got {concurrency})")
    return ProviderSchema(
        id=pid,
        name=data.get("name", pid),
        description=data.get("description", ""),
        kind=data.get("kind", "cloud"),
        base_url=data.get("base_url", ""),
        homepage=data.get("homepage", ""),
        credentials=creds,
        operations=ops,
        api_fields=api_fields,
        factory=data.get("factory", ""),
        needs_hosting=data.get("needs_hosting", False),
        has_credits=data.get("has_credits", False),
        lists_styles=data.get("lists_styles", False),
        settings=settings,
        concurrency=concurrency,
        health_checks=health.get("checks", ""),
    )


def _settings(
    data: dict[str, Any], creds: tuple[Credential, ...], file: str
) -> tuple[ProviderSetting, ...]:
    """The ``[[settings]]`` of a provider file, checked, plus ``base_url`` from the top level.

    The documented address (top-level ``base_url``) becomes the default of a ``base_url``
    setting unless a credential (CodeFormer's own server) or a setting already declares it.
    """
    out: list[ProviderSetting] = []
    taken = {c.key for c in creds}
    for raw in grammar.check_list(data.get("settings", []), None, f"{file}, settings"):
        where = f"{file}, setting {raw.get('key', 'without a key')}"
        grammar.check(raw, grammar.SETTING, where)
        key, typ = raw["key"], raw["type"]
        if key in taken:
            raise SchemaError(f"{where}: declared twice (as a credential or a setting)")
        taken.add(key)
        py = SETTING_PY_TYPES[typ]
        default = raw.get("default", py())
        if typ == "number" and isinstance(default, int) and not isinstance(default, bool):
            default = float(default)
        if not isinstance(default, py) or (py is not bool and isinstance(default, bool)):
            raise SchemaError(f"{where}: default {default!r} is not a {typ} value")
        values = tuple(raw.get("values", ()))
        if values and default not in values:
            raise SchemaError(f"{where}: default {default!r} is not one of {list(values)}")
        out.append(
            ProviderSetting(
                key=key,
                type=typ,
                default=default,
                help=raw.get("help", ""),
                values=values,
                min=raw.get("min"),
                max=raw.get("max"),
                generated=raw.get("generated", ""),
            )
        )
    url = data.get("base_url", "")
    if url and "base_url" not in taken:
        name = data.get("name", data["id"])
        out.append(ProviderSetting("base_url", "text", url, f"{name} API host"))
    return tuple(out)


def load_catalog(directory: Path | None = None) -> Catalog:
    """Load every ``*.toml`` in ``directory`` (default: the installed resources)."""
    if directory is None:
        return _default_catalog()
    providers: dict[str, ProviderSchema] = {}
    for path in sorted(directory.glob("*.toml")):
        prov = load_provider(path)
        providers[prov.id] = prov
    # The offline engine comes first everywhere: it is the default and needs no account.
    ordered = dict(sorted(providers.items(), key=lambda kv: (kv[1].kind != "local", kv[0])))
    return Catalog(ordered)


@lru_cache(maxsize=1)
def _default_catalog() -> Catalog:
    from retouchdesk.resources import resource_path

    return load_catalog(resource_path("providers"))


def _api_fields(raw: dict[str, Any], where: str) -> dict[str, str]:
    """The provider's ``[api_fields]``: api key -> one of ``schema_grammar.API_TYPES``."""
    for key, kind in raw.items():
        if kind not in grammar.API_TYPES:
            raise SchemaError(
                f"{where}: api_fields '{key}' has the unknown type {kind!r} "
                f"(use one of {', '.join(grammar.API_TYPES)})"
            )
    return dict(raw)


def _operation(pid: str, d: dict[str, Any], api_fields: Mapping[str, str], file: str) -> Operation:
    name = d.get("id", "without an id") if isinstance(d, dict) else "that is not a table"
    grammar.check(d, grammar.OPERATION, f"{file}, operation {name}")
    oid = d["id"]
    where = f"{file}, operation {oid}"
    params = tuple(_param(p, where) for p in grammar.check_list(d.get("params", []), None, where))
    names = [p.name for p in params]
    if len(set(names)) != len(names):
        dup = next(n for n in names if names.count(n) > 1)
        raise SchemaError(f"{where}: parameter {dup} is declared twice")
    lim = grammar.check(d.get("limits", {}), grammar.LIMITS, f"{where}, limits")
    res = grammar.check(d.get("result", {}), grammar.RESULT, f"{where}, result")
    cost = grammar.check(d.get("cost", {}), grammar.COST, f"{where}, cost")
    constraints = grammar.check_list(
        d.get("constraints", []), grammar.CONSTRAINT, f"{where}, constraints"
    )
    api = grammar.check_api(d.get("api", {}), api_fields, set(names), where)
    if cost.get("per") and cost["per"] not in names:
        raise SchemaError(f"{where}, cost: 'per' names no parameter of this operation")
    for r in grammar.ROLES:
        playing = [p.name for p in params if p.role == r]
        if len(playing) > 1:
            raise SchemaError(f"{where}: role {r} is given to {' and '.join(playing)}")
    op = Operation(
        provider=pid,
        id=oid,
        label=d.get("label", oid),
        description=d.get("description", ""),
        endpoint=d.get("endpoint", ""),
        params=params,
        limits=Limits(
            formats=tuple(normalise_format(f) for f in lim.get("formats", Limits.formats)),
            max_side=lim.get("max_side"),
            min_side=lim.get("min_side"),
            max_short_side=lim.get("max_short_side"),
            max_bytes=lim.get("max_bytes"),
            max_megapixels=lim.get("max_megapixels"),
            max_duration=lim.get("max_duration"),
        ),
        result=ResultSpec(
            kind=res.get("kind", "image"),
            format=res.get("format", "same"),
            count=res.get("count", 1),
            bit_depth=int(res.get("bit_depth", 8)),
        ),
        cost=CostHint(
            amount=cost.get("amount"),
            unit=cost.get("unit", ""),
            text=cost.get("text", ""),
            seconds_per_mp=str(cost.get("seconds_per_mp", "")),
            per=cost.get("per", ""),
            minimum=cost.get("minimum"),
        ),
        constraints=tuple(Constraint(c["expr"], c["message"]) for c in constraints),
        category=d.get("category", ""),
        input_kind=d.get("input_kind", "image"),
        try_on=int(d.get("try_on", 0)),
        api=api,
        groups=tuple(
            _group(g, params, where)
            for g in grammar.check_list(d.get("groups", []), grammar.GROUP, where)
        ),
    )
    for c in op.constraints:
        _compile(c.expr, f"{where}, constraint")
    try:  # every default must pass its own validator
        op.defaults()
    except ParameterError as exc:
        raise SchemaError(f"{where}: defaults do not validate: {exc}") from None
    return op


def _group(d: dict[str, Any], params: tuple[Param, ...], where: str) -> ParamGroup:
    name = d["name"]
    where = f"{where}, group {name}"
    members = [p for p in params if p.group == name]
    if not members:
        raise SchemaError(f"{where}: no parameter is in this group")
    subgroups = d.get("subgroups", [])
    used = {p.subgroup for p in members}
    for s in subgroups:
        if s not in used:
            raise SchemaError(f"{where}: subgroup {s!r} has no parameter")
    if d.get("widget") == "area_grid":
        loose = [p.name for p in members if p.kind is not ParamKind.BOOL or not p.subgroup]
        if loose:
            raise SchemaError(
                f"{where}: an area_grid holds on/off parameters with a subgroup, "
                f"not {', '.join(loose)}"
            )
    return ParamGroup(
        name=name, widget=d.get("widget", ""), hint=d.get("hint", ""), subgroups=tuple(subgroups)
    )


def _choices(raw: list[Any], where: str) -> tuple[Choice, ...]:
    out = []
    for v in raw:
        if isinstance(v, dict):
            grammar.check(v, grammar.CHOICE, f"{where}, values")
            out.append(Choice(v["value"], v.get("label", str(v["value"])), v.get("help", "")))
        else:
            out.append(Choice(v, str(v)))
    return tuple(out)


def _param(d: dict[str, Any], where: str) -> Param:
    name = d.get("name", "without a name")
    where = f"{where}, parameter {name}"
    grammar.check(d, grammar.PARAM, where)
    kind = ParamKind(d["kind"])  # the grammar allows only the ParamKind values
    overrides = tuple(
        Override(
            when=o["when"],
            default=o.get("default", _MISSING),
            min=o.get("min"),
            max=o.get("max"),
            values=_choices(o["values"], where) if "values" in o else None,
        )
        for o in grammar.check_list(d.get("overrides", []), grammar.OVERRIDE, f"{where}, overrides")
    )
    ends = d.get("ends")
    if ends is not None and (len(ends) != 2 or not all(isinstance(e, str) for e in ends)):
        raise SchemaError(f"{where}: 'ends' must be two words, for the low and the high end")
    p = Param(
        name=name,
        kind=kind,
        label=d.get("label", name.replace("_", " ").capitalize()),
        default=d.get("default"),
        min=d.get("min"),
        max=d.get("max"),
        step=d.get("step"),
        values=_choices(d.get("values", []), where),
        applies_when=d.get("applies_when"),
        applies_note=d.get("applies_note", ""),
        group=d.get("group", "Options"),
        subgroup=d.get("subgroup", ""),
        help=d.get("help", ""),
        required=d.get("required", False),
        multiple=d.get("multiple", False),
        max_length=d.get("max_length"),
        style_source=d.get("style_source"),
        unit=d.get("unit", ""),
        send=d.get("send", True),
        ends=(ends[0], ends[1]) if ends else None,
        widget=d.get("widget", ""),
        role=d.get("role", ""),
        overrides=overrides,
    )
    if kind is ParamKind.ENUM and not p.values:
        raise SchemaError(f"{where}: an enum parameter needs values")
    if p.role and kind not in (ParamKind.INT, ParamKind.FLOAT):
        raise SchemaError(f"{where}: role {p.role} needs a number parameter, not {kind}")
    if p.applies_when:
        _compile(p.applies_when, f"{where}, applies_when")
    for o in overrides:
        _compile(o.when, f"{where}, overrides")
    return p


def _compile(source: str, where: str) -> None:
    try:
        expr.compile_expr(source)
    except SchemaError as exc:
        raise SchemaError(f"{where}: {exc}") from None


def _loose(p: Param) -> Effective:
    """Pass-1 coercion: every value any override allows, no range (ranges come in pass 2)."""
    values = list(p.values)
    for ov in p.overrides:
        for c in ov.values or ():
            if c not in values:
                values.append(c)
    return Effective(p.default, None, None, tuple(values))


def name_given(raw: Mapping[str, Any], name: str) -> bool:
    return name in raw and raw[name] is not None and raw[name] != ""


def normalise_format(fmt: str) -> str:
    """Canonical lower-case format names: jpg -> jpeg, tif -> tiff, heif -> heic."""
    f = fmt.lower().lstrip(".")
    return {"jpg": "jpeg", "tif": "tiff", "heif": "heic", "quicktime": "mov"}.get(f, f)


def _to_bool(raw: Any) -> bool:
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, int | float) and raw in (0, 1):
        return bool(raw)
    s = str(raw).strip().lower()
    if s in _TRUE:
        return True
    if s in _FALSE:
        return False
    raise ValueError(raw)


def _to_int(raw: Any) -> int:
    if isinstance(raw, bool):
        raise ValueError(raw)
    if isinstance(raw, float):
        if not raw.is_integer():
            raise ValueError(raw)
        return int(raw)
    return int(str(raw).strip())


def _to_choice(raw: Any, choices: tuple[Choice, ...]) -> Any:
    for c in choices:
        if raw == c.value or str(raw).strip().lower() == str(c.value).lower():
            return c.value
    raise ValueError(raw)


def _fmt(x: float) -> str:
    return f"{x:g}"
