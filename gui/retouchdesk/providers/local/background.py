"""Background blur and removal from a subject mask found by GrabCut.

GrabCut is seeded by the detected face: a generous head-and-shoulders box is "probably
subject", the face itself "surely subject", everything outside the box "surely background".
Without a face (a cat, a cup) the seed is a subject prior: focus (the sharp part before a
defocused background), fine-grained saliency and a weak centre prior. The result record says
whether the cut is believable (``subject_sure``, ``subject_separation``) and a warning asks for
a painted mask when it is not. The user's mask refines it: white is
surely subject; with ``mask_mode = exact`` the mask is the subject. GrabCut runs on a copy at
most ``_WORK_SIDE`` pixels long (it is iterative and slow) and its mask is brought back to full
size with a guided filter, which snaps the edge to the photo's own edges (hair, shoulders).
"""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np

from retouchdesk.core import mask as masks
from retouchdesk.providers.local import faces as facemod
from retouchdesk.providers.local.common import OpContext, scale01, to_uint8

_WORK_SIDE = 640
#: Pixels of feathering on a painted subject mask used as it is, so its edge does not alias.
EXACT_MASK_FEATHER = 2.0


def subject_alpha(rgb: np.ndarray, params: dict[str, Any], ctx: OpContext) -> np.ndarray:
    """float32 HxW 0..1: how much each pixel belongs to the subject."""
    h, w = rgb.shape[:2]
    color = np.ascontiguousarray(rgb[:, :, :3])
    user = params.get("mask_array")
    if user is not None and str(params["mask_mode"]) == "exact":
        if masks.is_empty(user):
            ctx.warn("The subject mask is empty: the whole photo counts as background")
        return masks.feather(user, EXACT_MASK_FEATHER)
    scale = min(1.0, _WORK_SIDE / max(h, w))
    sw, sh = max(1, round(w * scale)), max(1, round(h * scale))
    small = cv2.resize(color, (sw, sh), interpolation=cv2.INTER_AREA) if scale < 1 else color
    bgr = cv2.cvtColor(small, cv2.COLOR_RGB2BGR)
    gc = np.full((sh, sw), cv2.GC_BGD, dtype=np.uint8)
    ctx.progress(0.05, "Finding the subject")
    try:
        found = facemod.detect_faces(color)
    except Exception:  # no detector installed: the centred box still works
        found = []
    if found:
        ctx.meta["faces"] = len(found)
        for f in found:
            x, y, bw, bh = facemod.person_box(f, w, h)
            gc[int(y * scale) : int((y + bh) * scale), int(x * scale) : int((x + bw) * scale)] = (
                cv2.GC_PR_FGD
            )
        for f in found:
            core = facemod.face_oval((h, w), f, grow=0.7)
            # Neck and chest below the face are subject whatever their colour (a black
            # turtleneck against a black backdrop is where GrabCut alone goes wrong).
            b = f.box
            for fx0, fy0, fx1, fy1 in ((0.2, 1.0, 0.8, 1.9), (-0.2, 1.9, 1.2, 3.0)):
                x0, y0 = b.at(fx0, fy0)
                x1, y1 = b.at(fx1, fy1)
                if y0 < h:
                    cv2.rectangle(core, (int(x0), int(y0)), (int(x1), int(min(h - 1, y1))), 255, -1)
            core_small = cv2.resize(core, (sw, sh), interpolation=cv2.INTER_NEAREST)
            gc[core_small > 0] = cv2.GC_FGD
    else:
        prior = subject_prior(small)
        gc[:] = _seeds_from_prior(prior)
        ctx.meta["faces"] = 0
    if user is not None and not masks.is_empty(user):
        user_small = cv2.resize(user, (sw, sh), interpolation=cv2.INTER_AREA)
        gc[user_small > 127] = cv2.GC_FGD
    if not np.any((gc == cv2.GC_BGD) | (gc == cv2.GC_PR_BGD)):
        gc[0, :] = gc[-1, :] = gc[:, 0] = gc[:, -1] = cv2.GC_BGD
    bgd, fgd = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
    iterations = 5
    for i in range(iterations):
        ctx.check()
        mode = cv2.GC_INIT_WITH_MASK if i == 0 else cv2.GC_EVAL
        cv2.grabCut(bgr, gc, None, bgd, fgd, 1, mode)  # pyright: ignore[reportArgumentType, reportCallIssue]
        ctx.progress(0.1 + 0.6 * (i + 1) / iterations, "Finding the subject")
    fg = np.where((gc == cv2.GC_FGD) | (gc == cv2.GC_PR_FGD), 255, 0).astype(np.uint8)
    fg = _fill_holes(_largest_parts(fg), max_fraction=0.05)
    if user is None or masks.is_empty(user):
        _judge(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), fg, bool(found), ctx)
    alpha = cv2.resize(fg, (w, h), interpolation=cv2.INTER_LINEAR).astype(np.float32) / 255.0
    radius = max(2, int(max(h, w) / 300))
    guide = cv2.cvtColor(color, cv2.COLOR_RGB2GRAY).astype(np.float32) / 255.0
    if hasattr(cv2, "ximgproc"):
        alpha = cv2.ximgproc.guidedFilter(guide, alpha, radius, 1e-3)
    else:  # opencv without contrib: a plain blur of the edge
        alpha = cv2.GaussianBlur(alpha, (0, 0), radius / 2)
    return np.clip(alpha, 0.0, 1.0).astype(np.float32)


def _norm(x: np.ndarray) -> np.ndarray:
    """``x`` stretched to 0..1 between its 2nd and 98th percentiles."""
    x = x.astype(np.float32)
    lo, hi = np.percentile(x, 2), np.percentile(x, 98)
    return np.clip((x - lo) / max(float(hi - lo), 1e-6), 0.0, 1.0)


def subject_prior(rgb: np.ndarray) -> np.ndarray:
    """float32 0..1 per pixel: how likely it is to be the main subject, without a face.

    Three cues, each cheap on the working copy: focus (the local energy of the Laplacian: a
    subject is usually the sharp part, the background defocused), fine-grained saliency
    (centre-surround contrast, OpenCV contrib's ``saliency`` module when present) and a centre
    prior (photographers centre their subject more often than not).
    """
    h, w = rgb.shape[:2]
    side = max(h, w)
    grey = cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2GRAY).astype(np.float32)
    lap = cv2.Laplacian(grey, cv2.CV_32F, ksize=3)
    focus = _norm(np.sqrt(cv2.GaussianBlur(lap * lap, (0, 0), side / 40)))
    cues = [(focus, 0.65)]
    if hasattr(cv2, "saliency"):
        detector = cv2.saliency.StaticSaliencyFineGrained_create()  # pyright: ignore[reportAttributeAccessIssue]
        ok, sal = detector.computeSaliency(
            cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2BGR)
        )
        if ok:
            cues.append((_norm(cv2.GaussianBlur(sal.astype(np.float32), (0, 0), side / 50)), 0.35))
    total = sum(wt for _, wt in cues)
    prior = sum(c * wt for c, wt in cues) / total
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    centre = np.exp(-(((xx - w / 2) / (0.45 * w)) ** 2 + ((yy - h / 2) / (0.45 * h)) ** 2))
    return (prior * (0.75 + 0.25 * centre)).astype(np.float32)


def _seeds_from_prior(prior: np.ndarray) -> np.ndarray:
    """GrabCut labels from the prior: its Otsu foreground, generously grown, is probably
    subject and its core surely; the least likely sixth of the photo is surely background (a
    clean sample for the background's colours); GrabCut decides the rest by colour."""
    h, w = prior.shape
    p8 = to_uint8(prior * 255.0)
    t, region = cv2.threshold(p8, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    region = _fill_holes(_largest_parts(region), max_fraction=0.2)
    gc = np.full((h, w), cv2.GC_PR_BGD, np.uint8)
    k = max(3, int(min(h, w) * 0.15)) | 1
    grown = cv2.dilate(region, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k)))
    gc[grown > 0] = cv2.GC_PR_FGD
    core = cv2.erode(region, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k)))
    gc[(core > 0) & (p8 > min(254, t + (255 - t) // 3))] = cv2.GC_FGD
    gc[(p8 <= np.percentile(p8, 16)) & (region == 0)] = cv2.GC_BGD
    return gc


def _judge(rgb: np.ndarray, fg: np.ndarray, faces: bool, ctx: OpContext) -> None:
    """Say when the subject found is doubtful and a painted mask would help.

    A cut is believable when subject and background differ in colour (Bhattacharyya distance
    of their Lab histograms >= 0.4) or in focus (the subject's Laplacian energy >= 4x the
    background's: a sharp subject before a defocused background). On this repository's photos
    the cat scores 11.7x in focus, the cup 0.43 in colour; a crop of the bare table 0.29 and
    2.8x, uniform noise 0.07 and 1.0x. ``subject_separation`` >= 1 is sure.
    """
    sel = fg > 0
    fraction = float(sel.mean())
    reasons = []
    separation = 0.0
    if fraction < 0.03:
        reasons.append("almost nothing stood out as a subject")
    elif fraction > 0.9:
        reasons.append("almost the whole photo looked like the subject")
    else:
        lab = cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2Lab)

        def hist(m: np.ndarray) -> np.ndarray:
            hh = cv2.calcHist([lab], [0, 1, 2], m.astype(np.uint8), [8, 8, 8], [0, 256] * 3)
            return cv2.normalize(hh, hh, 1, 0, cv2.NORM_L1)

        colour = cv2.compareHist(hist(sel), hist(~sel), cv2.HISTCMP_BHATTACHARYYA)
        grey = cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2GRAY).astype(np.float32)
        energy = cv2.Laplacian(grey, cv2.CV_32F) ** 2
        focus = float(energy[sel].mean()) / (float(energy[~sel].mean()) + 1e-6)
        separation = max(colour / 0.4, float(np.log(max(focus, 1.0)) / np.log(4.0)))
        if separation < 1.0 and not faces:
            reasons.append("it hardly differs from the background in colour or sharpness")
    ctx.meta["subject_separation"] = round(separation, 2)
    ctx.meta["subject_sure"] = not reasons
    if reasons:
        ctx.warn(
            f"{ctx.source_name}: not sure what the subject is ({reasons[0]}); paint over the "
            "subject (white) in a mask for a better result"
        )


def _largest_parts(fg: np.ndarray) -> np.ndarray:
    """Drop specks: keep components at least 5% the size of the largest one, fill holes."""
    n, labels, stats, _ = cv2.connectedComponentsWithStats(
        (fg > 0).astype(np.uint8), connectivity=8
    )
    if n <= 2:
        return fg
    areas = stats[1:, cv2.CC_STAT_AREA]
    keep = np.zeros(n, dtype=bool)
    keep[1:] = areas >= 0.05 * areas.max()
    return np.where(keep[np.asarray(labels, dtype=np.intp)], 255, 0).astype(np.uint8)


def _fill_holes(fg: np.ndarray, max_fraction: float = 0.02) -> np.ndarray:
    """Fill background islands enclosed by the subject (a badge, a shadow in a fold)."""
    bg = (fg == 0).astype(np.uint8)
    n, labels, stats, _ = cv2.connectedComponentsWithStats(bg, connectivity=4)
    h, w = fg.shape
    out = fg.copy()
    for i in range(1, n):
        x, y, bw, bh, area = stats[i]
        touches = x == 0 or y == 0 or x + bw == w or y + bh == h
        if not touches and area <= max_fraction * h * w:
            out[labels == i] = 255
    return out


def remove_background(rgb: np.ndarray, params: dict[str, Any], ctx: OpContext) -> np.ndarray:
    """The ``background_removal`` operation: RGBA, alpha = subject (times any source alpha)."""
    alpha = subject_alpha(rgb, params, ctx)
    a = to_uint8(alpha * 255.0)
    if rgb.ndim == 3 and rgb.shape[2] == 4:
        a = ((a.astype(np.uint16) * rgb[:, :, 3] + 127) // 255).astype(np.uint8)
    ctx.meta["subject_fraction"] = round(float((alpha > 0.5).mean()), 4)
    ctx.progress(1.0, "Background removed")
    return np.dstack([np.ascontiguousarray(rgb[:, :, :3]), a])


def blur_background(rgb: np.ndarray, params: dict[str, Any], ctx: OpContext) -> np.ndarray:
    """The ``background_blur`` operation: a lens-like blur behind the subject, no halo."""
    intensity = scale01(params["intensity"])
    if intensity <= 0:
        ctx.warn("Intensity 0: the photo is unchanged")
        return rgb.copy()
    alpha = subject_alpha(rgb, params, ctx)
    ctx.check()
    color = rgb[:, :, :3].astype(np.float32)
    h, w = color.shape[:2]
    sigma = max(0.5, intensity * max(h, w) / 60.0)
    # Normalised convolution: blur the background alone, so the subject does not bleed into it.
    bg_weight = (1.0 - alpha)[:, :, None]
    num = cv2.GaussianBlur(color * bg_weight, (0, 0), sigma)
    den = cv2.GaussianBlur(bg_weight, (0, 0), sigma)
    if den.ndim == 2:
        den = den[:, :, None]
    blurred = np.where(
        den > 1e-3, num / np.maximum(den, 1e-3), cv2.GaussianBlur(color, (0, 0), sigma)
    )
    a = alpha[:, :, None]
    out = to_uint8(color * a + blurred * (1.0 - a))
    ctx.meta["subject_fraction"] = round(float((alpha > 0.5).mean()), 4)
    ctx.progress(1.0, "Background blurred")
    if rgb.ndim == 3 and rgb.shape[2] == 4:
        out = np.dstack([out, rgb[:, :, 3]])
    return out
