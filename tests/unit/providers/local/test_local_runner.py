"""run_operation: files in, files out, metadata carried, bad input refused plainly."""

from __future__ import annotations

import hashlib
import subprocess
import sys
import textwrap
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image, ImageCms

from retouchdesk.core import mask as masks
from retouchdesk.core.errors import Cancelled, InputError, ParameterError
from retouchdesk.core.schema import ParamKind, load_catalog
from retouchdesk.providers.local import OPERATIONS, run_operation

DATA = Path(__file__).resolve().parents[3] / "data"


def photo(name: str) -> np.ndarray:
    return np.asarray(Image.open(DATA / name).convert("RGB")).copy()


def _sha(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


@pytest.fixture
def portrait_jpeg(tmp_path: Path) -> Path:
    """The astronaut as a camera JPEG: EXIF (orientation 1, make, GPS), sRGB ICC profile."""
    ex = Image.Exif()
    ex[0x0112] = 1
    ex[0x010F] = "TestCam"
    ex.get_ifd(0x8825)[1] = "N"
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    p = tmp_path / "portrait.jpg"
    Image.open(DATA / "astronaut.png").convert("RGB").save(
        p, exif=ex.tobytes(), icc_profile=icc, quality=95
    )
    return p


def test_every_operation_has_a_schema_and_defaults_validate():
    local = load_catalog().provider("local")
    assert local.kind == "local"
    assert set(local.operations) == set(OPERATIONS)
    removal = local.operations["object_removal"]
    assert removal.required_inputs == ("image", "mask")
    assert removal.param("method").default == "texture"
    smoothing = local.operations["skin_smoothing"]
    for name in ("r_eye", "l_eye", "r_brow", "l_brow", "mouth", "u_lip", "l_lip", "nose"):
        assert smoothing.param(name).kind is ParamKind.BOOL
        assert smoothing.param(name).group == "Area control"
    for op in local.operations.values():
        op.defaults()


def test_result_written_with_metadata_and_source_untouched(tmp_path: Path, portrait_jpeg: Path):
    before = _sha(portrait_jpeg)
    out = tmp_path / "out" / "portrait_lighting.jpg"
    seen: list[tuple[float | None, str]] = []
    summary = run_operation(
        "lighting",
        portrait_jpeg,
        {"strength": "70"},
        out,
        progress=lambda f, m: seen.append((f, m)),
    )
    assert _sha(portrait_jpeg) == before
    assert summary["engine"] == "opencv" and summary["output"] == str(out)
    assert (summary["width"], summary["height"]) == (512, 512)
    assert seen[0][0] == 0.0 and seen[-1][0] == 1.0
    with Image.open(out) as im:
        assert im.size == (512, 512) and im.format == "JPEG"
        assert im.getexif().get(0x010F) == "TestCam" and im.getexif().get(0x0112) == 1
        assert im.info.get("icc_profile")
    with pytest.raises(Exception, match="original"):
        run_operation("lighting", portrait_jpeg, {}, portrait_jpeg)
    assert _sha(portrait_jpeg) == before


def test_mask_of_the_wrong_size_is_refused_with_both_sizes_or_resized(tmp_path: Path):
    src = DATA / "chelsea.png"
    small = np.zeros((150, 225), np.uint8)
    small[50:80, 100:130] = 255
    mask_path = masks.save_mask(small, tmp_path / "half.png")
    out = tmp_path / "r.png"
    with pytest.raises(InputError) as err:
        run_operation("object_removal", src, {"mask": str(mask_path)}, out)
    assert "225x150" in str(err.value) and "451x300" in str(err.value)
    assert not out.exists()
    summary = run_operation(
        "object_removal", src, {"mask": str(mask_path), "mask_resize": True}, out
    )
    assert summary["hole_fraction"] > 0.02 and out.exists()


def test_missing_mask_and_bad_parameters_are_parameter_errors(tmp_path: Path):
    src = DATA / "chelsea.png"
    with pytest.raises(ParameterError, match="mask"):
        run_operation("object_removal", src, {}, tmp_path / "r.png")
    with pytest.raises(ParameterError, match="strength"):
        run_operation("lighting", src, {"strength": 300}, tmp_path / "r.png")
    with pytest.raises(ParameterError, match="method"):
        run_operation("object_removal", src, {"method": "magic"}, tmp_path / "r.png")
    with pytest.raises(ParameterError, match="upscale"):
        run_operation("sharpen", src, {}, tmp_path / "r.png")


def test_empty_mask_is_a_noop_with_a_warning(tmp_path: Path):
    mask_path = masks.save_mask(np.zeros((300, 451), np.uint8), tmp_path / "empty.png")
    out = tmp_path / "same.png"
    summary = run_operation("object_removal", DATA / "chelsea.png", {"mask": str(mask_path)}, out)
    assert summary["noop"] and "empty" in summary["warnings"][0]
    assert np.array_equal(np.asarray(Image.open(out).convert("RGB")), photo("chelsea.png"))


def test_no_face_leaves_no_file(tmp_path: Path):
    out = tmp_path / "coffee_smooth.png"
    with pytest.raises(InputError, match=r"coffee\.png: no face found"):
        run_operation("skin_smoothing", DATA / "coffee.png", {}, out)
    assert not out.exists() and list(tmp_path.iterdir()) == []


def test_grey_sixteen_bit_and_alpha_images_work(tmp_path: Path):
    grey = tmp_path / "grey.png"
    Image.open(DATA / "chelsea.png").convert("L").save(grey)
    s = run_operation("color_correction", grey, {}, tmp_path / "grey_out.png")
    assert (s["width"], s["height"]) == (451, 300)

    deep = tmp_path / "deep.png"
    rgb16 = photo("coffee.png").astype(np.uint16) * 257
    cv2.imwrite(str(deep), cv2.cvtColor(rgb16, cv2.COLOR_RGB2BGR))
    s = run_operation("lighting", deep, {}, tmp_path / "deep_out.png")
    assert s["bit_depth"] == 16  # 16-bit in, 16-bit out (the schema says bit_depth = 16)
    back = cv2.imread(str(tmp_path / "deep_out.png"), cv2.IMREAD_UNCHANGED)
    assert back.dtype == np.uint16 and back.shape == (rgb16.shape[0], rgb16.shape[1], 3)
    s = run_operation("upscale", deep, {"scale": 2, "engine": "classic"}, tmp_path / "up.png")
    assert s["bit_depth"] == 8 and any("8-bit result" in w for w in s["warnings"])  # said plainly

    rgba = np.dstack([photo("chelsea.png"), np.full((300, 451), 128, np.uint8)])
    clear = tmp_path / "clear.png"
    Image.fromarray(rgba, "RGBA").save(clear)
    out = tmp_path / "clear_out.png"
    run_operation("upscale", clear, {"scale": 2, "engine": "classic"}, out)
    with Image.open(out) as im:
        assert im.mode == "RGBA" and im.size == (902, 600)
        assert abs(int(np.asarray(im)[..., 3].mean()) - 128) <= 1


@pytest.mark.slow
def test_background_removal_result_has_alpha(tmp_path: Path):
    out = tmp_path / "cut.png"
    run_operation("background_removal", DATA / "astronaut.png", {}, out)
    with Image.open(out) as im:
        assert im.mode == "RGBA"
        a = np.asarray(im)[..., 3]
        assert a[120, 220] > 240 and a[10, 470] < 15


def test_cancelled_before_start_writes_nothing(tmp_path: Path):
    out = tmp_path / "never.png"
    with pytest.raises(Cancelled):
        run_operation("lighting", DATA / "chelsea.png", {}, out, cancelled=lambda: True)
    assert not out.exists()


def test_the_area_toggles_are_the_regions_the_face_finder_can_locate():
    """Skin smoothing protects by these names: a toggle it cannot place would do nothing."""
    from retouchdesk.providers.local import faces

    op = load_catalog().operation("local", "skin_smoothing")
    toggles = {p.name for p in op.params if p.group == "Area control"}
    assert toggles == set(faces.REGIONS)


@pytest.mark.parametrize(
    ("op_id", "name", "value"),
    [
        ("color_correction", "strength", 80),
        ("lighting", "shadow_lift", 50),
        ("skin_smoothing", "strength", 50),
    ],
)
def test_an_offline_operation_takes_its_defaults_from_the_schema(
    op_id: str, name: str, value: int, monkeypatch: pytest.MonkeyPatch
):
    """The operations read no default of their own: change the schema's and the result follows."""
    from dataclasses import replace

    from retouchdesk.providers.local import run_array, runner

    rgb = photo("astronaut.png")
    op = runner.operation_schema(op_id)
    assert op.param(name).default == value
    same = run_array(op_id, rgb, {})
    assert np.array_equal(same, run_array(op_id, rgb, {name: value}))
    changed = replace(
        op, params=tuple(replace(p, default=0) if p.name == name else p for p in op.params)
    )
    monkeypatch.setattr(runner, "operation_schema", lambda _id: changed)
    assert np.array_equal(run_array(op_id, rgb, {}), run_array(op_id, rgb, {name: 0}))
    assert not np.array_equal(run_array(op_id, rgb, {}), same)


def test_a_removal_loads_only_the_removal_code(tmp_path: Path, data_dir: Path):
    # A worker process imports the operations it runs, when it runs them: face detection,
    # Real-ESRGAN and the tone curves cost an object removal's worker 20-30 ms to start.
    script = textwrap.dedent(
        """
        import sys
        import numpy as np
        from PIL import Image
        from retouchdesk.providers.local import run_operation
        sel = np.zeros((512, 512), np.uint8)
        sel[200:240, 300:340] = 255
        Image.fromarray(sel, "L").save(sys.argv[2])
        done = run_operation("object_removal", sys.argv[1],
                             {"mask": sys.argv[2], "method": "telea"}, sys.argv[3])
        names = ("upscale", "esrgan", "skin", "faces", "background", "tone")
        print(sorted(n for n in names if f"retouchdesk.providers.local.{n}" in sys.modules))
        print(done["output"])  # the hand-over may be in memory (core.handover.in_ram)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(data_dir / "astronaut.png"),
         str(tmp_path / "mask.png"), str(tmp_path / "out.npy")],
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    loaded, written = done.stdout.strip().splitlines()
    assert loaded == "[]", done.stdout
    assert Path(written).is_file() and Path(written).name == "out.npy"
