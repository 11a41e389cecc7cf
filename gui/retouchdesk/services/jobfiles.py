"""The job engine's file work, run in worker threads, and its process-ownership check.

Kept apart from :mod:`services.engine` so the engine module is only the state machine:
checking an input before anything is uploaded (probe and a full decode), proving the output
folder writable, choosing a result's extension, copying non-image results atomically, and
telling whether the process that owns a job still runs.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from retouchdesk.core import partials
from retouchdesk.core.errors import InputError, OutputError, RetouchError
from retouchdesk.providers.base import Output

if TYPE_CHECKING:  # imported where used: numpy and Pillow load with them
    from retouchdesk.core.imageio import ImageInfo, OutputPolicy
    from retouchdesk.core.recipe import Recipe

_ALPHA_MODES = {"RGBA", "LA", "PA", "RGBa", "La"}


def inspect_image(path: Path) -> ImageInfo:
    """Probe the photo and decode it once: a damaged file fails here, before any upload.

    The engine does the same in :func:`services.inputs.prepare_image` with one probe.
    """
    from retouchdesk.core import imageio

    info = imageio.probe(path)
    imageio.check_decodes(path, info)
    return info


def file_size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError as exc:
        raise InputError(f"{path.name} cannot be read: {exc.strerror}") from None


def check_output_dir(folder: Path) -> None:
    """Create ``folder`` and prove it is writable, or raise a plain OutputError."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".retouchdesk-", delete=True):
            pass
    except OSError as exc:
        reason = exc.strerror or str(exc)
        if isinstance(exc, FileExistsError | NotADirectoryError):
            reason = "a file is in the way"
        raise OutputError(f"The output folder {folder} cannot be written: {reason}") from None


class WritableFolders:
    """Output folders proved writable (:func:`check_output_dir`), each at most once a minute:
    a proof costs a file creation, and a batch writes to one folder hundreds of times."""

    def __init__(self, every: float = 60.0) -> None:
        self._every = every
        self._checked: dict[Path, float] = {}

    def check(self, folder: Path) -> None:
        if time.monotonic() - self._checked.get(folder, -1e9) > self._every:
            check_output_dir(folder)
            self._checked[folder] = time.monotonic()


def result_extension(source: Path, out: Output, policy: OutputPolicy) -> str:
    """The extension of a result: the policy's format, else the photo's own (PNG for alpha)."""
    from retouchdesk.core import imageio

    source_fmt = imageio.format_for_path(source)
    if source_fmt is None:
        try:
            source_fmt = imageio.probe(source).format
        except RetouchError:
            source_fmt = "png"
    has_alpha = out.path is not None and _has_alpha(out.path)
    fmt = imageio.output_format(policy, source_fmt, has_alpha=has_alpha)
    if imageio.format_for_path(source) == fmt:
        return source.suffix.lstrip(".")  # keep the photo's own spelling: JPG, jpeg, tif
    return imageio.extension_for(fmt)


def _has_alpha(path: Path) -> bool:
    from retouchdesk.core import handover

    try:
        if handover.is_handover(path):
            return handover.has_alpha(path)
        from PIL import Image

        with Image.open(path) as im:
            return im.mode in _ALPHA_MODES or "transparency" in im.info
    except Exception:
        return False


def save_image_result(
    result: Path,
    *,
    source: Path,
    destination: Path,
    policy: OutputPolicy,
    report: dict[str, Any] | None = None,
    recipe: Recipe | None = None,
    replace: bool = True,
) -> Path:
    """``imageio.save_result`` with the permissions of any file the user creates.

    ``report`` receives the written format, bits per channel and notes (for the job record);
    ``replace=False`` never replaces an existing ``destination`` (``DestinationTaken``).
    """
    from retouchdesk.core import imageio

    written = Path(
        imageio.save_result(
            result,
            source=source,
            destination=destination,
            policy=policy,
            report=report,
            recipe=recipe,
            replace=replace,
        )
    )
    give_normal_mode(written)
    return written


def remove_scratch(work_dir: Path) -> None:
    """Remove a job's scratch folder, and its folder in memory (an offline worker's result,
    ``core.handover``): when the job ends, or is forgotten."""
    from retouchdesk.core import handover

    shutil.rmtree(work_dir, ignore_errors=True)
    handover.discard(work_dir)


def give_normal_mode(path: Path) -> None:
    """Temporary files are created private (0600); a result is a normal file (0666 - umask)."""
    with contextlib.suppress(OSError):
        os.chmod(path, 0o666 & ~_umask())


def _umask() -> int:
    """The process umask without changing it (os.umask would race with other threads)."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    return 0o022


def copy_atomic(src: Path, dest: Path, *, replace: bool = True) -> Path:
    """Copy a non-image result (a video) through a temporary file and a rename.

    ``replace=False`` never replaces an existing ``dest`` (``imageio.DestinationTaken``).
    """
    dest.parent.mkdir(parents=True, exist_ok=True)
    partials.sweep(dest.parent)  # what a killed earlier run left here
    tmp = partials.temp_name(dest.parent, dest.stem)
    try:
        shutil.copyfile(src, tmp)
        give_normal_mode(Path(tmp))
        if replace:
            os.replace(tmp, dest)
        else:
            from retouchdesk.core import imageio

            imageio.rename_no_clobber(Path(tmp), dest)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return dest


def owner_alive(owner: str | None, me: str) -> bool:
    """Whether the process ``owner`` ("host:pid") still runs, on this host, and is not us."""
    if not owner or owner == me:
        return False
    host, _, pid_text = owner.rpartition(":")
    if host != me.rpartition(":")[0]:
        return False  # another host (or a container's old name): it cannot be checked
    try:
        pid = int(pid_text)
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # alive, another user's
    except (ValueError, OSError):
        return False
    return _not_a_zombie(pid)


def _not_a_zombie(pid: int) -> bool:
    """A killed child not yet reaped still answers kill(pid, 0); /proc tells the truth."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True
