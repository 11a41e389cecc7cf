"""Shared pieces of the YouCam tests: fast emulator settings, credentials, input files.

Tests keep YouCam's 10-second task drop but shortened to ``DROP_AFTER`` seconds, and the
client's longest gap between polls (``MAX_GAP``) well below it, so the keep-alive rules are
exercised in seconds instead of minutes.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from PIL import Image

from retouchdesk.core.schema import Operation, load_catalog
from retouchdesk.providers.http import RetryPolicy
from retouchdesk.providers.youcam import Credentials, PollPolicy, YouCamProvider
from tests.emulators.youcam import YouCamEmulator, styles

DROP_AFTER = 2.0
CATALOG = load_catalog()
MAX_GAP = 0.5
FAST: dict[str, Any] = {
    "task_seconds": 0.2,
    "polling_interval_ms": 100,
    "drop_after": DROP_AFTER,
    "rate_limit": 100_000,
}


def credentials(emu: YouCamEmulator, gen: str) -> Credentials:
    if gen == "v1":
        return Credentials(client_id=emu.client_id, client_secret=emu.client_secret)
    return Credentials(api_key=emu.api_key)


def make_provider(
    emu: YouCamEmulator, gen: str, cache: Path, *, counter: Any = None, **kw: Any
) -> YouCamProvider:
    return YouCamProvider(
        base_url=emu.url,
        credentials=credentials(emu, gen),
        cache_dir=cache,
        next_counter=counter,
        poll_policy=kw.pop(
            "poll_policy", PollPolicy(max_gap=MAX_GAP, min_interval=0.1, budget_per_minute=1e5)
        ),
        retry=kw.pop("retry", RetryPolicy(backoff_base=0.05, jitter=0.0)),
        **kw,
    )


def settings_env(emu: YouCamEmulator, gen: str) -> dict[str, str]:
    """RETOUCHDESK_* variables pointing the app at ``emu`` with ``gen`` credentials."""
    env = {
        "RETOUCHDESK_YOUCAM_BASE_URL": emu.url,
        "RETOUCHDESK_YOUCAM_MAX_POLL_GAP": str(MAX_GAP),
        "RETOUCHDESK_YOUCAM_POLL_BUDGET": "100000",
        "RETOUCHDESK_ENGINE_BACKOFF_BASE": "0.05",
        "RETOUCHDESK_NETWORK_BACKOFF_BASE": "0.05",
    }
    if gen == "v1":
        env["RETOUCHDESK_YOUCAM_CLIENT_ID"] = emu.client_id
        env["RETOUCHDESK_YOUCAM_CLIENT_SECRET"] = emu.client_secret
    else:
        env["RETOUCHDESK_YOUCAM_API_KEY"] = emu.api_key
    return env


def youcam_op(op_id: str) -> Operation:
    """A YouCam operation of the installed schema."""
    return CATALOG.operation("youcam", op_id)


class Inputs:
    """Input files every task can use, made from the shipped test photos.

    Each derived file is written when a test first asks for it (most tests use one or two).
    """

    def __init__(self, data: Path, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.folder = folder
        self.portrait = data / "astronaut.png"  # 512x512, one face
        self.cat = data / "chelsea.png"  # no face

    @functools.cached_property
    def _astro(self) -> Image.Image:
        return Image.open(self.portrait).convert("RGB")

    @functools.cached_property
    def _mask(self) -> np.ndarray:
        mask = np.zeros((512, 512), np.uint8)
        mask[330:400, 90:200] = 255  # a patch of the suit
        return mask

    @functools.cached_property
    def portrait_jpg(self) -> Path:
        """The portrait as JPEG (hairstyle takes JPEG only)."""
        path = self.folder / "portrait.jpg"
        self._astro.save(path, quality=92)
        return path

    @functools.cached_property
    def mask(self) -> Path:
        path = self.folder / "mask.png"
        Image.fromarray(self._mask).save(path)
        return path

    @functools.cached_property
    def small_mask(self) -> Path:
        """The mask at half the portrait's size."""
        path = self.folder / "mask_small.png"
        Image.fromarray(self._mask).resize((256, 256)).save(path)
        return path

    @functools.cached_property
    def two_faces(self) -> Path:
        """The portrait beside its mirror image."""
        path = self.folder / "two_faces.png"
        a = np.asarray(self._astro)
        Image.fromarray(np.hstack([a, a[:, ::-1]])).save(path)
        return path

    @functools.cached_property
    def reference(self) -> Path:
        """A smaller, warmer portrait (makeup and face references)."""
        path = self.folder / "reference.png"
        ref = np.asarray(self._astro.resize((400, 400)))
        ref = np.clip(ref.astype(np.int16) + np.array([25, -10, 10]), 0, 255).astype(np.uint8)
        Image.fromarray(ref).save(path)
        return path

    @functools.cached_property
    def video(self) -> Path:
        """Two seconds of a red ball crossing a brightening frame, MPEG-4."""
        path = self.folder / "clip.mp4"
        writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"mp4v"), 10, (160, 120))
        for i in range(20):
            frame = np.full((120, 160, 3), 40 + i * 8, np.uint8)
            cv2.circle(frame, (20 + i * 6, 60), 15, (0, 0, 255), -1)
            writer.write(frame)
        writer.release()
        return path


def style_value(gen: str, style_source: str) -> str:
    """A valid style parameter for ``style_source`` without a network call."""
    if gen == "v2":
        return styles.templates(style_source)[3]["id"]
    group = styles.groups(style_source)[1]
    return f"{group['id']}:{group['styles'][2]['id']}"


#: (operation, input attribute of Inputs, params; "@x" = Inputs attribute x, "$style" = a style)
CASES: list[tuple[str, str, dict[str, Any]]] = [
    ("photo_enhance", "portrait", {"scale": 2}),
    ("object_removal", "portrait", {"mask": "@mask"}),
    ("background_removal", "portrait", {}),
    ("background_change", "portrait", {"prompt": "a sunny beach"}),
    ("background_blur", "portrait", {"intensity": 80}),
    ("colorize", "portrait", {}),
    ("photo_lighting", "portrait", {}),
    ("color_correction", "portrait", {}),
    ("image_extender", "portrait", {"output_width": 768, "input_x": 128}),
    ("ai_replace", "portrait", {"mask": "@mask", "prompt": "a red ball"}),
    ("image_generator", "portrait", {"prompt": "a lighthouse at dusk", "template_id": "$style"}),
    ("hairstyle", "portrait_jpg", {"template_id": "$style"}),
    ("hair_extension", "portrait", {"template_id": "$style"}),
    ("hair_bang", "portrait", {"template_id": "$style"}),
    ("hair_volume", "portrait", {"template_id": "$style"}),
    ("makeup_transfer", "portrait", {"ref_file": "@reference"}),
    ("face_swap", "two_faces", {"ref_file": "@reference", "face_mapping": "0:1"}),
    ("video_enhance", "video", {}),
]


def resolve(gen: str, inputs: Inputs, op: Any, params: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for k, v in params.items():
        if v == "$style":
            v = style_value(gen, op.param(k).style_source)
        elif isinstance(v, str) and v.startswith("@"):
            v = str(getattr(inputs, v[1:]))
        out[k] = v
    return out
