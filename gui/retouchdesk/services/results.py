"""Writing a job's results: naming reservation, post-processing, atomic no-clobber writes.

Kept apart from :mod:`services.engine`, which keeps the scheduler and the state machine.
:class:`ResultWriter` turns the outputs a provider fetched into files next to the photo:

* **Names are reserved** before a result is written (in this process, under a lock, so two
  jobs of one photo never pick the same name) and recorded on the job
  (``result_meta["_planned"]``) before the write, so a run killed between the rename and the
  database update finds the file on resume and does not write a second copy under ``_2``.
* **Never over another process's result**: files are written through a temporary file and a
  no-clobber rename (``replace=False``); when another process took the name meanwhile
  (:class:`DestinationTaken`) the next free name is tried, up to :data:`NAME_ATTEMPTS` times.
* **Post-processing** (the job's options, :mod:`services.postprocess`) runs before the write.
* **Metadata**: images are written by :func:`services.jobfiles.save_image_result` with the
  source's metadata and the job's recipe (XMP provenance); other results are copied as-is.

All file work runs in worker threads; the engine is told through small callbacks.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import threading
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from retouchdesk.core import naming
from retouchdesk.core.errors import DestinationTaken, OutputError, ProviderError, RetouchError
from retouchdesk.core.jobs import JobRecord
from retouchdesk.core.schema import Operation
from retouchdesk.providers.base import Output
from retouchdesk.services.jobfiles import copy_atomic, result_extension, save_image_result

if TYPE_CHECKING:  # imported where used: numpy and Pillow load with them
    from retouchdesk.core.imageio import OutputPolicy
    from retouchdesk.core.recipe import Recipe

log = logging.getLogger(__name__)

# Result names tried when other processes keep taking the chosen one while it is written.
NAME_ATTEMPTS = 5
# Job option: the chain of steps that makes this result (core.recipe), written into its XMP.
RECIPE = "recipe"


class ResultWriter:
    """Writes the results of jobs; one per engine (it owns the engine's name reservations).

    ``policy_fields`` returns the current output policy (``core.imageio.OutputPolicy``
    fields); ``work_dir`` a job's scratch folder; ``touch`` persists a job record now;
    ``provider_label`` names a provider in sentences; ``result_written`` tells the provider
    where its result now lives.
    """

    def __init__(
        self,
        *,
        policy_fields: Callable[[], dict[str, Any]],
        work_dir: Callable[[str], Path],
        touch: Callable[[JobRecord], None],
        provider_label: Callable[[str], str],
        result_written: Callable[[JobRecord, Output, Path], Awaitable[None]],
    ) -> None:
        self._policy_fields = policy_fields
        self._work_dir = work_dir
        self._touch = touch
        self._provider_label = provider_label
        self._result_written = result_written
        self._reserved: set[Path] = set()  # result names being written (guarded by the lock)
        self._reserve_lock = threading.Lock()
        self._policy_obj: OutputPolicy | None = None
        self._policy_cached: dict[str, Any] = {}

    def policy(self) -> OutputPolicy:
        """The output policy as a ``core.imageio.OutputPolicy``, rebuilt when settings change."""
        fields = self._policy_fields()
        if self._policy_obj is None or self._policy_cached != fields:
            from retouchdesk.core import imageio

            self._policy_obj = imageio.OutputPolicy(**fields)
            self._policy_cached = fields
        return self._policy_obj

    async def write(
        self,
        rec: JobRecord,
        op: Operation,
        files: list[Output],
        *,
        input_meta: dict[str, Any] | None = None,
    ) -> None:
        """Write every fetched output next to the photo, atomically, with its metadata.

        Sets ``rec.results`` and ``rec.result_meta``; ``input_meta`` (what the sent copy of
        the photo changed) goes into every result's record.
        """
        planned: dict[str, str] = dict(rec.result_meta.get("_planned", {}))
        results: list[Path] = []
        meta: dict[str, Any] = {}
        is_image = op.result.kind in ("image", "images")
        policy = self.policy() if is_image else None
        for index, out in enumerate(files):
            if out.path is None:
                continue
            earlier = planned.get(str(index))
            extra: dict[str, Any] = {}
            if earlier and await asyncio.to_thread(Path(earlier).exists):
                written = Path(earlier)  # written before an interruption
            else:
                if is_image and rec.options:
                    out, extra = await self._postprocess(rec, out)
                for attempt in range(NAME_ATTEMPTS):
                    dest = await asyncio.to_thread(self.destination, rec, op, out, policy, earlier)
                    try:
                        planned[str(index)] = str(dest)
                        rec.result_meta = {**meta, "_planned": dict(planned)}
                        self._touch(rec)
                        written = Path(await self._save_one(rec, out, dest, policy, report=extra))
                        break
                    except DestinationTaken:
                        # Another process wrote this name since it was chosen: its result
                        # stays, ours takes the next free name.
                        if attempt == NAME_ATTEMPTS - 1:
                            raise OutputError(
                                f"The result of {rec.input_path.name} cannot be written to "
                                f"{dest.parent}: every free name was taken while writing"
                            ) from None
                        earlier = None
                    finally:
                        with self._reserve_lock:
                            self._reserved.discard(dest)
            extra.update(input_meta or {})
            if is_image and not extra.get("protected_outside"):  # the provider's own pixels
                await self._result_written(rec, out, written)
            results.append(written)
            meta[str(written)] = {"label": out.label, **out.meta, **extra}
            rec.results = list(results)
            rec.result_meta = {**meta, "_planned": dict(planned)}
            if index < len(files) - 1:  # after the last one, the DONE transition saves it
                self._touch(rec)  # a crash now must not lose the files already written
        if not results:
            raise ProviderError(f"{self._provider_label(rec.provider)} returned no result")
        rec.result_meta = meta

    async def _postprocess(self, rec: JobRecord, out: Output) -> tuple[Output, dict[str, Any]]:
        """Apply the job's options (protect the outside of a mask, ...) in a worker thread."""
        from retouchdesk.services import postprocess

        assert out.path is not None
        done = await asyncio.to_thread(
            postprocess.apply, rec.options, rec.input_path, out.path, self._work_dir(rec.id)
        )
        processed = Output(path=done.path, suffix=done.path.suffix, label=out.label, meta=out.meta)
        return processed, dict(done.meta)

    def destination(
        self,
        rec: JobRecord,
        op: Operation,
        out: Output,
        policy: OutputPolicy | None,
        earlier: str | None,
    ) -> Path:
        """Runs in a worker thread: pick and reserve a free result name (the folder is read).

        ``policy`` is None for a result that is not an image (its own extension is kept)."""
        with self._reserve_lock:
            if earlier and Path(earlier) not in self._reserved:
                self._reserved.add(Path(earlier))
                return Path(earlier)  # planned before an interruption, never written: reuse it
        assert out.path is not None
        if policy is not None:
            ext = result_extension(rec.input_path, out, policy)
        else:
            ext = (out.suffix or out.path.suffix or ".bin").lstrip(".")
        with self._reserve_lock:  # two jobs of one photo must not pick the same name
            dest = naming.result_path(
                rec.input_path,
                rec.output_dir,
                rec.name_template,
                operation=op.id,
                provider=rec.provider,
                ext=ext,
                variant=out.label,
                taken=self._reserved,
            )
            self._reserved.add(dest)
        return dest

    async def _save_one(
        self,
        rec: JobRecord,
        out: Output,
        dest: Path,
        policy: OutputPolicy | None,
        report: dict[str, Any] | None = None,
    ) -> Path:
        """Write one result (an image when ``policy`` is given, else copied as it is);
        ``report`` gets its format, bits per channel and notes."""
        assert out.path is not None, "fetch() leaves every output in a file"
        try:
            if policy is not None:
                return await asyncio.to_thread(
                    _save_with_recipe,
                    out.path,
                    rec.input_path,
                    dest,
                    policy,
                    job_recipe(rec),
                    report,
                )
            return await asyncio.to_thread(
                functools.partial(copy_atomic, out.path, dest, replace=False)
            )
        except DestinationTaken:
            raise
        except OSError as exc:
            raise OutputError(
                f"The result of {rec.input_path.name} cannot be written to {dest.parent}: "
                f"{exc.strerror or exc}"
            ) from None


def job_recipe(rec: JobRecord) -> Recipe:
    """The recipe to write into the job's results: the option, or this one step."""
    from retouchdesk.core import recipe as core_recipe

    data = rec.options.get(RECIPE)
    if isinstance(data, dict):
        try:
            return core_recipe.from_dict(data)
        except RetouchError:
            log.warning("job %s: its recipe option is unreadable; one step recorded", rec.id)
    step = core_recipe.Step(rec.provider, rec.operation, _recipe_params(rec.params))
    return core_recipe.Recipe([step], source_name=rec.input_path.name)


def _save_with_recipe(
    result: Path,
    source: Path,
    dest: Path,
    policy: OutputPolicy,
    recipe: Recipe,
    report: dict | None,
) -> Path:
    """Runs in a worker thread: a one-step recipe learns its source's digest here."""
    from retouchdesk.core import recipe as core_recipe

    if not recipe.source_sha256:
        with contextlib.suppress(OSError):
            recipe.source_sha256 = core_recipe.file_sha256(source)
    return save_image_result(
        result,
        source=source,
        destination=dest,
        policy=policy,
        report=report,
        recipe=recipe,
        replace=False,  # never over a result another process wrote meanwhile
    )


def _recipe_params(params: dict[str, Any]) -> dict[str, Any]:
    """Parameters fit for provenance: file paths (masks, references) become their names."""
    return {
        k: (Path(v).name if isinstance(v, Path) or _looks_like_path(v) else v)
        for k, v in params.items()
        if v is not None
    }


def _looks_like_path(v: Any) -> bool:
    return isinstance(v, str) and os.sep in v and Path(v).is_absolute()
