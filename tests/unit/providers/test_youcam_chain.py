"""Issue 14 item 1: continuing from a YouCam version reuses its ``dst_id`` through the engine.

The first job's result is written next to the photo by the engine (with its recipe XMP); the
next operation takes that written file as its input (as "Continue from this version" does).
The emulator must see no second upload, and the chained task's ``src_ids`` must be the
first result's ``dst_id``; the chained result's XMP holds both steps.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.emulators.youcam_support import FAST
from tests.unit.providers.test_youcam_engine import photos, runtime
from tests.unit.providers.test_youcam_provider import uploads

from retouchdesk.core import recipe as rc
from retouchdesk.core.jobs import JobState
from retouchdesk.services import recipes
from retouchdesk.services.engine import JobRequest

pytestmark = pytest.mark.timeout(120)


async def test_a_youcam_version_is_continued_by_its_dst_id(emulator, tmp_path: Path, data_dir):
    emu = emulator("youcam", **FAST)
    rt = runtime(emu, "v1", tmp_path)
    rt.engine.start()
    (photo,) = photos(data_dir, tmp_path / "in", 1)
    out = tmp_path / "out"
    first = rt.engine.submit(JobRequest("youcam", "photo_lighting", photo, {}, output_dir=out))
    [done] = await rt.engine.wait([first.id], timeout=60)
    assert done.state is JobState.DONE, done.error
    version = done.results[0]
    dst_id = done.result_meta[str(version)]["dst_id"]
    before = len(uploads(emu))
    chain = rc.Recipe(
        [rc.Step("youcam", "photo_lighting", {}), rc.Step("youcam", "colorize", {})],
        source_sha256=rc.file_sha256(photo),
        source_name=photo.name,
    )
    second = rt.engine.submit(
        JobRequest(
            "youcam",
            "colorize",
            version,
            {},
            output_dir=out,
            options=recipes.recipe_option(chain),
        )
    )
    [chained] = await rt.engine.wait([second.id], timeout=60)
    await rt.aclose()
    assert chained.state is JobState.DONE, chained.error
    assert len(uploads(emu)) == before  # the version was not uploaded again
    [post] = emu.received("/s2s/v1.0/task/colorize", "POST")
    assert post.json["payload"]["file_sets"]["src_ids"] == [dst_id]
    made = rc.read_from_file(chained.results[0])
    assert made is not None
    assert [s.op_key for s in made.steps] == ["youcam.photo_lighting", "youcam.colorize"]
