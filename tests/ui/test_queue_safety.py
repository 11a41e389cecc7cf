"""Issue 14 item 6 in the window: pause/resume of the queue, and the cost threshold.

The fake service counts what reaches it: a paused queue sends nothing, a job above the
threshold is sent only after the photographer says so.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QWidget
from tests.ui.test_window_trust import _answer


def test_pause_holds_jobs_back_until_resumed(
    qtbot, make_window, photo_dir: Path, fake_runtime_factory
):
    w = make_window(fake_runtime_factory(duration=0.05, poll_interval=0.02))
    server = fake_runtime_factory.server()
    w.open_paths([photo_dir / "coffee.png"])
    w.model.operation.select("fake.brighten")
    eng = w.model.engine
    controls = w.queue_controls
    controls.pause_action.trigger()
    assert eng.paused and controls.resume_button.isVisible()
    qtbot.waitUntil(w.side.apply_button.isEnabled)
    qtbot.mouseClick(w.side.apply_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: len(eng.jobs()) == 1, timeout=10_000)
    (job,) = eng.jobs()
    qtbot.wait(400)
    assert eng.get(job.id).state.name == "QUEUED" and server.requests() == []
    assert controls.resume_button.text() == "Resume queue (1 waiting)"
    qtbot.mouseClick(controls.resume_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: eng.get(job.id).state.terminal, timeout=20_000)
    assert eng.get(job.id).state.name == "DONE" and len(server.requests()) == 1
    assert not controls.resume_button.isVisible() and not controls.pause_action.isChecked()


def test_a_job_above_the_cost_threshold_asks_first(
    qtbot, make_window, photo_dir: Path, fake_runtime_factory
):
    rt = fake_runtime_factory(duration=0.05, poll_interval=0.02)
    server = fake_runtime_factory.server()
    rt.settings.set("general", "cost_threshold", 0.5)  # one photo costs 1 credit
    w = make_window(rt)
    w.open_paths([photo_dir / "coffee.png"])
    w.model.operation.select("fake.brighten")
    eng = w.model.engine
    qtbot.waitUntil(w.side.apply_button.isEnabled)
    qtbot.mouseClick(w.side.apply_button, Qt.MouseButton.LeftButton)
    asked = _answer(qtbot, w, "Cancel")
    assert "on 1 photo costs 1 credit for 1 photo (above your limit of 0.5)" in asked
    assert eng.jobs() == [] and server.requests() == []
    qtbot.mouseClick(w.side.apply_button, Qt.MouseButton.LeftButton)
    _answer(qtbot, w, "Yes")
    qtbot.waitUntil(lambda: len(eng.jobs()) == 1, timeout=10_000)
    # Under the threshold, a single job goes without a question.
    rt.settings.set("general", "cost_threshold", 5)
    w.model.operation.set_value("amount", 1.5)
    qtbot.mouseClick(w.side.apply_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: len(eng.jobs()) == 2, timeout=10_000)


def test_a_batch_ending_in_the_background_is_announced(
    qtbot, make_window, photo_dir: Path, fake_runtime_factory
):
    w = make_window(fake_runtime_factory(duration=0.1, poll_interval=0.02))
    w.open_paths([photo_dir])
    w.model.operation.select("fake.brighten")
    eng = w.model.engine
    controls = w.queue_controls
    # In front: the window itself shows the end, no notification.
    w.activateWindow()
    qtbot.waitUntil(w.isActiveWindow)
    (jid,) = _run(qtbot, w.model.session.queue([w.model.photos.paths[0]]))
    qtbot.waitUntil(lambda: eng.get(jid).state.terminal, timeout=20_000)
    assert controls.notifications == []
    # In the background: the end of the batch is announced once, with its counts.
    other = QWidget()
    other.show()
    qtbot.waitExposed(other)
    other.activateWindow()
    qtbot.waitUntil(lambda: not w.isActiveWindow())
    ids = _run(qtbot, w.model.session.queue(w.model.photos.paths[1:]))
    qtbot.waitUntil(lambda: all(eng.get(i).state.terminal for i in ids), timeout=20_000)
    qtbot.waitUntil(lambda: controls.notifications != [])
    assert controls.notifications == ["Retouch Desk: the queue is finished: 2 photos done"]
    other.close()


def _run(qtbot, coro):
    import asyncio

    task = asyncio.ensure_future(coro)
    qtbot.waitUntil(task.done, timeout=20_000)
    return task.result()
