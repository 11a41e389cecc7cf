"""LocalProvider: real worker processes, progress, cancellation, a dying worker, the factory."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from retouchdesk.core.errors import Cancelled, InputError, ProviderError
from retouchdesk.core.schema import Inapplicable, load_catalog
from retouchdesk.providers.base import Capability, JobContext
from retouchdesk.providers.local.provider import LocalProvider
from retouchdesk.services.registry import ProviderEnv, build_provider
from retouchdesk.services.settings import Settings

DATA = Path(__file__).resolve().parents[3] / "data"


def _small(tmp_path: Path) -> Path:
    """A 120x100 piece of the cat photo: five AI strips at tile 32, about a second each."""
    p = tmp_path / "small.png"
    Image.open(DATA / "chelsea.png").crop((150, 50, 270, 150)).save(p)
    return p


def _ctx(tmp_path: Path, op_id: str, photo: str | Path, raw: dict, **hooks) -> JobContext:
    op = load_catalog().operation("local", op_id)
    work = tmp_path / "work"
    work.mkdir(exist_ok=True)
    return JobContext(
        job_id="job-1",
        operation=op,
        input_path=photo if isinstance(photo, Path) else DATA / photo,
        params=op.validate(raw, inapplicable=Inapplicable.DROP),
        idempotency_key="key",
        work_dir=work,
        **hooks,
    )


@pytest.fixture
async def provider():
    p = LocalProvider(workers=1, tile_size=32, cancel_grace=10.0)
    yield p
    await p.aclose()


async def test_submit_runs_in_a_worker_process_and_returns_the_output(provider, tmp_path):
    assert provider.supports(Capability.LOCAL)
    events: list[tuple[float | None, str]] = []
    loop_thread = []

    def on_progress(f, m):
        events.append((f, m))
        loop_thread.append(asyncio.get_running_loop() is not None)

    ctx = _ctx(tmp_path, "lighting", "chelsea.png", {"strength": 80}, on_progress=on_progress)
    result = await provider.submit(ctx)
    assert provider.worker_pids and os.getpid() not in provider.worker_pids
    (out,) = result.outputs
    assert out.path.exists() and out.meta["engine"] == "opencv"
    # Raw pixels to the engine (no PNG encode in the worker): an .npy numpy reads back as is.
    assert out.path.suffix == ".npy" and out.suffix == ".npy"
    pixels = np.load(out.path, allow_pickle=False)
    assert pixels.shape == (300, 451, 3) and pixels.dtype == np.uint8
    assert not np.array_equal(pixels, np.asarray(Image.open(DATA / "chelsea.png").convert("RGB")))
    assert events and events[-1][0] == 1.0 and all(loop_thread)  # delivered on the loop thread
    # The same worker serves the next job (the model and imports stay loaded).
    pid = provider.worker_pids[0]
    await provider.submit(_ctx(tmp_path, "color_correction", "coffee.png", {}))
    assert provider.worker_pids == [pid]


@pytest.mark.slow
async def test_event_loop_keeps_running_while_the_worker_works(provider, tmp_path):
    ticks = 0

    async def ticker():
        nonlocal ticks
        while True:
            await asyncio.sleep(0.02)
            ticks += 1

    t = asyncio.create_task(ticker())
    started = time.monotonic()
    await provider.submit(_ctx(tmp_path, "background_blur", "astronaut.png", {"intensity": 40}))
    elapsed = time.monotonic() - started
    t.cancel()
    assert ticks >= 0.3 * elapsed / 0.02  # the loop stayed free (margin for a loaded CI box)


@pytest.mark.slow
async def test_errors_come_back_as_the_same_plain_errors(provider, tmp_path):
    with pytest.raises(InputError, match="no face found"):
        await provider.submit(_ctx(tmp_path, "skin_smoothing", "coffee.png", {}))
    # The worker survives an expected error and takes the next job.
    result = await provider.submit(_ctx(tmp_path, "lighting", "chelsea.png", {}))
    assert result.outputs[0].path.exists()


@pytest.mark.slow
async def test_cancel_between_tiles(provider, tmp_path):
    state = {"progress": 0, "cancel": False}

    def on_progress(f, m):
        if "strip" in m:
            state["progress"] += 1
            state["cancel"] = True  # cancel as soon as the first strip is done

    ctx = _ctx(
        tmp_path,
        "upscale",
        _small(tmp_path),
        {"scale": 4, "engine": "ai"},
        on_progress=on_progress,
        is_cancelled=lambda: state["cancel"],
    )
    started = time.monotonic()
    with pytest.raises(Cancelled):
        await provider.submit(ctx)
    assert state["progress"] <= 2  # stopped after a strip or two, not the 5 of the photo
    assert time.monotonic() - started < 60
    # The worker is still usable afterwards.
    result = await provider.submit(_ctx(tmp_path, "lighting", "chelsea.png", {}))
    assert result.outputs[0].path.exists()


async def test_a_dying_worker_is_a_plain_error_and_is_replaced(provider, tmp_path):
    killed = {"done": False}

    def on_progress(f, m):
        if not killed["done"] and provider.worker_pids:
            killed["done"] = True
            os.kill(provider.worker_pids[0], signal.SIGKILL)  # as the OOM killer would

    ctx = _ctx(
        tmp_path, "upscale", "chelsea.png", {"scale": 4, "engine": "ai"}, on_progress=on_progress
    )
    with pytest.raises(ProviderError) as err:
        await provider.submit(ctx)
    assert "stopped unexpectedly" in str(err.value) and "chelsea.png" in str(err.value)
    result = await provider.submit(_ctx(tmp_path, "lighting", "chelsea.png", {}))
    assert result.outputs[0].path.exists()


def test_factory_reads_the_local_settings(tmp_path):
    env = {
        "RETOUCHDESK_LOCAL_DEVICE": "cpu",
        "RETOUCHDESK_LOCAL_TILE_SIZE": "128",
        "RETOUCHDESK_LOCAL_WORKERS": "2",
    }
    settings = Settings(tmp_path / "settings.toml", environ=env)
    p = build_provider("local", ProviderEnv(settings=settings, catalog=load_catalog()))
    assert isinstance(p, LocalProvider)
    assert (p.device, p.tile_size, p.max_concurrency) == ("cpu", 128, 2)
    assert p.worker_pids == []  # workers start on first use, not at start-up
