"""The job panel's Resend: an unconfirmed job is sent again only after the user is told it
may be charged twice. Driven through the real window and the fake provider."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, QTimer

from retouchdesk.core.jobs import JobState
from retouchdesk.model.jobs import COL_STATE


def answer_next_box(qtbot: Any, text_start: str, seen: list[str]) -> None:
    """Press the button of the next message box (opened modally by a click) whose text
    starts with ``text_start``; its message goes to ``seen``."""
    from PySide6.QtWidgets import QApplication, QMessageBox

    def attempt() -> None:
        for wdg in QApplication.topLevelWidgets():
            if isinstance(wdg, QMessageBox) and wdg.isVisible():
                seen.append(wdg.text())
                for b in wdg.buttons():
                    if b.text().replace("&", "").startswith(text_start):
                        b.click()
                return
        QTimer.singleShot(20, attempt)

    QTimer.singleShot(20, attempt)


def test_unconfirmed_job_is_resent_only_after_the_double_charge_question(
    qtbot, make_window, photo_dir, fake_runtime_factory
):
    w = make_window(
        fake_runtime_factory(
            duration=0.1, poll_interval=0.02, idempotent=False, lose_submit_answers=1
        )
    )
    server = fake_runtime_factory.server()
    w.open_paths([photo_dir / "coffee.png"])
    w.model.operation.select("fake.brighten")
    w.apply_current()
    jobs, panel = w.model.jobs, w.jobs
    qtbot.waitUntil(lambda: len(jobs.job_ids()) == 1, timeout=10_000)
    jid = jobs.job_ids()[0]
    qtbot.waitUntil(lambda: jobs.record(jid).state is JobState.UNCONFIRMED, timeout=10_000)
    qtbot.waitUntil(lambda: bool(jobs.record(jid).error), timeout=10_000)
    assert jobs.index_of(jid).siblingAtColumn(COL_STATE).data().startswith("Unconfirmed")
    assert len(server.created()) == 1
    panel.view.setCurrentIndex(jobs.index_of(jid))
    assert panel.resend_button.isEnabled() and not panel.retry_button.isEnabled()

    seen: list[str] = []
    answer_next_box(qtbot, "No", seen)
    qtbot.mouseClick(panel.resend_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: len(seen) == 1, timeout=10_000)
    assert "may charge you twice" in seen[0]
    assert jobs.record(jid).state is JobState.UNCONFIRMED and len(server.created()) == 1

    answer_next_box(qtbot, "Yes", seen)
    qtbot.mouseClick(panel.resend_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: jobs.record(jid).state is JobState.DONE, timeout=20_000)
    assert len(server.created()) == 2  # the user chose to send it again
