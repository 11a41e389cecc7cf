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
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, QTimer, Signal

from retouchdesk.core.schema import ParamKind
from retouchdesk.model.mask import DEFAULT_UNDO_BYTES, MaskDocument, MaskTools
from retouchdesk.model.mask_files import MaskFiles

if TYPE_CHECKING:  # imported where used: the window's first paint loads none of these
    import numpy as np

    from retouchdesk.model.operation import OperationModel
    from retouchdesk.model.tasks import TaskRunner
    from retouchdesk.services.masks import MaskLibrary


log = logging.getLogger(__name__)

SAVE_DELAY_MS = 400


class MaskingModel(QObject):
    """See the module docstring."""

    document_changed = Signal()
    protect_changed = Signal()

    def __init__(
        self,
        operation: OperationModel,
        library: MaskLibrary | None = None,
        *,
        runner: TaskRunner | None = None,  # None saves synchronously (tests, CLI)
        tools: MaskTools | None = None,
        undo_limit_bytes: int = DEFAULT_UNDO_BYTES,
        parent: QObject | None = None,
    ) -> None:
        from retouchdesk.services.masks import MaskLibrary

        super().__init__(parent)
        self.operation = operation
        self.library = library or MaskLibrary()
        self.runner = runner
        # Saves and loads of the live masks: in one worker thread, in order, with a runner.
        self.files = MaskFiles(self.library, threaded=runner is not None)
        self.tools = tools or MaskTools(self)
        self.undo_limit_bytes = undo_limit_bytes
        self._photo: Path | None = None
        self._doc: MaskDocument | None = None
        self._dirty = False  # edited since it was last saved or loaded
        self._loading = 0  # the number of the load being waited for (0: none)
        self._loads = 0
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
        """The current photo's mask; None without a photo and while its saved mask loads."""
        return self._doc

    @property
    def photo(self) -> Path | None:
        return self._photo

    @property
    def loading(self) -> bool:
        """True while the current photo's saved mask is being read (``document`` is None)."""
        return bool(self._loading)

    def set_photo(
        self, photo: Path | None, size: tuple[int, int] | None, *, source: Path | None = None
    ) -> None:
        """Show ``photo``'s mask (``size`` = its upright pixel size); saves the previous one.

        Nothing here waits for a file: the previous mask is handed to the worker to be saved
        (and kept in memory until it is written), and a saved mask of ``photo`` is read in
        the worker; ``document`` is None until it arrives (``document_changed`` then).
        """
        if photo == self._photo and self._doc is not None and size == self._doc.size:
            return
        if photo == self._photo and self._loading and size is not None:
            return  # its load is on the way
        self._save_timer.stop()
        self._leave_current()
        self._photo = photo
        self._loading = 0
        self.restored = False
        if photo is None or size is None:
            self._doc = None
        elif not self.files.has_saved(photo, source):
            self._doc = self._new_document(size)  # nothing to read: a blank mask at once
        else:
            unsaved = self.files.unsaved(photo)
            if unsaved is not None and unsaved.shape == (size[1], size[0]):
                # Back to a photo whose save is still on its way: its newest mask, in memory.
                self._doc = self._new_document(size, unsaved.copy())
                self._dirty = True  # its save may yet fail; saving it again costs little
                self.restored = not self._doc.is_empty()
            else:
                self._doc = None
                self._start_load(photo, size, source)
        self.document_changed.emit()
        self._sync_params()

    def _leave_current(self) -> None:
        """Hand the mask being left to the saver (no copy: nobody edits it any more)."""
        if self._photo is None or self._doc is None:
            return
        if self._dirty:
            self._queue_save(self._photo, self._doc.array)
        if not self._doc.is_empty():
            self._previous = (self._photo, self._doc.array)

    def _new_document(self, size: tuple[int, int], array: np.ndarray | None = None) -> MaskDocument:
        # No Qt parent: the previous photo's buffer and history are freed once the layer
        # and the tool bar let go of it (a 24 MP mask is 24 MB plus its undo steps).
        doc = MaskDocument(size[0], size[1], undo_limit_bytes=self.undo_limit_bytes, array=array)
        doc.undo_state_changed.connect(self._edited)
        self._dirty = False
        return doc

    def _start_load(self, photo: Path, size: tuple[int, int], source: Path | None) -> None:
        self._loads += 1
        ticket = self._loading = self._loads
        future = self.files.load(photo, size, source=source)

        def arrived(saved: np.ndarray | None) -> None:
            if ticket != self._loading or photo != self._photo:
                return  # the photographer moved on: a later switch loads its own
            self._loading = 0
            if saved is not None and saved.shape != (size[1], size[0]):
                saved = None
            self._doc = self._new_document(size, saved)
            # A mask kept from an earlier visit is shown and said (it feeds masked jobs).
            self.restored = saved is not None and not self._doc.is_empty()
            if self.restored and not self.library.photo_path(photo).is_file():
                self._dirty = True  # inherited from its source photo: becomes its own
                self._save_timer.start()
            self.document_changed.emit()
            self._sync_params()

        self._when_done(future, arrived, name="mask-load")

    def _when_done(self, future: Any, then: Any, *, name: str) -> None:
        """``then(result)`` on the GUI thread once ``future`` (of ``files``) is done."""
        if future.done() or self.runner is None:
            then(future.result())
            return

        async def wait() -> None:
            import asyncio

            then(await asyncio.wrap_future(future))

        self.runner.spawn(wait(), name=name)

    def _queue_save(self, photo: Path, arr: np.ndarray) -> Any:
        self._dirty = False
        future = self.files.save(photo, arr)

        def saved(_path: Path | None) -> None:
            if photo == self._photo:
                self._sync_params()

        self._when_done(future, saved, name="mask-save")
        return future

    def _edited(self) -> None:
        self._dirty = True
        self._save_timer.start()

    def _save_in_background(self) -> None:
        """Encode and write the mask in the worker (0.4 s for 24 MP), then update parameters."""
        if self._photo is None or self._doc is None or not self._dirty:
            return
        # A copy: the photographer goes on painting while the worker encodes.
        self._queue_save(self._photo, self._doc.array.copy())

    def save_now(self) -> Path | None:
        """Write the current mask and every queued one now (window closing, before queueing).

        Blocks until they are on disk; returns the current photo's live mask file, if any.
        """
        self._save_timer.stop()
        if self._photo is not None and self._doc is not None and self._dirty:
            self._dirty = False
            self.files.save(self._photo, self._doc.array.copy())
        self.files.flush()
        if self._photo is None or self._doc is None:
            return None
        path = self.library.photo_path(self._photo)
        self._sync_params()
        return path if path.is_file() else None

    def previous_photo(self) -> Path | None:
        """The photo shown before this one, when it had a mask that fits this photo."""
        from retouchdesk.services.masks import same_framing

        if self._previous is None or self._doc is None:
            return None
        h, w = self._previous[1].shape
        return self._previous[0] if same_framing((w, h), self._doc.size) else None

    def reuse_previous(self) -> bool:
        """Paint the previous photo's mask here (resampled when only the size differs).

        One undoable step; a photo of another framing is refused (False).
        """
        from retouchdesk.core.composite import resample_mask

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
        live = self._doc if photo == self._photo else None
        if live is None:
            natural = _size_of(photo)
            if natural is not None:
                own = self.files.unsaved(photo)  # its newest mask, still being written
                if own is None or own.shape != (natural[1], natural[0]):
                    own = self.library.load(photo, natural)
            if own is None and self._doc is not None and natural == self._doc.size:
                live = self._doc
        # Emptiness without OpenCV: core.mask and core.composite import it (0.1 s holding the
        # GIL in the window's process, in the middle of a batch). The live mask remembers
        # whether it is empty; any other is one scan.
        if live is not None:
            if live.is_empty():
                return None
            own = live.array
        elif own is None or not own.any():
            return None
        h, w = own.shape
        if (w, h) == tuple(size):
            return own
        from retouchdesk.core.composite import resample_mask

        return resample_mask(own, size[0], size[1])

    def prepare_job(
        self, photo: Path, input_path: Path, params: dict[str, Any]
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """Parameters and job options for one queued photo (``input_path`` may be a copy).

        Mask parameters that point at the live mask (or are empty while a mask is painted)
        get a frozen copy at the input's size. With "protect outside" on, the options carry
        the frozen mask at the *input's* size (the composite is made against the input).
        """
        from retouchdesk.services.postprocess import protect_option

        params = dict(params)
        options: dict[str, Any] = {}
        names = self.mask_params()
        if not names and not self._protect:
            # Nothing takes a mask: no mask is read, frozen or written for this photo.
            return params, options
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
