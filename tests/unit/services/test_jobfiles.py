"""The engine's file helpers and the process-ownership check."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from retouchdesk.core.errors import InputError, OutputError
from retouchdesk.core.imageio import OutputPolicy
from retouchdesk.providers.base import Output
from retouchdesk.services.jobfiles import (
    check_output_dir,
    copy_atomic,
    inspect_image,
    owner_alive,
    result_extension,
)


def test_owner_alive():
    me = f"{socket.gethostname()}:{os.getpid()}"
    parent = f"{socket.gethostname()}:{os.getppid()}"
    assert not owner_alive(None, me)
    assert not owner_alive(me, me)  # our own jobs are ours to resume
    assert owner_alive(parent, me)
    assert not owner_alive(f"another-host:{os.getppid()}", me)
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    assert not owner_alive(f"{socket.gethostname()}:{child.pid}", me)


def test_a_zombie_owner_is_dead():
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    os.waitid(os.P_PID, child.pid, os.WEXITED | os.WNOWAIT)  # exited, not reaped
    me = f"{socket.gethostname()}:{os.getpid()}"
    assert not owner_alive(f"{socket.gethostname()}:{child.pid}", me)
    child.wait()


def test_inspect_image_refuses_a_truncated_file_before_upload(tmp_path: Path, data_dir: Path):
    jpg = tmp_path / "cut.jpg"
    Image.open(data_dir / "coffee.png").convert("RGB").save(jpg, quality=90)
    data = jpg.read_bytes()
    jpg.write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError, match=r"^cut\.jpg: the image is damaged"):
        inspect_image(jpg)
    assert inspect_image(data_dir / "coffee.png").width == 600


def test_check_output_dir(tmp_path: Path):
    check_output_dir(tmp_path / "a" / "b")
    assert (tmp_path / "a" / "b").is_dir()
    (tmp_path / "file").write_text("x")
    with pytest.raises(OutputError, match="cannot be written: a file is in the way"):
        check_output_dir(tmp_path / "file" / "sub")


def test_result_extension_follows_policy_source_and_alpha(tmp_path: Path):
    rgb, rgba = tmp_path / "r.png", tmp_path / "a.png"
    Image.new("RGB", (4, 4)).save(rgb)
    Image.new("RGBA", (4, 4)).save(rgba)
    src = tmp_path / "IMG.JPG"
    Image.new("RGB", (4, 4)).save(src, "JPEG")
    assert result_extension(src, Output(path=rgb), OutputPolicy()) == "JPG"
    assert result_extension(src, Output(path=rgba), OutputPolicy()) == "png"  # keep alpha
    assert result_extension(src, Output(path=rgb), OutputPolicy(format="webp")) == "webp"
    assert result_extension(src, Output(path=rgb), OutputPolicy(format="tiff")) == "tif"


def test_copy_atomic_leaves_no_temporary_file(tmp_path: Path):
    src = tmp_path / "clip.mp4"
    src.write_bytes(b"\x00" * 1000)
    dest = copy_atomic(src, tmp_path / "out" / "clip_enhanced.mp4")
    assert dest.read_bytes() == src.read_bytes()
    assert sorted(p.name for p in dest.parent.iterdir()) == ["clip_enhanced.mp4"]


def test_results_get_normal_permissions_not_private_temp_ones(tmp_path: Path, data_dir: Path):
    from retouchdesk.services.jobfiles import _umask, save_image_result

    out = save_image_result(
        data_dir / "coffee.png",
        source=data_dir / "coffee.png",
        destination=tmp_path / "coffee_x.png",
        policy=OutputPolicy(),
    )
    assert out.stat().st_mode & 0o777 == 0o666 & ~_umask()
    video = copy_atomic(data_dir / "coffee.png", tmp_path / "v" / "clip.mp4")
    assert video.stat().st_mode & 0o777 == 0o666 & ~_umask()


def test_an_output_folder_is_proved_writable_once_a_minute(tmp_path, monkeypatch):
    from retouchdesk.services import jobfiles

    proofs: list[Path] = []
    monkeypatch.setattr(jobfiles, "check_output_dir", proofs.append)
    folders = jobfiles.WritableFolders()
    for _ in range(3):
        folders.check(tmp_path / "a")
    folders.check(tmp_path / "b")
    assert proofs == [tmp_path / "a", tmp_path / "b"]
    again = jobfiles.WritableFolders(every=0.0)
    again.check(tmp_path / "a")
    again.check(tmp_path / "a")
    assert len(proofs) == 4
