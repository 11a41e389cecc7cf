"""Apply recipe to all: a recipe's steps run in order on several photos in the window.

Each photo starts from its working version; step N+1 is queued when step N's job is done,
with that result as its input, so the photos' chains advance independently. Every job is
recorded as a version (parent = the previous step) and writes the chain so far, with the
photo's SHA-256, into its result's XMP. A failed step stops that photo's chain (the job
panel says why); the other photos go on.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QObject, Signal

from retouchdesk.core import recipe as core_recipe
from retouchdesk.core.errors import RetouchError
from retouchdesk.model.session import SessionModel
from retouchdesk.model.tasks import TaskRunner
from retouchdesk.services.batch import work_key

log = logging.getLogger(__name__)


@dataclass
class _Chain:
    photo: Path
    digest: str
    step: int  # index of the step whose job runs now


class RecipeRunModel(QObject):
    """Runs recipes on photos (see module docstring).

    Signals:
        finished(str, bool): a photo's chain ended (photo path, every step done).
        message(str)
    """

    finished = Signal(str, bool)
    message = Signal(str)

    def __init__(self, session: SessionModel, runner: TaskRunner, parent: QObject | None = None):
        super().__init__(parent)
        self.session = session
        self.runner = runner
        self.engine = session.engine
        self._recipe: core_recipe.Recipe | None = None
        self._recipe_dir: Path | None = None
        self._by_job: dict[str, _Chain] = {}

    @property
    def running(self) -> int:
        """Photos whose chain is still under way."""
        return len(self._by_job)

    def load(self, path: Path) -> core_recipe.Recipe:
        """Read a recipe file; raises RetouchError with one sentence."""
        recipe = core_recipe.load(path)
        for step in recipe.steps:
            self.engine.catalog.operation(step.provider, step.operation)  # known operation?
        return recipe

    async def apply(
        self, recipe: core_recipe.Recipe, photos: list[Path], recipe_dir: Path | None = None
    ) -> list[str]:
        """Queue the first step for every photo; returns the job ids queued."""
        self._recipe, self._recipe_dir = recipe, recipe_dir
        ids: list[str] = []
        for photo in photos:
            digest = await self.runner.in_thread(self.session.source_digest, photo)
            start = self.session.working_input(photo)
            parent = self.session.working.get(photo) if start != photo else None
            job_id = await self._queue(_Chain(photo, digest, 0), start, parent)
            if job_id:
                ids.append(job_id)
        n = len(ids)
        self.message.emit(
            f"Applying the recipe ({len(recipe.steps)} steps) to {n} photo{'s' if n != 1 else ''}"
        )
        return ids

    async def _queue(self, chain: _Chain, input_path: Path, parent: str | None) -> str | None:
        from retouchdesk.services import recipes
        from retouchdesk.services.jobspec import JobRequest, default_output_dir

        assert self._recipe is not None
        step = self._recipe.steps[chain.step]
        try:
            params = await self.runner.in_thread(
                lambda: recipes.step_params(
                    self.engine.catalog,
                    step,
                    photo=chain.photo,
                    input_path=input_path,
                    recipe_dir=self._recipe_dir,
                    index=chain.step,
                )
            )
        except RetouchError as exc:
            self.message.emit(f"{chain.photo.name}: {exc}")
            self.finished.emit(str(chain.photo), False)
            return None
        so_far = core_recipe.Recipe(
            self._recipe.steps[: chain.step + 1], self._recipe.name, chain.digest, chain.photo.name
        )
        options = recipes.recipe_option(so_far)
        request = JobRequest(
            provider=step.provider,
            operation=step.operation,
            input_path=input_path,
            params=params,
            output_dir=default_output_dir(chain.photo, self.engine.config),
            dedupe_key=work_key(
                step.provider,
                step.operation,
                chain.photo,
                params,
                {"options": options, "input": str(input_path)},
            ),
            options=options,
        )
        rec = self.engine.submit(request)
        self.session.record_versions([(rec.id, chain.photo, parent)])
        self._by_job[rec.id] = chain
        self.session.queued.emit([rec.id])
        return rec.id

    def owns(self, job_id: str) -> bool:
        """Whether ``job_id`` is a step of a recipe this model runs."""
        return job_id in self._by_job

    def job_finished(self, job_id: str) -> None:
        chain = self._by_job.pop(job_id, None)
        rec = self.engine.get(job_id)
        if chain is None or rec is None or self._recipe is None:
            return
        if chain.step + 1 >= len(self._recipe.steps) or not rec.results:
            self.finished.emit(str(chain.photo), bool(rec.results))
            return
        nxt = _Chain(chain.photo, chain.digest, chain.step + 1)
        self.runner.spawn(self._queue(nxt, rec.results[0], job_id), name="recipe:next")

    def job_failed(self, job_id: str, _error: str = "") -> None:
        chain = self._by_job.pop(job_id, None)
        if chain is not None:
            self.finished.emit(str(chain.photo), False)
