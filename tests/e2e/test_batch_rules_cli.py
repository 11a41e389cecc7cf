"""The batch rules (services.batch) from the command line, counted on the pretend server.

The same cases run through the window's Apply to all in ``tests/ui/test_batch_rules_window.py``:
a photo listed twice is sent once; done work is not paid again; a deleted result and a failed
job are redone; an unconfirmed job is never resent by a plain re-run. ``main()`` runs
in-process (a subprocess adds only interpreter start-up here; the SIGKILL cases in
``test_cli.py`` need one).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from tests.doubles.fake_provider import SCHEMA_DIR, SERVER_ENV, FakeServer

from retouchdesk import cli

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FakeServer:
    root = tmp_path / "server"
    monkeypatch.setenv(SERVER_ENV, str(root))
    monkeypatch.setenv("RETOUCHDESK_TEST_PROVIDERS", "tests.doubles.fake_provider:make")
    monkeypatch.setenv("RETOUCHDESK_EXTRA_SCHEMAS", str(SCHEMA_DIR))
    monkeypatch.setenv("RETOUCHDESK_ENGINE_BACKOFF_BASE", "0.01")
    monkeypatch.setenv("COLUMNS", "200")
    srv = FakeServer(root)
    srv.set_script(duration=0.05, poll_interval=0.02)
    return srv


@pytest.fixture
def shoot(tmp_path: Path, data_dir: Path) -> Path:
    folder = tmp_path / "shoot"
    folder.mkdir()
    for name in ("astronaut.png", "chelsea.png", "coffee.png"):
        shutil.copyfile(data_dir / name, folder / name)
    return folder


def run(*inputs: Path, out: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    argv = ["run", "--provider", "fake", "--op", "brighten", "--quiet", "-o", str(out)]
    code = cli.main([*argv, *map(str, inputs)])
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def test_listed_twice_sent_once_done_not_paid_again_deleted_result_redone(
    tmp_path: Path, server: FakeServer, shoot: Path, capsys: pytest.CaptureFixture[str]
):
    out = tmp_path / "out"
    code, text = run(shoot, shoot / "coffee.png", out=out, capsys=capsys)
    assert code == 0, text
    assert "listed twice" in text
    assert sorted(server.created_per_input().values()) == [1, 1, 1]
    results = sorted(p for p in out.iterdir() if p.is_file())
    assert len(results) == 3

    code, text = run(shoot, out=out, capsys=capsys)
    assert code == 0, text
    assert text.count("already done") == 3
    assert len(server.created()) == 3  # nothing paid again

    chelsea = next(p for p in results if p.name.startswith("chelsea"))
    chelsea.unlink()
    code, text = run(shoot, out=out, capsys=capsys)
    assert code == 0, text
    assert server.created_per_input()[str((shoot / "chelsea.png").absolute())] == 2
    assert len(server.created()) == 4 and chelsea.exists()


def test_failed_is_sent_again_unconfirmed_is_not(
    tmp_path: Path,
    server: FakeServer,
    shoot: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
):
    out = tmp_path / "out"
    coffee, chelsea = shoot / "coffee.png", shoot / "chelsea.png"
    # The first created job's answer is lost (not idempotent: it cannot be asked again).
    server.set_script(fail_inputs=["chelsea.png"], idempotent=False, lose_submit_answers=1)
    monkeypatch.setenv("RETOUCHDESK_ENGINE_UNCONFIRMED_WAIT", "0.2")
    code, text = run(coffee, out=out, capsys=capsys)
    assert code == 1 and "UNCONFIRMED" in text, text
    code, text = run(chelsea, out=out, capsys=capsys)
    assert code == 1 and "FAILED" in text, text
    assert len(server.created()) == 2

    server.set_script(fail_inputs=[])
    code, text = run(coffee, chelsea, out=out, capsys=capsys)
    per_input = server.created_per_input()
    assert per_input[str(chelsea.absolute())] == 2  # the failed one is run again
    assert per_input[str(coffee.absolute())] == 1  # the unconfirmed one is not resent
    assert code == 1 and "UNCONFIRMED" in text, text
