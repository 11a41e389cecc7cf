"""The YouCam provider against its emulator: uploads, limits, idempotency, keep-alive, errors."""

from __future__ import annotations

import asyncio
import io
import itertools

import numpy as np
import pytest
from PIL import Image
from tests.emulators.drive import drive, make_context
from tests.emulators.youcam_support import DROP_AFTER, FAST, make_provider, style_value, youcam_op
from tests.waiting import until

from retouchdesk.core.errors import (
    CreditsExhausted,
    InputError,
    ParameterError,
    RateLimited,
)
from retouchdesk.core.schema import load_catalog
from retouchdesk.providers.base import RemoteState

pytestmark = pytest.mark.timeout(90)
CAT = load_catalog()


def uploads(emu) -> list:
    return [r for r in emu.received() if "/file" in r.path or r.path.startswith("/_upload")]


@pytest.mark.parametrize("gen", ["v1", "v2"])
async def test_upload_uses_the_returned_put_and_the_result_is_downloaded(
    emulator, tmp_path, youcam_inputs, gen
):
    emu = emulator("youcam", **FAST)
    prov = make_provider(emu, gen, tmp_path / "cache")
    try:
        ctx = make_context(
            youcam_op("photo_enhance"), youcam_inputs.portrait, {"scale": 2}, tmp_path / "w"
        )
        done = await drive(prov, ctx, max_wait=0.1)
    finally:
        await prov.aclose()
    [put] = [r for r in emu.received() if r.method == "PUT"]
    assert put.header("content-type") == "image/png"
    assert put.header("x-amz-meta-file-id") and put.header("authorization") is None
    assert put.body == youcam_inputs.portrait.read_bytes()
    [out] = done.outputs
    assert Image.open(out.path).size == (1024, 1024)
    assert done.cost == 2 and emu.charged_total() == 2 and emu.balance == 998
    if gen == "v1":
        assert out.meta["dst_id"] in emu.files


async def test_a_put_with_other_headers_is_refused_by_the_emulator(
    emulator, tmp_path, youcam_inputs
):
    emu = emulator("youcam", **FAST)
    prov = make_provider(emu, "v1", tmp_path / "cache")
    try:
        [slot] = await prov.io.run(
            prov.client.create_uploads(
                "enhance", [{"content_type": "image/png", "file_name": "a.png", "file_size": 3}]
            )
        )
        request = dict(slot["requests"][0])
        request["headers"] = {**request["headers"], "Content-Type": "image/jpeg"}
        with pytest.raises(Exception, match="storage refused the upload"):
            await prov.io.run(prov.client.put_file(request, b"abc"))
    finally:
        await prov.aclose()
    assert emu.rejected_puts == 1


async def test_wrong_size_mask_and_over_limit_image_are_refused_before_any_upload(
    emulator, tmp_path, youcam_inputs
):
    emu = emulator("youcam", **FAST)
    prov = make_provider(emu, "v1", tmp_path / "cache")
    big = tmp_path / "big.png"
    Image.fromarray(np.full((1300, 900, 3), 120, np.uint8)).save(big)
    try:
        ctx = make_context(
            youcam_op("object_removal"),
            youcam_inputs.portrait,
            {"mask": str(youcam_inputs.small_mask)},
            tmp_path / "w",
        )
        with pytest.raises(InputError, match="mask is 256x256 but the photo is 512x512"):
            await prov.prepare(ctx)
        ctx = make_context(youcam_op("hair_volume"), big, {"template_id": "1:2"}, tmp_path / "w2")
        with pytest.raises(InputError, match="long side is 1300 px, the limit is 1024 px"):
            await prov.prepare(ctx)
        ctx = make_context(
            youcam_op("hairstyle"), youcam_inputs.portrait, {"template_id": "1:2"}, tmp_path / "w"
        )
        with pytest.raises(InputError, match="PNG is not accepted"):
            await prov.prepare(ctx)
        # A required mask (required = true in the schema) is refused when the request is
        # checked, before the provider is asked to upload anything.
        with pytest.raises(ParameterError, match=r"^mask is required"):
            make_context(
                youcam_op("ai_replace"), youcam_inputs.portrait, {"prompt": "x"}, tmp_path / "w"
            )
    finally:
        await prov.aclose()
    assert uploads(emu) == [] and emu.received() == []
    # Only the size is wrong: the one fit path (services.youcam_inputs, for `run --fit` and the
    # window alike) makes a copy YouCam's own check accepts; a PNG is sent as a JPEG copy.
    from retouchdesk.providers.youcam import files
    from retouchdesk.services import inputs as job_inputs

    check = job_inputs.check_limits(big, youcam_op("hair_volume"), local=False)
    assert check.fixable and check.fit_size == (708, 1024)
    fitted = job_inputs.prepare_image(
        big, youcam_op("hair_volume"), tmp_path / "fit", fit=True, local=False
    )
    assert (
        fitted.sent_size == (708, 1024)
        and files.check_input(youcam_op("hair_volume"), fitted.send).ok
    )
    assert job_inputs.check_limits(youcam_inputs.portrait, youcam_op("hairstyle"), local=False).ok


async def test_a_dropped_connection_on_submit_is_resent_with_the_same_request_id(
    emulator, tmp_path, youcam_inputs
):
    emu = emulator("youcam", **FAST)
    # the task is created, then the connection drops before the answer
    emu.faults.drop(path="/s2s/v1.0/task/colorize", method="POST", after=True)
    ids = itertools.count(41)
    prov = make_provider(emu, "v1", tmp_path / "cache", counter=lambda: next(ids))
    try:
        ctx = make_context(youcam_op("colorize"), youcam_inputs.portrait, {}, tmp_path / "w")
        done = await drive(prov, ctx, max_wait=0.1)
    finally:
        await prov.aclose()
    posts = emu.received("/s2s/v1.0/task/colorize", "POST")
    assert [p.json["request_id"] for p in posts] == [41, 41]
    assert len(emu.tasks_created("colorize")) == 1 and emu.duplicate_submissions == 1
    assert emu.charged_total() == 2 and emu.balance == 998  # charged once
    assert [o.label for o in done.outputs] == [f"variant {i}" for i in (1, 2, 3, 4)]
    arrays = [np.asarray(Image.open(o.path).convert("RGB"), np.float32) for o in done.outputs]
    assert all(np.abs(a - arrays[0]).mean() > 1 for a in arrays[1:])  # really different


async def test_submit_repeated_after_a_restart_reuses_the_checkpointed_request_id(
    emulator, tmp_path, youcam_inputs
):
    emu = emulator("youcam", **FAST)
    ids = itertools.count(7)
    prov = make_provider(emu, "v2", tmp_path / "cache", counter=lambda: next(ids))
    saved: list[dict] = []
    try:
        ctx = make_context(youcam_op("photo_lighting"), youcam_inputs.portrait, {}, tmp_path / "w")
        ctx.on_checkpoint = lambda: saved.append(dict(ctx.remote))
        await prov.prepare(ctx)
        emu.faults.drop(path="/s2s/v2.0/task/lighting", method="POST", times=4)
        with pytest.raises(Exception, match="connection"):
            await prov.submit(ctx)
        assert ctx.remote["task"]["request_id"] == 7 and "task_id" not in ctx.remote["task"]
        first = await prov.submit(ctx)  # the engine's retry, same checkpointed state
        again = await prov.submit(ctx)
        assert first.remote_id == again.remote_id
    finally:
        await prov.aclose()
    assert {r.json["request_id"] for r in emu.received("/s2s/v2.0/task/lighting", "POST")} == {7}
    assert any(s.get("task", {}).get("request_id") == 7 for s in saved)
    assert len(emu.tasks_created("lighting")) == 1


async def test_pollers_keep_tasks_alive_while_the_event_loop_is_blocked(
    emulator, tmp_path, youcam_inputs
):
    emu = emulator("youcam", **{**FAST, "task_seconds": 3.0})
    prov = make_provider(emu, "v1", tmp_path / "cache")
    try:
        ctx = make_context(youcam_op("colorize"), youcam_inputs.portrait, {}, tmp_path / "w")
        await prov.prepare(ctx)
        await prov.submit(ctx)
        import time

        time.sleep(DROP_AFTER + 1.5)  # the whole loop frozen longer than the server waits
        done = None
        for _ in range(100):
            res = await prov.poll(ctx)
            if res.state is not RemoteState.RUNNING:
                done = res
                break
            await asyncio.sleep(0.1)
    finally:
        await prov.aclose()
    assert done is not None and done.state is RemoteState.DONE, done
    [task] = emu.tasks_created("colorize")
    assert task.max_gap < DROP_AFTER and task.polls >= 6
    assert emu.lost_polls == 0


@pytest.mark.slow
async def test_an_unpolled_task_is_dropped_and_the_provider_starts_it_again(
    emulator, tmp_path, youcam_inputs
):
    emu = emulator("youcam", **{**FAST, "task_seconds": 1.5, "drop_after": 1.0})
    prov = make_provider(emu, "v1", tmp_path / "cache")
    ctx = make_context(youcam_op("colorize"), youcam_inputs.portrait, {}, tmp_path / "w")
    try:
        await prov.prepare(ctx)
        await prov.submit(ctx)
        first = ctx.remote["task"]["task_id"]
        # the poller is stopped (as if the app had been closed): the server drops the task
        # when its time comes with no poll since drop_after (waited for, not slept for)
        await prov.cancel(ctx)
        await until(lambda: emu.tasks[first].dropped, what="the server to drop the task")
        assert emu.charged_total() == 0
        res = await prov.poll(ctx)  # resumes: the first poll answers InvalidTaskId...
        for _ in range(600):  # 30 s of polls at most
            if res.state is not RemoteState.RUNNING or "lost" in ctx.remote:
                break
            await asyncio.sleep(0.05)
            res = await prov.poll(ctx)
        assert ctx.remote["lost"] == 1 and ctx.remote["task"]["task_id"] != first
        for _ in range(600):
            if res.state is not RemoteState.RUNNING:
                break
            await asyncio.sleep(0.05)
            res = await prov.poll(ctx)
    finally:
        await prov.aclose()
    assert res.state is RemoteState.DONE
    assert emu.lost_polls == 1 and emu.charged_total() == 2
    assert len(res.outputs) == 4


async def test_rate_limit_is_reported_with_its_wait(emulator, tmp_path, youcam_inputs):
    emu = emulator("youcam", **{**FAST, "rate_limit": 3})
    prov = make_provider(emu, "v2", tmp_path / "cache")
    try:
        for _ in range(3):
            await prov.balance()
        with pytest.raises(RateLimited, match=r"rate limited the request; retrying in \d+ s") as e:
            await prov.balance()
    finally:
        await prov.aclose()
    assert 1 <= e.value.retry_after <= 61


async def test_engine_errors_become_plain_sentences(emulator, tmp_path, youcam_inputs):
    emu = emulator("youcam", **FAST)
    prov = make_provider(emu, "v2", tmp_path / "cache")
    cat_jpg = tmp_path / "cat.jpg"
    Image.open(youcam_inputs.cat).convert("RGB").save(cat_jpg)
    try:
        value = style_value("v2", "hair-style")
        ctx = make_context(youcam_op("hairstyle"), cat_jpg, {"template_id": value}, tmp_path / "w")
        with pytest.raises(AssertionError, match="found no face in the photo"):
            await drive(prov, ctx, max_wait=0.1)
    finally:
        await prov.aclose()
    assert emu.charged_total() == 0


async def test_credit_insufficiency_is_credits_exhausted(emulator, tmp_path, youcam_inputs):
    emu = emulator("youcam", **FAST)
    emu.set_credits(1)
    prov = make_provider(emu, "v1", tmp_path / "cache")
    try:
        ctx = make_context(youcam_op("photo_enhance"), youcam_inputs.portrait, {}, tmp_path / "w")
        with pytest.raises(CreditsExhausted, match="no credits left"):
            await drive(prov, ctx)
    finally:
        await prov.aclose()


async def test_a_result_is_chained_by_its_dst_id_without_uploading_again(
    emulator, tmp_path, youcam_inputs
):
    emu = emulator("youcam", **FAST)
    prov = make_provider(emu, "v1", tmp_path / "cache")
    try:
        first = await drive(
            prov,
            make_context(youcam_op("photo_lighting"), youcam_inputs.portrait, {}, tmp_path / "w1"),
        )
        [out] = first.outputs
        before = len(uploads(emu))
        second = await drive(
            prov, make_context(youcam_op("colorize"), out.path, {}, tmp_path / "w2")
        )
    finally:
        await prov.aclose()
    assert len(uploads(emu)) == before  # nothing uploaded for the chained task
    [post] = emu.received("/s2s/v1.0/task/colorize", "POST")
    assert post.json["payload"]["file_sets"]["src_ids"] == [out.meta["dst_id"]]
    assert len(second.outputs) == 4


async def test_face_swap_detects_faces_then_maps_references(emulator, tmp_path, youcam_inputs):
    emu = emulator("youcam", **FAST)
    prov = make_provider(emu, "v2", tmp_path / "cache")
    try:
        ctx = make_context(
            youcam_op("face_swap"),
            youcam_inputs.two_faces,
            {"ref_file": str(youcam_inputs.reference), "face_mapping": "0:1"},
            tmp_path / "w",
        )
        done = await drive(prov, ctx, max_wait=0.1)
    finally:
        await prov.aclose()
    assert len(ctx.remote["faces"]) == 2
    assert done.outputs[0].meta["faces"] == [f["bbox"] for f in ctx.remote["faces"]]
    [detect] = emu.received("/s2s/v2.0/task/face-swap/pre-process", "POST")
    [swap] = emu.received("/s2s/v2.0/task/face-swap", "POST")
    assert set(detect.json) == {"src_file_id", "request_id"}
    assert len(swap.json["ref_file_ids"]) == 1
    # v2's own mapping: source face 1 gets the first face of reference 0.
    assert swap.json["face_mapping"] == [
        {"src_face_index": 1, "ref_file_id": swap.json["ref_file_ids"][0], "ref_face_index": 0}
    ]
    out = np.asarray(Image.open(done.outputs[0].path).convert("RGB"), np.float32)
    src = np.asarray(Image.open(youcam_inputs.two_faces).convert("RGB"), np.float32)
    (lx1, ly1, lx2, ly2), (rx1, ry1, rx2, ry2) = (f["bbox"] for f in ctx.remote["faces"])
    left = np.abs(out[ly1:ly2, lx1:lx2] - src[ly1:ly2, lx1:lx2]).mean()
    right = np.abs(out[ry1:ry2, rx1:rx2] - src[ry1:ry2, rx1:rx2]).mean()
    assert rx1 > lx2 and right > 3 * left  # only the mapped (right) face changed


@pytest.mark.parametrize("gen", ["v1", "v2"])
async def test_style_pages_walk_every_style_and_cache_thumbnails(emulator, tmp_path, gen):
    emu = emulator("youcam", **FAST)
    prov = make_provider(emu, gen, tmp_path / "cache")
    try:
        seen, token, pages = [], None, 0
        while True:
            items, token = await prov.list_styles("hair-bang", token)
            seen += items
            pages += 1
            if not token:
                break
            assert pages < 20, "the style pages never ended"
        thumbs_before = len(emu.received()) - pages * (2 if gen == "v1" else 1)
        await prov.list_styles("hair-bang", None)
    finally:
        await prov.aclose()
    assert len(seen) == (21 if gen == "v1" else 25) and len({i.id for i in seen}) == len(seen)
    for item in seen:
        assert item.thumb_path is not None and item.thumb_path.is_file()
        assert Image.open(item.thumb_path).size == (96, 96)
    # the second listing found every thumbnail of its page on disk
    assert not [r for r in emu.received()[thumbs_before:] if r.path.startswith("/_thumbs")][20:]
    if gen == "v1":
        group, style = seen[0].id.split(":")
        assert int(group) > 2**53 and int(style) > 2**53


async def test_balance_sums_credits_and_history_follows_pages(emulator, tmp_path, youcam_inputs):
    emu = emulator("youcam", **FAST)
    now = emu.history[-1]["timestamp"]
    for i in range(40):  # more than one page of 30
        emu.history.append(
            {"id": 10 + i, "timestamp": now + i, "action": "api_photo_enhance",
             "target_id": f"t{i}", "info": {"credits": [{"id": 101, "amount": -2}]}}
        )  # fmt: skip
    prov = make_provider(emu, "v1", tmp_path / "cache")
    try:
        bal = await prov.balance()
        hist = await prov.history(35)
    finally:
        await prov.aclose()
    assert bal.total == 1000
    assert bal.nearest_expiry is not None
    assert int(bal.nearest_expiry.timestamp() * 1000) == emu.credits[0].expiry_ms
    assert len(hist) == 35 and hist[0].target_id == "t39" and hist[0].amount == -2
    pages = emu.received("/s2s/v1.0/client/credit/history")
    assert [p.arg("page_size") for p in pages] == ["30", "5"]


async def test_429_while_polling_is_waited_out_without_losing_the_task(
    emulator, tmp_path, youcam_inputs
):
    emu = emulator("youcam", **{**FAST, "task_seconds": 1.0})
    prov = make_provider(emu, "v2", tmp_path / "cache")
    messages: list[str] = []
    try:
        ctx = make_context(youcam_op("colorize"), youcam_inputs.portrait, {}, tmp_path / "w")
        await prov.prepare(ctx)
        emu.faults.rate_limit(path=r"/s2s/v2\.0/task/colorize/.+", retry_after=30, times=3)
        await prov.submit(ctx)
        ctx.on_progress = lambda f, m: messages.append(m)
        res = await prov.poll(ctx)
        deadline = asyncio.get_running_loop().time() + 30
        while res.state is RemoteState.RUNNING:
            assert asyncio.get_running_loop().time() < deadline, messages[-3:]
            messages.append(res.message)
            await asyncio.sleep(0.02)
            res = await prov.poll(ctx)
    finally:
        await prov.aclose()
    assert res.state is RemoteState.DONE and emu.lost_polls == 0
    # Retry-After said 30 s; waiting that long would lose the task, so the poller tried again
    # within its keep-alive gap and said why
    assert any(m.startswith("rate limited, retrying in") for m in messages), set(messages)
    [task] = emu.tasks_created("colorize")
    assert task.max_gap < DROP_AFTER


async def test_heic_and_rotated_photos_are_sent_upright_as_jpeg(emulator, tmp_path, youcam_inputs):
    emu = emulator("youcam", **FAST)
    rotated = tmp_path / "rotated.jpg"
    im = Image.open(youcam_inputs.portrait).convert("RGB").crop((0, 0, 512, 300))
    exif = Image.Exif()
    exif[0x0112] = 6  # stored sideways, shown upright after a 90 degree turn
    im.save(rotated, exif=exif, quality=95)
    heic = tmp_path / "portrait.heic"
    Image.open(youcam_inputs.portrait).convert("RGB").save(heic, quality=90)  # pillow-heif
    prov = make_provider(emu, "v1", tmp_path / "cache")
    try:
        ctx = make_context(youcam_op("background_blur"), rotated, {}, tmp_path / "w")
        await prov.prepare(ctx)
        ctx2 = make_context(youcam_op("photo_enhance"), heic, {}, tmp_path / "w2")
        await prov.prepare(ctx2)
    finally:
        await prov.aclose()
    rotated_put, heic_put = [r for r in emu.received() if r.method == "PUT"]
    sent = Image.open(io.BytesIO(rotated_put.body))
    assert sent.format == "JPEG" and sent.size == (300, 512)
    assert ctx.remote["src_size"] == [300, 512]
    assert rotated_put.header("content-type") == "image/jpeg"
    assert Image.open(io.BytesIO(heic_put.body)).format == "JPEG"
    [create] = emu.received("/s2s/v1.1/file/enhance")
    assert create.json["files"][0]["file_name"] == "portrait.jpg"


def test_a_video_over_a_minute_is_refused_before_upload(tmp_path):
    import cv2

    path = tmp_path / "long.mp4"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 1, (64, 48))
    for _ in range(75):  # 75 s at one frame per second
        writer.write(np.zeros((48, 64, 3), np.uint8))
    writer.release()
    from retouchdesk.providers.youcam import files

    check = files.check_input(youcam_op("video_enhance"), path)
    assert check.problems == ("the video lasts 75 s, the limit is 60 s",)
    with pytest.raises(InputError, match="lasts 75 s"):
        files.prepare_video(path, youcam_op("video_enhance"))


async def test_v2_price_list_matches_the_schema_cost_hints(emulator, tmp_path):
    emu = emulator("youcam", **FAST)
    prov = make_provider(emu, "v2", tmp_path / "cache")
    try:
        costs = await prov.feature_costs()
    finally:
        await prov.aclose()
    for o in CAT.provider("youcam").operations.values():
        if o.api["v2"] in costs and o.input_kind != "video":
            assert costs[o.api["v2"]] == o.cost.amount, o.id
    assert costs["hair-style"] == 1 and costs["bg-replace"] == 4


async def test_a_transient_engine_error_is_retried_and_a_final_one_is_not(
    emulator, tmp_path, youcam_inputs
):
    """YouCam's declared transient engine errors (RETRYABLE_ENGINE_ERRORS) start the task
    again; an error about the photo itself ends the job with its sentence."""
    emu = emulator("youcam", engine_errors=("error_inference",), **FAST)
    prov = make_provider(emu, "v2", tmp_path / "cache")
    try:
        ctx = make_context(
            youcam_op("photo_enhance"), youcam_inputs.portrait, {"scale": 2}, tmp_path / "w"
        )
        done = await drive(prov, ctx, max_wait=0.1)
        [out] = done.outputs
        assert Image.open(out.path).size == (1024, 1024)
        assert ctx.remote["engine_retries"] == 1
        emu.engine_errors.append("error_no_face")
        ctx2 = make_context(
            youcam_op("photo_enhance"), youcam_inputs.portrait, {"scale": 2}, tmp_path / "w2"
        )
        with pytest.raises(AssertionError, match="YouCam found no face in the photo"):
            await drive(prov, ctx2, max_wait=0.1)
    finally:
        await prov.aclose()
    assert len(emu.tasks) == 3  # two for the first photo (one errored), one for the second


async def test_watch_is_woken_by_the_keep_alive_poller_not_by_a_timer(
    emulator, tmp_path, youcam_inputs
):
    """``Provider.watch`` is push-style for YouCam: with a heartbeat far longer than the task,
    the updates still come as the poller polls, and the last one brings the result."""
    emu = emulator("youcam", **{**FAST, "task_seconds": 1.0})
    prov = make_provider(emu, "v2", tmp_path / "cache")
    prov.heartbeat = 60.0  # a timer-driven watch would wait a minute for each update
    loop = asyncio.get_running_loop()
    try:
        ctx = make_context(youcam_op("colorize"), youcam_inputs.portrait, {}, tmp_path / "w")
        await prov.prepare(ctx)
        await prov.submit(ctx)
        started = loop.time()
        updates = [u async for u in prov.watch(ctx)]
        took = loop.time() - started
    finally:
        await prov.aclose()
    [task] = emu.tasks_created("colorize")
    assert updates[-1].state is RemoteState.DONE and len(updates[-1].outputs) == 4
    assert all(u.state is RemoteState.RUNNING for u in updates[:-1])
    # one update per poll of the server at most, plus the first read and the poller's end
    assert 2 <= len(updates) <= task.polls + 2
    assert took < 30  # woken by the poller: far below one heartbeat
