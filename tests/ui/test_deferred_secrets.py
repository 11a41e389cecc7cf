"""The window opens the secret store after its first paint (issue 15 item 5).

Until the store is open the providers show no lock and no warning (nothing is known yet);
``AppModel.open_secrets`` opens it in a worker thread and then the statuses say which
providers have their keys. Anything that needs a key before that waits for the store
instead of reading "not set".
"""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import Any

import pytest

from retouchdesk.services import runtime


class _Store:
    backend_name = "test store"

    def __init__(self) -> None:
        self.values = {("enhancor", "api_key"): "enh-key-from-store"}

    def get(self, section: str, key: str) -> str | None:
        return self.values.get((section, key))


@pytest.fixture
def gated_store(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """``open_secret_store`` replaced by one that waits for ``gate`` and counts its calls."""
    state: dict[str, Any] = {"gate": threading.Event(), "opened": [], "store": _Store()}

    def fake_open(settings: Any, passphrase_callback: Any = None) -> _Store:
        assert state["gate"].wait(10)
        state["opened"].append(threading.current_thread().name)
        return state["store"]

    monkeypatch.setattr(runtime, "open_secret_store", fake_open)
    for name in ("RETOUCHDESK_ENHANCOR_API_KEY", "RETOUCHDESK_ADCREATIVE_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    return state


def _window_runtime() -> Any:
    from retouchdesk.app import _window_runtime

    return _window_runtime()


def _close(qtbot: Any, model: Any) -> None:
    """Close the model as the window does (engine, store, workers), then delete it here:
    a model left to the garbage collector would be destroyed in the middle of a later test."""
    task = asyncio.ensure_future(model.aclose())
    qtbot.waitUntil(task.done, timeout=10_000)
    task.result()
    model.deleteLater()
    qtbot.wait(10)


def test_statuses_wait_for_the_store_then_tell_the_truth(
    app_home: Path, qloop: Any, qtbot: Any, gated_store: dict[str, Any]
):
    from retouchdesk.model.app_model import AppModel

    rt = _window_runtime()
    model = AppModel(rt)
    try:
        # Built before the store opened: no lookup happened, nobody is shown as locked.
        assert gated_store["opened"] == []
        assert model.operation.status("enhancor").ready
        assert model.operation.status("adcreative").ready
        ran: list[str] = []
        model.after_secrets(lambda: ran.append("credits"))
        task = asyncio.ensure_future(model.open_secrets())
        qtbot.wait(50)
        assert not task.done() and ran == []  # the GUI thread goes on while the store opens
        gated_store["gate"].set()
        qtbot.waitUntil(task.done, timeout=5000)
        task.result()
        assert len(gated_store["opened"]) == 1
        assert gated_store["opened"][0] != threading.main_thread().name
        assert rt.secrets is gated_store["store"] and rt.pending_secrets is None
        assert ran == ["credits"]
        assert model.operation.status("enhancor").ready  # its key is in the store
        missing = model.operation.status("adcreative")
        assert not missing.ready and "AdCreative" in missing.reason
        assert model.accounts.store is gated_store["store"]
    finally:
        gated_store["gate"].set()
        _close(qtbot, model)


def test_a_key_wanted_before_the_store_opened_waits_for_it(
    app_home: Path, qloop: Any, qtbot: Any, gated_store: dict[str, Any]
):
    from retouchdesk.model.app_model import AppModel

    rt = _window_runtime()
    model = AppModel(rt)
    try:
        accounts = model.accounts  # the settings dialog's model, made at window start
        accounts.set_passphrase_prompt(lambda creating: None)
        assert gated_store["opened"] == []  # made without opening the store
        threading.Timer(0.1, gated_store["gate"].set).start()
        # A resumed cloud job builds its provider: the lookup waits, then finds the key.
        assert rt.settings.get("enhancor", "api_key") == "enh-key-from-store"
        assert accounts.store is gated_store["store"]
        assert len(gated_store["opened"]) == 1
    finally:
        gated_store["gate"].set()
        _close(qtbot, model)
