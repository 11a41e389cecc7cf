"""The strict schema loader: every way a provider file can be wrong, and the sentence it gets.

Each case starts from a small valid provider file, breaks one thing, and checks that
``load_provider`` refuses it with a sentence naming the file, the operation (and parameter)
and the key. The last tests run the real ``retouchdesk ops`` command on a misspelt file.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from retouchdesk import cli
from retouchdesk.core.errors import SchemaError
from retouchdesk.core.schema import load_catalog, load_provider
from retouchdesk.services.runtime import EXTRA_SCHEMAS_ENV

HEAD = """\
id = "sample"
name = "Tiny"
kind = "cloud"

[api_fields]
start = "path"
label_field = "text"
async = "bool"
mask_field = "param"
v1_only = "params"
files = "param_table"

[[credentials]]
key = "api_key"
secret = true
"""

OP = """\
[[operations]]
id = "soften"
label = "Soften"
endpoint = "/soften"

[operations.api]
start = "/jobs"
mask_field = "mask"

[operations.limits]
max_side = 4096

[operations.result]
kind = "image"

[operations.cost]
amount = 1
unit = "credit"

[[operations.constraints]]
expr = "strength <= 80 or mode == 'strong'"
message = "A strength above 80 needs the strong mode."

[[operations.groups]]
name = "Areas"
widget = "area_grid"
hint = "Checked areas are kept."
subgroups = ["face"]

[[operations.params]]
name = "mode"
kind = "enum"
default = "soft"
values = [{ value = "soft", label = "Soft" }, "strong"]

[[operations.params]]
name = "strength"
kind = "int"
default = 50
min = 0
max = 100
ends = ["none", "full"]
applies_when = "mode != 'off'"
overrides = [{ when = "mode == 'strong'", default = 70 }]

[[operations.params]]
name = "grow"
kind = "int"
default = 4
role = "mask_expand"

[[operations.params]]
name = "mask"
kind = "mask"

[[operations.params]]
name = "eyes"
kind = "bool"
default = true
group = "Areas"
subgroup = "face"
"""


def write(tmp_path: Path, text: str, name: str = "sample.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def broken(tmp_path: Path, old: str, new: str, *, where: str = "op") -> Path:
    """The valid file with ``old`` replaced by ``new`` (once) in the head or the operation."""
    head, op = HEAD, OP
    if where == "head":
        assert old in head, old
        head = head.replace(old, new, 1)
    else:
        assert old in op, old
        op = op.replace(old, new, 1)
    return write(tmp_path, head + "\n" + op)


def test_the_valid_file_loads_with_its_roles_groups_and_typed_api(tmp_path):
    prov = load_provider(write(tmp_path, HEAD + "\n" + OP))
    op = prov.operations["soften"]
    assert prov.api_fields["start"] == "path"
    assert dict(op.api) == {"start": "/jobs", "mask_field": "mask"}
    grow = op.param_with_role("mask_expand")
    assert grow is not None and grow.name == "grow"
    assert op.param_with_role("mask_feather") is None
    areas = op.group("Areas")
    assert (areas.widget, areas.hint, areas.subgroups) == (
        "area_grid",
        "Checked areas are kept.",
        ("face",),
    )
    assert op.group("Options").widget == ""  # undeclared groups are plain lists
    assert op.param("strength").ends == ("none", "full")


# (what to replace, by what, in the head or the operation, the sentence expected)
CASES = [
    pytest.param(
        'applies_when = "mode',
        'appliez_when = "mode',
        "op",
        r"^sample\.toml, operation soften, parameter strength: unknown key 'appliez_when' "
        r"\(did you mean 'applies_when'\?\)$",
        id="misspelt-param-key",
    ),
    pytest.param(
        'name = "eyes"\nkind = "bool"',
        'name = "eyes"\nkind = "bool"\ngrup = "x"',
        "op",
        r"parameter eyes: unknown key 'grup' \(did you mean 'group'\?\)",
        id="misspelt-group-key",
    ),
    pytest.param(
        'label = "Soften"',
        'labl = "Soften"',
        "op",
        r"^sample\.toml, operation soften: unknown key 'labl' \(did you mean 'label'\?\)$",
        id="misspelt-operation-key",
    ),
    pytest.param(
        'name = "Tiny"',
        'nmae = "Tiny"',
        "head",
        r"^sample\.toml: unknown key 'nmae' \(did you mean 'name'\?\)$",
        id="misspelt-provider-key",
    ),
    pytest.param(
        'kind = "cloud"',
        'kind = "remote"',
        "head",
        r"^sample\.toml: 'kind' must be one of local, cloud \(got 'remote'\)$",
        id="provider-kind",
    ),
    pytest.param(
        'id = "sample"\n', "", "head", r"^sample\.toml: missing 'id'$", id="provider-without-id"
    ),
    pytest.param(
        "secret = true",
        'secret = "yes"',
        "head",
        r"^sample\.toml, credentials: 'secret' must be true or false, not text 'yes'$",
        id="credential-type",
    ),
    pytest.param(
        "secret = true",
        "secret = true\nhidden = true",
        "head",
        r"^sample\.toml, credentials: unknown key 'hidden'$",
        id="credential-unknown-key",
    ),
    pytest.param(
        'files = "param_table"',
        'files = "dictionary"',
        "head",
        r"^sample\.toml: api_fields 'files' has the unknown type 'dictionary' \(use one of ",
        id="api-fields-type",
    ),
    pytest.param(
        'id = "soften"\n',
        "",
        "op",
        r"^sample\.toml, operation without an id: missing 'id'$",
        id="operation-without-id",
    ),
    pytest.param(
        'endpoint = "/soften"',
        "endpoint = 5",
        "op",
        r"^sample\.toml, operation soften: 'endpoint' must be text, not the number 5$",
        id="operation-key-type",
    ),
    pytest.param(
        "max_side = 4096",
        "max_sides = 4096",
        "op",
        r"^sample\.toml, operation soften, limits: unknown key 'max_sides' "
        r"\(did you mean 'max_side'\?\)$",
        id="limits-key",
    ),
    pytest.param(
        "max_side = 4096",
        "max_side = 40.5",
        "op",
        r"limits: 'max_side' must be a whole number, not the number 40\.5$",
        id="limits-type",
    ),
    pytest.param(
        'kind = "image"\n\n[operations.cost]',
        'kind = "picture"\n\n[operations.cost]',
        "op",
        r"^sample\.toml, operation soften, result: 'kind' must be one of image, images, video",
        id="result-kind",
    ),
    pytest.param(
        'unit = "credit"',
        'units = "credit"',
        "op",
        r"^sample\.toml, operation soften, cost: unknown key 'units' \(did you mean 'unit'\?\)$",
        id="cost-key",
    ),
    pytest.param(
        'message = "A strength above 80 needs the strong mode."',
        "",
        "op",
        r"^sample\.toml, operation soften, constraints: missing 'message'$",
        id="constraint-without-message",
    ),
    pytest.param(
        "expr = \"strength <= 80 or mode == 'strong'\"",
        'expr = "strength.bit_length() < 8"',
        "op",
        r"^sample\.toml, operation soften, constraint: Expression .* uses (Call|Attribute), "
        r"not allowed$",
        id="constraint-expression",
    ),
    pytest.param(
        'start = "/jobs"',
        'strat = "/jobs"',
        "op",
        r"^sample\.toml, operation soften: unknown api key 'strat' \(did you mean 'start'\?\)$",
        id="api-unknown-key",
    ),
    pytest.param(
        'start = "/jobs"',
        'start = "jobs"',
        "op",
        r"^sample\.toml, operation soften: api 'start' must be a path starting with / "
        r"\(got 'jobs'\)$",
        id="api-path",
    ),
    pytest.param(
        'start = "/jobs"',
        'start = "/jobs"\nlabel_field = ""',
        "op",
        r"api 'label_field' must be non-empty text \(got ''\)$",
        id="api-text",
    ),
    pytest.param(
        'start = "/jobs"',
        'start = "/jobs"\nasync = "yes"',
        "op",
        r"api 'async' must be true or false \(got 'yes'\)$",
        id="api-bool",
    ),
    pytest.param(
        'mask_field = "mask"',
        'mask_field = "mask_image"',
        "op",
        r"api 'mask_field' must be the name of one of this operation's parameters "
        r"\(got 'mask_image'\)$",
        id="api-param",
    ),
    pytest.param(
        'start = "/jobs"',
        'start = "/jobs"\nv1_only = ["strength", "seed"]',
        "op",
        r"api 'v1_only' must be a list of this operation's parameter names",
        id="api-params",
    ),
    pytest.param(
        'start = "/jobs"',
        'start = "/jobs"\nfiles = { ref = { v1 = "ref_ids" } }',
        "op",
        r"api 'files' must be a table from this operation's parameter names to tables of text",
        id="api-param-table",
    ),
    pytest.param(
        'name = "grow"\nkind = "int"',
        'name = "grow"\nkind = "integer"',
        "op",
        r"^sample\.toml, operation soften, parameter grow: 'kind' must be one of bool, int, ",
        id="param-kind",
    ),
    pytest.param(
        'name = "mask"\n',
        "",
        "op",
        r"^sample\.toml, operation soften, parameter without a name: missing 'name'$",
        id="param-without-name",
    ),
    pytest.param(
        'name = "grow"',
        'name = "strength"',
        "op",
        r"^sample\.toml, operation soften: parameter strength is declared twice$",
        id="param-twice",
    ),
    pytest.param(
        "default = 4\n",
        'default = 4\nrequired = "no"\n',
        "op",
        r"parameter grow: 'required' must be true or false, not text 'no'$",
        id="param-type",
    ),
    pytest.param(
        'role = "mask_expand"',
        'role = "mask_grow"',
        "op",
        r"parameter grow: 'role' must be one of mask_expand, mask_feather \(got 'mask_grow'\)$",
        id="param-role-unknown",
    ),
    pytest.param(
        'kind = "mask"',
        'kind = "mask"\nrole = "mask_expand"',
        "op",
        r"parameter mask: role mask_expand needs a number parameter, not mask$",
        id="param-role-on-a-file",
    ),
    pytest.param(
        'name = "strength"\nkind = "int"',
        'name = "strength"\nkind = "int"\nrole = "mask_expand"',
        "op",
        r"^sample\.toml, operation soften: role mask_expand is given to strength and grow$",
        id="param-role-twice",
    ),
    pytest.param(
        'default = 4\nrole = "mask_expand"',
        'default = 4\nrole = "mask_expand"\nwidget = "knob"',
        "op",
        r"parameter grow: 'widget' must be one of segmented, combo, slider, text, multiline",
        id="param-widget",
    ),
    pytest.param(
        'ends = ["none", "full"]',
        'ends = ["none"]',
        "op",
        r"parameter strength: 'ends' must be two words, for the low and the high end$",
        id="param-ends",
    ),
    pytest.param(
        'values = [{ value = "soft", label = "Soft" }, "strong"]',
        "values = []",
        "op",
        r"parameter mode: an enum parameter needs values$",
        id="enum-without-values",
    ),
    pytest.param(
        '{ value = "soft", label = "Soft" }',
        '{ value = "soft", lable = "Soft" }',
        "op",
        r"parameter mode, values: unknown key 'lable' \(did you mean 'label'\?\)$",
        id="choice-key",
    ),
    pytest.param(
        "{ when = \"mode == 'strong'\", default = 70 }",
        "{ if = \"mode == 'strong'\", default = 70 }",
        "op",
        r"parameter strength, overrides: unknown key 'if'$",
        id="override-key",
    ),
    pytest.param(
        "{ when = \"mode == 'strong'\", default = 70 }",
        '{ when = "mode = strong", default = 70 }',
        "op",
        r"parameter strength, overrides: Invalid expression 'mode = strong'",
        id="override-syntax",
    ),
    pytest.param(
        "applies_when = \"mode != 'off'\"",
        "applies_when = \"__import__('os').system('true')\"",
        "op",
        r"parameter strength, applies_when: Expression .* uses (Call|Attribute), not allowed$",
        id="applies-when-call",
    ),
    pytest.param(
        "default = 50",
        "default = 500",
        "op",
        r"^sample\.toml, operation soften: defaults do not validate: strength must be "
        r"a whole number from 0 to 100 \(got 500\)$",
        id="default-out-of-range",
    ),
    pytest.param(
        'name = "Areas"',
        'name = "Regions"',
        "op",
        r"^sample\.toml, operation soften, group Regions: no parameter is in this group$",
        id="group-without-parameters",
    ),
    pytest.param(
        'subgroups = ["face"]',
        'subgroups = ["face", "hands"]',
        "op",
        r"group Areas: subgroup 'hands' has no parameter$",
        id="group-subgroup-unused",
    ),
    pytest.param(
        'widget = "area_grid"',
        'widget = "carousel"',
        "op",
        r"operation soften: 'widget' must be one of area_grid \(got 'carousel'\)$",
        id="group-widget",
    ),
    pytest.param(
        'name = "grow"\nkind = "int"\ndefault = 4',
        'name = "grow"\nkind = "int"\ndefault = 4\ngroup = "Areas"',
        "op",
        r"group Areas: an area_grid holds on/off parameters with a subgroup, not grow$",
        id="area-grid-with-a-number",
    ),
]


@pytest.mark.parametrize(("old", "new", "where", "message"), CASES)
def test_a_broken_file_is_refused_with_a_sentence(tmp_path, old, new, where, message):
    path = broken(tmp_path, old, new, where=where)
    with pytest.raises(SchemaError, match=message):
        load_provider(path)


def test_unreadable_and_malformed_files_name_the_file(tmp_path):
    with pytest.raises(SchemaError, match=r"^gone\.toml: "):
        load_provider(tmp_path / "gone.toml")
    with pytest.raises(SchemaError, match=r"^bad\.toml: .*line 1"):
        load_provider(write(tmp_path, "id = \n", "bad.toml"))


def test_tables_where_lists_belong_and_lists_where_tables_belong(tmp_path):
    with pytest.raises(SchemaError, match=r"^sample\.toml: 'operations' must be a list"):
        load_provider(write(tmp_path, HEAD + '\n[operations]\nid = "x"\n'))
    with pytest.raises(SchemaError, match=r"operation soften: expected a list of tables"):
        load_provider(write(tmp_path, HEAD + '\n[[operations]]\nid = "soften"\nparams = [1]\n'))
    with pytest.raises(SchemaError, match=r"operation soften: 'limits' must be a table, not the"):
        load_provider(write(tmp_path, HEAD + '\n[[operations]]\nid = "soften"\nlimits = 3\n'))
    with pytest.raises(SchemaError, match=r"operation soften: 'api' must be a table"):
        load_provider(write(tmp_path, HEAD + '\n[[operations]]\nid = "soften"\napi = "x"\n'))
    with pytest.raises(SchemaError, match=r"^sample\.toml, operation that is not a table: "):
        load_provider(write(tmp_path, "operations = [1]\n" + HEAD))


def test_an_operation_declared_twice_is_refused(tmp_path):
    with pytest.raises(SchemaError, match=r"^sample\.toml: operation soften is declared twice$"):
        load_provider(write(tmp_path, HEAD + "\n" + OP + "\n" + OP))


def test_an_api_table_needs_the_provider_to_declare_its_fields(tmp_path):
    head = HEAD.split("[api_fields]")[0]
    op = '[[operations]]\nid = "soften"\n[operations.api]\nstart = "/jobs"\n'
    with pytest.raises(
        SchemaError,
        match=r"unknown api key 'start' \(known: none, the provider declares no \[api_fields\]\)",
    ):
        load_provider(write(tmp_path, head + "\n" + op))


def test_every_installed_schema_passes_the_strict_loader():
    catalog = load_catalog()
    assert {"local", "enhancor", "youcam", "codeformer", "adcreative"} <= set(catalog.providers)
    skin = catalog.operation("enhancor", "realistic_skin")
    assert skin.group("Area control").subgroups == ("face", "hair", "accessories", "body")
    assert skin.group("Area control").hint == "Checked areas are kept unchanged."
    removal = catalog.operation("local", "object_removal")
    assert removal.param_with_role("mask_feather") is not None


def test_ops_command_fails_on_a_misspelt_key_with_file_operation_and_key(
    tmp_path, monkeypatch, capsys
):
    folder = tmp_path / "schemas"
    folder.mkdir()
    broken(folder, 'applies_when = "mode', 'appliez_when = "mode')
    monkeypatch.setenv(EXTRA_SCHEMAS_ENV, str(folder))
    assert cli.main(["ops"]) == cli.EXIT_USAGE
    err = capsys.readouterr().err.strip()
    assert err == (
        "error: sample.toml, operation soften, parameter strength: unknown key 'appliez_when' "
        "(did you mean 'applies_when'?)"
    )


def test_ops_command_lists_the_same_file_once_the_key_is_spelt_right(tmp_path, monkeypatch, capsys):
    folder = tmp_path / "schemas"
    folder.mkdir()
    write(folder, HEAD + "\n" + OP)
    monkeypatch.setenv(EXTRA_SCHEMAS_ENV, str(folder))
    assert cli.main(["ops", "sample"]) == cli.EXIT_OK
    assert "sample.soften  Soften" in capsys.readouterr().out
