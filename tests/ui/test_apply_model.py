"""Apply's decisions in the model (``model.apply``), without a window or a dialog.

The questions are plain data: the pure functions are checked on their own, and
``ApplyFlow`` runs over a real ``AppModel`` on the fake provider with a scripted ``ask`` in
place of the window's dialogs, counting what reaches the pretend server.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
from PIL import Image

from retouchdesk.model import apply
from retouchdesk.model.apply import CANCEL, YES, ApplyFlow, Question
from retouchdesk.model.estimate import SLOW_SECONDS
from retouchdesk.services.inputs import LimitCheck


class Asker:
    """Answers the flow's questions in order (None once the script ends) and keeps them."""

    def __init__(self, *answers: str | None) -> None:
        self.answers = list(answers)
        self.asked: list[Question] = []

    async def __call__(self, question: Question) -> str | None:
        self.asked.append(question)
        return self.answers.pop(0) if self.answers else None

    def keys(self, n: int = -1) -> list[str]:
        return [c.key for c in self.asked[n].choices]


def run(qtbot: Any, coro: Any) -> Any:
    task = asyncio.ensure_future(coro)
    qtbot.waitUntil(task.done, timeout=20_000)
    return task.result()


@pytest.fixture
def flow(qtbot: Any, qloop: Any, fake_runtime_factory: Any, photo_dir: Path) -> Any:
    """An ApplyFlow over a started AppModel with the three test photos and fake.brighten
    (1 credit a photo); ``flow.asker`` answers, ``flow.said`` and ``flow.shown`` collect
    its signals."""
    from retouchdesk.model.app_model import AppModel

    model = AppModel(fake_runtime_factory(duration=0.05, poll_interval=0.02))
    model.start()
    model.photos.add_paths(sorted(photo_dir.glob("*.png")))
    model.operation.select("fake.brighten")
    asker = Asker()
    f = ApplyFlow(model, asker)
    f.asker, f.said, f.shown = asker, [], []  # type: ignore[attr-defined]
    f.message.connect(f.said.append)  # type: ignore[attr-defined]
    f.compare_requested.connect(f.shown.append)  # type: ignore[attr-defined]
    yield f
    run(qtbot, model.aclose())
    model.deleteLater()
    qtbot.wait(10)


def settle(qtbot: Any, flow: Any, ids: list[str]) -> None:
    eng = flow.model.engine
    qtbot.waitUntil(lambda: all(eng.get(i).state.terminal for i in ids), timeout=20_000)


# -- the questions, as data ------------------------------------------------------------------
def test_limits_question_offers_copies_and_the_answer_says_what_is_sent():
    big, huge, broken = Path("big.png"), Path("huge.png"), Path("broken.png")
    bad = [
        LimitCheck(big, ["the long side is 9000 px"], fixable=True, fit_size=(8000, 300)),
        LimitCheck(broken, ["cannot be read"]),
    ]
    q = apply.limits_question("Brighten", bad)
    assert q.warning and q.text == "2 photo(s) do not fit the limits of Brighten."
    assert [(c.key, c.text) for c in q.choices] == [
        ("downscale", "Downscale to 8000 × 300"),
        ("skip", "Skip them"),
        (CANCEL, ""),
    ]
    assert "• big.png: the long side is 9000 px" in q.informative
    assert q.informative.endswith("Your photos are not changed: copies are sent.")
    assert apply.limits_answer(bad, "downscale") == ({big: (8000, 300)}, {broken})
    assert apply.limits_answer(bad, "skip") == ({}, {big, broken})
    assert apply.limits_answer(bad, CANCEL) is None
    assert apply.limits_answer(bad, None) is None

    two = [*bad, LimitCheck(huge, ["too big"], fixable=True, fit_size=(8000, 10))]
    assert apply.limits_question("Brighten", two).choices[0].text == "Send downscaled copies"
    # Nothing can be fixed: no downscale offer, and an answer "downscale" sends nothing.
    q = apply.limits_question("Brighten", [bad[1]])
    assert [c.key for c in q.choices] == ["skip", CANCEL]
    assert "copies are sent" not in q.informative
    assert apply.limits_answer([bad[1]], "downscale") is None
    many = [LimitCheck(Path(f"p{i}.png"), ["x"]) for i in range(11)]
    assert apply.limits_question("B", many).informative.endswith("… and 3 more")


def test_the_price_is_asked_above_the_threshold_and_for_every_paid_batch():
    def price(n: int) -> str:
        return f"{n} credits"

    # At a threshold of 0 a single paid job goes, a paid batch asks.
    assert apply.cost_question("Brighten", 1, 1, 0.0, price) is None
    q = apply.cost_question("Brighten", 3, 1, 0.0, price)
    assert q is not None and q.title == "Run the batch?"
    assert q.text == "Brighten on 3 photos costs 3 credits. Send it?"
    assert [c.key for c in q.choices] == [YES, CANCEL]
    # Above a threshold, one job asks too and the limit is named; at or under it, nothing.
    q = apply.cost_question("Brighten", 1, 1, 0.5, price)
    assert q is not None and q.title == "Send this job?"
    assert q.text == "Brighten on 1 photo costs 1 credits (above your limit of 0.5). Send it?"
    assert apply.cost_question("Brighten", 3, 1, 3.0, price) is None
    # Free, or no published price: never asked.
    assert apply.cost_question("Brighten", 5, 0, 0.0, price) is None
    assert apply.cost_question("Brighten", 5, None, 0.0, price) is None


def test_a_long_run_is_announced_from_two_minutes():
    assert apply.slow_question("Upscale", 1, None, "", local=True) is None
    assert apply.slow_question("Upscale", 1, SLOW_SECONDS - 1, "measured", local=True) is None
    q = apply.slow_question("Upscale", 2, 600, "estimated", local=True)
    assert q is not None and q.title == "A long job"
    assert q.text == "Upscale on 2 photos will take about 10 min (estimated on this computer)."
    assert [c.key for c in q.choices] == [CANCEL, "start"]
    cloud = apply.slow_question("Upscale", 1, 130, "measured", local=False)
    assert cloud is not None and "(measured)" in cloud.text


def test_photos_without_a_required_mask_are_named():
    from retouchdesk.core.schema import ParamKind

    mask = SimpleNamespace(kind=ParamKind.MASK, required=True, name="mask", applies=lambda v: True)
    op = SimpleNamespace(params=[mask])

    def planned(name: str, params: dict) -> Any:
        return SimpleNamespace(photo=Path(name), request=SimpleNamespace(params=params))

    with_mask, without = planned("a.png", {"mask": "/m.png"}), planned("b.png", {})
    assert not apply.lacks_mask(op, with_mask)  # type: ignore[arg-type]
    assert apply.lacks_mask(op, without)  # type: ignore[arg-type]
    q = apply.missing_masks_question("Remove", [without], [with_mask])
    assert q.text == "Remove needs a painted mask. 1 of 2 photos have none and would fail:"
    assert q.informative == "• b.png"
    assert [(c.key, c.text) for c in q.choices] == [("run", "Run the 1 with a mask"), (CANCEL, "")]
    assert apply.no_mask_message("Remove", [without]).startswith(
        "Remove needs a painted mask and b.png has none"
    )
    assert not apply.mask_is_ignored(None)  # no mask painter: nothing painted


# -- the flow over the model -----------------------------------------------------------------
def test_one_photo_is_sent_without_a_question_and_done_work_is_offered_not_paid(
    qtbot, flow, fake_runtime_factory
):
    server = fake_runtime_factory.server()
    photo = flow.model.photos.paths[0]
    (first,) = run(qtbot, flow.run([photo]))
    assert flow.asker.asked == []  # one paid job under a threshold of 0: no question
    settle(qtbot, flow, [first])
    assert flow.model.engine.get(first).state.name == "DONE"

    # The same Apply again: the result is offered (the default), nothing is sent.
    flow.asker.answers = ["show"]
    assert run(qtbot, flow.run([photo])) == []
    q = flow.asker.asked[-1]
    assert q.title == "Already done" and q.default == "show"
    assert flow.asker.keys() == ["show", "again", CANCEL]
    assert flow.shown == [first] and len(server.created()) == 1

    # Cancelled: nothing. Run again: sent a second time, deliberately.
    flow.asker.answers = [CANCEL]
    assert run(qtbot, flow.run([photo])) == []
    flow.asker.answers = ["again"]
    (second,) = run(qtbot, flow.run([photo]))
    assert second != first
    qtbot.waitUntil(lambda: len(server.created()) == 2, timeout=10_000)


def test_a_batch_asks_the_price_and_runs_only_the_new_photos(qtbot, flow, fake_runtime_factory):
    server = fake_runtime_factory.server()
    paths = flow.model.photos.paths
    first = run(qtbot, flow.run(paths[:1]))
    settle(qtbot, flow, first)

    flow.asker.answers = [None]  # "Already done" closed: nothing else asked, nothing sent
    assert run(qtbot, flow.run(paths)) == []
    assert [q.title for q in flow.asker.asked] == ["Already done"]
    assert len(server.created()) == 1

    flow.asker.answers = ["others", YES]
    ids = run(qtbot, flow.run(paths))
    titles = [q.title for q in flow.asker.asked[1:]]
    assert titles == ["Already done", "Run the batch?"]
    assert flow.asker.asked[1].text.startswith("1 of 3 photos already have this result")
    assert flow.asker.keys(1) == ["others", "again", CANCEL]
    assert "on 2 photos costs 2 credit for 2 photos" in flow.asker.asked[2].text
    assert len(ids) == 2
    settle(qtbot, flow, ids)
    assert len(server.created()) == 3


def test_the_price_question_refused_sends_nothing(qtbot, flow, fake_runtime_factory):
    flow.asker.answers = [CANCEL]
    assert run(qtbot, flow.run(flow.model.photos.paths)) == []
    assert [q.title for q in flow.asker.asked] == ["Run the batch?"]
    assert flow.model.engine.jobs() == []
    assert fake_runtime_factory.server().created() == []


def test_a_photo_over_the_limits_is_skipped_or_sent_downscaled(
    qtbot, flow, fake_runtime_factory, tmp_path
):
    wide = tmp_path / "wide.png"
    Image.fromarray(np.zeros((20, 8400, 3), np.uint8)).save(wide)
    flow.model.photos.add_paths([wide])
    photo = flow.model.photos.paths[0]

    flow.asker.answers = ["skip"]
    assert run(qtbot, flow.run([wide])) == []  # skipped, and nothing else to send
    assert flow.asker.asked[-1].title == "Photos outside the limits"
    assert flow.asker.keys() == ["downscale", "skip", CANCEL]

    flow.asker.answers = ["skip"]  # the other photo goes alone: one paid job is not asked
    (only,) = run(qtbot, flow.run([wide, photo]))
    assert flow.model.engine.get(only).input_path == photo

    flow.asker.answers = ["downscale"]
    (fitted,) = run(qtbot, flow.run([wide]))
    rec = flow.model.engine.get(fitted)
    assert rec.input_path == wide and rec.options.get("fit_limits") is True


def test_nothing_runs_on_an_unreadable_photo_or_an_operation_that_cannot_run(qtbot, flow):
    flow.apply_current(problem="coffee.png cannot be read")
    assert flow.said == ["coffee.png cannot be read"]
    flow.model.operation.select("local.object_removal")  # its mask is not painted
    assert run(qtbot, flow.run(flow.model.photos.paths)) == []
    assert flow.said[-1] == flow.model.operation.problem != ""
    assert flow.asker.asked == [] and flow.model.engine.jobs() == []
