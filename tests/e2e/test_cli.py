"""The command line end to end: real subprocesses, a real SQLite file, real images.

The fake provider (tests/doubles) stands in for a cloud service: its "server" lives in a
folder, so it survives the SIGKILL of the CLI and counts what was submitted.
"""

from __future__ import annotations

import hashlib
import io
import os
import signal
import struct
import subprocess
import sys
import time
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageCms
from tests.doubles.fake_provider import SCHEMA_DIR, SERVER_ENV, FakeServer

from retouchdesk import cli
from retouchdesk.core.schema import load_provider
from retouchdesk.resources import resource_path

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FakeServer:
    root = tmp_path / "server"
    monkeypatch.setenv(SERVER_ENV, str(root))
    return FakeServer(root)


@pytest.fixture
def env(server: FakeServer, app_home: Path) -> dict[str, str]:
    """The environment of a CLI subprocess that knows the fake provider (tests only)."""
    e = {k: v for k, v in os.environ.items() if not k.startswith("RETOUCHDESK_")}
    e.update(
        RETOUCHDESK_HOME=str(app_home),
        RETOUCHDESK_TEST_PROVIDERS="tests.doubles.fake_provider:make",
        RETOUCHDESK_EXTRA_SCHEMAS=str(SCHEMA_DIR),
        RETOUCHDESK_FAKE_SERVER=str(server.root),
        PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), e.get("PYTHONPATH", "")])),
        COLUMNS="200",
    )
    return e


def retouchdesk(*args: str, env: dict[str, str], cwd: Path, timeout: float = 90):
    return subprocess.run(
        [sys.executable, "-m", "retouchdesk", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def make_photos(folder: Path, data_dir: Path, n: int, size=(64, 48)) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    src = Image.open(data_dir / "coffee.png").convert("RGB")
    out = []
    for i in range(n):
        p = folder / f"photo{i:02d}.png"
        src.resize(size).rotate(i * 10).save(p)
        out.append(p)
    return out


def digest(paths: list[Path]) -> dict[Path, str]:
    return {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in paths}


def mean(path: Path) -> float:
    return float(np.asarray(Image.open(path).convert("L"), dtype=np.float32).mean())


# -- ops, config, account ------------------------------------------------------------------


def test_ops_lists_every_operation_of_every_schema_file(capsys):
    files = sorted(resource_path("providers").glob("*.toml"))
    assert len(files) >= 2
    assert cli.main(["ops"]) == 0
    out = capsys.readouterr().out
    for f in files:
        prov = load_provider(f)
        assert f"({prov.id})" in out
        for op in prov.operations.values():
            assert f"\n{op.key}  {op.label}" in out, op.key
            for p in op.params:
                assert f"  {p.name} " in out, f"{op.key}.{p.name}"
    assert "fake.brighten" not in out  # the test double appears only when asked for


def test_ops_details_of_one_operation(capsys):
    assert cli.main(["ops", "codeformer.restore"]) == 0
    out = capsys.readouterr().out
    assert "fidelity" in out and "default 0.5" in out and "a number from 0 to 1" in out
    assert "Fidelity weight w" in out  # the help text
    assert "limits: formats jpeg, png, webp" in out
    assert cli.main(["ops", "codeformer.nope"]) == 2
    assert "Unknown operation 'nope'" in capsys.readouterr().err


def test_config_shows_sources_and_masks_secrets(monkeypatch, capsys):
    monkeypatch.setenv("RETOUCHDESK_ENHANCOR_API_KEY", "sk-very-secret-123")
    monkeypatch.setenv("RETOUCHDESK_OUTPUT_TEMPLATE", "{stem}.{ext}")
    assert cli.main(["config"]) == 0
    out = capsys.readouterr().out
    assert "sk-very-secret-123" not in out
    line = next(x for x in out.splitlines() if x.startswith("enhancor.api_key"))
    assert "********" in line and "environment (RETOUCHDESK_ENHANCOR_API_KEY)" in line
    assert "'{stem}.{ext}'  (environment (RETOUCHDESK_OUTPUT_TEMPLATE))" in out
    assert "general.default_provider" in out and "(default)" in out


# -- run -----------------------------------------------------------------------------------


@pytest.mark.slow
def test_run_mirrors_folders_then_skips_what_is_done(tmp_path, env, server, data_dir):
    src = tmp_path / "shoot"
    top = make_photos(src, data_dir, 2)
    nested = make_photos(src / "day2" / "am", data_dir, 1)
    (src / "notes.txt").write_text("not an image: folders are walked for images only")
    out = tmp_path / "out"
    r = retouchdesk(
        "run", "--provider", "fake", "--op", "brighten", "--set", "amount=1.6", "shoot",
        "-o", "out", env=env, cwd=tmp_path,
    )  # fmt: skip
    assert r.returncode == 0, r.stdout + r.stderr
    expected = [out / "photo00_brighten_fake.png", out / "photo01_brighten_fake.png"]
    expected.append(out / "day2" / "am" / "photo00_brighten_fake.png")
    assert sorted(p for p in out.rglob("*") if p.is_file()) == sorted(expected)
    for source, result in zip([*top, *nested], expected, strict=True):
        assert mean(result) > mean(source) * 1.3
    assert "3 files: 3 done" in r.stdout
    assert "3/3" in r.stderr  # the progress bar's overall count

    again = retouchdesk(
        "run", "--provider", "fake", "--op", "brighten", "--set", "amount=1.6", "shoot",
        "-o", "out", env=env, cwd=tmp_path,
    )  # fmt: skip
    assert again.returncode == 0, again.stdout + again.stderr
    assert "3 files: 3 skipped" in again.stdout
    assert len(server.created()) == 3  # nothing was sent again
    # Results written into the folder being walked are not taken for new photos.
    inside = retouchdesk(
        "run", "--provider", "fake", "--op", "brighten", "--set", "amount=1.6", "shoot",
        "-o", "shoot", env=env, cwd=tmp_path,
    )  # fmt: skip
    assert inside.returncode == 0 and "3 files: 3 done" in inside.stdout
    again_inside = retouchdesk(
        "run", "--provider", "fake", "--op", "brighten", "--set", "amount=1.6", "shoot",
        "-o", "shoot", env=env, cwd=tmp_path,
    )  # fmt: skip
    assert "3 files: 3 skipped" in again_inside.stdout, again_inside.stdout
    # A different parameter is different work.
    third = retouchdesk(
        "run", "--provider", "fake", "--op", "brighten", "--set", "amount=1.2",
        str(top[0]), "-o", "out", "--format", "webp", env=env, cwd=tmp_path,
    )  # fmt: skip
    assert third.returncode == 0 and "1 done" in third.stdout
    assert Image.open(out / "photo00_brighten_fake.webp").format == "WEBP"


@pytest.mark.slow
def test_jobs_lists_recent_jobs_with_their_problems(tmp_path, env, data_dir):
    make_photos(tmp_path / "in", data_dir, 2)
    (tmp_path / "in" / "broken.png").write_bytes(b"")
    r = retouchdesk(
        "run", "--provider", "fake", "--op", "brighten", "in", "-o", "out",
        env=env, cwd=tmp_path,
    )  # fmt: skip
    assert r.returncode == 1
    listed = retouchdesk("jobs", env=env, cwd=tmp_path)
    assert listed.returncode == 0
    assert "3 shown" in listed.stdout and "fake.brighten" in listed.stdout
    assert "broken.png: the file is empty (0 bytes)" in listed.stdout
    failed = retouchdesk("jobs", "--state", "failed", env=env, cwd=tmp_path)
    assert "1 shown" in failed.stdout and "photo00" not in failed.stdout


def png_bomb(path: Path, width: int = 20000, height: int = 20000) -> None:
    """A 100-byte PNG whose header claims 20000x20000 pixels."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 64)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")
    )


def test_bad_inputs_each_get_a_sentence_and_the_batch_goes_on(tmp_path, env, server, data_dir):
    src = tmp_path / "mixed"
    good = make_photos(src, data_dir, 2)
    (src / "letter.jpg").write_text("Dear photographer, this is not a JPEG.")
    buf = io.BytesIO()
    Image.open(data_dir / "astronaut.png").convert("RGB").save(buf, "JPEG", quality=90)
    (src / "truncated.jpg").write_bytes(buf.getvalue()[: len(buf.getvalue()) * 6 // 10])
    (src / "empty.png").write_bytes(b"")
    png_bomb(src / "bomb.png")
    inputs = sorted(p for p in src.iterdir())
    before = digest(inputs)

    r = retouchdesk(
        "run", "--provider", "fake", "--op", "brighten", "mixed", "-o", "out",
        env=env, cwd=tmp_path,
    )  # fmt: skip
    text = r.stdout + r.stderr
    assert r.returncode == 1, text
    assert "letter.jpg: not an image file" in text
    assert "truncated.jpg: the image is damaged" in text and "truncated" in text
    assert "empty.png: the file is empty (0 bytes)" in text
    assert "bomb.png: the image is too large" in text and "decompression bomb" in text
    assert "5 files" not in r.stdout and "6 files: 2 done, 4 failed" in r.stdout
    assert all((tmp_path / "out" / f"{p.stem}_brighten_fake.png").exists() for p in good)
    assert digest(inputs) == before  # no original touched
    assert sorted(Path(x["input"]).name for x in server.requests()) == [p.name for p in good]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--op", "sharpen"], "Unknown operation 'sharpen' for Fake Cloud; known: brighten"),
        (["--op", "brighten", "--set", "gamma=2"], "Unknown parameter 'gamma' for fake.brighten"),
        (["--op", "brighten", "--set", "amount=7"], "amount must be a number from 0.1 to 3"),
        (["--op", "brighten", "--set", "strength=5"], "strength does not apply here"),
        (["--op", "brighten", "--set", "amount"], "--set 'amount' must look like KEY=VALUE"),
        (["--op", "brighten", "--template", "{x}.{ext}"], "unknown field {x}"),
    ],
)
def test_bad_options_are_refused_before_anything_runs(
    tmp_path, env, server, data_dir, args, message
):
    make_photos(tmp_path / "in", data_dir, 1)
    r = retouchdesk("run", "--provider", "fake", *args, "in", "-o", "out", env=env, cwd=tmp_path)
    assert r.returncode == 2
    assert message in r.stderr
    assert server.requests() == [] and not (tmp_path / "out").exists()


def test_unwritable_output_folder(tmp_path, env, server, data_dir):
    photos = make_photos(tmp_path / "in", data_dir, 2)
    (tmp_path / "blocker").write_text("a file where the output folder should go")
    before = digest(photos)
    r = retouchdesk(
        "run", "--provider", "fake", "--op", "brighten", "in", "-o", "blocker/out",
        env=env, cwd=tmp_path,
    )  # fmt: skip
    assert r.returncode == 1
    for p in photos:
        assert f"{p.name}: The output folder" in r.stdout + r.stderr
    assert "cannot be written" in r.stdout
    assert server.requests() == []  # nothing paid for a result that could not be saved
    assert digest(photos) == before


def test_missing_input_is_reported_and_the_rest_runs(tmp_path, env, data_dir):
    make_photos(tmp_path / "in", data_dir, 1)
    r = retouchdesk(
        "run", "--provider", "fake", "--op", "brighten", "in/photo00.png", "in/ghost.png",
        "in", "-o", "out", env=env, cwd=tmp_path,
    )  # fmt: skip
    assert r.returncode == 1
    assert "in/ghost.png: no such file or folder" in r.stdout + r.stderr
    assert "skipped photo00.png: listed twice" in r.stderr  # the file, and again in its folder
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["photo00_brighten_fake.png"]


def test_metadata_orientation_and_icc_reach_the_result(tmp_path, env, data_dir):
    src = tmp_path / "in" / "portrait.jpg"
    src.parent.mkdir()
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    stored = Image.open(data_dir / "astronaut.png").convert("RGB").resize((80, 60))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    exif[0x010F] = "TestCam"  # Make
    stored.save(src, "JPEG", quality=92, exif=exif.tobytes(), icc_profile=icc)

    r = retouchdesk(
        "run", "--provider", "fake", "--op", "brighten", "in", "-o", "out",
        env=env, cwd=tmp_path,
    )  # fmt: skip
    assert r.returncode == 0, r.stdout + r.stderr
    result = tmp_path / "out" / "portrait_brighten_fake.jpg"  # "same" format as the photo
    with Image.open(result) as im:
        assert im.format == "JPEG"
        assert im.size == (60, 80)  # upright
        assert im.info.get("icc_profile") == icc
        rexif = im.getexif()
        assert rexif.get(0x0112) == 1  # orientation present, reset: the pixels are upright
        assert rexif.get(0x010F) == "TestCam"


@pytest.mark.slow
def test_offline_engine_result_keeps_orientation_tag_and_icc(tmp_path, app_home, data_dir):
    """The real offline engine, through the CLI, on a rotated JPEG with a colour profile."""
    src = tmp_path / "in" / "portrait.jpg"
    src.parent.mkdir()
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    stored = Image.open(data_dir / "astronaut.png").convert("RGB").resize((96, 64))
    exif = Image.Exif()
    exif[0x0112] = 8  # rotate 90 degrees counter-clockwise to display
    stored.save(src, "JPEG", quality=92, exif=exif.tobytes(), icc_profile=icc)
    env = {k: v for k, v in os.environ.items() if not k.startswith("RETOUCHDESK_")}
    env["RETOUCHDESK_HOME"] = str(app_home)
    r = retouchdesk("run", "--op", "color_correction", "in", "-o", "out", env=env, cwd=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    result = tmp_path / "out" / "portrait_color_correction_local.jpg"
    with Image.open(result) as im:
        assert im.size == (64, 96)  # upright
        assert im.info.get("icc_profile") == icc
        assert im.getexif().get(0x0112) == 1


def submitted_jobs(app_home: Path) -> int:
    """Jobs the CLI has recorded a remote id for (read from its own database)."""
    import sqlite3

    path = app_home / "data" / "jobs.sqlite3"
    if not path.exists():
        return 0
    try:
        db = sqlite3.connect(path, timeout=5)
        try:
            return db.execute("SELECT count(*) FROM jobs WHERE remote_id IS NOT NULL").fetchone()[0]
        finally:
            db.close()
    except sqlite3.Error:  # not created yet
        return 0


def count_created(server: FakeServer) -> int:
    try:
        return len(server.created())
    except Exception:  # a line being written right now
        return 0


@pytest.mark.slow
def test_sigkill_mid_batch_then_rerun_completes_without_paying_twice(
    tmp_path, env, server, data_dir
):
    photos = make_photos(tmp_path / "in", data_dir, 10)
    server.set_script(duration=0.5, submit_delay=0.15, max_concurrency=3)
    args = ["run", "--provider", "fake", "--op", "brighten", "in", "-o", "out"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "retouchdesk", *args],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while count_created(server) < 5 and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(10)
    assert proc.returncode == -signal.SIGKILL
    out = tmp_path / "out"
    written_before = sorted(p.name for p in out.glob("*.png")) if out.exists() else []
    assert len(written_before) < 10, "the kill came too late to test anything"

    r = retouchdesk(*args, env=env, cwd=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "resuming" in r.stderr  # interrupted jobs were picked up, not started over
    results = sorted(p.name for p in out.glob("*"))
    assert results == sorted(f"{p.stem}_brighten_fake.png" for p in photos)  # no _2 copies
    per_key = server.created_per_key()
    assert per_key and max(per_key.values()) == 1  # no idempotency key created twice
    per_input = server.created_per_input()
    assert sorted(per_input) == sorted(str(p) for p in photos)
    assert max(per_input.values()) == 1  # each photo paid for once
    for p in photos:
        assert mean(out / f"{p.stem}_brighten_fake.png") > mean(p) * 1.2


@pytest.mark.slow
def test_ctrl_c_cancels_cleanly_and_a_rerun_finishes(tmp_path, env, server, data_dir, app_home):
    make_photos(tmp_path / "in", data_dir, 3)
    server.set_script(duration=30)
    args = ["run", "--provider", "fake", "--op", "brighten", "in", "-o", "out"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "retouchdesk", *args],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while submitted_jobs(app_home) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 130, stdout + stderr
    assert "Cancelling" in stderr and "cancelled" in stdout
    assert len(server.cancelled()) >= 2  # the provider was asked to stop its jobs

    server.set_script(duration=0.05)
    r = retouchdesk(*args, env=env, cwd=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "3 files: 3 done" in r.stdout
