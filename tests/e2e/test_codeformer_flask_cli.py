"""`retouchdesk run --provider codeformer` against the Flask server written from the public
document (tests/emulators/flask_codeformer.py), through the real engine and its retries.

A batch of a good photo and one the server cannot process (it runs out of GPU memory on it;
the app itself reads it fine): the good one is restored and written, the bad one fails with
the server's sentence, and the server saw the bad photo at most twice (its error answer is
final, the engine does not resend it), in both upload modes.
"""

from __future__ import annotations

import pytest
from PIL import Image
from tests.e2e.clienv import FAST_RETRIES
from tests.e2e.test_cloud_cli import error_of, job_rows, run
from tests.emulators.flask_codeformer import FlaskServer, create_app

pytestmark = pytest.mark.timeout(180)


@pytest.mark.slow
@pytest.mark.parametrize("upload", ["multipart", "json"])
def test_flask_server_through_the_cli(cli_env, app_home, data_dir, tmp_path, upload):
    broken = data_dir / "astronaut.png"  # 512x512: above the server's memory
    good = data_dir / "coffee.png"  # 600x400
    out = tmp_path / "out"
    with FlaskServer(create_app(tmp_path / "results", max_pixels=250_000)) as server:
        env = dict(
            cli_env,
            **FAST_RETRIES,
            RETOUCHDESK_CODEFORMER_BASE_URL=server.url,
            RETOUCHDESK_CODEFORMER_UPLOAD=upload,
        )
        r = run(env, "--provider", "codeformer", "--op", "restore", "--set=upscale=1",
                "-o", str(out), str(good), str(broken), cwd=tmp_path)  # fmt: skip
        seen = list(server.seen)
    # What the server saw and the job rows go with every failure below: a flake under load
    # must say which request was sent again.
    rows = {row["input_path"].rsplit("/", 1)[-1]: row for row in job_rows(app_home)}
    story = f"server saw {seen}; jobs {[(n, r['state'], r['error']) for n, r in rows.items()]}"
    assert r.returncode != 0, story  # one photo failed
    results = [p for p in out.rglob("*") if p.is_file()]
    assert len(results) == 1 and Image.open(results[0]).size == (600, 400), story
    assert error_of(rows["astronaut.png"]) == (
        "The CodeFormer server could not restore the photo: CUDA out of memory. "
        "Tried to allocate 2.00 GiB"
    ), story
    # Server side: every request is one photo (one job each); the bad one at most twice.
    assert len(seen) <= 3 and all(len(names) == 1 for names in seen), story
    if upload == "multipart":
        assert 1 <= sum(names.count("astronaut.png") for names in seen) <= 2, story
