"""The doctor's environment checks on this machine: real libraries, real folders, real Qt.

Each check is run for real (OpenCV's modules, the ncnn model wheel, a Qt platform plugin in a
child process, files created in the app's folders); faults are made real too: a folder that
cannot exist, a Qt platform that does not exist, no display at all.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from retouchdesk.doctor import CheckResult, exit_code, render
from retouchdesk.doctor import environment as env
from retouchdesk.services.settings import Settings


def settings(tmp_path: Path, **values: str) -> Settings:
    return Settings(tmp_path / "settings.toml", environ=values)


def test_render_and_exit_code():
    ok = CheckResult("python", "interpreter", True, "Python 3.11")
    note = CheckResult("youcam", "YouCam", False, "not set up", required=False)
    fail = CheckResult("opencv", "features", False, "missing xphoto")
    text = render([ok, note, fail], color=False)
    assert text.splitlines() == [
        "[ ok ] python  interpreter: Python 3.11",
        "[note] youcam  YouCam: not set up",
        "[FAIL] opencv  features: missing xphoto",
    ]
    assert exit_code([ok, note]) == 0 and exit_code([ok, note, fail]) == 1


def test_installation_checks_pass_here():
    # This test environment is a working installation: OpenCV contrib headless alone in cv2/,
    # dlib, the ncnn model wheel, pillow-heif.
    for check in (env.check_python, env.check_opencv, env.check_faces, env.check_heic):
        r = check()
        assert r.ok, r
    opencv = env.check_opencv()
    assert "xphoto" in opencv.detail and "opencv-python," not in opencv.detail


def test_upscaler_reports_the_model_and_a_gpu_the_settings_cannot_have(tmp_path: Path):
    ai, gpu = env.check_upscaler(settings(tmp_path))
    assert ai.ok and "REALESRGAN_X4PLUS_UP4X" in ai.detail
    assert gpu.area == "vulkan" and (gpu.ok or not gpu.required)
    asked = env.check_upscaler(settings(tmp_path, RETOUCHDESK_LOCAL_DEVICE="7"))[1]
    assert not asked.ok and asked.required  # the user asked for GPU 7: that cannot work
    assert "local.device" in asked.detail or "libvulkan1" in asked.detail


def test_folders_writable_and_an_output_folder_that_cannot_exist(tmp_path: Path):
    (good,) = env.check_folders(settings(tmp_path))
    assert good.ok and "config" in good.detail
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    (bad,) = env.check_folders(settings(tmp_path, RETOUCHDESK_OUTPUT_DIR=str(blocker / "out")))
    assert not bad.ok and bad.required and str(blocker / "out") in bad.detail
    assert "RETOUCHDESK_HOME" in bad.detail  # one sentence with the fix
    assert not list(Path(tmp_path).rglob(".doctor-*"))  # probe files are removed


def test_accounts_notes_unless_relied_on(tmp_path: Path):
    by_id = {r.area: r for r in env.check_accounts(settings(tmp_path))}
    assert by_id["local"].ok
    assert not by_id["youcam"].ok and not by_id["youcam"].required
    assert "RETOUCHDESK_YOUCAM_API_KEY" in by_id["youcam"].detail
    # Named on the command line, or the default provider: not set up is a failure.
    named = {r.area: r for r in env.check_accounts(settings(tmp_path), ["youcam"])}
    assert named["youcam"].required and not named["youcam"].ok
    s = settings(tmp_path, RETOUCHDESK_GENERAL_DEFAULT_PROVIDER="codeformer")
    assert {r.area: r for r in env.check_accounts(s)}["codeformer"].required
    # Either way to sign in counts: YouCam v2 key alone is enough.
    s = settings(tmp_path, RETOUCHDESK_YOUCAM_API_KEY="sk-test-0000")
    assert {r.area: r for r in env.check_accounts(s)}["youcam"].ok
    # Enhancor with a key but no way to host photos says what is missing.
    s = settings(tmp_path, RETOUCHDESK_ENHANCOR_API_KEY="k" * 20)
    enh = {r.area: r for r in env.check_accounts(s)}["enhancor"]
    assert not enh.ok and "receiver.public_url" in enh.detail
    unknown = {r.area: r for r in env.check_accounts(settings(tmp_path), ["nosuch"])}["nosuch"]
    assert not unknown.ok and "youcam" in unknown.detail


def test_secrets_never_shown(tmp_path: Path):
    secret = "sk-super-secret-value-123"
    s = settings(tmp_path, RETOUCHDESK_YOUCAM_API_KEY=secret)
    results = env.environment_checks(s)
    assert secret not in render(results, color=False)


@pytest.mark.slow
def test_qt_starts_in_a_child_and_failures_say_what_to_do(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("QT_QPA_PLATFORM", "offscreen")
    plugin, gl = env.check_qt()
    assert plugin.ok and "'offscreen' started" in plugin.detail
    assert gl.area == "qt" and (gl.ok or not gl.required)
    # A platform that does not exist: Qt aborts in the child, the doctor reports it.
    monkeypatch.setenv("QT_QPA_PLATFORM", "no-such-platform")
    (bad,) = env.check_qt()
    assert not bad.ok and bad.required and "'no-such-platform' (QT_QPA_PLATFORM)" in bad.detail
    assert "offscreen" in bad.detail  # the plugins that do exist
    # No display at all: the window cannot open, but that is a note (the CLI works).
    for name in ("QT_QPA_PLATFORM", "DISPLAY", "WAYLAND_DISPLAY"):
        monkeypatch.delenv(name, raising=False)
    (headless,) = env.check_qt()
    assert not headless.ok and not headless.required and "no display" in headless.detail


def test_missing_qt_library_names_the_debian_package():
    r = env._qt_failure(
        "qt.qpa.plugin: From 6.5.0, xcb-cursor0 or libxcb-cursor0 is needed to load the Qt xcb "
        "platform plugin. libxcb-cursor.so.0: cannot open shared object file",
        "PySide6",
    )
    if r.required:  # with a display (or QT_QPA_PLATFORM) set, the library is named
        assert "sudo apt install libxcb-cursor0" in r.detail


@pytest.mark.slow
def test_doctor_command_exit_codes(tmp_path: Path):
    base = [sys.executable, "-m", "retouchdesk", "doctor", "--offline"]
    done = subprocess.run(base, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    areas = [ln.split("] ", 1)[1].split()[0] for ln in lines]
    for area in ("python", "qt", "opencv", "upscaler", "vulkan", "heic", "keyring", "folders"):
        assert area in areas, done.stdout
    asked = subprocess.run([*base, "youcam"], capture_output=True, text=True, timeout=120)
    assert asked.returncode == 1
    assert any(ln.startswith("[FAIL] youcam") for ln in asked.stdout.splitlines())
