"""A result name taken by another process while our result is written is never overwritten.

Two ``retouchdesk run`` commands (or the window and a command) with *different* jobs for one
photo can pick the same free name at the same instant: each engine only knows the names it
reserved itself. The write must then fail atomically for the second writer, which takes the
next free name, and the first writer's file stays byte for byte.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image
from tests.doubles.fake_provider import SERVER_ENV, FakeServer, build_fake_runtime

from retouchdesk.core import imageio
from retouchdesk.core.errors import DestinationTaken
from retouchdesk.core.jobs import JobState
from retouchdesk.services import results as results_mod
from retouchdesk.services.engine import JobRequest

pytestmark = pytest.mark.timeout(60)


def test_atomic_write_without_replace_keeps_the_existing_file(tmp_path: Path) -> None:
    dest = tmp_path / "photo_result.png"
    dest.write_bytes(b"the other process's result")
    with pytest.raises(DestinationTaken):
        imageio.atomic_write(dest, lambda f: f.write(b"ours"), replace=False)
    assert dest.read_bytes() == b"the other process's result"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["photo_result.png"]  # no .part left
    # A free name is written as usual.
    free = tmp_path / "free.png"
    imageio.atomic_write(free, lambda f: f.write(b"ours"), replace=False)
    assert free.read_bytes() == b"ours"


async def test_a_name_taken_while_writing_moves_our_result_to_the_next_name(
    tmp_path: Path, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(SERVER_ENV, str(tmp_path / "server"))
    FakeServer(tmp_path / "server")
    photo = tmp_path / "in" / "astronaut.png"
    photo.parent.mkdir()
    photo.write_bytes((data_dir / "astronaut.png").read_bytes())
    out = tmp_path / "out"
    foreign = b"written by another retouchdesk process"
    real_destination = results_mod.ResultWriter.destination
    taken: list[Path] = []

    def destination_then_taken(self, *args, **kwargs) -> Path:
        dest = real_destination(self, *args, **kwargs)
        if not taken:  # the other process finishes first, under the very name we chose
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_bytes(foreign)
            taken.append(dest)
        return dest

    monkeypatch.setattr(results_mod.ResultWriter, "destination", destination_then_taken)
    rt = build_fake_runtime(tmp_path / "jobs.sqlite3")
    rt.engine.start()
    job = rt.engine.submit(JobRequest("fake", "brighten", photo, {}, output_dir=out))
    [done] = await rt.engine.wait([job.id], timeout=20)
    await rt.aclose()

    assert done.state is JobState.DONE, done.error
    assert taken[0].read_bytes() == foreign  # the other result is untouched
    [ours] = done.results
    assert Path(ours) != taken[0] and Path(ours).stem.endswith("_2")
    with Image.open(ours) as im:  # ours is a whole image under the next name
        assert im.size == Image.open(photo).size
    assert not list(out.rglob("*.part"))
