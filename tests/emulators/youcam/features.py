"""The YouCam tasks the emulator serves: each one's v1 and v2 names, price, parameters and files.

The catalogue is the emulator's own reading of the vendor documents (docs/vendors/), written
independently of the app's schema so that it can catch the app's mistakes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

CONTENT_TYPES = ("image/jpg", "image/jpeg", "image/png", "video/mp4")


@dataclass(frozen=True)
class P:
    """One task parameter: JSON type, range or values, required or not."""

    type: str  # "int", "float", "str", "ids" (list of one int), "mapping"
    required: bool = False
    lo: float | None = None
    hi: float | None = None
    values: tuple[Any, ...] = ()
    max_len: int | None = None


@dataclass(frozen=True)
class Feature:
    """One task: its names in both generations, price, parameters, files and input limits."""

    name: str
    v1: str | None  # v1 slug (None: v2 only)
    v2: str
    cost: int
    params_v1: dict[str, P] = field(default_factory=dict)
    params_v2: dict[str, P] = field(default_factory=dict)
    files_v1: dict[str, tuple[int, int]] = field(default_factory=dict)  # set -> (min, max)
    files_v2: dict[str, str] = field(default_factory=dict)  # field -> "one" | "many" | "opt"
    max_side: int = 4096
    min_side: int = 0
    max_short: int | None = None
    needs_face: bool = False
    variants: int = 1
    source: bool = True
    styles: bool = False  # has a style catalogue (v1 groups/styles, v2 templates)


GEOM = {
    "output_width": P("int", True, 1, 4096),
    "output_height": P("int", True, 1, 4096),
    "input_x": P("int", True, 0, 4096),
    "input_y": P("int", True, 0, 4096),
    "input_width": P("int", True, 1, 4096),
    "input_height": P("int", True, 1, 4096),
    "crop_input_x": P("int", True, 0, 4096),
    "crop_input_y": P("int", True, 0, 4096),
    "crop_input_width": P("int", True, 1, 4096),
    "crop_input_height": P("int", True, 1, 4096),
}
V1_STYLE = {"style_group_id": P("int", True), "style_ids": P("ids", True)}
V2_STYLE = {"template_id": P("str", True)}
SRC = {"src_ids": (1, 1)}


def _features() -> dict[str, Feature]:
    hair = {"needs_face": True, "max_side": 1024, "styles": True}
    fs = [
        Feature("enhance", "enhance", "enhance", 2,
                {"scale": P("int", True, values=(1, 2, 4))},
                {"scale": P("int", True, values=(1, 2, 4))}, SRC),
        Feature("object_removal", "object-removal", "generative-fill", 1, {}, {},
                {"src_ids": (1, 1), "mask_ids": (1, 1)}, {"msk_file_id": "one"}),
        Feature("sod", "sod", "sod", 1, {}, {}, SRC),
        # v1 Background Change / Blur: the v1 document's run-task schemas list only src_ids and
        # the action id, and the result is a foreground mask (seed youcam-online-editor.txt).
        Feature("bg_replace", "bg-replace", "bg-replace", 4,
                {},
                {"type": P("str", True, values=("prompt", "template")),
                 "prompt": P("str", False, max_len=500), "template_id": P("str")},
                SRC, styles=True),
        Feature("bg_blur", "bg-blur", "bg-blur", 1,
                {}, {"intensity": P("int", False, 0, 100)},
                SRC),
        Feature("colorize", "colorize", "colorize", 2, {}, {}, SRC, variants=4),
        Feature("lighting", "lighting", "lighting", 2, {}, {}, SRC, min_side=256),
        Feature("color_correct", "color-correct", "colorize/color-correct", 2, {}, {}, SRC,
                variants=4),
        Feature("out_paint", "out-paint", "out-paint", 2, dict(GEOM), dict(GEOM), SRC),
        Feature("obj_replace", "obj-replace", "obj-replace", 1,
                {"prompt": P("str", True, max_len=500)}, {"prompt": P("str", True, max_len=500)},
                {"src_ids": (1, 1), "msk_ids": (1, 1)}, {"msk_file_id": "one"},
                max_side=2048, max_short=1024),
        Feature("text_to_image", "text-to-image", "text-to-image", 2,
                {"prompt": P("str", True, max_len=500), "negative_prompt": P("str", max_len=500),
                 "batch_size": P("int", False, 1, 4), **V1_STYLE},
                {"prompt": P("str", True, max_len=500), "negative_prompt": P("str", max_len=500),
                 "template_id": P("str"), "steps": P("int", False, 1, 50),
                 "cfg_scale": P("float", False, 1, 20), "seed": P("int", False, 0, 2**31 - 1),
                 "width_ratio": P("int", False, 1, 16), "height_ratio": P("int", False, 1, 16)},
                {}, source=False, max_side=1024, styles=True),
        Feature("hair_style", "hair-style", "hair-style", 1, dict(V1_STYLE), dict(V2_STYLE),
                SRC, **hair),
        Feature("hair_ext", "hair-ext", "hair-ext", 1, dict(V1_STYLE), dict(V2_STYLE), SRC,
                **hair),
        Feature("hair_bang", "hair-bang", "hair-bang", 1, dict(V1_STYLE), dict(V2_STYLE), SRC,
                **hair),
        Feature("hair_vol", "hair-vol", "hair-vol", 1, dict(V1_STYLE), dict(V2_STYLE), SRC,
                **hair),
        Feature("mu_transfer", "mu-trans-rec", "mu-transfer", 2, {}, {},
                {"src_ids": (1, 1), "ref_ids": (1, 1)}, {"ref_file_id": "one"},
                max_side=1024, needs_face=True),
        Feature("face_detect", "face-swap/pre-process", "face-swap/pre-process", 0, {}, {},
                SRC),
        Feature("face_swap", "face-swap", "face-swap", 1,
                {"face_mapping": P("mapping", True)}, {"face_mapping": P("mapping_v2", True)},
                {"src_ids": (1, 1), "ref_ids": (1, 3)}, {"ref_file_ids": "many"}),
        Feature("video_sr", "video-enhance", "video-sr", 1,
                {"dst_duration": P("int", True, 1, 60)}, {"dst_duration": P("int", True, 1, 60)},
                SRC, max_side=1920),
    ]  # fmt: skip
    return {f.name: f for f in fs}


FEATURES = _features()
V1_MASK_ONLY = ("bg_blur", "bg_replace")
BY_V1 = {f.v1: f for f in FEATURES.values() if f.v1}
BY_V2 = {f.v2: f for f in FEATURES.values()}
# File-upload slugs of v1 (``file/<slug>``): every task slug, face swap's steps share one.
UPLOAD_SLUGS = {f.v1.split("/")[0] for f in FEATURES.values() if f.v1}
