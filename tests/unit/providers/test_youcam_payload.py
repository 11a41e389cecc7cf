"""YouCam task bodies for both generations, built from the schema; geometry and mappings."""

from __future__ import annotations

import json

import pytest

from retouchdesk.core.errors import ParameterError
from retouchdesk.core.schema import load_catalog
from retouchdesk.providers.youcam import payload

CAT = load_catalog()


def op(op_id: str):
    return CAT.operation("youcam", op_id)


def test_every_task_is_in_the_schema_with_both_paths_and_limits():
    ops = CAT.provider("youcam").operations
    assert len(ops) == 18
    for o in ops.values():
        assert o.api["v1"] and o.api["v2"], o.id
        assert o.limits.max_bytes and o.limits.max_side, o.id
        assert o.cost.unit.startswith("credits"), o.id
    assert op("hairstyle").limits.formats == ("jpeg",)
    assert op("ai_replace").limits.max_short_side == 1024
    assert op("photo_lighting").limits.min_side == 256
    assert op("colorize").result.kind == "images" and op("colorize").result.count == 4
    assert op("video_enhance").input_kind == "video"


def test_v1_body_has_request_id_file_sets_and_one_action():
    o = op("object_removal")
    body = payload.build_body(
        o, o.validate({"mask": "/m.png"}), "v1", request_id=7, src_id="S", files={"mask": "M"}
    )
    assert body == {
        "request_id": 7,
        "payload": {
            "file_sets": {"src_ids": ["S"], "mask_ids": ["M"]},
            "actions": [{"id": 0}],
        },
    }
    sod = op("background_removal")
    assert (
        payload.build_body(sod, {}, "v1", request_id=1, src_id="S", files={})["payload"][
            "output_ext"
        ]
        == "png"
    )


def test_v2_body_is_flat_with_the_v2_file_fields():
    o = op("ai_replace")
    values = o.validate({"mask": "/m.png", "prompt": "a chair"})
    body = payload.build_body(o, values, "v2", request_id=3, src_id="S", files={"mask": "M"})
    assert body == {"src_file_id": "S", "msk_file_id": "M", "prompt": "a chair", "request_id": 3}
    v1 = payload.build_body(o, values, "v1", request_id=3, src_id="S", files={"mask": "M"})
    assert v1["payload"]["file_sets"] == {"src_ids": ["S"], "msk_ids": ["M"]}


def test_styles_map_to_group_and_style_ids_in_v1_and_template_id_in_v2():
    o = op("hairstyle")
    big_group, big_style = 18213963761051864, 18213963761051999  # above 2**53
    values = o.validate({"template_id": f"{big_group}:{big_style}"})
    v1 = payload.build_body(o, values, "v1", request_id=0, src_id="S", files={})
    params = v1["payload"]["actions"][0]["params"]
    assert params == {"style_group_id": big_group, "style_ids": [big_style]}
    assert f'"style_ids": [{big_style}]' in json.dumps(v1)  # exact, no float rounding
    v2 = payload.build_body(o, o.validate({"template_id": "tpl-9"}), "v2", request_id=0,
                            src_id="S", files={})  # fmt: skip
    assert v2["template_id"] == "tpl-9"
    with pytest.raises(ParameterError, match="style group id"):
        payload.build_body(o, o.validate({"template_id": "42"}), "v1", request_id=0,
                           src_id="S", files={})  # fmt: skip


def test_generation_specific_parameters_are_dropped_for_the_other():
    o = op("image_generator")
    values = o.validate({"prompt": "p", "template_id": "1:2", "steps": 20, "batch_size": 2})
    v1 = payload.build_body(o, values, "v1", request_id=0, src_id=None, files={})
    assert "file_sets" not in v1["payload"]
    p1 = v1["payload"]["actions"][0]["params"]
    assert p1["batch_size"] == 2 and "steps" not in p1
    v2 = payload.build_body(o, values, "v2", request_id=0, src_id=None, files={})
    assert v2["steps"] == 20 and "batch_size" not in v2 and "src_file_id" not in v2


def test_required_files_and_styles_are_named_before_anything_is_sent():
    # Declared once, as the schema's own `required` (no separate api list): the schema
    # refuses a request without them...
    with pytest.raises(ParameterError, match=r"^mask is required"):
        op("object_removal").validate({})
    with pytest.raises(ParameterError, match=r"^template_id is required"):
        op("hair_bang").validate({})
    with pytest.raises(ParameterError, match=r"^prompt is required"):
        op("image_generator").validate({"template_id": "1:2", "prompt": ""})
    assert op("image_generator").defaults()["prompt"] == ""  # loads: no default stands in
    # ...and the provider checks the same declaration on what it is about to send.
    loose = op("object_removal").validate({}, require_files=False)
    with pytest.raises(ParameterError, match=r"Object Removal needs mask \(mask\)"):
        payload.check_required(op("object_removal"), loose)
    with pytest.raises(ParameterError, match="template_id"):
        payload.check_required(op("hair_bang"), op("hair_bang").validate({}, require_files=False))
    bg = op("background_change")
    payload.check_required(bg, bg.validate({"type": "template", "template_id": "x"}))


def test_extender_geometry_defaults_centre_the_photo_and_rules_are_checked():
    g = payload.extender_geometry({}, 600, 400)
    assert g == {
        "output_width": 900, "output_height": 600, "input_x": 150, "input_y": 100,
        "input_width": 600, "input_height": 400, "crop_input_x": 0, "crop_input_y": 0,
        "crop_input_width": 600, "crop_input_height": 400,
    }  # fmt: skip
    with pytest.raises(ParameterError, match="inside the 700x600 output"):
        payload.extender_geometry({"output_width": 700, "input_x": 200}, 600, 400)
    with pytest.raises(ParameterError, match="crop"):
        payload.extender_geometry({"crop_input_x": 500, "crop_input_width": 200}, 600, 400)
    with pytest.raises(ParameterError, match="input_x \\+ input_width"):
        op("image_extender").validate({"input_x": 10, "input_width": 600, "output_width": 500})


def test_face_mapping_parses_pairs_and_defaults_to_one_to_one():
    assert payload.parse_face_mapping("", 2, 3) == [
        {"index": 0, "position": 0},
        {"index": 1, "position": 1},
    ]
    assert payload.parse_face_mapping("0:2, 1:0", 2, 3) == [
        {"index": 0, "position": 2},
        {"index": 1, "position": 0},
    ]
    with pytest.raises(ParameterError, match="face 3, but 3 face"):
        payload.parse_face_mapping("0:3", 1, 3)
    with pytest.raises(ParameterError, match="reference 1, but 1 reference"):
        payload.parse_face_mapping("1:0", 1, 3)
    with pytest.raises(ParameterError, match="no face"):
        payload.parse_face_mapping("", 1, 0)


def test_the_charge_is_declared_per_parameter_not_computed_in_code():
    video = op("video_enhance").cost
    assert (video.per, video.minimum) == ("dst_duration", 1)
    # 1 credit per 2 seconds (api-reference 4.2), whole credits, at least one
    assert [video.charge(s) for s in (1, 2, 3, 7, 60)] == [1, 1, 2, 4, 30]
    assert video.charge(None) == 1
    gen = op("image_generator").cost
    assert gen.per == "batch_size" and gen.charge(4) == 8 and gen.charge(None) == 2
    assert op("photo_enhance").cost.charge() == op("photo_enhance").cost.amount


def test_per_operation_facts_are_declared_in_the_schema():
    assert op("image_extender").api["geometry"][0] == "output_width"
    assert "cut-out mask" in op("background_change").api["needs_v2"]
    refs = [p.name for p in op("face_swap").file_params]
    assert refs == ["ref_file", "ref_file_2", "ref_file_3"]  # reference i = the i-th given


def test_a_cost_per_an_unknown_parameter_is_refused(tmp_path):
    from retouchdesk.core.errors import SchemaError
    from retouchdesk.core.schema import load_provider

    toml = tmp_path / "x.toml"
    toml.write_text(
        'id = "x"\n[[operations]]\nid = "o"\n[operations.cost]\namount = 1\nper = "secs"\n'
        '[[operations.params]]\nname = "seconds"\nkind = "int"\ndefault = 1\n'
    )
    with pytest.raises(SchemaError, match=r"x\.toml, operation o, cost: 'per' names no param"):
        load_provider(toml)
