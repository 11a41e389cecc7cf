"""The batch rules (services.batch) in the window, counted on the pretend server.

The same cases as the command line's (``tests/e2e/test_batch_rules_cli.py``), through the
window's model (``SessionModel.prepare``/``sendable``/``submit``, what Apply to all runs) and
through the window itself for the question it asks: a photo listed twice is sent once; done
work is not paid again; a deleted result and a failed job are redone; an unconfirmed job is
never resent, not even by "Run again".
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt
from tests.doubles.fake_provider import FakeServer, build_fake_runtime

from retouchdesk.core.jobs import JobState
from retouchdesk.services.batch import Decision


def run(qtbot: Any, coro: Any, timeout: int = 20_000) -> Any:
    task = asyncio.ensure_future(coro)
    qtbot.waitUntil(task.done, timeout=timeout)
    return task.result()


def settle(qtbot: Any, w: Any, ids: list[str]) -> None:
    eng = w.model.engine
    qtbot.waitUntil(lambda: all(eng.get(i).state.settled for i in ids), timeout=20_000)


def apply_all(qtbot: Any, w: Any, paths: list[Path], *, again: bool = False) -> list[Any]:
    """What Apply to all sends without asking: new work only (or done work run ``again``)."""
    session = w.model.session
    planned = run(qtbot, session.prepare(paths))
    ids = session.submit(session.sendable(planned, again=again))
    settle(qtbot, w, ids)
    return planned


@pytest.fixture
def runtime(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A runtime over the fake provider; an unconfirmed job gives up waiting quickly."""
    root = tmp_path / "fake-server"
    monkeypatch.setenv("RETOUCHDESK_FAKE_SERVER", str(root))
    server = FakeServer(root)

    def make(**script: Any) -> Any:
        server.set_script(duration=0.05, poll_interval=0.02, **script)
        return build_fake_runtime(tmp_path / "jobs.sqlite3", unconfirmed_wait=0.2)

    make.server = server  # type: ignore[attr-defined]
    return make


@pytest.mark.slow
def test_listed_twice_sent_once_done_not_paid_again_deleted_result_redone(
    qtbot, make_window, photo_dir, runtime
):
    w = make_window(runtime())
    server = runtime.server
    paths = [photo_dir / n for n in ("astronaut.png", "chelsea.png", "coffee.png")]
    w.open_paths(paths)
    w.model.operation.select("fake.brighten")
    planned = apply_all(qtbot, w, [*paths, paths[2]])
    assert len(planned) == 3  # coffee.png listed twice is planned once
    assert sorted(server.created_per_input().values()) == [1, 1, 1]

    again = apply_all(qtbot, w, paths)
    assert [p.decision for p in again] == [Decision.DONE] * 3
    assert all(p.previous.results[0].exists() for p in again)
    assert len(server.created()) == 3  # nothing paid again

    chelsea = again[1].previous.results[0]
    chelsea.unlink()
    third = apply_all(qtbot, w, paths)
    assert [p.decision for p in third] == [Decision.DONE, Decision.SUBMIT, Decision.DONE]
    assert server.created_per_input()[str(paths[1])] == 2 and len(server.created()) == 4


def test_failed_is_sent_again_unconfirmed_is_not_even_by_run_again(
    qtbot, make_window, photo_dir, runtime
):
    # The first created job's answer is lost (not idempotent: it cannot be asked again).
    w = make_window(runtime(fail_inputs=["chelsea.png"], idempotent=False, lose_submit_answers=1))
    server = runtime.server
    coffee, chelsea, astronaut = (
        photo_dir / n for n in ("coffee.png", "chelsea.png", "astronaut.png")
    )
    w.open_paths([photo_dir])
    w.model.operation.select("fake.brighten")
    apply_all(qtbot, w, [coffee])
    apply_all(qtbot, w, [chelsea])
    states = {r.input_path.name: r.state for r in w.model.engine.jobs()}
    assert states == {"coffee.png": JobState.UNCONFIRMED, "chelsea.png": JobState.FAILED}

    server.set_script(fail_inputs=[])
    planned = apply_all(qtbot, w, [coffee, chelsea, astronaut], again=True)
    assert [p.decision for p in planned] == [Decision.UNCONFIRMED, Decision.SUBMIT, Decision.SUBMIT]
    per_input = server.created_per_input()
    assert per_input[str(chelsea)] == 2 and per_input[str(astronaut)] == 1
    assert per_input[str(coffee)] == 1  # never resent

    # Through the window: Apply on the unconfirmed photo says so and offers no "Run again".
    w.model.photos.set_current_row(w.model.photos.paths.index(coffee))
    qtbot.waitUntil(w.side.apply_button.isEnabled)
    qtbot.mouseClick(w.side.apply_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: getattr(w, "question", None) is not None)
    box = w.question
    qtbot.waitUntil(box.isVisible)
    assert "answer was lost" in box.text()
    labels = [b.text().replace("&", "") for b in box.buttons()]
    assert "Run again" not in labels
    # Apply to all: the done ones may be run again, the unconfirmed one still not.
    box.reject()
    w.question = None
    qtbot.mouseClick(w.side.apply_all_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: getattr(w, "question", None) is not None)
    box = w.question
    qtbot.waitUntil(box.isVisible)
    assert "3 of 3 photos already have this result" in box.text()
    rerun = next(b for b in box.buttons() if b.text().replace("&", "") == "Run again")
    w.question = None
    qtbot.mouseClick(rerun, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: getattr(w, "question", None) is not None)  # the price question
    assert "on 2 photos costs" in w.question.text()
    yes = next(b for b in w.question.buttons() if b.text().replace("&", "") == "Yes")
    qtbot.mouseClick(yes, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: len(server.created()) == 6, timeout=10_000)
    settle(qtbot, w, [r.id for r in w.model.engine.jobs()])
    per_input = server.created_per_input()
    assert per_input[str(coffee)] == 1  # still never resent
    assert per_input[str(chelsea)] == 3 and per_input[str(astronaut)] == 2
    assert len(server.created()) == 6
