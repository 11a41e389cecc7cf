"""The CodeFormer client against a Flask server written from the public document alone.

The server (tests/emulators/flask_codeformer.py) shares no code or reading with the project's
emulator: real Flask routing, real Werkzeug multipart parsing and size limit. Both upload
modes produce results; a photo the server cannot process is sent at most twice (counted on
the server); the emulator's canned Werkzeug text matches the real one.
"""

from __future__ import annotations

import io

import httpx
import numpy as np
import pytest
from PIL import Image
from tests.emulators.codeformer import WERKZEUG_413
from tests.emulators.drive import drive, make_context
from tests.emulators.flask_codeformer import FlaskServer, create_app

from retouchdesk.core.errors import ProviderError
from retouchdesk.core.schema import load_catalog
from retouchdesk.providers import http
from retouchdesk.providers.codeformer import CodeFormerProvider

FAST = http.RetryPolicy(max_attempts=4, backoff_base=0.02, backoff_max=0.1, jitter=0.0)
OP = load_catalog().operation("codeformer", "restore")


@pytest.fixture
def server(tmp_path):
    with FlaskServer(create_app(tmp_path / "results", max_body=2_000_000)) as s:
        yield s


@pytest.fixture
def broken(tmp_path):
    path = tmp_path / "broken.jpg"
    path.write_bytes(b"\xff\xd8\xff\xe0 truncated, not a JPEG")
    return path


@pytest.mark.parametrize("upload", ["multipart", "json"])
async def test_both_upload_modes_restore_through_the_engine_path(
    server, data_dir, tmp_path, upload
):
    p = CodeFormerProvider(base_url=server.url, upload=upload, retry=FAST, health_interval=0.05)
    photo = data_dir / "chelsea.png"
    try:
        result = await drive(p, make_context(OP, photo, {"upscale": 2}, tmp_path / "w"))
    finally:
        await p.aclose()
    out = Image.open(result.outputs[0].path).convert("RGB")
    assert out.size == (902, 600)
    # The result is the photo (upscaled), not something else: compare at the input size.
    small = np.asarray(out.resize((451, 300)), dtype=np.int16)
    src = np.asarray(Image.open(photo).convert("RGB"), dtype=np.int16)
    assert np.abs(small - src).mean() < 12
    assert result.ctx.remote["server"] == "online (cpu)"
    assert len(server.seen) == 1


async def test_a_photo_the_server_cannot_process_is_sent_once_alone(server, broken, tmp_path):
    p = CodeFormerProvider(base_url=server.url, retry=FAST)
    try:
        with pytest.raises(ProviderError) as info:
            await drive(p, make_context(OP, broken, {}, tmp_path / "w"))
    finally:
        await p.aclose()
    assert server.seen == [["broken.jpg"]]
    assert not info.value.retryable
    # Pillow's own text, passed on by the server's catch-all handler.
    assert str(info.value).startswith("The CodeFormer server could not restore the photo: ")


@pytest.mark.parametrize("upload", ["multipart", "json"])
async def test_in_a_batch_it_is_sent_at_most_twice_and_the_rest_is_kept(
    server, data_dir, broken, upload
):
    p = CodeFormerProvider(base_url=server.url, upload=upload, retry=FAST)
    paths = [data_dir / "coffee.png", broken, data_dir / "chelsea.png"]
    try:
        outcomes = await p.process_each(paths, {"upscale": 1})
    finally:
        await p.aclose()
    assert isinstance(outcomes[1], ProviderError)
    sizes = [Image.open(io.BytesIO(o.data)).size for o in (outcomes[0], outcomes[2])]
    assert sizes == [(600, 400), (451, 300)]
    assert len(server.seen) == 4  # the batch, then each photo once more on its own
    if upload == "multipart":
        assert sum(names.count("broken.jpg") for names in server.seen) == 2


async def test_werkzeug_413_inside_the_handler(tmp_path, data_dir):
    with FlaskServer(create_app(tmp_path / "r", max_body=100_000)) as server:
        p = CodeFormerProvider(base_url=server.url, retry=FAST)
        try:
            with pytest.raises(ProviderError) as info:
                await p.process([data_dir / "astronaut.png"], {})
        finally:
            await p.aclose()
        r = httpx.post(server.url + "/api/process", files={"image": ("a.png", b"x" * 200_000)})
    assert str(info.value) == (
        "CodeFormer refused the upload during restoring the photo: the file is too large"
    )
    assert not info.value.retryable
    assert r.status_code == 500 and r.json() == {"status": "error", "message": WERKZEUG_413}


async def test_health_of_the_flask_server(server):
    p = CodeFormerProvider(base_url=server.url)
    try:
        assert await p.health() == "online (cpu)"
    finally:
        await p.aclose()
