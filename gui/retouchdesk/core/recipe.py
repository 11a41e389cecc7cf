"""Recipes: a chain of operations that made a result, as TOML and as XMP provenance.

A recipe is a list of steps (provider, operation, parameters, mask role). It is saved from a
photo's history, applied to other photos (the window's Apply recipe to all, ``retouchdesk run
--recipe``), and written into every result's XMP in the ``retouchdesk`` namespace together
with the SHA-256 of the photo the chain started from, so a result file alone says how it was
made (``retouchdesk recipe RESULT.jpg`` reads it back).

Mask roles say where a step's mask comes from when the recipe runs on another photo:

* ``none``: the step takes no mask.
* ``photo``: each photo's own painted mask (a photo without one fails that step plainly).
* ``file``: the mask file named by the step's ``mask`` (relative to the recipe), resampled
  to each photo's size.

Mask files themselves are never in the XMP (only their digest); parameters of kind mask are
replaced by the role.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from retouchdesk.core import tomlread
from retouchdesk.core.errors import InputError

NS = "https://retouchdesk.app/ns/recipe/1.0/"
MASK_ROLES = ("none", "photo", "file")
FORMAT_VERSION = 1

_RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
_OWN_DESCRIPTION = re.compile(
    rb"<rdf:Description\b[^>]*xmlns:retouchdesk=[^>]*>.*?</rdf:Description>\s*", re.S
)
_OWN_EMPTY_DESCRIPTION = re.compile(rb"<rdf:Description\b[^>]*xmlns:retouchdesk=[^>]*/>\s*")


@dataclass
class Step:
    """One operation of a chain."""

    provider: str
    operation: str
    params: dict[str, Any] = field(default_factory=dict)
    mask_role: str = "none"
    mask: str = ""  # a mask file (role "file"), relative to the recipe; or its sha256 in XMP

    @property
    def op_key(self) -> str:
        return f"{self.provider}.{self.operation}"

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "provider": self.provider,
            "operation": self.operation,
            "mask_role": self.mask_role,
        }
        if self.mask:
            out["mask"] = self.mask
        out["params"] = dict(self.params)
        return out


@dataclass
class Recipe:
    """A chain of steps, and (in a result's XMP) the photo it started from."""

    steps: list[Step] = field(default_factory=list)
    name: str = ""
    source_sha256: str = ""
    source_name: str = ""

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"format": FORMAT_VERSION}
        if self.name:
            out["name"] = self.name
        if self.source_sha256:
            out["source"] = {"sha256": self.source_sha256, "name": self.source_name}
        out["steps"] = [s.as_dict() for s in self.steps]
        return out


def _plain(value: Any) -> Any:
    """A TOML/JSON-safe value (TOML has no null: None values are left out by the caller)."""
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items() if v is not None}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value if v is not None]
    return value


def step_from_dict(data: dict[str, Any], where: str) -> Step:
    try:
        provider = str(data["provider"])
        operation = str(data["operation"])
    except KeyError as exc:
        raise InputError(f"{where} has no {exc.args[0]}") from None
    role = str(data.get("mask_role", "none"))
    if role not in MASK_ROLES:
        raise InputError(f"{where}: mask_role must be one of {', '.join(MASK_ROLES)}, not {role!r}")
    params = data.get("params", {})
    if not isinstance(params, dict):
        raise InputError(f"{where}: params must be a table")
    return Step(provider, operation, dict(params), role, str(data.get("mask", "") or ""))


def from_dict(data: dict[str, Any], where: str = "The recipe") -> Recipe:
    steps = data.get("steps")
    if not isinstance(steps, list) or not steps:
        raise InputError(f"{where} has no steps")
    source = data.get("source") or {}
    return Recipe(
        [step_from_dict(s, f"{where}, step {i + 1},") for i, s in enumerate(steps)],
        str(data.get("name", "")),
        str(source.get("sha256", "")),
        str(source.get("name", "")),
    )


# -- TOML ------------------------------------------------------------------------------------


def to_toml(recipe: Recipe) -> str:
    import tomli_w

    return tomli_w.dumps(_plain(recipe.as_dict()))


def from_toml(text: str, where: str = "The recipe") -> Recipe:
    try:
        data = tomlread.loads(text)
    except tomlread.TOMLDecodeError as exc:
        raise InputError(f"{where} is not valid TOML ({exc})") from None
    return from_dict(data, where)


def load(path: Path) -> Recipe:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(f"The recipe {path} cannot be read: {exc.strerror or exc}") from None
    return from_toml(text, f"The recipe {path.name}")


# -- XMP -------------------------------------------------------------------------------------


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _xml_text(value: str) -> str:
    """``value`` as XML character data (xml.sax.saxutils.escape, without importing xml.sax,
    which pulls in urllib, http.client and email: 15 ms at the first result of a session)."""
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _xml_attr(value: str) -> str:
    """``value`` as a double-quoted XML attribute value, white space kept as character
    references (what an XML parser would otherwise normalise to spaces)."""
    text = _xml_text(value).replace('"', "&quot;")
    return '"' + text.replace("\n", "&#10;").replace("\r", "&#13;").replace("\t", "&#9;") + '"'


def xmp_description(recipe: Recipe) -> bytes:
    """The ``rdf:Description`` carrying ``recipe`` (steps as an ``rdf:Seq``).

    Each step is an ``rdf:li`` structure (provider, operation, mask role, mask digest) with
    the parameters as JSON text (parameters are typed values of any schema: JSON keeps them
    exactly, which XMP's own property types would not).
    """
    items = []
    for s in recipe.steps:
        fields = {
            "provider": s.provider,
            "operation": s.operation,
            "maskRole": s.mask_role,
            "mask": s.mask,
            "params": json.dumps(_plain(s.params), sort_keys=True),
        }
        # parseType="Resource": a structure without a nested rdf:Description, so our own
        # description is one element that a later write can find and replace.
        body = "".join(
            f"<retouchdesk:{k}>{_xml_text(v)}</retouchdesk:{k}>" for k, v in fields.items() if v
        )
        items.append(f'<rdf:li rdf:parseType="Resource">{body}</rdf:li>')
    head = (
        f'<rdf:Description rdf:about="" xmlns:retouchdesk="{NS}"'
        f" retouchdesk:format={_xml_attr(str(FORMAT_VERSION))}"
        f" retouchdesk:sourceSHA256={_xml_attr(recipe.source_sha256)}"
        f" retouchdesk:sourceName={_xml_attr(recipe.source_name)}"
    )
    if recipe.name:
        head += f" retouchdesk:name={_xml_attr(recipe.name)}"
    body = "".join(items)
    return (
        f"{head}><retouchdesk:steps><rdf:Seq>{body}</rdf:Seq></retouchdesk:steps></rdf:Description>"
    ).encode()


def merge_xmp(xmp: bytes | None, recipe: Recipe) -> bytes:
    """``xmp`` (the source's packet, or None) with our description replaced by ``recipe``'s.

    A chained result's source already carries the previous step's recipe: it is dropped, so
    a file holds exactly one recipe, the whole chain up to itself.
    """
    ours = xmp_description(recipe)
    if xmp and b"</rdf:RDF>" in xmp:
        kept = _OWN_EMPTY_DESCRIPTION.sub(b"", _OWN_DESCRIPTION.sub(b"", xmp))
        at = kept.rindex(b"</rdf:RDF>")
        return kept[:at] + ours + kept[at:]
    return (
        b'<?xpacket begin="\xef\xbb\xbf" id="W5M0MpCehiHzreSzNTczkc9d"?>'
        b'<x:xmpmeta xmlns:x="adobe:ns:meta/">'
        b'<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        + ours
        + b'</rdf:RDF></x:xmpmeta><?xpacket end="w"?>'
    )


def from_xmp(xmp: bytes) -> Recipe | None:
    """The recipe in an XMP packet, or None when it has none."""
    # On use: the parser is needed only when a recipe is read back.
    from xml.etree import ElementTree as ET

    start = xmp.find(b"<x:xmpmeta")
    end = xmp.rfind(b"</x:xmpmeta>")
    if start < 0 or end < 0:
        return None
    try:
        root = ET.fromstring(xmp[start : end + len(b"</x:xmpmeta>")])
    except ET.ParseError:
        return None
    q = f"{{{NS}}}"
    for desc in root.iter(f"{{{_RDF}}}Description"):
        if desc.get(f"{q}sourceSHA256") is None:
            continue
        steps: list[Step] = []
        seq = desc.find(f"{q}steps/{{{_RDF}}}Seq")
        for li in seq if seq is not None else ():
            text = li.findtext(f"{q}params") or "{}"
            try:
                params = json.loads(text)
            except ValueError:
                params = {}
            steps.append(
                Step(
                    li.findtext(f"{q}provider", ""),
                    li.findtext(f"{q}operation", ""),
                    params if isinstance(params, dict) else {},
                    li.findtext(f"{q}maskRole", "none"),
                    li.findtext(f"{q}mask", ""),
                )
            )
        return Recipe(
            steps,
            desc.get(f"{q}name", ""),
            desc.get(f"{q}sourceSHA256", ""),
            desc.get(f"{q}sourceName", ""),
        )
    return None


def read_from_file(path: Path) -> Recipe | None:
    """The recipe written into a result file's XMP (JPEG, PNG, TIFF, WebP), or None."""
    from retouchdesk.core import imageio

    meta = imageio.read_meta(path)
    return from_xmp(meta.xmp) if meta.xmp else None
