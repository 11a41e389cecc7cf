"""A style parameter lists the provider's styles lazily, with thumbnails, from the YouCam
emulator on loopback; picking one puts its id into the request."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from tests.doubles.plain_runtime import plain_runtime

from retouchdesk.ui.param_controls import StyleControl

pytestmark = pytest.mark.timeout(120)


def test_style_grid_loads_when_opened_and_picks_an_id(qtbot, make_window, monkeypatch):
    from tests.emulators import load
    from tests.emulators.youcam_support import FAST, settings_env

    emu = load("youcam", **FAST).start()
    try:
        for k, v in settings_env(emu, "v2").items():
            monkeypatch.setenv(k, v)
        w = make_window(plain_runtime())
        om = w.model.operation
        om.select("youcam.hairstyle")
        assert om.status("youcam").ready
        control = w.side.params.controls["template_id"]
        assert isinstance(control, StyleControl)
        before = len(emu.received())
        assert control.grid.count() == 0  # nothing is fetched until the picker opens
        qtbot.mouseClick(control.browse, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: control.grid.count() > 0, timeout=30_000)
        assert len(emu.received()) > before
        # The emulator lists 25 templates, 20 a page: the rest comes on request.
        assert control.grid.count() == 20 and control.more_button.isVisible()
        qtbot.mouseClick(control.more_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: control.grid.count() == 25, timeout=30_000)
        assert not control.more_button.isVisible()
        first = control.grid.item(0)
        assert not first.icon().isNull()  # the thumbnail arrived with the listing
        style_id = first.data(Qt.ItemDataRole.UserRole)
        first.setSelected(True)
        assert om.value("template_id") == style_id
        assert om.request()["template_id"] == style_id
    finally:
        emu.stop()
