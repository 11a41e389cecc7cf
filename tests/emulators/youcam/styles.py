"""The style catalogues: v1 style groups and styles, v2 templates, and their thumbnails.

Every catalogue is derived from the task's name, so it is the same in every emulator and a test
can pick a valid style without a network call. v1 ids are above 2**53 on purpose (they do not
survive a JavaScript-style float).
"""

from __future__ import annotations

import colorsys
import functools
import hashlib
import io
from typing import Any

from PIL import Image, ImageDraw


def groups(slug: str) -> list[dict[str, Any]]:
    """The three style groups (seven styles each) of the v1 task ``slug``."""
    base = 18213963761051864 + (int(hashlib.sha1(slug.encode()).hexdigest()[:6], 16) << 8)
    out = []
    for g in range(3):
        gid = base + g * 1000
        out.append(
            {
                "id": gid,
                "title": f"{slug} group {g + 1}",
                "styles": [
                    {"id": gid + 1 + s, "title": f"{slug} style {g + 1}.{s + 1}"} for s in range(7)
                ],
            }
        )
    return out


def templates(path: str) -> list[dict[str, Any]]:
    """The 25 templates of the v2 task ``path``."""
    name = path.replace("/", "-")
    return [
        {"id": f"{name}-tpl-{i:02d}", "title": f"{name} template {i + 1}",
         "category_name": ["Classic", "Trendy", "Bold"][i % 3]}
        for i in range(25)
    ]  # fmt: skip


def thumb_url(base_url: str, key: str) -> str:
    return f"{base_url}/_thumbs/{key}.png?sig={hashlib.md5(key.encode()).hexdigest()[:8]}"


@functools.cache
def thumbnail(key: str) -> bytes:
    """A 96 px PNG of a colour and an ellipse, both derived from ``key``."""
    h = int(hashlib.sha1(key.encode()).hexdigest()[:8], 16)
    r, g, b = (int(255 * c) for c in colorsys.hsv_to_rgb((h % 360) / 360, 0.6, 0.9))
    im = Image.new("RGB", (96, 96), (r, g, b))
    d = ImageDraw.Draw(im)
    d.ellipse((20, 12, 76, 84), fill=(255 - r, 255 - g, 255 - b))
    buf = io.BytesIO()
    im.save(buf, "PNG")
    return buf.getvalue()
