"""The mask a photographer paints: a full-resolution buffer with memory-bounded undo.

:class:`MaskDocument` holds the selection of one photo as a ``uint8`` HxW numpy array
(255 = selected, the same convention as :mod:`retouchdesk.core.mask` and the PNG files every
provider reads). Every edit goes through a transaction that snapshots only the 128x128 tiles it
touches before changing them; when the edit ends, the tiles that really changed are kept as
zlib-compressed before/after patches. Undo history is therefore bounded by *bytes*
(``undo_limit_bytes``), not by a count: a 24-megapixel "invert" costs a few hundred kilobytes
compressed, a brush stroke a few kilobytes, and the oldest steps go first.

:class:`MaskTools` is the state of the painting tools (tool, brush size and hardness, overlay
colour and opacity, visibility, preview of expand/feather); the tool bar and the canvas layer
both bind to it.

Signals of MaskDocument:
    changed(QRect): pixels in this image rectangle changed (repaint only that).
    undo_state_changed(): can_undo / can_redo / the labels changed.
    size_changed(int, int): the mask was replaced by one of another size (photo upscaled).
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, QRect, Signal
from PySide6.QtGui import QColor

if TYPE_CHECKING:  # imported where used: the window's first paint loads none of these
    import numpy as np


TILE = 128
DEFAULT_UNDO_BYTES = 256 * 1024 * 1024


@dataclass
class _Patch:
    """One changed tile: position, size and its compressed content before and after."""

    x: int
    y: int
    w: int
    h: int
    before: bytes
    after: bytes

    @property
    def nbytes(self) -> int:
        return len(self.before) + len(self.after) + 64


@dataclass
class _Step:
    label: str
    patches: list[_Patch] = field(default_factory=list)

    @property
    def nbytes(self) -> int:
        return sum(p.nbytes for p in self.patches) + 64

    def bounds(self) -> QRect:
        r = QRect()
        for p in self.patches:
            r = r.united(QRect(p.x, p.y, p.w, p.h))
        return r


def dab_alpha(
    cx: float, cy: float, radius: float, hardness: float, x0: int, y0: int, x1: int, y1: int
) -> np.ndarray:
    """Coverage 0..255 of a round dab centred on (cx, cy) over pixels [x0, x1) x [y0, y1).

    Pixel (i, j) has its centre at (i + 0.5, j + 0.5). Inside ``radius * hardness`` the dab is
    solid; from there to ``radius`` it falls off linearly. A fully hard brush still gets a
    one-pixel antialiased rim so edges do not look jagged at 100 %.
    """
    import numpy as np

    xs = np.arange(x0, x1, dtype=np.float32) + (0.5 - cx)
    ys = np.arange(y0, y1, dtype=np.float32) + (0.5 - cy)
    d = np.sqrt(ys[:, None] ** 2 + xs[None, :] ** 2)
    inner = radius * min(max(hardness, 0.0), 1.0)
    if radius - inner < 1.0:
        a = np.clip(radius + 0.5 - d, 0.0, 1.0)
    else:
        a = np.clip((radius - d) / (radius - inner), 0.0, 1.0)
    return (a * 255.0 + 0.5).astype(np.uint8)


class MaskDocument(QObject):
    """The selection of one photo at full resolution, with undo/redo bounded by memory."""

    changed = Signal(QRect)
    undo_state_changed = Signal()
    size_changed = Signal(int, int)

    def __init__(
        self,
        width: int,
        height: int,
        *,
        undo_limit_bytes: int = DEFAULT_UNDO_BYTES,
        array: np.ndarray | None = None,
        parent: QObject | None = None,
    ) -> None:
        """A blank mask of ``width`` x ``height``, or ``array`` (uint8 HxW) taken over as it is
        (a mask just loaded: no copy; nobody else may write to it afterwards)."""
        super().__init__(parent)
        if width <= 0 or height <= 0:
            raise ValueError(f"a mask needs a positive size (got {width}x{height})")
        self._buf: np.ndarray | None = None  # made at the first edit or read (see ``_a``)
        self._w, self._h = int(width), int(height)
        if array is not None:
            import numpy as np

            if array.shape != (height, width) or array.dtype != np.uint8:
                raise ValueError(f"the mask is {array.shape}, expected {width}x{height} uint8")
            self._buf = array
        self._empty: bool | None = None if array is not None else True  # None: not known
        self.undo_limit_bytes = undo_limit_bytes
        self._undo: list[_Step] = []
        self._redo: list[_Step] = []
        self._txn: dict[tuple[int, int], np.ndarray] | None = None
        self._txn_label = ""
        self._stroke_last: tuple[float, float] | None = None
        self._stroke_residual = 0.0
        self._stroke_args: tuple[float, float, bool] = (10.0, 1.0, False)

    # -- basic facts ----------------------------------------------------------------------
    @property
    def _a(self) -> np.ndarray:
        """The pixels, allocated when first needed: a photo that is only looked at never
        gets a mask buffer (nor loads numpy for one)."""
        if self._buf is None:
            import numpy as np

            # calloc'd: pages of a mask nobody paints are never touched, so cost no memory.
            self._buf = np.zeros((self._h, self._w), dtype=np.uint8)
        return self._buf

    @_a.setter
    def _a(self, value: np.ndarray) -> None:
        self._buf = value
        self._h, self._w = int(value.shape[0]), int(value.shape[1])

    @property
    def array(self) -> np.ndarray:
        """The live buffer (read it; edit only through the methods so undo stays right)."""
        return self._a

    @property
    def width(self) -> int:
        return self._w

    @property
    def height(self) -> int:
        return self._h

    @property
    def size(self) -> tuple[int, int]:
        return self.width, self.height

    def rect(self) -> QRect:
        return QRect(0, 0, self.width, self.height)

    def is_empty(self) -> bool:
        """Nothing selected. Remembered until the next edit: the window asks after every
        change of a parameter, and a scan of 24 MP costs milliseconds."""
        if self._empty is None:
            self._empty = not bool(self._a.any())
        return self._empty

    # -- transactions (the undo machinery) --------------------------------------------------
    def begin(self, label: str) -> None:
        """Start an undoable edit; every pixel change until :meth:`commit` is one step."""
        if self._txn is not None:
            self.commit()
        self._txn = {}
        self._txn_label = label

    def _touch(self, x0: int, y0: int, x1: int, y1: int) -> None:
        """Snapshot the tiles of [x0, x1) x [y0, y1) that this edit has not touched yet."""
        assert self._txn is not None, "edit outside begin()/commit()"
        self._empty = None
        for ty in range(y0 // TILE, (y1 - 1) // TILE + 1):
            for tx in range(x0 // TILE, (x1 - 1) // TILE + 1):
                if (tx, ty) not in self._txn:
                    ys, xs = ty * TILE, tx * TILE
                    self._txn[(tx, ty)] = self._a[ys : ys + TILE, xs : xs + TILE].copy()

    def commit(self) -> None:
        """End the edit: keep the tiles that changed as one undo step."""
        import numpy as np

        txn, self._txn = self._txn, None
        if not txn:
            return
        step = _Step(self._txn_label)
        for (tx, ty), before in txn.items():
            ys, xs = ty * TILE, tx * TILE
            after = self._a[ys : ys + TILE, xs : xs + TILE]
            if np.array_equal(before, after):
                continue
            h, w = before.shape
            step.patches.append(
                _Patch(xs, ys, w, h, zlib.compress(before.tobytes(), 1), _pack(after))
            )
        if not step.patches:
            return
        self._redo.clear()
        self._undo.append(step)
        self._trim()
        self.undo_state_changed.emit()

    def _trim(self) -> None:
        total = sum(s.nbytes for s in self._undo) + sum(s.nbytes for s in self._redo)
        while self._undo and total > self.undo_limit_bytes:
            total -= self._undo.pop(0).nbytes

    @property
    def history_bytes(self) -> int:
        """Memory held by undo and redo steps (compressed)."""
        return sum(s.nbytes for s in self._undo) + sum(s.nbytes for s in self._redo)

    def can_undo(self) -> bool:
        return bool(self._undo)

    def can_redo(self) -> bool:
        return bool(self._redo)

    def undo_label(self) -> str:
        return self._undo[-1].label if self._undo else ""

    def redo_label(self) -> str:
        return self._redo[-1].label if self._redo else ""

    def undo(self) -> bool:
        if self._txn is not None:
            self.commit()
        if not self._undo:
            return False
        step = self._undo.pop()
        self._apply(step, before=True)
        self._redo.append(step)
        self.undo_state_changed.emit()
        return True

    def redo(self) -> bool:
        if self._txn is not None:
            self.commit()
        if not self._redo:
            return False
        step = self._redo.pop()
        self._apply(step, before=False)
        self._undo.append(step)
        self.undo_state_changed.emit()
        return True

    def _apply(self, step: _Step, *, before: bool) -> None:
        self._empty = None
        for p in step.patches:
            data = p.before if before else p.after
            self._a[p.y : p.y + p.h, p.x : p.x + p.w] = _unpack(data, p.h, p.w)
        self.changed.emit(step.bounds())

    def clear_history(self) -> None:
        self._undo.clear()
        self._redo.clear()
        self.undo_state_changed.emit()

    # -- brush ----------------------------------------------------------------------------
    def dab(self, cx: float, cy: float, radius: float, hardness: float, erase: bool) -> QRect:
        """Stamp one round dab (inside an open edit); returns the changed rectangle."""
        import numpy as np

        r = max(0.5, float(radius))
        x0 = max(0, math.floor(cx - r - 1))
        y0 = max(0, math.floor(cy - r - 1))
        x1 = min(self.width, math.ceil(cx + r + 1))
        y1 = min(self.height, math.ceil(cy + r + 1))
        if x0 >= x1 or y0 >= y1:
            return QRect()
        self._touch(x0, y0, x1, y1)
        a = dab_alpha(cx, cy, r, hardness, x0, y0, x1, y1)
        region = self._a[y0:y1, x0:x1]
        if erase:
            np.minimum(region, 255 - a, out=region)
        else:
            np.maximum(region, a, out=region)
            if a.any():  # something is selected now: no scan of the whole mask needed
                self._empty = False
        return QRect(x0, y0, x1 - x0, y1 - y0)

    def begin_stroke(
        self, x: float, y: float, radius: float, hardness: float, erase: bool = False
    ) -> None:
        """Start a brush (or eraser) stroke at (x, y) in image pixels and stamp the first dab."""
        self.begin("Erase" if erase else "Brush")
        self._stroke_args = (float(radius), float(hardness), erase)
        self._stroke_last = (float(x), float(y))
        self._stroke_residual = 0.0
        rect = self.dab(x, y, radius, hardness, erase)
        self._emit(rect)

    def stroke_to(self, x: float, y: float) -> QRect:
        """Continue the stroke to (x, y): dabs evenly spaced along the segment."""
        if self._stroke_last is None:
            return QRect()
        radius, hardness, erase = self._stroke_args
        spacing = max(1.0, radius * 0.2)  # 20 % of the radius: no visible beading
        lx, ly = self._stroke_last
        dx, dy = x - lx, y - ly
        dist = math.hypot(dx, dy)
        dirty = QRect()
        t = spacing - self._stroke_residual
        while t <= dist:
            f = t / dist
            dirty = dirty.united(self.dab(lx + dx * f, ly + dy * f, radius, hardness, erase))
            t += spacing
        self._stroke_residual = dist - (t - spacing) if dist else self._stroke_residual
        self._stroke_last = (float(x), float(y))
        self._emit(dirty)
        return dirty

    def end_stroke(self) -> None:
        self._stroke_last = None
        self.commit()

    # -- shapes and whole-mask edits ------------------------------------------------------------
    def fill_polygon(self, points: Sequence[tuple[float, float]], erase: bool = False) -> QRect:
        """Fill (or erase) a closed polygon given in image pixels (lasso, polygon tool)."""
        import cv2
        import numpy as np

        if len(points) < 3:
            return QRect()
        pts = np.asarray(points, dtype=np.float64)
        x0 = max(0, math.floor(pts[:, 0].min()) - 1)
        y0 = max(0, math.floor(pts[:, 1].min()) - 1)
        x1 = min(self.width, math.ceil(pts[:, 0].max()) + 2)
        y1 = min(self.height, math.ceil(pts[:, 1].max()) + 2)
        if x0 >= x1 or y0 >= y1:
            return QRect()
        shape = np.zeros((y1 - y0, x1 - x0), dtype=np.uint8)
        shift = 4  # sub-pixel vertices: fixed point with 4 fractional bits
        # Vertices are pixel-edge coordinates; cv2 draws at pixel centres, hence the -0.5.
        local = np.rint((pts - [x0 + 0.5, y0 + 0.5]) * (1 << shift)).astype(np.int32)
        cv2.fillPoly(shape, [local], 255, lineType=cv2.LINE_AA, shift=shift)
        return self._combine(shape, x0, y0, erase, "Erase shape" if erase else "Fill shape")

    def fill_rect(self, rect: QRect, erase: bool = False) -> QRect:
        """Fill (or erase) an axis-aligned rectangle of whole pixels."""
        import numpy as np

        r = rect.normalized().intersected(self.rect())
        if r.isEmpty():
            return QRect()
        shape = np.full((r.height(), r.width()), 255, dtype=np.uint8)
        return self._combine(
            shape, r.x(), r.y(), erase, "Erase rectangle" if erase else "Rectangle"
        )

    def _combine(self, shape: np.ndarray, x0: int, y0: int, erase: bool, label: str) -> QRect:
        import numpy as np

        h, w = shape.shape
        self.begin(label)
        self._touch(x0, y0, x0 + w, y0 + h)
        region = self._a[y0 : y0 + h, x0 : x0 + w]
        if erase:
            np.minimum(region, 255 - shape, out=region)
        else:
            np.maximum(region, shape, out=region)
            if shape.any():
                self._empty = False
        self.commit()
        rect = QRect(x0, y0, w, h)
        self._emit(rect)
        return rect

    def fill_all(self) -> None:
        self._replace(lambda a: a.fill(255), "Select all")

    def clear(self) -> None:
        self._replace(lambda a: a.fill(0), "Clear mask")

    def invert(self) -> None:
        import numpy as np

        self._replace(lambda a: np.subtract(255, a, out=a), "Invert mask")

    def grow(self, px: int) -> None:
        """Grow the selection by ``px`` pixels (negative shrinks), as one undoable step."""
        from retouchdesk.core import mask as core_mask

        if px:
            grown = core_mask.expand(self._a, int(px))
            self.set_array(grown, f"Grow mask {px} px" if px > 0 else f"Shrink mask {-px} px")

    def set_array(self, array: np.ndarray, label: str = "Import mask") -> None:
        """Replace the whole mask with ``array`` (same size, uint8), as one undoable step."""
        import numpy as np

        if array.shape != self._a.shape:
            h, w = self._a.shape
            raise ValueError(f"the mask is {array.shape[1]}x{array.shape[0]}, expected {w}x{h}")
        src = np.asarray(array, dtype=np.uint8)
        self._replace(lambda a: np.copyto(a, src), label)

    def reset(self, array: np.ndarray) -> None:
        """Start over from ``array`` (a saved mask being reopened): no undo step, no history."""
        import numpy as np

        if array.shape != self._a.shape:
            h, w = self._a.shape
            raise ValueError(f"the mask is {array.shape[1]}x{array.shape[0]}, expected {w}x{h}")
        self._txn = None
        self._empty = None
        np.copyto(self._a, np.asarray(array, dtype=np.uint8))
        self.clear_history()
        self._emit(self.rect())

    def _replace(self, edit, label: str) -> None:
        self.begin(label)
        self._touch(0, 0, self.width, self.height)
        edit(self._a)
        self.commit()
        self._emit(self.rect())

    def _emit(self, rect: QRect) -> None:
        if not rect.isEmpty():
            self.changed.emit(rect)

    # -- files ------------------------------------------------------------------------------
    def export_png(self, path: Path | str) -> Path:
        """Write the mask as a greyscale PNG of the photo's size (white = selected)."""
        from retouchdesk.core import mask as core_mask

        return core_mask.save_mask(self._a, path)

    def import_png(self, path: Path | str, *, resize: bool = False) -> None:
        """Load a mask PNG (any greyscale/alpha image); a wrong size raises ``InputError``."""
        from retouchdesk.core import mask as core_mask

        arr = core_mask.load_mask(path, self.size, resize=resize)
        self.set_array(arr, "Import mask")

    def rescale(self, width: int, height: int) -> None:
        """Follow the photo when it is upscaled: resample (bilinear, soft edges stay soft).

        The history refers to the old pixel grid, so it is cleared.
        """
        if (width, height) == self.size:
            return
        self._a = rescaled(self._a, width, height)
        self._empty = None
        self.clear_history()
        self.size_changed.emit(width, height)
        self.changed.emit(self.rect())


def rescaled(mask: np.ndarray, width: int, height: int) -> np.ndarray:
    """``mask`` resampled to ``width`` x ``height`` (the same rule the composite uses)."""
    from retouchdesk.core.composite import resample_mask

    return resample_mask(mask, width, height)


def _pack(tile: np.ndarray) -> bytes:
    import numpy as np

    return zlib.compress(np.ascontiguousarray(tile).tobytes(), 1)


def _unpack(data: bytes, h: int, w: int) -> np.ndarray:
    import numpy as np

    return np.frombuffer(zlib.decompress(data), dtype=np.uint8).reshape(h, w)


# -- tool state ---------------------------------------------------------------------------------


class MaskTool:
    """Names of the painting tools (plain strings: they go into settings and tool tips)."""

    BRUSH = "brush"
    ERASER = "eraser"
    LASSO = "lasso"
    POLYGON = "polygon"
    RECTANGLE = "rectangle"
    ALL = (BRUSH, ERASER, LASSO, POLYGON, RECTANGLE)


MIN_BRUSH = 1
MAX_BRUSH = 2000


class MaskTools(QObject):
    """The painter's tool state, shared by the canvas layer and the tool bar.

    Signals:
        tool_changed(str), size_changed(int), hardness_changed(float),
        color_changed(QColor), opacity_changed(float), visible_changed(bool),
        preview_changed(): expand/feather preview amounts changed.
    """

    tool_changed = Signal(str)
    size_changed = Signal(int)
    hardness_changed = Signal(float)
    color_changed = Signal(QColor)
    opacity_changed = Signal(float)
    visible_changed = Signal(bool)
    preview_changed = Signal()

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._tool = MaskTool.BRUSH
        self._size = 60
        self._hardness = 0.8
        self._color = QColor(255, 40, 80)
        self._opacity = 0.5
        self._visible = True
        self._expand = 0
        self._feather = 0.0

    @property
    def tool(self) -> str:
        return self._tool

    def set_tool(self, tool: str) -> None:
        if tool not in MaskTool.ALL:
            raise ValueError(f"unknown mask tool {tool!r}")
        if tool != self._tool:
            self._tool = tool
            self.tool_changed.emit(tool)

    @property
    def size(self) -> int:
        """Brush diameter in image pixels."""
        return self._size

    def set_size(self, size: float) -> None:
        size = round(min(MAX_BRUSH, max(MIN_BRUSH, size)))
        if size != self._size:
            self._size = size
            self.size_changed.emit(size)

    def grow(self) -> None:
        """``]``: about 15 % larger, at least one pixel."""
        self.set_size(max(self._size + 1, self._size * 1.15))

    def shrink(self) -> None:
        """``[``: about 15 % smaller, at least one pixel."""
        self.set_size(min(self._size - 1, self._size / 1.15))

    @property
    def hardness(self) -> float:
        return self._hardness

    def set_hardness(self, hardness: float) -> None:
        hardness = round(min(1.0, max(0.0, float(hardness))), 3)
        if hardness != self._hardness:
            self._hardness = hardness
            self.hardness_changed.emit(hardness)

    @property
    def color(self) -> QColor:
        return QColor(self._color)

    def set_color(self, color: QColor) -> None:
        if color.rgb() != self._color.rgb():
            self._color = QColor(color)
            self.color_changed.emit(QColor(color))

    @property
    def opacity(self) -> float:
        return self._opacity

    def set_opacity(self, opacity: float) -> None:
        opacity = round(min(1.0, max(0.05, float(opacity))), 3)
        if opacity != self._opacity:
            self._opacity = opacity
            self.opacity_changed.emit(opacity)

    @property
    def visible(self) -> bool:
        return self._visible

    def set_visible(self, visible: bool) -> None:
        if visible != self._visible:
            self._visible = visible
            self.visible_changed.emit(visible)

    def toggle_visible(self) -> None:
        self.set_visible(not self._visible)

    @property
    def preview_expand(self) -> int:
        """Pixels the operation will grow (negative: shrink) the mask by; shown as an outline."""
        return self._expand

    @property
    def preview_feather(self) -> float:
        return self._feather

    def set_preview(self, expand: int = 0, feather: float = 0.0) -> None:
        if (expand, feather) != (self._expand, self._feather):
            self._expand, self._feather = int(expand), float(feather)
            self.preview_changed.emit()
