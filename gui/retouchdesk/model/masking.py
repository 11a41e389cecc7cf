"""Masks in the window: one document per photo, kept on disk, and handed to masked jobs.

:class:`MaskingModel` owns the painter's tool state, the current photo's
:class:`~retouchdesk.model.mask.MaskDocument` and the link to the operation:

* Switching photos saves the mask of the previous one (``services.masks.MaskLibrary``) and
  loads the next one's; a photo made from another one (an upscaled result opened later) gets
  that photo's mask rescaled when it has none of its own.
* After each edit (debounced), the mask is saved in a worker thread, and every applicable
  ``mask`` parameter of the current operation that the photographer has not filled with a file
  of their own points at it, so a masked operation (offline object removal, YouCam object
  removal / AI replace, Enhancor skin v3) can run as soon as something is painted.
* :meth:`prepare_job` freezes the mask for one queued photo (content-addressed, so the job's
  version keeps exactly the mask it was made with), resamples it for a downscaled copy, reuses
  the current mask for another photo of the same size that has none, and returns the job
  options, such as "protect the outside of the mask".
* The values of the operation's parameters with the ``mask_expand`` / ``mask_feather`` roles
  drive the painter's outline preview.

Signals:
    document_changed(): the current document was replaced (another photo).
    protect_changed(): the "protect outside" choice or its feather/expand changed.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import QObject, QTimer, Signal

from retouchdesk.core import mask as core_mask
from retouchdesk.core.composite import resample_mask
from retouchdesk.core.schema import ParamKind
from retouchdesk.model.mask import DEFAULT_UNDO_BYTES, MaskDocument, MaskTools
from retouchdesk.services.masks import MaskLibrary, same_framing
from retouchdesk.services.postprocess import protect_option

log = logging.getLogger(__name__)

SAVE_DELAY_MS = 400


class MaskingModel(QObject):
    """See the module docstring."""

    document_changed = Signal()
    protect_changed = Signal()

    def __init__(
        self,
        operation: Any,  # model.operation.OperationModel
        library: MaskLibrary | None = None,
        *,
        runner: Any = None,  # model.tasks.TaskRunner; None saves synchronously (tests, CLI)
        tools: MaskTools | None = None,
        undo_limit_bytes: int = DEFAULT_UNDO_BYTES,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.operation = operation
        self.library = library or MaskLibrary()
        self.runner = runner
        self.tools = tools or MaskTools(self)
        self.undo_limit_bytes = undo_limit_bytes
        self._photo: Path | None = None
        self._doc: MaskDocument | None = None
        self._ours: set[str] = set()  # parameter values we put there (live mask files)
        self._protect = False
        self._protect_feather = 8.0
        self._protect_expand = 0
        self._syncing = False
        self._filled: dict[str, str | None] = {}  # what we last put in each mask parameter
        self._previous: tuple[Path, np.ndarray] | None = None  # the last photo's mask
        self.restored = False  # the current photo's mask was loaded from disk
        self._save_timer = QTimer(self)
        self._save_timer.setSingleShot(True)
        self._save_timer.setInterval(SAVE_DELAY_MS)
        self._save_timer.timeout.connect(self._save_in_background)
        operation.values_changed.connect(self._values_changed)
        operation.operation_changed.connect(self._operation_changed)

    # -- current photo ----------------------------------------------------------------------
    @property
    def document(self) -> MaskDocument | None:
        return self._doc

    @property
    def photo(self) -> Path | None:
        return self._photo

    def set_photo(
        self, photo: Path | None, size: tuple[int, int] | None, *, source: Path | None = None
    ) -> None:
        """Show ``photo``'s mask (``size`` = its upright pixel size); saves the previous one."""
        if photo == self._photo and self._doc is not None and size == self._doc.size:
            return
        self.save_now()
        if self._photo is not None and self._doc is not None and not self._doc.is_empty():
            self._previous = (self._photo, self._doc.array.copy())
        self._photo = photo
        if photo is None or size is None:
            self._doc = None
        else:
            # No Qt parent: the previous photo's buffer and history are freed once the layer
            # and the tool bar let go of it (a 24 MP mask is 24 MB plus its undo steps).
            doc = MaskDocument(size[0], size[1], undo_limit_bytes=self.undo_limit_bytes)
            saved = self.library.load(photo, size, source=source)
            if saved is not None:
                doc.reset(saved)
            # A mask kept from an earlier visit is shown and said (it feeds masked jobs).
            self.restored = saved is not None and not core_mask.is_empty(saved)
            doc.undo_state_changed.connect(self._edited)
            self._doc = doc
        self.document_changed.emit()
        self._sync_params()

    def _edited(self) -> None:
        self._save_timer.start()

    def _save_in_background(self) -> None:
        """Encode and write the mask in a worker (0.4 s for 24 MP), then update parameters."""
        if self.runner is None:
            self.save_now()
            return
        if self._photo is None or self._doc is None:
            return
        photo, arr = self._photo, self._doc.array.copy()

        async def save() -> None:
            await self.runner.in_thread(self.library.save, photo, arr)
            if photo == self._photo:
                self._sync_params()

        self.runner.spawn(save(), name="mask-save")

    def save_now(self) -> Path | None:
        """Write the current mask now (photo switch, window closing, before queueing)."""
        self._save_timer.stop()
        if self._photo is None or self._doc is None:
            return None
        path = self.library.save(self._photo, self._doc.array)
        self._sync_params()
        return path

    def previous_photo(self) -> Path | None:
        """The photo shown before this one, when it had a mask that fits this photo."""
        if self._previous is None or self._doc is None:
            return None
        h, w = self._previous[1].shape
        return self._previous[0] if same_framing((w, h), self._doc.size) else None

    def reuse_previous(self) -> bool:
        """Paint the previous photo's mask here (resampled when only the size differs).

        One undoable step; a photo of another framing is refused (False).
        """
        if self.previous_photo() is None or self._doc is None or self._previous is None:
            return False
        arr = self._previous[1]
        w, h = self._doc.size
        if arr.shape != (h, w):
            arr = resample_mask(arr, w, h)
        self._doc.set_array(arr, f"Mask of {self._previous[0].name}")
        return True

    # -- the operation's mask parameters -------------------------------------------------------
    def mask_params(self) -> list[str]:
        op = self.operation.operation
        return [
            p.name for p in op.params if p.kind is ParamKind.MASK and self.operation.applies(p.name)
        ]

    def _sync_params(self, *, refill: bool = True) -> None:
        """Point empty (or our own) mask parameters at the live mask file, or clear them.

        With ``refill`` false (a parameter value changed), a mask parameter the photographer
        just cleared stays cleared; the next edit of the mask links it again.
        """
        live = None
        if self._photo is not None and self._doc is not None and not self._doc.is_empty():
            live = self.library.photo_path(self._photo)
            if not live.is_file():
                live = None  # not saved yet: the debounced save will call us again
        for name in self.mask_params():
            current = self.operation.value(name)
            if current and str(current) not in self._ours:
                continue  # the photographer picked a mask file: leave it alone
            if not current and self._filled.get(name) and not refill:
                continue  # the photographer removed the painted mask from this operation
            value = str(live) if live else None
            if value:
                self._ours.add(value)
            self._filled[name] = value
            if current != value:
                self.operation.set_value(name, value)

    def _operation_changed(self, *_args: object) -> None:
        self._sync_params()
        self._values_changed()

    def _values_changed(self) -> None:
        # A mask parameter may just have become applicable (Enhancor: model v3 chosen).
        if not self._syncing:
            self._syncing = True
            try:
                self._sync_params(refill=False)
            finally:
                self._syncing = False
        expand = self._role_value("mask_expand")
        feather = self._role_value("mask_feather")
        if self._protect:
            expand = expand or self._protect_expand
            feather = feather or self._protect_feather
        self.tools.set_preview(int(expand or 0), float(feather or 0))

    def _role_value(self, role: str) -> Any:
        """The value of the operation's parameter that plays ``role``, 0 when none applies."""
        om = self.operation
        param = om.operation.param_with_role(role)
        return om.value(param.name) if param is not None and om.applies(param.name) else 0

    # -- protect the outside -----------------------------------------------------------------
    @property
    def protect_outside(self) -> bool:
        return self._protect

    @property
    def protect_feather(self) -> float:
        return self._protect_feather

    def set_protect_outside(self, on: bool, *, feather: float | None = None) -> None:
        changed = on != self._protect or (feather is not None and feather != self._protect_feather)
        self._protect = on
        if feather is not None:
            self._protect_feather = max(0.0, float(feather))
        if changed:
            self.protect_changed.emit()
            self._values_changed()

    # -- jobs ------------------------------------------------------------------------------
    def mask_for(self, photo: Path, size: tuple[int, int]) -> np.ndarray | None:
        """The mask to use for ``photo`` at ``size``: its own, else the current one if it fits.

        A photo without a mask of its own reuses the current photo's mask when it has the
        same size (a series shot from a tripod); a downscaled input gets it resampled.
        """
        own: np.ndarray | None = None
        if photo == self._photo and self._doc is not None:
            own = self._doc.array
        else:
            natural = _size_of(photo)
            if natural is not None:
                own = self.library.load(photo, natural)
            if own is None and self._doc is not None and natural == self._doc.size:
                own = self._doc.array
        if own is None or core_mask.is_empty(own):
            return None
        h, w = own.shape
        return own if (w, h) == tuple(size) else resample_mask(own, size[0], size[1])

    def prepare_job(
        self, photo: Path, input_path: Path, params: dict[str, Any]
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """Parameters and job options for one queued photo (``input_path`` may be a copy).

        Mask parameters that point at the live mask (or are empty while a mask is painted)
        get a frozen copy at the input's size. With "protect outside" on, the options carry
        the frozen mask at the *input's* size (the composite is made against the input).
        """
        params = dict(params)
        options: dict[str, Any] = {}
        names = self.mask_params()
        size = _size_of(input_path)
        if size is None:
            return params, options
        arr = self.mask_for(photo, size)
        frozen = self.library.freeze(arr) if arr is not None else None
        for name in names:
            current = params.get(name)
            if current and str(current) not in self._ours:
                continue  # a mask file the photographer picked: theirs to keep
            # Our live mask belongs to the photo on screen: another photo gets its own mask,
            # or none (a required mask then fails that job with a plain sentence).
            params[name] = str(frozen) if frozen is not None else None
        if self._protect and frozen is not None:
            options.update(
                protect_option(frozen, expand=self._protect_expand, feather=self._protect_feather)
            )
        return params, options


def _size_of(path: Path) -> tuple[int, int] | None:
    try:
        from retouchdesk.core.imageio import probe

        info = probe(path)
        return info.width, info.height
    except Exception:  # an unreadable file has no mask; the engine reports the file itself
        return None
