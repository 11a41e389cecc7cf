"""`retouchdesk run --provider youcam --op <task>` for every task, v1 and v2, end to end.

The CLI runs in this process (``cli.main``, its own event loop and job database) against the
emulator in a thread, so the 36 runs share one interpreter start; two runs and the account
command go through a real subprocess (``python -m retouchdesk``) as a user would type them.
Each run checks the result files and what the emulator received.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
from PIL import Image
from tests.e2e.clienv import FILE_SECRETS
from tests.emulators.youcam_support import CASES, FAST, Inputs, resolve, settings_env

from retouchdesk import cli
from retouchdesk.core.schema import load_catalog

CAT = load_catalog()
pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def emu():
    """An emulator of this test's own: every run's new app home starts its request-id counter
    at the current Unix time, so two runs within a second would repeat an id on a shared
    emulator, which then answers with the other run's task."""
    from tests.emulators import load

    e = load("youcam", **FAST).start()
    yield e
    e.stop()


def in_process_env(app_home: Path, monkeypatch: pytest.MonkeyPatch, emu, gen: str) -> None:
    """What :func:`tests.e2e.clienv.subprocess_env` gives a subprocess, for ``cli.main`` here."""
    env = {"RETOUCHDESK_HOME": str(app_home), "COLUMNS": "200", **FILE_SECRETS}
    for k, v in {**env, **settings_env(emu, gen)}.items():
        monkeypatch.setenv(k, v)


def task_posts(emu, since: int) -> list[Any]:
    return [
        r
        for r in emu.received()[since:]
        if r.method == "POST" and "/task/" in r.path and "/pre-process" not in r.path
    ]


def sent_fields(req, gen: str) -> dict[str, Any]:
    if gen == "v1":
        return req.json["payload"]["actions"][0].get("params", {})  # absent when empty
    return {k: v for k, v in req.json.items() if k not in ("request_id",) and "file" not in k}


def check_result(op_id: str, files: list[Path], youcam_inputs: Inputs) -> None:
    """What a user would look at: the right number of files, sizes, pixels changed."""
    op = CAT.operation("youcam", op_id)
    expected = op.result.count if op.result.kind == "images" else 1
    assert len(files) == expected, files
    if op_id == "video_enhance":
        cap = cv2.VideoCapture(str(files[0]))
        assert cap.isOpened() and int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)) == 320
        assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == 20
        cap.release()
        return
    img = Image.open(files[0])
    if op_id == "photo_enhance":
        assert img.size == (1024, 1024)
    elif op_id == "image_extender":
        assert img.size == (768, 768)
    elif op_id == "image_generator":
        assert img.size == (1024, 1024)
    elif op_id == "face_swap":
        assert img.size == (1024, 512)
    else:
        assert img.size == (512, 512)
    if op_id == "background_removal":
        alpha = np.asarray(img.convert("RGBA"))[..., 3]
        assert alpha.min() < 20 and alpha.max() > 235  # a cut-out, not a copy
    if op.result.kind == "images" and expected > 1:
        a = np.asarray(Image.open(files[0]).convert("RGB"), np.float32)
        b = np.asarray(Image.open(files[1]).convert("RGB"), np.float32)
        assert np.abs(a - b).mean() > 1  # variants differ


@pytest.mark.slow
@pytest.mark.parametrize("gen", ["v1", "v2"])
@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_every_task_runs_from_the_cli(
    emu, youcam_inputs, app_home, tmp_path, monkeypatch, gen, case
):
    op_id, source, params = case
    op = CAT.operation("youcam", op_id)
    params = resolve(gen, youcam_inputs, op, params)
    in_process_env(app_home, monkeypatch, emu, gen)
    since = len(emu.received())
    out = tmp_path / "out"
    sets = [x for k, v in params.items() for x in ("--set", f"{k}={v}")]
    args = ["run", "--quiet", "--provider", "youcam", "--op", op_id, *sets]
    code = cli.main([*args, "-o", str(out), str(getattr(youcam_inputs, source))])
    if gen == "v1" and op.id == "background_change":
        # v1 answers only a foreground mask: refused before any upload.
        assert code != 0 and not task_posts(emu, since)
        return
    assert code == 0
    files = sorted(p for p in out.rglob("*") if p.is_file())
    check_result(op_id, files, youcam_inputs)
    # what YouCam received: the schema's fields under their wire names, one task, one upload
    # One task charged. A resend after a slow answer carries the same request_id (YouCam
    # answers the first task); on a loaded machine the emulator's short drop window can drop
    # a task before its first poll, and the job then starts a new one: the dropped one must
    # have cost nothing.
    posts = task_posts(emu, since)
    rids = list(dict.fromkeys(p.json["request_id"] for p in posts))
    found = (emu.by_request.get((a, r)) for a in ("v1", "v2") for r in rids)
    tasks = [emu.tasks[t] for t in found if t]
    assert len(tasks) == len(rids) and [t.dropped for t in tasks] == [True] * (len(rids) - 1) + [
        False
    ]
    post = next(p for p in posts if p.json["request_id"] == rids[-1])
    slug = op.api["v1"] if gen == "v1" else op.api["v2"]
    assert post.path == f"/s2s/{'v1.0' if gen == 'v1' else 'v2.0'}/task/{slug}"
    assert isinstance(post.json["request_id"], int)
    fields = sent_fields(post, gen)
    values = op.validate(params)
    for name, value in op.serialize(values).items():
        if op.param(name).kind.value == "style":
            group, _, style = str(value).partition(":")
            if gen == "v1":
                assert fields["style_group_id"] == int(group)
                assert fields["style_ids"] == [int(style)]
            else:
                assert fields["template_id"] == value
        elif name in op.api.get("v2_only" if gen == "v1" else "v1_only", ()):
            assert name not in fields
        else:
            assert fields[name] == value, name
    for name, wire in op.api.get("files", {}).items():
        if params.get(name):
            where = post.json["payload"]["file_sets"] if gen == "v1" else post.json
            assert where[wire[gen]], name
    secret = emu.client_secret if gen == "v1" else emu.api_key
    for f in app_home.rglob("*"):
        if f.is_file() and f.stat().st_size < 5_000_000:
            assert secret.encode() not in f.read_bytes(), f  # never written to disk


@pytest.mark.slow
@pytest.mark.parametrize("gen", ["v1", "v2"])
def test_cli_subprocess_and_account_command(emu, youcam_inputs, cli_env, tmp_path, gen):
    env = {**cli_env, **settings_env(emu, gen)}
    out = tmp_path / "out"
    before = emu.charged_total()
    run = subprocess.run(
        [sys.executable, "-m", "retouchdesk", "run", "--quiet", "--provider", "youcam",
         "--op", "background_blur", "--set", "intensity=90", "-o", str(out),
         str(youcam_inputs.portrait)],
        env=env, capture_output=True, text=True, timeout=90,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    [result] = [p for p in out.rglob("*") if p.is_file()]
    src = np.asarray(Image.open(youcam_inputs.portrait).convert("L"), np.float32)
    res = np.asarray(Image.open(result).convert("L"), np.float32)
    corner = (slice(0, 60), slice(0, 60))  # background: blurred, so less local contrast
    assert np.abs(np.diff(res[corner], axis=1)).mean() < np.abs(np.diff(src[corner], axis=1)).mean()
    assert emu.charged_total() == before + 1
    acc = subprocess.run(
        [sys.executable, "-m", "retouchdesk", "account", "youcam", "--history", "3"],
        env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert acc.returncode == 0, acc.stderr
    text = acc.stdout
    assert f"Balance: {emu.balance:,} credits" in text
    assert "SubsToken" in text and "PaygToken" in text
    assert "api_bg_blur" in text and "-1" in text  # the newest change is this run's charge
    assert f"({gen} sign-in)" in text
    assert (emu.client_secret if gen == "v1" else emu.api_key) not in text + acc.stderr


def test_ops_lists_every_youcam_task(capsys):
    assert cli.main(["ops", "youcam"]) == 0
    text = capsys.readouterr().out
    for op_id in CAT.provider("youcam").operations:
        assert f"youcam.{op_id} " in text
    assert "long side <= 1024 px" in text and "template_id" in text


def test_a_refused_result_link_is_fetched_again_without_a_second_task(
    emu, youcam_inputs, app_home, tmp_path, monkeypatch
):
    """Issue 10: a 404 on the YouCam result download is not a failure of the paid task; the
    status is asked again (a fresh link) and the one task's result is downloaded."""
    in_process_env(app_home, monkeypatch, emu, "v2")
    monkeypatch.setenv("RETOUCHDESK_ENGINE_BACKOFF_BASE", "0.05")
    since = len(emu.received())
    charged = emu.charged_total()
    emu.faults.status(404, path="/_results/.*", times=1, body=b"Not Found")
    out = tmp_path / "out"
    args = ["run", "--quiet", "--provider", "youcam", "--op", "photo_enhance"]
    code = cli.main([*args, "--set", "scale=2", "-o", str(out), str(youcam_inputs.portrait)])
    assert code == 0
    (result,) = sorted(p for p in out.rglob("*") if p.is_file())
    assert Image.open(result).size == (1024, 1024)
    downloads = [r for r in emu.received()[since:] if r.path.startswith("/_results/")]
    assert len(downloads) == 2  # the refused link, then the fresh one
    assert len(task_posts(emu, since)) == 1 and emu.charged_total() == charged + 2
