"""Task bodies for both generations, built from an operation's schema and validated values.

The schema's ``api`` table says which parameters each generation knows and how extra files are
named on the wire; this module is the one mapping function the design allows per provider.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from retouchdesk.core.errors import ParameterError
from retouchdesk.core.schema import Operation, ParamKind
from retouchdesk.providers.youcam.api import V1

GEOMETRY = (
    "output_width",
    "output_height",
    "input_x",
    "input_y",
    "input_width",
    "input_height",
    "crop_input_x",
    "crop_input_y",
    "crop_input_width",
    "crop_input_height",
)
MAX_SIDE = 4096


def _num(value: str) -> int | str:
    """Ids are digits in v1 (sent as JSON integers, exact at any size); anything else as is."""
    return int(value) if value.isdigit() else value


def split_style(value: str) -> tuple[str | None, str]:
    """A v1 style value is ``<group id>:<style id>``; a bare id has no group."""
    group, sep, style = str(value).partition(":")
    return (group, style) if sep else (None, group)


def missing_required(op: Operation, values: Mapping[str, Any]) -> list[str]:
    """Names of the required parameters (``required = true``) that apply and have no value."""
    return [
        p.name
        for p in op.params
        if p.required and p.applies(values) and values.get(p.name) in (None, "", [])
    ]


def check_required(op: Operation, values: Mapping[str, Any]) -> None:
    for name in missing_required(op, values):
        p = op.param(name)
        raise ParameterError(
            f"{op.label} needs {p.label.lower()} ({name}): {p.describe_type()}", parameter=name
        )


def extender_geometry(values: Mapping[str, Any], width: int, height: int) -> dict[str, int]:
    """The ten Image Extender integers, the missing ones computed, all checked.

    Defaults: the whole photo, at its own size, centred in a canvas 1.5x as large (capped at
    4096 px). Raises :class:`ParameterError` naming the broken rule: the crop must lie in the
    photo and the placed photo completely inside the output.
    """
    g = {k: values.get(k) for k in GEOMETRY}
    cx = g["crop_input_x"] if g["crop_input_x"] is not None else 0
    cy = g["crop_input_y"] if g["crop_input_y"] is not None else 0
    cw = g["crop_input_width"] if g["crop_input_width"] is not None else width - cx
    ch = g["crop_input_height"] if g["crop_input_height"] is not None else height - cy
    iw = g["input_width"] if g["input_width"] is not None else cw
    ih = g["input_height"] if g["input_height"] is not None else ch
    ow = g["output_width"] if g["output_width"] is not None else min(MAX_SIDE, round(iw * 1.5))
    oh = g["output_height"] if g["output_height"] is not None else min(MAX_SIDE, round(ih * 1.5))
    ix = g["input_x"] if g["input_x"] is not None else max(0, (ow - iw) // 2)
    iy = g["input_y"] if g["input_y"] is not None else max(0, (oh - ih) // 2)
    out = {
        "output_width": ow,
        "output_height": oh,
        "input_x": ix,
        "input_y": iy,
        "input_width": iw,
        "input_height": ih,
        "crop_input_x": cx,
        "crop_input_y": cy,
        "crop_input_width": cw,
        "crop_input_height": ch,
    }
    problems = []
    if cw < 1 or ch < 1 or cx + cw > width or cy + ch > height:
        problems.append(
            f"the crop ({cx}, {cy}, {cw}x{ch}) must lie inside the {width}x{height} photo"
        )
    if ix + iw > ow or iy + ih > oh:
        problems.append(
            f"the photo placed at ({ix}, {iy}) as {iw}x{ih} must lie inside the {ow}x{oh} output"
        )
    big = [k for k, v in out.items() if v > MAX_SIDE or v < (0 if "_x" in k or "_y" in k else 1)]
    if big:
        problems.append(f"{', '.join(big)} must be from 1 (0 for positions) to {MAX_SIDE}")
    if problems:
        raise ParameterError("Image Extender: " + "; ".join(problems))
    return out


def parse_face_mapping(text: str, n_refs: int, n_faces: int) -> list[dict[str, int]]:
    """``'ref:face,...'`` into YouCam's ``[{index, position}]``; empty: ref i on face i."""
    if n_faces == 0:
        raise ParameterError("Face Swap: no face was found in the photo")
    if not text.strip():
        return [{"index": i, "position": i} for i in range(min(n_refs, n_faces))]
    out = []
    for part in text.split(","):
        ref, sep, face = part.strip().partition(":")
        try:
            index, position = int(ref), int(face)
        except ValueError:
            raise ParameterError(
                f"face_mapping must be 'reference:face' pairs such as 0:1 (got {part.strip()!r})",
                parameter="face_mapping",
            ) from None
        if not sep or not 0 <= index < n_refs:
            raise ParameterError(
                f"face_mapping names reference {index}, but {n_refs} reference(s) were given",
                parameter="face_mapping",
            )
        if not 0 <= position < n_faces:
            raise ParameterError(
                f"face_mapping names face {position}, but {n_faces} face(s) were found",
                parameter="face_mapping",
            )
        out.append({"index": index, "position": position})
    return out


def _fields(op: Operation, values: Mapping[str, Any], gen: str) -> dict[str, Any]:
    skip = set(op.api.get("v2_only" if gen == V1 else "v1_only", ()))
    fields = {k: v for k, v in op.serialize(values).items() if k not in skip}
    for p in op.params:
        if p.kind is ParamKind.STYLE and p.name in fields:
            value = fields.pop(p.name)
            group, style = split_style(value)
            if gen == V1:
                if group is None:
                    raise ParameterError(
                        f"{p.name} must be '<style group id>:<style id>' with a v1 sign-in "
                        f"(got {value!r}); pick it from the style list",
                        parameter=p.name,
                    )
                fields["style_group_id"] = _num(group)
                fields["style_ids"] = [_num(style)]
            else:
                fields[p.name] = style
    return fields


def build_body(
    op: Operation,
    values: Mapping[str, Any],
    gen: str,
    *,
    request_id: int,
    src_id: str | None,
    files: Mapping[str, str],
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The JSON body of ``POST task/<slug>`` for ``gen``.

    ``files`` maps the operation's file parameters (``mask``, ``ref_file``...) to file ids;
    ``extra`` adds computed fields (the extender's geometry, face swap's mapping).
    """
    fields = _fields(op, values, gen)
    fields.update(extra or {})
    wire = op.api.get("files", {})
    if gen == V1:
        file_sets: dict[str, list[str]] = {}
        if src_id is not None:
            file_sets["src_ids"] = [src_id]
        for name, file_id in files.items():
            file_sets.setdefault(wire[name]["v1"], []).append(file_id)
        # The v1 document's action is ``{id}``; ``params`` only when the task takes any (the
        # run-task schemas of e.g. Background Blur / Change list no params at all).
        action: dict[str, Any] = {"id": 0, "params": fields} if fields else {"id": 0}
        payload: dict[str, Any] = {"actions": [action]}
        if file_sets:
            payload = {"file_sets": file_sets, **payload}
        if op.api.get("output_ext"):
            payload["output_ext"] = op.api["output_ext"]
        return {"request_id": request_id, "payload": payload}
    body: dict[str, Any] = {}
    if src_id is not None:
        body["src_file_id"] = src_id
    for name, file_id in files.items():
        spec = wire[name]
        if spec.get("list"):
            body.setdefault(spec["v2"], []).append(file_id)
        else:
            body[spec["v2"]] = file_id
    body.update(fields)
    # [guess] v2 documents no idempotency key; request_id is sent so that a server that
    # honours it (as v1 does) never charges a resent submission twice.
    body["request_id"] = request_id
    return body


def v2_face_mapping(pairs: list[dict[str, int]], ref_file_ids: list[str]) -> list[dict[str, Any]]:
    """v1's ``[{index, position}]`` in v2's words: ``[{src_face_index, ref_file_id,
    ref_face_index}]``, naming each reference by its uploaded file id (the body's
    ``ref_file_ids`` holds the same ids) and using the first face of each reference.

    Source: a public v2 client that sends this shape and gets ``InvalidParameters`` for v1's
    (one source only; listed in resources/providers/GUESSES.md).
    """
    return [
        {
            "src_face_index": m["position"],
            "ref_file_id": ref_file_ids[m["index"]],
            "ref_face_index": 0,
        }
        for m in pairs
    ]
