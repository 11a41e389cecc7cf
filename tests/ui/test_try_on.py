"""Try On…: one photo sent to four services at once, compared in a grid.

Driven like a user: Photo › Try On… (the Try on… button beside Apply does the same), the
dialog's total before anything is sent, Send, the grid filling with real results from the
vendor emulators on loopback and the offline engine, synchronised zoom, then "Use this".
Requests are counted on the emulators' side.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import QPointF, Qt
from tests.doubles.plain_runtime import plain_runtime
from tests.ui.conftest import close_window

ENH_KEY = "enh-tryon-key-5a1c"
CF_TOKEN = "hf_tryon_token_77c"
ADC = {
    "application_id": "4f7d8a9c-b5e6-4d3e-b7a9-d5c3e1b7a4f6",
    "jwt_private_key": "adc-tryon-jwt-private-11",
    "api_key": "adc-tryon-api-key-22",
    "api_secret": "adc-tryon-api-secret-33",
}
FOUR = [
    "enhancor.realistic_skin",
    "codeformer.restore",
    "adcreative.face_enhance",
    "local.skin_smoothing",
]


def services_env(enh, cf, adc) -> dict[str, str]:
    """Every cloud provider pointed at its emulator, with fake credentials and fast polls."""
    return {
        "RETOUCHDESK_ENHANCOR_BASE_URL": enh.url,
        "RETOUCHDESK_ENHANCOR_API_KEY": ENH_KEY,
        "RETOUCHDESK_HOSTING_STRATEGY": "local",
        "RETOUCHDESK_ENHANCOR_POLL_INTERVAL": "0.1",
        "RETOUCHDESK_CODEFORMER_BASE_URL": cf.url,
        "RETOUCHDESK_CODEFORMER_TOKEN": CF_TOKEN,
        "RETOUCHDESK_ADCREATIVE_BASE_URL": adc.url,
        "RETOUCHDESK_ADCREATIVE_APPLICATION_ID": ADC["application_id"],
        "RETOUCHDESK_ADCREATIVE_JWT_PRIVATE_KEY": ADC["jwt_private_key"],
        "RETOUCHDESK_ADCREATIVE_API_KEY": ADC["api_key"],
        "RETOUCHDESK_ADCREATIVE_API_SECRET": ADC["api_secret"],
        "RETOUCHDESK_ADCREATIVE_POLL_INTERVAL": "0.1",
        "RETOUCHDESK_NETWORK_BACKOFF_BASE": "0.05",
        "RETOUCHDESK_ENGINE_BACKOFF_BASE": "0.1",
    }


@pytest.fixture
def four_services(emulator, monkeypatch):
    enh = emulator("enhancor", api_key=ENH_KEY, time_scale=0.05)
    cf = emulator("codeformer", time_scale=0.05, token=CF_TOKEN)
    adc = emulator("adcreative", time_scale=0.05, **ADC)
    for k, v in services_env(enh, cf, adc).items():
        monkeypatch.setenv(k, v)
    return enh, cf, adc


def _pixels(canvas) -> np.ndarray:
    img = canvas.photo.levels[0].convertToFormat(canvas.photo.levels[0].Format.Format_RGB888)
    w, h = img.width(), img.height()
    arr = np.frombuffer(img.constBits(), np.uint8, img.bytesPerLine() * h)
    return arr.reshape(h, img.bytesPerLine())[:, : w * 3].reshape(h, w, 3).copy()


@pytest.mark.slow
def test_try_on_four_services_grid_sync_and_use_this(
    qtbot, make_window, photo_dir: Path, four_services
):

    enh, cf, adc = four_services
    w = make_window(plain_runtime())
    photo = photo_dir / "astronaut.png"
    w.open_paths([photo])
    qtbot.waitUntil(lambda: w.model.document.image is not None, timeout=10_000)
    hook = w.try_on
    assert hook.button.isEnabled() and hook.action.isEnabled()
    assert hook.action.shortcut().toString() == "Ctrl+T"

    # The button beside Apply opens the dialog; the four are checked, the total is said.
    qtbot.mouseClick(hook.button, Qt.MouseButton.LeftButton)
    dlg = hook.dialog
    qtbot.waitUntil(dlg.isVisible)
    assert [c.key for c in dlg.chosen()] == FOUR
    total = dlg.total.text()
    assert "Total for 4 operations" in total
    assert "Enhancor" in total and "AdCreative" in total  # priced when they run: named
    assert "CodeFormer" not in total  # free, like the offline engine
    assert dlg.send_button.text() == "Send to 4"
    assert w.model.engine.jobs() == []  # nothing sent before Send
    assert enh.received("/api/realistic-skin/v1/queue") == []
    qtbot.mouseClick(dlg.send_button, Qt.MouseButton.LeftButton)

    grid = hook.grid
    qtbot.waitUntil(lambda: w.stack.currentWidget() is grid)
    eng = w.model.engine
    qtbot.waitUntil(lambda: len(eng.jobs()) == 4, timeout=20_000)
    run = hook.model.run
    qtbot.waitUntil(lambda: run.finished, timeout=90_000)
    states = {c.choice.key: (c.state, c.note) for c in run.cells}
    assert all(s == "done" for s, _n in states.values()), states
    # One job per service, counted where the vendor sees it.
    assert cf.processed == 1
    assert len([r for r in enh.requests if r.method == "POST" and "queue" in r.path]) == 1
    assert (
        len([r for r in adc.requests if r.method == "POST" and r.path.endswith("/AdCreative")]) == 1
    )
    assert len({r.batch_id for r in eng.jobs()}) == 1  # one row in the job list

    # Five cells (what was sent + four results), each result with its cost and time.
    qtbot.waitUntil(lambda: all(not c.canvas.photo.is_empty() for c in grid.cells), timeout=20_000)
    assert len(grid.cells) == 5
    original = _pixels(grid.cells[0].canvas)
    for gc, cell in zip(grid.cells[1:], run.cells, strict=True):
        text = gc.info.text()
        assert text.startswith("Cost: ") and "Time: " in text, text
        assert gc.use_button.isEnabled()
        # The cell shows the result file's pixels (read by Pillow), which are not the photo's.
        px = _pixels(gc.canvas)
        with Image.open(cell.result) as im:
            on_disk = np.asarray(im.convert("RGB"))
        assert px.shape == on_disk.shape
        assert np.abs(px.astype(int) - on_disk).mean() < 1.0, cell.choice.key
        assert px.shape != original.shape or (px != original).any(), cell.choice.key
    pairs = list(zip(grid.cells[1:], run.cells, strict=True))
    local = next(gc for gc, c in pairs if c.choice.provider == "local")
    assert "Cost: Free" in local.info.text()
    enh_cell = next(gc for gc, c in pairs if c.choice.provider == "enhancor")
    assert " credits · Time: " in enh_cell.info.text()  # the price the service reported

    # Zoom and pan in one cell: every cell shows the same part of the photo.
    first = grid.cells[1].canvas
    first.set_view(2.0, QPointF(200, 150))
    for gc in grid.cells:
        c = gc.canvas
        sw, sh = c.photo.size
        centre = c.view_center()
        assert abs(centre.x() / sw - 200 / first.photo.size[0]) < 0.05
        assert abs(centre.y() / sh - 150 / first.photo.size[1]) < 0.05
    assert (
        abs(
            grid.cells[0].canvas.zoom * 512 / grid.cells[0].canvas.photo.size[0]
            - 2.0 * 512 / first.photo.size[0]
        )
        < 0.05
    )

    # Use this on the CodeFormer result: it becomes the working version, the canvas shows it.
    cf_cell = next(c for c in run.cells if c.choice.provider == "codeformer")
    gc = next(g for g in grid.cells if g.job_id == cf_cell.job_id)
    said: list[str] = []
    hook.model.message.connect(said.append)
    qtbot.mouseClick(gc.use_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: w.stack.currentWidget() is w.canvas)
    assert w.model.history.working_job(photo) == cf_cell.job_id
    qtbot.waitUntil(
        lambda: (
            w.model.document.image is not None and w.model.document.image.path == cf_cell.result
        ),
        timeout=10_000,
    )
    assert said == ["CodeFormer · Face Restoration is now the working version of astronaut.png"]
    close_window(qtbot, w)


def test_try_on_total_and_unready_services(qtbot, make_window, photo_dir: Path):
    """Without credentials the cloud services are listed but cannot be checked (with the
    reason); the offline ones are free; unchecking everything disables Send."""
    from retouchdesk.model.try_on import Choice, total_cost_text

    w = make_window()
    w.open_paths([photo_dir / "chelsea.png"])
    qtbot.waitUntil(lambda: w.model.document.image is not None, timeout=10_000)
    dlg = w.try_on.open_dialog()
    assert dlg is not None
    keys = [c.key for c in dlg.chosen()]
    assert keys == ["local.skin_smoothing"]
    enh = next(
        dlg.list.item(i)
        for i in range(dlg.list.count())
        if dlg.list.item(i).data(Qt.ItemDataRole.UserRole + 1) == "enhancor.realistic_skin"
    )
    assert not enh.flags() & Qt.ItemFlag.ItemIsEnabled
    assert "not set up" in enh.text() and "API key" in enh.toolTip()
    assert "Total for 1 operation: Free" in dlg.total.text()
    # The Apply flow's time estimate (the schema's hint for the offline upscaler).
    dlg.set_checked(["local.upscale", "local.skin_smoothing"])
    assert "Time: about" in dlg.total.text()
    dlg.set_checked([])
    assert not dlg.send_button.isEnabled()
    dlg.reject()
    paid = [
        Choice("a", "x", "A · X", 2, "credits", ""),
        Choice("b", "y", "B · Y", 3, "credits", ""),
        Choice("c", "z", "C · Z", None, "credits", "later"),
        Choice("local", "s", "Local · S", 0, "", ""),
    ]
    assert total_cost_text(paid) == "5 credits + what C charges when run"
    assert total_cost_text(paid[:1] + paid[3:]) == "2 credits"


@pytest.mark.slow
def test_a_failing_service_fails_its_cell_only_and_a_second_try_pays_nothing_twice(
    qtbot, make_window, photo_dir: Path, emulator, monkeypatch
):
    """CodeFormer refuses the photo (422 every time): its cell says why and cannot be used,
    the offline result arrives; Try On again re-sends only CodeFormer (the offline result is
    shown again, not redone), and this time CodeFormer's result arrives."""

    cf = emulator("codeformer", time_scale=0.05, token=CF_TOKEN)
    cf.faults.status(
        422, times=None, path="/api/process", body=b'{"detail": "no face in this image"}'
    )
    monkeypatch.setenv("RETOUCHDESK_CODEFORMER_BASE_URL", cf.url)
    monkeypatch.setenv("RETOUCHDESK_CODEFORMER_TOKEN", CF_TOKEN)
    monkeypatch.setenv("RETOUCHDESK_ENGINE_BACKOFF_BASE", "0.05")
    monkeypatch.setenv("RETOUCHDESK_NETWORK_BACKOFF_BASE", "0.05")
    w = make_window(plain_runtime())
    photo = photo_dir / "astronaut.png"
    w.open_paths([photo])
    qtbot.waitUntil(lambda: w.model.document.image is not None, timeout=10_000)
    hook = w.try_on
    keys = ["codeformer.restore", "local.skin_smoothing"]

    def try_on() -> Any:
        before = hook.model.run
        dlg = hook.open_dialog()
        dlg.set_checked(keys)
        qtbot.mouseClick(dlg.send_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(
            lambda: hook.model.run is not before and hook.model.run.finished, timeout=60_000
        )
        return hook.model.run

    run1 = try_on()
    cells = {c.choice.key: c for c in run1.cells}
    assert cells["local.skin_smoothing"].state == "done", cells["local.skin_smoothing"].note
    assert cells["codeformer.restore"].state == "failed"
    grid = hook.grid
    qtbot.waitUntil(lambda: not grid.cells[2].canvas.photo.is_empty(), timeout=10_000)
    cf_cell = next(g for g in grid.cells if g.job_id == cells["codeformer.restore"].job_id)
    assert cf_cell.info.text().startswith("⚠ ") and not cf_cell.use_button.isEnabled()
    assert "CodeFormer rejected" in cf_cell.info.text() and "no face" in cf_cell.info.text()
    assert cf_cell.canvas.photo.is_empty()
    sent_before = len(cf.received("/api/process"))
    jobs_before = len(w.model.engine.jobs())

    cf.faults.clear()
    run2 = try_on()
    cells2 = {c.choice.key: c for c in run2.cells}
    assert cells2["local.skin_smoothing"].job_id == cells["local.skin_smoothing"].job_id
    assert cells2["local.skin_smoothing"].note == "made earlier, not sent again"
    assert cells2["codeformer.restore"].state == "done", cells2["codeformer.restore"].note
    assert len(w.model.engine.jobs()) == jobs_before + 1  # only CodeFormer was sent again
    assert len(cf.received("/api/process")) > sent_before
    assert cf.processed == 1


@pytest.mark.slow
def test_try_on_sends_the_painted_mask_to_operations_that_take_one(
    qtbot, make_window, photo_dir: Path
):
    """Without a mask, object removal is offered as needing one; with a painted mask it is
    sent with a frozen copy of it: pixels change inside the mask, not outside."""
    w = make_window()
    photo = (photo_dir / "astronaut.png").resolve()
    w.open_paths([photo])
    qtbot.waitUntil(lambda: w.model.document.image is not None, timeout=10_000)
    hook = w.try_on
    removal = next(c for c in hook.model.choices() if c.key == "local.object_removal")
    assert not removal.ready and "needs a painted mask" in removal.reason
    masking = w.mask_painter.masking
    qtbot.waitUntil(lambda: masking.document is not None)
    mask = np.zeros((512, 512), np.uint8)
    mask[200:260, 200:300] = 255
    masking.document.set_array(mask, "test stroke")
    masking.save_now()
    dlg = hook.open_dialog()
    item = next(
        dlg.list.item(i)
        for i in range(dlg.list.count())
        if dlg.list.item(i).data(Qt.ItemDataRole.UserRole + 1) == "local.object_removal"
    )
    assert item.flags() & Qt.ItemFlag.ItemIsEnabled
    dlg.set_checked(["local.object_removal"])
    qtbot.mouseClick(dlg.send_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: hook.model.run is not None and hook.model.run.finished, timeout=60_000)
    (cell,) = hook.model.run.cells
    assert cell.state == "done", cell.note
    rec = w.model.engine.get(cell.job_id)
    sent_mask = Path(rec.params["mask"])
    assert sent_mask.is_file() and sent_mask != masking.library.photo_path(photo)
    with Image.open(sent_mask) as m:
        assert np.array_equal(np.asarray(m.convert("L")) > 127, mask > 127)
    before = np.asarray(Image.open(photo).convert("RGB"), int)
    after = np.asarray(Image.open(cell.result).convert("RGB"), int)
    inside = np.abs(after - before)[200:260, 200:300].mean()
    outside = np.abs(after - before)[mask == 0].mean()
    assert inside > 5 * max(outside, 0.5), (inside, outside)


def test_suggestions_come_from_the_schemas_try_on_rank(qtbot, make_window):
    """Which operations Try On checks first is declared in the TOML (``try_on``): the offline
    skin smoothing by default; another rank in the declaration changes the pick and order."""
    import dataclasses

    w = make_window()
    model = w.try_on.model
    ranked = [c.key for c in model.choices() if c.suggested]
    assert ranked == [
        "enhancor.realistic_skin",
        "codeformer.restore",
        "adcreative.face_enhance",
        "local.skin_smoothing",
    ]
    assert [c.key for c in model.suggested(model.choices())] == ["local.skin_smoothing"]

    local = model.catalog.providers["local"]
    ops = dict(local.operations)
    ops["upscale"] = dataclasses.replace(ops["upscale"], try_on=1)
    ops["skin_smoothing"] = dataclasses.replace(ops["skin_smoothing"], try_on=0)
    providers = dict(model.catalog.providers, local=dataclasses.replace(local, operations=ops))
    model.catalog = dataclasses.replace(model.catalog, providers=providers)
    choices = model.choices()
    assert choices[0].key == "local.upscale"
    assert [c.key for c in model.suggested(choices)] == ["local.upscale"]
