"""Message boxes from :class:`~retouchdesk.model.apply.Question`: the model decides what to
ask (Apply's questions), this builds the box that asks it; and the question asked when the
window closes with jobs under way."""

from __future__ import annotations

from PySide6.QtWidgets import QMessageBox, QPushButton, QWidget

from retouchdesk.core.jobs import JobRecord
from retouchdesk.model.apply import ACCEPT, CANCEL, DESTRUCTIVE, REJECT, YES, Choice, Question

ROLES = {
    ACCEPT: QMessageBox.ButtonRole.AcceptRole,
    DESTRUCTIVE: QMessageBox.ButtonRole.DestructiveRole,
    REJECT: QMessageBox.ButtonRole.RejectRole,
}
STANDARD = {YES: QMessageBox.StandardButton.Yes, CANCEL: QMessageBox.StandardButton.Cancel}


def message_box(
    question: Question, parent: QWidget
) -> tuple[QMessageBox, list[tuple[QPushButton, str]]]:
    """The box showing ``question`` and its buttons with the keys of their choices."""
    box = QMessageBox(parent)
    box.setIcon(QMessageBox.Icon.Warning if question.warning else QMessageBox.Icon.Question)
    box.setWindowTitle(question.title)
    box.setText(question.text)
    if question.informative:
        box.setInformativeText(question.informative)
    buttons: list[tuple[QPushButton, str]] = []
    for choice in question.choices:
        if choice.standard:
            button = box.addButton(STANDARD[choice.key])
        else:
            button = box.addButton(choice.text, ROLES[choice.role])
        buttons.append((button, choice.key))
        if choice.key == question.default:
            box.setDefaultButton(button)
    return box, buttons


def chosen(buttons: list[tuple[QPushButton, str]], clicked: object) -> str | None:
    """The key of the clicked button (None: the box was closed another way)."""
    return next((key for button, key in buttons if button is clicked), None)


def quit_question(local: list[JobRecord], cloud: list[JobRecord]) -> Question:
    """Quitting with work under way asks, as Lightroom does during an export: "resume" (the
    jobs go on next time), "cancel_jobs" (then quit) or "stay"."""
    n = len(local) + len(cloud)
    lines = []
    sent = [r for r in cloud if r.remote_id or r.submit_started]
    if cloud:
        lines.append(
            f"{len(cloud)} on cloud services"
            + (f" ({len(sent)} already sent and paid for)" if sent else "")
            + ": the services keep working and the results are fetched when you next "
            "open Retouch Desk."
        )
    if local:
        lines.append(
            f"{len(local)} offline: they stop now and start again from the beginning "
            "when you next open Retouch Desk, unless you cancel them."
        )
    return Question(
        "Jobs are still running",
        f"{n} job{'s are' if n != 1 else ' is'} not finished yet.",
        "\n\n".join(lines),
        (
            Choice("resume", "Quit, finish next time", ACCEPT),
            Choice("cancel_jobs", "Cancel jobs and quit", DESTRUCTIVE),
            Choice("stay", "Keep working", REJECT),
        ),
        default="stay",
        warning=True,
    )
