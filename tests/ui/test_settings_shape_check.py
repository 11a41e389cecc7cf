"""Settings > Test connection also runs the doctor's shape checks.

Real dialog, real provider, real HTTP to the CodeFormer emulator: when the server answers in
the documented shape the test says "Connected"; when its health answer changed shape the
same button says which check failed, so a vendor change shows where the user looks.
"""

from __future__ import annotations

import asyncio

import keyring
import pytest

from retouchdesk.core.schema import load_catalog
from retouchdesk.model.accounts import AccountsModel
from retouchdesk.services.secrets import KeyringStore
from retouchdesk.services.settings import Settings
from retouchdesk.ui.settings.dialog import SettingsDialog


@pytest.fixture
def dialog(qtbot):
    store = KeyringStore(keyring.get_keyring())
    model = AccountsModel(Settings(secret_lookup=store.get), store, load_catalog())
    dlg = SettingsDialog(model)
    qtbot.addWidget(dlg)
    dlg.show()
    return dlg


async def test_connection_test_reports_a_changed_shape(dialog, qtbot, emulator) -> None:
    emu = emulator("codeformer", time_scale=0.05, device="cpu")
    page = dialog.page("codeformer")
    field = page.fields[("codeformer", "base_url")].widget
    field.setFocus()
    qtbot.keyClicks(field, emu.url)
    await asyncio.wait_for(page.start_test(), 30)
    assert page.test_result.text() == "Connected. The CodeFormer server is online (cpu)."
    emu.faults.status(200, path="/api/health", body=b'{"status": "online"}', times=5)
    await asyncio.wait_for(page.start_test(), 30)
    text = page.test_result.text()
    assert text.startswith(
        "Connected. The CodeFormer server is online (unknown device). But health:"
    )
    assert "shape not as expected" in text
