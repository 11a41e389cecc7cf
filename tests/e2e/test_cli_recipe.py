"""``retouchdesk run --recipe`` on a folder: every step, kill -9 between steps, no step twice.

The CLI runs in its own process; the test watches the real job database and SIGKILLs the CLI
as soon as the second step's first job is recorded. The re-run must finish every photo with
exactly one job per photo and step (counted in the database), and each final result must
carry the whole chain and its original's SHA-256 in its XMP (read back by ``retouchdesk
recipe``, whose TOML runs again as a recipe).
"""

from __future__ import annotations

import hashlib
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from PIL import Image, ImageOps

from retouchdesk.core import recipe as rc

REPO = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]

CHAIN = """
name = "fix and enlarge"
[[steps]]
provider = "local"
operation = "color_correction"
params = { strength = 70 }
[[steps]]
provider = "local"
operation = "upscale"
params = { scale = 2, engine = "classic" }
"""


def _cli(home: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "retouchdesk", *args]


def _env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RETOUCHDESK_")}
    env["RETOUCHDESK_HOME"] = str(home)
    env["PYTHONPATH"] = str(REPO / "gui")
    return env


def _counts(db: Path) -> dict[tuple[str, str], int]:
    if not db.exists():
        return {}
    con = sqlite3.connect(db, timeout=5)
    try:
        rows = con.execute("SELECT operation, state, COUNT(*) FROM jobs GROUP BY 1, 2").fetchall()
    except sqlite3.OperationalError:  # the schema is not there yet
        return {}
    finally:
        con.close()
    return {(op, state): n for op, state, n in rows}


def test_recipe_folder_resumes_after_kill(tmp_path: Path, data_dir: Path, app_home: Path) -> None:
    src = tmp_path / "in"
    (src / "sub").mkdir(parents=True)
    for name in ("chelsea.png", "coffee.png", "astronaut.png"):
        with Image.open(data_dir / name) as im:
            im.convert("RGB").resize((320, 240)).save(src / name)
    with Image.open(data_dir / "chelsea.png") as im:
        ImageOps.mirror(im.convert("RGB").resize((320, 240))).save(src / "sub" / "mirrored.png")
    photos = sorted(src.rglob("*.png"))
    chain = tmp_path / "chain.toml"
    chain.write_text(CHAIN, encoding="utf-8")
    out = tmp_path / "out"
    db = app_home / "data" / "jobs.sqlite3"
    cmd = _cli(app_home, "run", "--recipe", str(chain), str(src), "-o", str(out), "-q")

    proc = subprocess.Popen(
        cmd,
        env=_env(app_home),
        cwd=tmp_path,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        counts = _counts(db)
        if any(op == "upscale" for op, _ in counts):
            break
        time.sleep(0.02)
    assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    before = _counts(db)
    assert before.get(("color_correction", "done")) == 4, before
    upscaled_before = sum(n for (op, st), n in before.items() if op == "upscale")
    assert sum(n for (op, st), n in before.items() if op == "upscale" and st == "done") < 4

    rerun = subprocess.run(
        cmd, env=_env(app_home), cwd=tmp_path, capture_output=True, text=True, timeout=180
    )
    assert rerun.returncode == 0, rerun.stderr
    after = _counts(db)
    # No step done twice: one job per photo and step, all done.
    assert after == {("color_correction", "done"): 4, ("upscale", "done"): 4}, after
    assert upscaled_before >= 1

    finals = sorted(out.rglob("*_upscale_local.png"))
    finals = [f for f in finals if ".steps" not in f.parts]
    assert len(finals) == 4
    digests = {hashlib.sha256(p.read_bytes()).hexdigest(): p.name for p in photos}
    for f in finals:
        with Image.open(f) as im:
            assert im.size == (640, 480)
        got = rc.read_from_file(f)
        assert got is not None
        assert [s.op_key for s in got.steps] == ["local.color_correction", "local.upscale"]
        assert got.steps[1].params == {"scale": 2, "engine": "classic"}
        assert digests[got.source_sha256] == got.source_name
        assert f.name.startswith(Path(got.source_name).stem)

    # The recipe a result carries runs again as a recipe: `retouchdesk recipe R > chain.toml`.
    shown = subprocess.run(
        _cli(app_home, "recipe", str(finals[0])),
        env=_env(app_home),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert shown.returncode == 0, shown.stderr
    again = rc.from_toml(shown.stdout)
    assert [s.op_key for s in again.steps] == ["local.color_correction", "local.upscale"]
    missing = subprocess.run(
        _cli(app_home, "recipe", str(photos[0])),
        env=_env(app_home),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert missing.returncode == 1 and "carries no Retouch Desk recipe" in missing.stderr
