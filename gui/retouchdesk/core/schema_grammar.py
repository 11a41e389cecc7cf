"""The grammar of the provider schema files: which keys each table may hold, and their types.

The loader in :mod:`retouchdesk.core.schema` checks every table of a provider file against
these declarations before it builds anything, so a misspelt key (``appliez_when``) is an error
that names the file, the operation and the key, instead of a parameter that silently always
applies. The tables here are the language's reference: a key that is not listed does not exist.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from retouchdesk.core.errors import SchemaError


@dataclass(frozen=True)
class Key:
    """One allowed key: the TOML types it may have and, for text, the words it may be."""

    types: tuple[str, ...]  # "text", "bool", "int", "number", "list", "table", "any"
    required: bool = False
    words: tuple[str, ...] = ()  # the allowed values of a text key (empty: any text)


def _k(*types: str, required: bool = False, words: tuple[str, ...] = ()) -> Key:
    return Key(types, required, words)


#: Parameter kinds (``ParamKind``), repeated here so the grammar stands on its own.
PARAM_KINDS = ("bool", "int", "float", "enum", "string", "image", "mask", "style")

#: Semantic roles a parameter can play for the rest of the application. The mask painter
#: previews the grow/shrink and the soft edge of the parameters with these roles, whatever the
#: vendor calls them on the wire.
ROLES = ("mask_expand", "mask_feather")

#: Hints for the parameter panel; ``combo`` forces a drop-down for a short enum.
PARAM_WIDGETS = ("segmented", "combo", "slider", "text", "multiline")

#: Widgets a whole group of parameters can ask for. ``area_grid``: many on/off toggles in
#: subgroups, with All / None / Defaults buttons and a heading toggle per subgroup.
GROUP_WIDGETS = ("area_grid",)

#: The types a provider can give the keys of its operations' ``api`` tables (``[api_fields]``).
API_TYPES = ("path", "text", "bool", "param", "params", "param_table")

PROVIDER = {
    "id": _k("text", required=True),
    "name": _k("text"),
    "kind": _k("text", words=("local", "cloud")),
    "description": _k("text"),
    "homepage": _k("text"),
    "base_url": _k("text"),
    # Provider facts the window needs before the provider can be built (it needs keys first).
    "factory": _k("text"),  # "module:function" building the provider from settings
    "needs_hosting": _k("bool"),  # takes inputs only by URL: the app hosts them (Enhancor)
    "has_credits": _k("bool"),  # has a credit balance to show (YouCam)
    "lists_styles": _k("bool"),  # style parameters can be filled from its catalogue
    "concurrency": _k("int"),  # jobs at once the vendor allows (engine.concurrency overrides)
    "health": _k("table"),  # the doctor's live checks (HEALTH)
    "credentials": _k("list"),
    "settings": _k("list"),  # the provider's own non-secret settings (SETTING)
    "api_fields": _k("table"),
    "operations": _k("list"),
}

CREDENTIAL = {
    "key": _k("text", required=True),
    "label": _k("text"),
    "secret": _k("bool"),
    "required": _k("bool"),
    "help": _k("text"),
    "alternative": _k("text"),
    "multiline": _k("bool"),  # a PEM key and the like: a text box, not a line
}

#: The types a provider setting may have: TOML text, whole number, number, true/false.
SETTING_TYPES = ("text", "int", "number", "bool")

SETTING = {
    "key": _k("text", required=True),
    "type": _k("text", required=True, words=SETTING_TYPES),
    "default": _k("any"),
    "help": _k("text"),
    "values": _k("list"),  # the allowed values of a text setting
    "min": _k("number"),  # the smallest and largest value of a number setting (clamped)
    "max": _k("number"),
    "generated": _k("text", words=("uuid",)),  # made once per installation, kept in the file
}

HEALTH = {
    # "module:function(provider) -> [(label, check)] | None": the doctor's vendor checks
    "checks": _k("text"),
}

OPERATION = {
    "id": _k("text", required=True),
    "label": _k("text"),
    "description": _k("text"),
    "category": _k("text"),
    "endpoint": _k("text"),
    "input_kind": _k("text", words=("image", "video", "none")),  # none: text to image
    # Checked by default in Try On, in this order (1 first); 0 or absent: offered unchecked.
    "try_on": _k("int"),
    "api": _k("table"),
    "limits": _k("table"),
    "result": _k("table"),
    "cost": _k("table"),
    "constraints": _k("list"),
    "groups": _k("list"),
    "params": _k("list"),
}

LIMITS = {
    "formats": _k("list"),
    "max_side": _k("int"),
    "min_side": _k("int"),
    "max_short_side": _k("int"),
    "max_bytes": _k("int"),
    "max_megapixels": _k("number"),
    "max_duration": _k("number"),
}

RESULT = {
    "kind": _k("text", words=("image", "images", "video", "data")),
    "format": _k("text"),
    "count": _k("int"),
    # bits per channel the result can carry: 8 (every cloud service) or 16 (offline, 16-bit in)
    "bit_depth": _k("int"),
}

COST = {
    "amount": _k("number"),
    "unit": _k("text"),
    "text": _k("text"),
    "seconds_per_mp": _k("text"),  # expression over the parameters (model/estimate.py)
    # The amount is per unit of this parameter's value as sent (a video's seconds, a batch's
    # images); the charge is rounded up to a whole unit and at least ``minimum``.
    "per": _k("text"),
    "minimum": _k("number"),
}

CONSTRAINT = {"expr": _k("text", required=True), "message": _k("text", required=True)}

GROUP = {
    "name": _k("text", required=True),
    "widget": _k("text", words=GROUP_WIDGETS),
    "hint": _k("text"),
    "subgroups": _k("list"),
}

PARAM = {
    "name": _k("text", required=True),
    "kind": _k("text", required=True, words=PARAM_KINDS),
    "label": _k("text"),
    "default": _k("any"),
    "min": _k("number"),
    "max": _k("number"),
    "step": _k("number"),
    "values": _k("list"),
    "applies_when": _k("text"),
    "applies_note": _k("text"),
    "group": _k("text"),
    "subgroup": _k("text"),
    "help": _k("text"),
    "required": _k("bool"),
    "multiple": _k("bool"),
    "max_length": _k("int"),
    "style_source": _k("text"),
    "unit": _k("text"),
    "send": _k("bool"),
    "ends": _k("list"),
    "widget": _k("text", words=PARAM_WIDGETS),
    "role": _k("text", words=ROLES),
    "overrides": _k("list"),
}

CHOICE = {"value": _k("any", required=True), "label": _k("text"), "help": _k("text")}

OVERRIDE = {
    "when": _k("text", required=True),
    "default": _k("any"),
    "min": _k("number"),
    "max": _k("number"),
    "values": _k("list"),
}


def check(table: Any, grammar: Mapping[str, Key], where: str) -> dict[str, Any]:
    """Return ``table`` when every key is known and typed as declared; else raise.

    ``where`` names the place in words ("youcam.toml, operation hairstyle, parameter x"); it
    starts every error sentence.
    """
    if not isinstance(table, dict):
        raise SchemaError(f"{where}: expected a table, got {_type_word(table)}")
    for key, value in table.items():
        spec = grammar.get(key)
        if spec is None:
            raise SchemaError(f"{where}: unknown key '{key}'{_did_you_mean(key, grammar)}")
        if not _has_type(value, spec.types):
            raise SchemaError(
                f"{where}: '{key}' must be {' or '.join(_WORDS[t] for t in spec.types)}, "
                f"not {_type_word(value)}"
            )
        if spec.words and value not in spec.words:
            raise SchemaError(
                f"{where}: '{key}' must be one of {', '.join(spec.words)} (got {value!r})"
            )
    for key, spec in grammar.items():
        if spec.required and key not in table:
            raise SchemaError(f"{where}: missing '{key}'")
    return table


def check_list(items: Any, grammar: Mapping[str, Key] | None, where: str) -> list[dict[str, Any]]:
    """A TOML array of tables (``[[...]]``), each checked with :func:`check`.

    With ``grammar`` None only the shape is checked: the caller checks each table itself,
    with a ``where`` that names the entry (a parameter's name).
    """
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise SchemaError(f"{where}: expected a list of tables, got {_type_word(items)}")
    return items if grammar is None else [check(item, grammar, where) for item in items]


def check_api(
    api: Any, fields: Mapping[str, str], param_names: set[str], where: str
) -> dict[str, Any]:
    """Check an operation's ``api`` table against its provider's ``[api_fields]`` types.

    ``path`` is text starting with ``/``; ``param`` and ``params`` name parameters of this
    operation; ``param_table`` maps parameter names to small tables of text and flags (YouCam's
    per-generation wire names of extra files).
    """
    if not isinstance(api, dict):
        raise SchemaError(f"{where}: 'api' must be a table, not {_type_word(api)}")
    for key, value in api.items():
        kind = fields.get(key)
        if kind is None:
            known = ", ".join(sorted(fields)) or "none, the provider declares no [api_fields]"
            hint = _did_you_mean(key, fields) or f" (known: {known})"
            raise SchemaError(f"{where}: unknown api key '{key}'{hint}")
        _check_api_value(key, kind, value, param_names, where)
    return api


def _check_api_value(key: str, kind: str, value: Any, names: set[str], where: str) -> None:
    def fail(what: str) -> None:
        raise SchemaError(f"{where}: api '{key}' must be {what} (got {value!r})")

    if kind == "path":
        if not isinstance(value, str) or not value.startswith("/"):
            fail("a path starting with /")
    elif kind == "text":
        if not isinstance(value, str) or not value:
            fail("non-empty text")
    elif kind == "bool":
        if not isinstance(value, bool):
            fail("true or false")
    elif kind == "param":
        if value not in names:
            fail("the name of one of this operation's parameters")
    elif kind == "params":
        if not isinstance(value, list) or any(v not in names for v in value):
            fail("a list of this operation's parameter names")
    elif kind == "param_table":
        ok = isinstance(value, dict) and all(
            n in names
            and isinstance(t, dict)
            and all(isinstance(v, str | bool) for v in t.values())
            for n, t in value.items()
        )
        if not ok:
            fail("a table from this operation's parameter names to tables of text")


_WORDS = {
    "text": "text",
    "bool": "true or false",
    "int": "a whole number",
    "number": "a number",
    "list": "a list",
    "table": "a table",
    "any": "a value",
}


def _has_type(value: Any, types: tuple[str, ...]) -> bool:
    for t in types:
        if t == "any":
            return True
        if t == "text" and isinstance(value, str):
            return True
        if t == "bool" and isinstance(value, bool):
            return True
        if t == "int" and isinstance(value, int) and not isinstance(value, bool):
            return True
        if t == "number" and isinstance(value, int | float) and not isinstance(value, bool):
            return True
        if t == "list" and isinstance(value, list):
            return True
        if t == "table" and isinstance(value, dict):
            return True
    return False


def _type_word(value: Any) -> str:
    if isinstance(value, bool):
        return "true or false"
    if isinstance(value, str):
        return f"text {value!r}"
    if isinstance(value, int | float):
        return f"the number {value}"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a table"
    return type(value).__name__


def _did_you_mean(key: str, known: Mapping[str, Any]) -> str:
    import difflib  # only for a misspelt key

    close = difflib.get_close_matches(key, list(known), n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""
