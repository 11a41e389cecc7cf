"""Apply and Apply to all: what is sent, what is asked first, and what it costs.

One Apply walks these steps: the photos against the operation's limits (downscaled copies
offered), masks the operation needs or ignores, work done or running before (never paid
twice), a long run announced, the price above the photographer's threshold, then the jobs
are queued through :class:`~retouchdesk.model.session.SessionModel`.

This module decides; the window only asks. Each step that needs an answer builds a
:class:`Question` and hands it to the ``ask`` coroutine the window gives
:class:`ApplyFlow`, which shows it (a dialog) and returns the key of the chosen
:class:`Choice` (None when the question was closed). The questions are plain data, so every
decision is tested without a widget (``tests/ui/test_apply_model.py``).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Signal

from retouchdesk.core.errors import RetouchError
from retouchdesk.core.jobs import JobState
from retouchdesk.core.schema import Operation, ParamKind

if TYPE_CHECKING:
    from retouchdesk.model.app_model import AppModel
    from retouchdesk.model.masking import MaskingModel
    from retouchdesk.model.session import Planned
    from retouchdesk.services.inputs import LimitCheck

# A choice's role decides where the dialog puts its button (Qt's button roles).
ACCEPT, DESTRUCTIVE, REJECT = "accept", "destructive", "reject"
# Standard buttons (the platform's own text and shortcuts); the key is the button's name.
YES, CANCEL = "yes", "cancel"
NAMED = 8  # photos named in a question; the rest are counted


@dataclass(frozen=True)
class Choice:
    """One answer to a :class:`Question`: ``key`` comes back from ``ask`` when chosen."""

    key: str
    text: str = ""  # empty for a standard button
    role: str = ACCEPT
    standard: bool = False  # a platform button named by ``key`` (YES, CANCEL)


@dataclass(frozen=True)
class Question:
    """What a dialog shows, in the order its buttons are added."""

    title: str
    text: str
    informative: str = ""
    choices: tuple[Choice, ...] = ()
    default: str | None = None  # the key of the default button (None: the dialog's own)
    warning: bool = False  # a warning rather than a question


CANCEL_CHOICE = Choice(CANCEL, standard=True)

Ask = Callable[[Question], Awaitable[str | None]]


def _plural(n: int) -> str:
    return "s" if n != 1 else ""


# -- limits ----------------------------------------------------------------------------------
def _fits_when_downscaled(check: LimitCheck) -> bool:
    return bool(check.fixable and check.fit_size)


def limits_question(label: str, bad: Sequence[LimitCheck]) -> Question:
    """Which photos break the limits, with an offer to send downscaled copies."""
    fixable = [c for c in bad if _fits_when_downscaled(c)]
    lines = [f"• {c.path.name}: {'; '.join(c.problems)}" for c in bad[:NAMED]]
    if len(bad) > NAMED:
        lines.append(f"… and {len(bad) - NAMED} more")
    informative = "\n".join(lines)
    choices = []
    if fixable:
        w, h = fixable[0].fit_size or (0, 0)
        text = "Send downscaled copies" if len(fixable) > 1 else f"Downscale to {w} × {h}"
        choices.append(Choice("downscale", text, ACCEPT))
        informative += "\n\nYour photos are not changed: copies are sent."
    choices += [Choice("skip", "Skip them", DESTRUCTIVE), CANCEL_CHOICE]
    return Question(
        "Photos outside the limits",
        f"{len(bad)} photo(s) do not fit the limits of {label}.",
        informative,
        tuple(choices),
        warning=True,
    )


def limits_answer(
    bad: Sequence[LimitCheck], key: str | None
) -> tuple[dict[Path, tuple[int, int]], set[Path]] | None:
    """(photos sent as downscaled copies with their size, photos left out) for the answer to
    :func:`limits_question`; None when nothing is to be sent."""
    fixable = {c.path: c.fit_size for c in bad if _fits_when_downscaled(c) and c.fit_size}
    if key == "downscale" and fixable:
        return fixable, {c.path for c in bad if c.path not in fixable}
    if key == "skip":
        return {}, {c.path for c in bad}
    return None


# -- masks -----------------------------------------------------------------------------------
def lacks_mask(op: Operation, planned: Planned) -> bool:
    """The job would fail at once: its operation needs a mask and this photo has none."""
    values = planned.request.params
    return any(
        p.kind is ParamKind.MASK and p.required and p.applies(values) and not values.get(p.name)
        for p in op.params
    )


def no_mask_message(label: str, lacking: Sequence[Planned]) -> str:
    """Every photo lacks the mask: nothing to ask, only what to do."""
    names = ", ".join(p.photo.name for p in lacking[:3])
    return (
        f"{label} needs a painted mask and {names} has none: click Paint mask "
        "in the tool bar and paint over the area"
    )


def missing_masks_question(
    label: str, lacking: Sequence[Planned], with_mask: Sequence[Planned]
) -> Question:
    """Some photos lack the mask: run the others, or nothing."""
    more = f"\n… and {len(lacking) - NAMED} more" if len(lacking) > NAMED else ""
    total = len(lacking) + len(with_mask)
    return Question(
        "Photos without a mask",
        f"{label} needs a painted mask. {len(lacking)} of {total} photos have none and would fail:",
        "\n".join(f"• {p.photo.name}" for p in lacking[:NAMED]) + more,
        (Choice("run", f"Run the {len(with_mask)} with a mask", ACCEPT), CANCEL_CHOICE),
    )


def mask_is_ignored(masking: MaskingModel | None) -> bool:
    """A mask is painted but the operation ignores masks and the outside is not protected."""
    if masking is None:
        return False
    uses_mask = bool(masking.mask_params())
    protect = masking.protect_outside
    doc = masking.document
    painted = doc is not None and not doc.is_empty()
    return painted and not uses_mask and not protect


def unused_mask_question(label: str) -> Question:
    return Question(
        "The mask is not used",
        f"{label} does not use a mask: the whole photo will change.",
        "To change only the painted area, turn on Protect outside in the mask bar.",
        (Choice("whole", "Apply to the whole photo", ACCEPT), CANCEL_CHOICE),
    )


# -- work done before ------------------------------------------------------------------------
def same_work_question(planned: Sequence[Planned], fresh: Sequence[Planned]) -> Question:
    """Offer what earlier identical jobs made instead of running (and paying) again.

    Like an export preset in Lightroom that finds the file already there: the default is to
    keep what exists ("show": the result of one photo; "others": run only the new ones);
    running done work again ("again") is a deliberate second click, and offered only when
    some of it is done: an unfinished job would be sent twice.
    """
    again = [p for p in planned if p.previous is not None]
    choices: list[Choice] = []
    informative = ""
    if len(planned) == 1:
        text, informative, show = _one_done_before(again[0])
        if show:
            choices.append(Choice("show", "Show result", ACCEPT))
    else:
        text = (
            f"{len(again)} of {len(planned)} photos already have this result "
            "with the same settings (or are being processed)."
        )
        if fresh:
            choices.append(Choice("others", f"Run the other {len(fresh)}", ACCEPT))
    default = choices[0].key if choices else CANCEL  # keep what exists, else do nothing
    if any(not p.unfinished for p in again):
        choices.append(Choice("again", "Run again", DESTRUCTIVE))
    choices.append(CANCEL_CHOICE)
    return Question("Already done", text, informative, tuple(choices), default)


def _one_done_before(p: Planned) -> tuple[str, str, bool]:
    """(text, informative text, whether its result can be shown) for one photo."""
    rec, name = p.previous, p.photo.name
    assert rec is not None
    if rec.state is JobState.UNCONFIRMED:
        return (
            f"{name} was already sent with these settings and its answer was lost: "
            "the service may be running it.",
            "The job list can send it again (the service may charge it twice).",
            False,
        )
    if p.unfinished:
        return f"{name} is already being processed with these settings.", "", False
    when = time.strftime("%H:%M", time.localtime(rec.finished_at or rec.created_at))
    return (
        f"{name} already has this result with the same settings ({rec.results[0].name}, {when}).",
        "Running it again sends (and pays for) the same job twice.",
        True,
    )


# -- time and money --------------------------------------------------------------------------
def slow_question(
    label: str, count: int, seconds: float | None, how: str, *, local: bool
) -> Question | None:
    """A run of ``estimate.SLOW_SECONDS`` or more is announced before it starts; None: no
    need."""
    # Imported on use: model.estimate loads statistics (and fractions), which the window
    # keeps out of its first paint (tests/e2e/test_first_paint.py).
    from retouchdesk.model.estimate import SLOW_SECONDS, duration_text

    if seconds is None or seconds < SLOW_SECONDS:
        return None
    where = " on this computer" if local else ""
    return Question(
        "A long job",
        f"{label} on {count} photo{_plural(count)} will take "
        f"{duration_text(seconds)} ({how}{where}).",
        "You can keep working meanwhile, and cancel it in the job list.",
        (CANCEL_CHOICE, Choice("start", "Start", ACCEPT)),
    )


def cost_question(
    label: str,
    count: int,
    amount: float | None,
    threshold: float,
    cost_text: Callable[[int], str],
) -> Question | None:
    """The price, asked above ``threshold`` (the service's unit); None: sent without asking.

    At a threshold of 0 every paid batch asks, and a single paid job goes without asking.
    """
    total = (amount or 0) * count
    if not amount or total <= threshold or (count <= 1 and threshold <= 0):
        return None
    limit = f" (above your limit of {threshold:g})" if threshold else ""
    return Question(
        "Run the batch?" if count > 1 else "Send this job?",
        f"{label} on {count} photo{_plural(count)} costs {cost_text(count)}{limit}. Send it?",
        choices=(Choice(YES, standard=True), CANCEL_CHOICE),
    )


# -- the flow --------------------------------------------------------------------------------
class ApplyFlow(QObject):
    """Runs Apply over the window's model, asking through ``ask``.

    Signals:
        message(str): a status-bar sentence (why nothing was sent).
        compare_requested(str): show this earlier job's result instead of running again.
    """

    message = Signal(str)
    compare_requested = Signal(str)

    def __init__(self, model: AppModel, ask: Ask, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.model = model
        self.ask = ask

    def apply_current(self, problem: str = "") -> None:
        """Apply on the current photo; ``problem`` says why it cannot be read (if so)."""
        p = self.model.photos.current_path
        if p is None:
            self.message.emit("Open a photo first")
        elif problem:
            self.message.emit(problem)
        else:
            self.model.runner.spawn(self.run([p]), name="apply")

    def apply_all(self) -> None:
        paths = self.model.photos.paths
        if not paths:
            self.message.emit("Open photos first")
            return
        self.model.runner.spawn(self.run(paths), name="apply")

    async def run(self, paths: list[Path]) -> list[str]:
        """Every step of one Apply on ``paths``; returns the ids of the jobs queued."""
        om = self.model.operation
        if not om.can_run:
            self.message.emit(om.problem)
            return []
        fitted = await self._fit_limits(paths)
        if fitted is None or not fitted[0]:
            return []
        try:
            planned = await self.model.session.prepare(fitted[0], downscale=fitted[1])
        except RetouchError as exc:
            self.message.emit(str(exc))
            return []
        planned = await self._masks(planned)
        if planned:
            planned = await self._same_work(planned)
        if not planned or not await self._confirm_time_and_cost(planned):
            return []
        return self._submit(planned)

    async def _fit_limits(
        self, paths: list[Path]
    ) -> tuple[list[Path], dict[Path, tuple[int, int]]] | None:
        """(photos to plan, those sent downscaled); None when the photographer cancelled."""
        label = self.model.operation.operation.label
        checks = await self.model.session.check_inputs(paths)
        bad = [c for c in checks if not c.ok]
        if not bad:
            return paths, {}
        answer = limits_answer(bad, await self.ask(limits_question(label, bad)))
        if answer is None:
            return None
        downscale, skip = answer
        return [p for p in paths if p not in skip], downscale

    async def _masks(self, planned: list[Planned]) -> list[Planned]:
        """Photos without the mask their operation needs are named before anything is sent;
        a mask painted for an operation that ignores masks is pointed out, not dropped."""
        op = self.model.operation.operation
        lacking = [p for p in planned if lacks_mask(op, p)]
        if lacking:
            with_mask = [p for p in planned if p not in lacking]
            if not with_mask:
                self.message.emit(no_mask_message(op.label, lacking))
                return []
            if await self.ask(missing_masks_question(op.label, lacking, with_mask)) != "run":
                return []
            planned = with_mask
        ignored = mask_is_ignored(self.model.masking)
        if ignored and await self.ask(unused_mask_question(op.label)) != "whole":
            return []
        return planned

    async def _same_work(self, planned: list[Planned]) -> list[Planned]:
        """The rules are the CLI's (``services.batch``): work still queued, running,
        unconfirmed or stalled is never sent again from here (the job list resends an
        unconfirmed one)."""
        again = [p for p in planned if p.previous is not None]
        if not again:
            return planned
        session = self.model.session
        fresh = session.sendable(planned)
        key = await self.ask(same_work_question(planned, fresh))
        if key == "again":
            return session.sendable(planned, again=True)
        if key == "show" and again[0].previous is not None:
            self.compare_requested.emit(again[0].previous.id)
        return fresh if key == "others" else []

    async def _confirm_time_and_cost(self, planned: list[Planned]) -> bool:
        """A long run and a price above the threshold are said before anything is sent."""
        om = self.model.operation
        op, count = om.operation, len(planned)
        seconds, how = self.model.estimate([p.photo for p in planned])
        slow = slow_question(op.label, count, seconds, how, local=om.provider.kind == "local")
        if slow is not None and await self.ask(slow) != "start":
            return False
        threshold = self.model.cost_threshold()
        price = cost_question(op.label, count, op.cost.amount, threshold, om.cost_text)
        return price is None or await self.ask(price) == YES

    def _submit(self, planned: list[Planned]) -> list[str]:
        """Queue the jobs, each with its own time estimate for the job list."""
        try:
            ids = self.model.session.submit(planned)
        except RetouchError as exc:
            self.message.emit(str(exc))
            return []
        for job_id, p in zip(ids, planned, strict=False):
            one, _ = self.model.estimate([p.photo])
            if one is not None:
                self.model.jobs.set_estimate(job_id, one)
        return ids
