"""CodeFormer conformance against the emulator in its production-like modes.

Row 5: errors come as a Flask catch-all answers them (HTTP 500 with the document's error
body), and such an answer is final for the photo. Row 6: a batch with a photo the server
cannot read keeps the good results (``original_name`` matching, or one-by-one after a
whole-batch failure); the bad photo is sent at most twice. Row 7: large inputs are capped like
upstream CodeFormer's web demo, and the client says so. Counts are taken on the server side.
"""

from __future__ import annotations

import io

import pytest
from PIL import Image
from tests.emulators.drive import drive, make_context

from retouchdesk.core.errors import ProviderError
from retouchdesk.core.schema import load_catalog
from retouchdesk.providers import http
from retouchdesk.providers.codeformer import CodeFormerProvider

FAST = http.RetryPolicy(max_attempts=4, backoff_base=0.02, backoff_max=0.1, jitter=0.0)
OP = load_catalog().operation("codeformer", "restore")


@pytest.fixture
def broken(tmp_path):
    path = tmp_path / "broken.png"
    path.write_bytes(b"\x89PNG\r\n\x1a\n this is not an image")
    return path


def sent_names(cf) -> list[list[str]]:
    """The image names of every process request, in order (multipart only)."""
    return [[f.filename for f in r.files["image"]] for r in cf.received("/api/process")]


async def test_flask_500_error_is_final_and_the_photo_is_sent_once(emulator, broken, tmp_path):
    cf = emulator("codeformer", time_scale=0.01)
    p = CodeFormerProvider(base_url=cf.url, retry=FAST)
    try:
        with pytest.raises(ProviderError) as info:
            await drive(p, make_context(OP, broken, {}, tmp_path / "w"))
    finally:
        await p.aclose()
    assert cf.count("/api/process") == 1  # neither the transport nor a retry re-sent it
    assert not info.value.retryable and info.value.status == 500
    assert str(info.value) == (
        "The CodeFormer server could not restore the photo: Could not read image broken.png"
    )


async def test_an_unexplained_html_500_is_sent_once_more_then_final(emulator, data_dir):
    cf = emulator("codeformer", time_scale=0.01)
    cf.faults.status(500, times=5, path="/api/process", body=b"<h1>Internal Server Error</h1>")
    p = CodeFormerProvider(base_url=cf.url, retry=FAST)
    try:
        with pytest.raises(ProviderError) as info:
            await p.process([data_dir / "coffee.png"], {"upscale": 1})
    finally:
        await p.aclose()
    assert cf.count("/api/process") == 2
    assert not info.value.retryable


@pytest.mark.slow  # five restorations through the emulator
@pytest.mark.parametrize("upload", ["multipart", "json"])
async def test_whole_batch_failure_keeps_the_good_results(emulator, data_dir, broken, upload):
    cf = emulator("codeformer", time_scale=0.01)  # batch_errors="fail": the catch-all handler
    p = CodeFormerProvider(base_url=cf.url, upload=upload, retry=FAST)
    paths = [data_dir / "coffee.png", broken, data_dir / "chelsea.png"]
    try:
        outcomes = await p.process_each(paths, {"upscale": 1})
    finally:
        await p.aclose()
    good = [o for o in outcomes if not isinstance(o, ProviderError)]
    assert [Image.open(io.BytesIO(o.data)).size for o in good] == [(600, 400), (451, 300)]
    assert isinstance(outcomes[1], ProviderError) and not outcomes[1].retryable
    assert cf.count("/api/process") == 4  # the batch, then each photo once on its own
    if upload == "multipart":
        assert sum(names.count("broken.png") for names in sent_names(cf)) == 2


async def test_a_server_that_skips_an_image_is_matched_by_original_name(emulator, data_dir, broken):
    cf = emulator("codeformer", time_scale=0.01, batch_errors="skip")
    p = CodeFormerProvider(base_url=cf.url, retry=FAST)
    paths = [broken, data_dir / "coffee.png", data_dir / "chelsea.png"]
    try:
        outcomes = await p.process_each(paths, {"upscale": 1})
    finally:
        await p.aclose()
    assert isinstance(outcomes[0], ProviderError)
    assert [o.meta["original_name"] for o in outcomes[1:]] == ["coffee.png", "chelsea.png"]
    assert [Image.open(io.BytesIO(o.data)).size for o in outcomes[1:]] == [(600, 400), (451, 300)]
    # Only the photo without a result went again; twice in all.
    assert sent_names(cf) == [[x.name for x in paths], ["broken.png"]]
    assert str(outcomes[0]) == "The CodeFormer server returned no result for the photo"


async def test_json_batch_with_fewer_results_resends_each_alone(emulator, data_dir, broken):
    cf = emulator("codeformer", time_scale=0.01, batch_errors="skip")
    p = CodeFormerProvider(base_url=cf.url, upload="json", retry=FAST)
    try:
        outcomes = await p.process_each([data_dir / "coffee.png", broken], {"upscale": 1})
    finally:
        await p.aclose()
    assert not isinstance(outcomes[0], ProviderError) and isinstance(outcomes[1], ProviderError)
    assert cf.count("/api/process") == 3  # no names in the JSON variant: each sent alone


async def test_werkzeug_413_caught_by_the_handler_is_a_sentence(emulator, data_dir):
    cf = emulator("codeformer", max_body=50_000)  # too_large="caught" (default)
    p = CodeFormerProvider(base_url=cf.url, retry=FAST)
    try:
        with pytest.raises(ProviderError) as info:
            await p.process([data_dir / "astronaut.png"], {})
    finally:
        await p.aclose()
    assert str(info.value) == (
        "CodeFormer refused the upload during restoring the photo: the file is too large"
    )
    assert info.value.status == 413 and not info.value.retryable


@pytest.mark.parametrize(
    ("size", "params", "expected_size", "effective"),
    [
        ((1200, 800), {"upscale": 4, "background_enhance": True}, (2400, 1600), (2, True)),
        ((1600, 900), {"upscale": 2, "background_enhance": True}, (1600, 900), (1, False)),
        ((900, 600), {"upscale": 4, "background_enhance": True}, (3600, 2400), (4, True)),
    ],
)
async def test_large_inputs_are_capped_and_the_user_is_told(
    emulator, tmp_path, size, params, expected_size, effective
):
    cf = emulator("codeformer", time_scale=0.01)
    photo = tmp_path / "big.png"
    Image.new("RGB", size, (120, 90, 60)).save(photo)
    p = CodeFormerProvider(base_url=cf.url, retry=FAST)
    try:
        result = await drive(p, make_context(OP, photo, params, tmp_path / "w"))
    finally:
        await p.aclose()
    assert Image.open(result.outputs[0].path).size == expected_size
    (got,) = cf.effective
    assert (got["upscale"], got["background_enhance"]) == effective
    notes = [m for _, m in result.progress if "larger than" in m]
    if effective[0] == params["upscale"]:
        assert not notes and "server_limits" not in result.outputs[0].meta
    else:
        assert notes and result.outputs[0].meta["server_limits"] == notes[0]


async def test_unknown_fields_are_ignored_like_flask(emulator, data_dir):
    cf = emulator("codeformer", time_scale=0.01)
    p = CodeFormerProvider(base_url=cf.url, retry=FAST)
    try:
        (out,) = await p.process([data_dir / "coffee.png"], {"upscale": 1, "future_field": 3})
    finally:
        await p.aclose()
    assert Image.open(io.BytesIO(out.data)).size == (600, 400)


async def test_a_failure_while_splitting_a_batch_keeps_the_other_results(emulator, data_dir):
    cf = emulator("codeformer", time_scale=0.01)
    body = b'{"status": "error", "message": "CUDA out of memory"}'
    cf.faults.status(500, path="/api/process", body=body)  # the batch as a whole
    # The first photo sent alone meets a proxy's refusal (never retried by any layer).
    cf.faults.status(400, path="/api/process", body=b"<html>Bad Request</html>")
    p = CodeFormerProvider(base_url=cf.url, retry=FAST)
    try:
        outcomes = await p.process_each(
            [data_dir / "coffee.png", data_dir / "chelsea.png"], {"upscale": 1}
        )
    finally:
        await p.aclose()
    assert isinstance(outcomes[0], ProviderError) and outcomes[0].status == 400, outcomes
    assert not isinstance(outcomes[1], ProviderError), (outcomes, cf.count("/api/process"))
    assert Image.open(io.BytesIO(outcomes[1].data)).size == (451, 300)
