"""What a run-task body must be, per generation: exact field names, types, ranges, files.

A body that breaks a rule is refused with 400 (``InvalidParameters``, or ``InvalidFileId``,
``InvalidStyleGroup``, ``InvalidStyle``) before any task exists; what passes becomes a
:class:`Task` the engine can run.
"""

from __future__ import annotations

from typing import Any

from tests.emulators.youcam import styles
from tests.emulators.youcam.errors import Invalid
from tests.emulators.youcam.features import Feature, P
from tests.emulators.youcam.store import Task, TaskStore


def check_params(spec: dict[str, P], params: Any) -> dict[str, Any]:
    """``params`` when it has exactly the parameters of ``spec``, each of its type and range."""
    if not isinstance(params, dict):
        raise Invalid("params must be an object")
    unknown = set(params) - set(spec)
    if unknown:
        raise Invalid(f"unknown parameters {sorted(unknown)}")
    for name, p in spec.items():
        if name not in params:
            if p.required:
                raise Invalid(f"{name} is required")
            continue
        v: Any = params[name]
        if not _has_type(p.type, v):
            raise Invalid(f"{name} has the wrong type ({type(v).__name__})")
        if p.values and v not in p.values:
            raise Invalid(f"{name} must be one of {list(p.values)}")
        if (p.lo is not None and v < p.lo) or (p.hi is not None and v > p.hi):
            raise Invalid(f"{name} must be from {p.lo:g} to {p.hi:g}")
        if p.max_len is not None and len(v) > p.max_len:
            raise Invalid(f"{name} is longer than {p.max_len} characters")
        if p.type == "str" and p.required and not v.strip():
            raise Invalid(f"{name} must not be empty")
    return params


def _has_type(kind: str, v: Any) -> bool:
    """Whether ``v`` is a JSON value of the parameter type ``kind`` (see :class:`P`)."""
    return {
        "int": isinstance(v, int) and not isinstance(v, bool),
        "float": isinstance(v, int | float) and not isinstance(v, bool),
        "str": isinstance(v, str),
        "ids": isinstance(v, list) and len(v) == 1 and isinstance(v[0], int),
        "mapping": isinstance(v, list)
        and bool(v)
        and all(
            isinstance(m, dict)
            and set(m) == {"index", "position"}
            and all(isinstance(m[k], int) and m[k] >= 0 for k in m)
            for m in v
        ),
        # v2: [{src_face_index, ref_file_id, ref_face_index}] (GUESSES.md: one public
        # source, a v2 client that reports InvalidParameters for anything else).
        "mapping_v2": isinstance(v, list)
        and bool(v)
        and all(
            isinstance(m, dict)
            and set(m) == {"src_face_index", "ref_file_id", "ref_face_index"}
            and isinstance(m["ref_file_id"], str)
            and all(
                isinstance(m[k], int) and not isinstance(m[k], bool) and m[k] >= 0
                for k in ("src_face_index", "ref_face_index")
            )
            for m in v
        ),
    }[kind]


def check_style(f: Feature, gen: str, params: dict[str, Any]) -> None:
    """A named style group, style or template must exist in the task's catalogue."""
    if gen == "v1" and "style_group_id" in params:
        groups = styles.groups(f.v1 or "")
        g = next((g for g in groups if g["id"] == params["style_group_id"]), None)
        if g is None:
            raise Invalid("unknown style group", "InvalidStyleGroup")
        if params.get("style_ids", [None])[0] not in [s["id"] for s in g["styles"]]:
            raise Invalid("unknown style", "InvalidStyle")
    if gen == "v2" and params.get("template_id"):
        ids = [t["id"] for t in styles.templates(f.v2)]
        if params["template_id"] not in ids:
            raise Invalid("unknown template", "InvalidStyle")


def parse_v1(f: Feature, body: Any, account: str, store: TaskStore) -> Task:
    """A v1 body: ``{request_id, payload: {file_sets, actions: [one], output_ext}}``."""
    if not isinstance(body, dict) or set(body) != {"request_id", "payload"}:
        raise Invalid("request_id and payload are required (and nothing else)")
    rid = body["request_id"]
    if not isinstance(rid, int) or isinstance(rid, bool) or rid < 0:
        raise Invalid("request_id must be an integer from 0")
    pl = body["payload"]
    allowed = {"file_sets", "actions", "output_ext"}
    if not isinstance(pl, dict) or not set(pl) <= allowed or "actions" not in pl:
        raise Invalid("payload takes file_sets, actions and output_ext")
    if "output_ext" in pl and pl["output_ext"] not in ("jpg", "png"):
        raise Invalid("output_ext must be jpg or png")
    sets = pl.get("file_sets", {}) if f.source else pl.get("file_sets")
    if not f.source and sets is not None:
        raise Invalid("this task takes no files")
    files: dict[str, list[str]] = {}
    if f.source:
        if not isinstance(sets, dict) or set(sets) != set(f.files_v1):
            raise Invalid(f"file_sets must be exactly {sorted(f.files_v1)}")
        for name, (lo, hi) in f.files_v1.items():
            ids = sets[name]
            if not isinstance(ids, list) or not lo <= len(ids) <= hi:
                raise Invalid(f"{name} must list {lo}-{hi} file ids")
            for i in ids:
                store.file(i, account, name)
            files[name] = list(ids)
    actions = pl["actions"]
    if not isinstance(actions, list) or len(actions) != 1:
        raise Invalid("exactly one action is accepted")
    act = actions[0]
    if not isinstance(act, dict) or not isinstance(act.get("id"), int):
        raise Invalid("the action needs an integer id")
    if set(act) - {"id", "params"}:
        raise Invalid("an action takes id and params")
    params = check_params(f.params_v1, act.get("params", {}))
    check_style(f, "v1", params)
    src = files.pop("src_ids", [None])[0]
    return Task("", f, "v1", account, rid, src, files, params, pl.get("output_ext"))


def parse_v2(f: Feature, body: Any, account: str, store: TaskStore) -> Task:
    """A v2 body: flat, ``src_file_id``, the task's file fields and its parameters."""
    if not isinstance(body, dict):
        raise Invalid("the body must be a JSON object")
    body = dict(body)
    rid = body.pop("request_id", None)
    if rid is not None and (not isinstance(rid, int) or rid < 0):
        raise Invalid("request_id must be an integer from 0")
    src = body.pop("src_file_id", None)
    if f.source:
        if src is None:
            raise Invalid("src_file_id is required")
        store.file(src, account, "src_file_id")
    elif src is not None:
        raise Invalid("this task takes no source file")
    files: dict[str, list[str]] = {}
    for name, how in f.files_v2.items():
        value = body.pop(name, None)
        if value is None:
            raise Invalid(f"{name} is required")
        ids = value if how == "many" else [value]
        if how == "many" and (not isinstance(value, list) or not 1 <= len(value) <= 3):
            raise Invalid(f"{name} must list 1-3 file ids")
        for i in ids:
            store.file(i, account, name)
        files[name] = list(ids)
    params = check_params(f.params_v2, body)
    if f.name == "bg_replace":
        if params["type"] == "prompt" and not params.get("prompt", "").strip():
            raise Invalid("prompt is required when type is prompt")
        if params["type"] == "template" and not params.get("template_id"):
            raise Invalid("template_id is required when type is template")
    check_style(f, "v2", params)
    return Task("", f, "v2", account, rid, src, files, params, None)


def check_mapping(task: Task) -> None:
    """Face swap's mapping must name given references; a v2 mapping is rewritten in the
    v1 form (reference index, face position) the engine reads."""
    refs = task.files.get("ref_ids") or task.files.get("ref_file_ids") or []
    if task.gen == "v2":
        plain = []
        for m in task.params["face_mapping"]:
            if m["ref_file_id"] not in refs:
                raise Invalid("face_mapping ref_file_id is not one of ref_file_ids")
            plain.append({"index": refs.index(m["ref_file_id"]), "position": m["src_face_index"]})
        task.params = {**task.params, "face_mapping": plain}  # the renderer's v1 form
    for m in task.params["face_mapping"]:
        if m["index"] >= len(refs):
            raise Invalid("face_mapping index names a missing reference image")


def check_geometry(task: Task) -> None:
    """Out-paint's placed input must lie inside the output canvas."""
    g = task.params
    if g["input_x"] + g["input_width"] > g["output_width"]:
        raise Invalid("input_x + input_width must be <= output_width")
    if g["input_y"] + g["input_height"] > g["output_height"]:
        raise Invalid("input_y + input_height must be <= output_height")


def parse(gen: str, f: Feature, body: Any, account: str, store: TaskStore) -> Task:
    """The task a run-task body of generation ``gen`` asks for (not yet given an id)."""
    task = (parse_v1 if gen == "v1" else parse_v2)(f, body, account, store)
    if f.name == "face_swap":
        check_mapping(task)
    if f.name == "out_paint":
        check_geometry(task)
    return task
