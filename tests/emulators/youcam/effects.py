"""The emulated engine's output images, one function per task.

Each effect does a cheap but real version of what the task promises (upscale and sharpen, fill a
masked region, cut out the subject, recolour, relight, extend the canvas, paint hair or makeup,
paste faces), using the offline engine's ``run_operation`` where it implements the operation.
"""

from __future__ import annotations

import functools
import hashlib
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from PIL import Image, ImageFilter

from tests.emulators.youcam.errors import EngineError
from tests.emulators.youcam.imaging import (
    colour_of,
    detect_faces,
    offline_result,
    quick_inpaint,
    subject_alpha,
)


@dataclass(frozen=True)
class Source:
    """What one task gives its effect: the photo, parameters, mask, references and faces."""

    img: np.ndarray
    params: dict[str, Any]
    mask: np.ndarray | None = None
    refs: list[np.ndarray] = field(default_factory=list)
    faces: list[dict[str, Any]] | None = None


def render(
    name: str,
    img: np.ndarray | None,
    params: dict[str, Any],
    *,
    mask: np.ndarray | None = None,
    refs: list[np.ndarray] | None = None,
    faces: list[dict[str, Any]] | None = None,
) -> list[np.ndarray]:
    """The emulated engine's output images for one task."""
    if name == "text_to_image":
        return _text_to_image(params)
    assert img is not None
    effect = EFFECTS.get(name)
    if effect is None:
        raise EngineError("unknown_internal_error")
    return effect(Source(img, params, mask, refs or [], faces))


def _text_to_image(params: dict[str, Any]) -> list[np.ndarray]:
    """``batch_size`` soft gradients with grain, seeded by prompt, style and index."""
    n = int(params.get("batch_size", 1) or 1)
    wr, hr = int(params.get("width_ratio") or 1), int(params.get("height_ratio") or 1)
    w, h = (1024, max(64, 1024 * hr // wr)) if wr >= hr else (max(64, 1024 * wr // hr), 1024)
    outs = []
    for i in range(n):
        key = f"{params.get('prompt')}|{params.get('style_ids') or params.get('template_id')}|{i}"
        rng = np.random.default_rng(int(hashlib.sha1(key.encode()).hexdigest()[:8], 16))
        c1, c2 = np.array(colour_of(key)), np.array(colour_of(key[::-1]))
        t = np.linspace(0, 1, h)[:, None, None]
        base = c1 * (1 - t) + c2 * t + rng.normal(0, 12, (h, w, 3))
        base = cv2.GaussianBlur(base.astype(np.float32), (0, 0), 3)
        outs.append(np.clip(base, 0, 255).astype(np.uint8))
    return outs


def _enhance(s: Source) -> list[np.ndarray]:
    h, w = s.img.shape[:2]
    scale = int(s.params["scale"])
    big = Image.fromarray(s.img).resize((w * scale, h * scale), Image.Resampling.LANCZOS)
    return [np.asarray(big.filter(ImageFilter.UnsharpMask(2, 80, 2)))]


def _object_removal(s: Source) -> list[np.ndarray]:
    assert s.mask is not None
    hole = (s.mask > 127).astype(np.uint8) * 255
    local = offline_result("object_removal", s.img, {}, hole)
    if local is not None and local.shape == s.img.shape:
        return [local]
    return [quick_inpaint(s.img, hole)]


def _obj_replace(s: Source) -> list[np.ndarray]:
    """The masked region filled, then an ellipse in the prompt's colour painted over it."""
    assert s.mask is not None
    hole = (s.mask > 127).astype(np.uint8) * 255
    out = quick_inpaint(s.img, hole)
    ys, xs = np.nonzero(hole)
    if len(xs):
        layer = out.copy()
        cx, cy = int(xs.mean()), int(ys.mean())
        ax, ay = max(2, (xs.max() - xs.min()) // 3), max(2, (ys.max() - ys.min()) // 3)
        cv2.ellipse(layer, (cx, cy), (int(ax), int(ay)), 0, 0, 360,
                    colour_of(str(s.params["prompt"])), -1)  # fmt: skip
        a = (hole.astype(np.float32) / 255.0)[..., None] * 0.85
        out = (out * (1 - a) + layer * a).astype(np.uint8)
    return [out]


def _sod(s: Source) -> list[np.ndarray]:
    """The subject cut out: RGBA with the background transparent."""
    img = s.img
    local = offline_result("background_removal", img, {})
    if local is not None and local.shape[:2] == img.shape[:2] and local.shape[2] == 4:
        return [local]
    alpha = subject_alpha(img)
    return [np.dstack([img, (alpha * 255).astype(np.uint8)])]


def _bg_blur(s: Source) -> list[np.ndarray]:
    img = s.img
    local = offline_result(
        "background_blur", img, {"intensity": int(s.params.get("intensity", 50))}
    )
    if local is not None and local.shape == img.shape:
        return [local]
    alpha = subject_alpha(img)[..., None]
    sigma = 0.5 + float(s.params.get("intensity", 50)) / 6.0
    blurred = cv2.GaussianBlur(img, (0, 0), sigma)
    return [(img * alpha + blurred * (1 - alpha)).astype(np.uint8)]


def _bg_replace(s: Source) -> list[np.ndarray]:
    """The subject over a gradient derived from the prompt or style."""
    img, p = s.img, s.params
    alpha = subject_alpha(img)[..., None]
    key = str(p.get("prompt") or p.get("template_id") or p.get("style_ids"))
    c1, c2 = np.array(colour_of(key)), np.array(colour_of(key + "2"))
    t = np.linspace(0, 1, img.shape[0])[:, None, None]
    bg = np.broadcast_to(c1 * (1 - t) + c2 * t, img.shape)
    return [(img * alpha + bg * (1 - alpha)).astype(np.uint8)]


def _colorize(s: Source) -> list[np.ndarray]:
    """Four tints of the photo's grey version."""
    grey = cv2.cvtColor(s.img, cv2.COLOR_RGB2GRAY)
    lab = cv2.cvtColor(cv2.cvtColor(grey, cv2.COLOR_GRAY2RGB), cv2.COLOR_RGB2LAB)
    outs = []
    for da, db in ((12, 22), (-6, 18), (18, 6), (4, -12)):
        x = lab.astype(np.int16)
        lum = x[..., 0:1].astype(np.float32) / 255.0
        x[..., 1] = 128 + (da * (0.4 + lum[..., 0])).astype(np.int16)
        x[..., 2] = 128 + (db * (1.2 - lum[..., 0])).astype(np.int16)
        outs.append(cv2.cvtColor(np.clip(x, 0, 255).astype(np.uint8), cv2.COLOR_LAB2RGB))
    return outs


def _lighting(s: Source) -> list[np.ndarray]:
    img = s.img
    local = offline_result("lighting", img, {})
    if local is not None and local.shape == img.shape:
        return [local]
    lab = cv2.cvtColor(img, cv2.COLOR_RGB2LAB)
    lab[..., 0] = cv2.createCLAHE(2.0, (8, 8)).apply(lab[..., 0])
    out = cv2.cvtColor(lab, cv2.COLOR_LAB2RGB).astype(np.float32) / 255.0
    return [(np.power(out, 0.8) * 255).astype(np.uint8)]


def _color_correct(s: Source) -> list[np.ndarray]:
    """Grey-world white balance at four strengths."""
    f = s.img.astype(np.float32)
    gain = f.reshape(-1, 3).mean(0)
    gain = gain.mean() / np.maximum(gain, 1)
    return [
        np.clip(f * (1 + (gain - 1) * k), 0, 255).astype(np.uint8) for k in (1.0, 0.75, 0.5, 1.25)
    ]


def _out_paint(s: Source) -> list[np.ndarray]:
    """The cropped input placed on the output canvas, the rest filled."""
    img, g = s.img, s.params
    crop = img[g["crop_input_y"] : g["crop_input_y"] + g["crop_input_height"],
               g["crop_input_x"] : g["crop_input_x"] + g["crop_input_width"]]  # fmt: skip
    if crop.size == 0:
        raise EngineError("invalid_parameter")
    placed = cv2.resize(crop, (g["input_width"], g["input_height"]))
    canvas = np.zeros((g["output_height"], g["output_width"], 3), np.uint8)
    hole = np.full(canvas.shape[:2], 255, np.uint8)
    y, x = g["input_y"], g["input_x"]
    canvas[y : y + g["input_height"], x : x + g["input_width"]] = placed
    hole[y : y + g["input_height"], x : x + g["input_width"]] = 0
    return [quick_inpaint(canvas, hole)]


def _hair(grow: float, s: Source) -> list[np.ndarray]:
    """A tinted cap of hair above the first face, ``grow`` times its size, the face kept."""
    img = s.img
    h, w = img.shape[:2]
    x1, y1, x2, y2 = s.faces[0]["bbox"] if s.faces else (0, 0, w, h)
    key = str(s.params.get("style_ids") or s.params.get("template_id"))
    hair = np.zeros((h, w), np.float32)
    fw = x2 - x1
    axes = (int(fw * 0.5 * grow), int((y2 - y1) * 0.55 * grow))
    cv2.ellipse(hair, ((x1 + x2) // 2, y1 + (y2 - y1) // 3), axes, 0, 180, 360, 1.0, -1)
    hair[y1 + (y2 - y1) // 4 : y2, x1 + fw // 6 : x2 - fw // 6] = 0  # keep the face
    hair = cv2.GaussianBlur(hair, (0, 0), 6)[..., None]
    tint = np.array(colour_of(key), np.float32)
    return [(img * (1 - 0.45 * hair) + tint * 0.45 * hair).astype(np.uint8)]


def _face_box(ref: np.ndarray) -> tuple[int, int, int, int]:
    """The first face of a reference image, or the whole image."""
    found = detect_faces(ref)
    return found[0] if found else (0, 0, ref.shape[1], ref.shape[0])


def _mu_transfer(s: Source) -> list[np.ndarray]:
    """The reference face's colours moved onto the first face, feathered by an ellipse."""
    img, ref = s.img, s.refs[0]
    h, w = img.shape[:2]
    rx1, ry1, rx2, ry2 = _face_box(ref)
    x1, y1, x2, y2 = s.faces[0]["bbox"] if s.faces else (0, 0, w, h)
    src_lab = cv2.cvtColor(img, cv2.COLOR_RGB2LAB).astype(np.float32)
    ref_lab = cv2.cvtColor(ref[ry1:ry2, rx1:rx2], cv2.COLOR_RGB2LAB).astype(np.float32)
    region = src_lab[y1:y2, x1:x2]
    for c in (1, 2):  # colour only: lips, cheeks and lids take the reference's hues
        mu, sd = region[..., c].mean(), region[..., c].std() + 1e-3
        rmu, rsd = ref_lab[..., c].mean(), ref_lab[..., c].std() + 1e-3
        region[..., c] = (region[..., c] - mu) * (rsd / sd) + rmu
    out_lab = src_lab.copy()
    out_lab[y1:y2, x1:x2] = region
    out = cv2.cvtColor(np.clip(out_lab, 0, 255).astype(np.uint8), cv2.COLOR_LAB2RGB)
    weight = np.zeros((h, w), np.float32)
    cv2.ellipse(weight, ((x1 + x2) // 2, (y1 + y2) // 2), ((x2 - x1) // 2, (y2 - y1) // 2),
                0, 0, 360, 1.0, -1)  # fmt: skip
    weight = cv2.GaussianBlur(weight, (0, 0), 5)[..., None]
    return [(img * (1 - weight) + out * weight).astype(np.uint8)]


def _face_swap(s: Source) -> list[np.ndarray]:
    """Each mapped reference face cloned over its face of the photo."""
    out = s.img.copy()
    faces = s.faces
    assert faces is not None
    for m in s.params["face_mapping"]:
        if m["position"] >= len(faces):
            raise EngineError("invalid_parameter")
        ref = s.refs[m["index"]]
        rx1, ry1, rx2, ry2 = _face_box(ref)
        x1, y1, x2, y2 = faces[m["position"]]["bbox"]
        patch = cv2.resize(ref[ry1:ry2, rx1:rx2], (x2 - x1, y2 - y1))
        pm = np.zeros(patch.shape[:2], np.uint8)
        cv2.ellipse(pm, ((x2 - x1) // 2, (y2 - y1) // 2), ((x2 - x1) // 2 - 2,
                    (y2 - y1) // 2 - 2), 0, 0, 360, 255, -1)  # fmt: skip
        centre = ((x1 + x2) // 2, (y1 + y2) // 2)
        out = cv2.seamlessClone(patch, out, pm, centre, cv2.NORMAL_CLONE)
    return [out]


EFFECTS: dict[str, Callable[[Source], list[np.ndarray]]] = {
    "enhance": _enhance,
    "object_removal": _object_removal,
    "obj_replace": _obj_replace,
    "sod": _sod,
    "bg_blur": _bg_blur,
    "bg_replace": _bg_replace,
    "colorize": _colorize,
    "lighting": _lighting,
    "color_correct": _color_correct,
    "out_paint": _out_paint,
    "hair_style": functools.partial(_hair, 1.2),
    "hair_ext": functools.partial(_hair, 1.6),
    "hair_bang": functools.partial(_hair, 0.6),
    "hair_vol": functools.partial(_hair, 1.3),
    "mu_transfer": _mu_transfer,
    "face_swap": _face_swap,
}


def video_sr(data: bytes) -> bytes:
    """Each frame upscaled 2x (at most 3840 px wide), written as MPEG-4."""
    with tempfile.TemporaryDirectory() as tmp:
        src, dst = Path(tmp) / "in.mp4", Path(tmp) / "out.mp4"
        src.write_bytes(data)
        cap = cv2.VideoCapture(str(src))
        if not cap.isOpened():
            raise EngineError("error_decode_image")
        fps = cap.get(cv2.CAP_PROP_FPS) or 25.0
        writer = None
        while True:
            ok, frame = cap.read()
            if not ok:
                break
            h, w = frame.shape[:2]
            k = min(2.0, 3840 / max(w, h))
            big = cv2.resize(frame, (int(w * k), int(h * k)), interpolation=cv2.INTER_CUBIC)
            big = cv2.addWeighted(big, 1.5, cv2.GaussianBlur(big, (0, 0), 2), -0.5, 0)
            if writer is None:
                fourcc = cv2.VideoWriter.fourcc(*"mp4v")
                writer = cv2.VideoWriter(str(dst), fourcc, fps, (big.shape[1], big.shape[0]))
            writer.write(big)
        cap.release()
        if writer is None:
            raise EngineError("error_decode_image")
        writer.release()
        return dst.read_bytes()
