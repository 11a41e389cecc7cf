"""The About dialog's text: the app's version and those of the parts it stands on."""

from __future__ import annotations

import platform
from importlib import metadata

from retouchdesk import APP_NAME, __version__

# Each part under the distribution names that provide it; the one installed is named.
PARTS = (
    ("PySide6", "PySide6-Essentials"),
    ("qasync",),
    ("httpx",),
    ("Pillow",),
    ("numpy",),
    ("opencv-contrib-python-headless", "opencv-python-headless", "opencv-python"),
    ("keyring",),
)


def versions() -> dict[str, str]:
    out = {"Python": platform.python_version()}
    from PySide6 import QtCore

    out["Qt"] = QtCore.qVersion()
    for names in PARTS:
        for name in names:
            try:
                out[name] = metadata.version(name)
                break
            except metadata.PackageNotFoundError:
                continue
    return out


def about_text() -> str:
    rows = "".join(f"<tr><td>{k}</td><td>&nbsp;{v}</td></tr>" for k, v in versions().items())
    return (
        f"<h3>{APP_NAME} {__version__}</h3>"
        "<p>One canvas over cloud AI retouching services and a built-in offline engine.</p>"
        f"<table>{rows}</table>"
        f"<p style='color:gray'>{platform.system()} {platform.release()}</p>"
    )
