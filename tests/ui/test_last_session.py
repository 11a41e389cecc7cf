"""Issue 14 item 7 (part): the next start reopens the last session's photos at their versions."""

from __future__ import annotations

import json
from pathlib import Path

from tests.ui.conftest import close_window


def test_photos_and_working_versions_come_back(
    qtbot, make_window, photo_dir: Path, fake_runtime_factory, app_home: Path
):
    w = make_window(fake_runtime_factory(duration=0.05, poll_interval=0.02))
    w.open_paths([photo_dir / "chelsea.png", photo_dir / "coffee.png"])
    photos = w.model.photos
    coffee = next(p for p in photos.paths if p.name == "coffee.png")
    photos.set_current_path(coffee)
    w.model.operation.select("fake.brighten")
    (job_id,) = _run(qtbot, w.model.session.queue([coffee]))
    eng = w.model.engine
    qtbot.waitUntil(lambda: eng.get(job_id).state.terminal, timeout=20_000)
    w.model.history.continue_from(job_id, coffee)
    result = eng.get(job_id).results[0]
    qtbot.waitUntil(lambda: w.model.document.path == result, timeout=10_000)
    close_window(qtbot, w)
    w.close()
    saved = json.loads((app_home / "data" / "last_session.json").read_text())
    assert saved["current"] == str(coffee) and saved["working"] == {str(coffee): job_id}

    again = make_window(fake_runtime_factory())
    assert again.history.reopen_last_session() == list(photos.paths)
    assert [p.name for p in again.model.photos.paths] == ["chelsea.png", "coffee.png"]
    assert again.model.photos.current_path == coffee
    # The canvas shows the working version, and the next Apply would start from it.
    qtbot.waitUntil(lambda: again.model.document.path == result, timeout=10_000)
    assert again.model.session.working_input(coffee) == result
    assert "Reopened 2 photos" in again.statusBar().currentMessage()


def test_a_result_gone_since_falls_back_to_the_photo(
    qtbot, make_window, photo_dir: Path, fake_runtime_factory, app_home: Path
):
    (app_home / "data").mkdir(parents=True, exist_ok=True)
    (app_home / "data" / "last_session.json").write_text(
        json.dumps(
            {
                "photos": [str(photo_dir / "coffee.png"), str(photo_dir / "gone.png")],
                "current": str(photo_dir / "gone.png"),
                "working": {str(photo_dir / "coffee.png"): "no-such-job"},
            }
        )
    )
    w = make_window(fake_runtime_factory())
    assert [p.name for p in w.history.reopen_last_session()] == ["coffee.png"]
    qtbot.waitUntil(lambda: w.model.document.path == photo_dir / "coffee.png", timeout=10_000)


def _run(qtbot, coro):
    import asyncio

    task = asyncio.ensure_future(coro)
    qtbot.waitUntil(task.done, timeout=20_000)
    return task.result()
