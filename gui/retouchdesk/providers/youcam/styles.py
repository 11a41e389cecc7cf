"""Style pickers: v1 style groups and styles, v2 templates, paged, thumbnails cached on disk.

The window shows a grid of thumbnails for a ``style`` parameter (its ``style_source`` is the
task slug). v1 lists styles per group; here the groups are walked in order so that the picker
sees one flat, paged list whose item ids are ``<group id>:<style id>`` (what a v1 task needs).
v2 templates are already flat.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from retouchdesk.core.errors import ProviderError
from retouchdesk.providers.youcam.api import V1, YouCamClient


@dataclass
class StyleItem:
    """One entry of a style picker."""

    id: str  # the value of the style parameter
    title: str
    group: str = ""
    thumb_url: str = ""
    thumb_path: Path | None = None  # the cached thumbnail, once downloaded


def _encode(state: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(state).encode()).decode()


def _decode(token: str | None) -> dict[str, Any]:
    if not token:
        return {"g": None, "i": 0, "s": None}
    try:
        return json.loads(base64.urlsafe_b64decode(token.encode()))
    except ValueError:
        raise ProviderError("The style list page token is not valid; reload the list") from None


def _info(raw: dict[str, Any]) -> dict[str, Any]:
    info = raw.get("info")
    return info if isinstance(info, dict) else raw


async def list_page(
    client: YouCamClient, slug: str, token: str | None
) -> tuple[list[StyleItem], str | None]:
    """One page of styles of ``slug`` and the token of the next page (None at the end)."""
    if client.gen != V1:
        raw, next_token = await client.templates(slug, token)
        items = [
            StyleItem(
                id=str(t.get("id")),
                title=str(t.get("title") or t.get("id")),
                group=str(t.get("category_name") or ""),
                thumb_url=str(t.get("thumb") or ""),
            )
            for t in raw
        ]
        return items, next_token or None
    state = _decode(token)
    while True:
        groups, gnext = await client.style_groups(slug, state["g"])
        if state["i"] >= len(groups):
            if not gnext:
                return [], None
            state = {"g": gnext, "i": 0, "s": None}
            continue
        group = groups[state["i"]]
        gid, ginfo = str(group.get("id")), _info(group)
        raw, snext = await client.styles(slug, gid, state["s"])
        items = []
        for s in raw:
            info = _info(s)
            items.append(
                StyleItem(
                    id=f"{gid}:{s.get('id')}",
                    title=str(info.get("title") or s.get("id")),
                    group=str(ginfo.get("title") or gid),
                    thumb_url=str(info.get("thumb") or ""),
                )
            )
        if snext:
            nxt: dict[str, Any] | None = {"g": state["g"], "i": state["i"], "s": snext}
        elif state["i"] + 1 < len(groups):
            nxt = {"g": state["g"], "i": state["i"] + 1, "s": None}
        elif gnext:
            nxt = {"g": gnext, "i": 0, "s": None}
        else:
            nxt = None
        return items, (_encode(nxt) if nxt else None)


def thumb_path(cache_dir: Path, url: str) -> Path:
    """Where the thumbnail of ``url`` is cached (the query, often a signature, is ignored)."""
    parts = urlsplit(url)
    key = hashlib.sha1(f"{parts.netloc}{parts.path}".encode()).hexdigest()
    ext = Path(parts.path).suffix.lower()
    return cache_dir / f"{key}{ext if ext in ('.jpg', '.jpeg', '.png', '.webp') else '.img'}"


async def fetch_thumbnails(client: YouCamClient, cache_dir: Path, items: list[StyleItem]) -> None:
    """Download the page's thumbnails that are not cached yet (a few at a time)."""
    cache_dir.mkdir(parents=True, exist_ok=True)
    sem = asyncio.Semaphore(4)

    async def one(item: StyleItem) -> None:
        if not item.thumb_url:
            return
        path = thumb_path(cache_dir, item.thumb_url)
        if not path.exists():
            async with sem:
                try:
                    data = await client.download(item.thumb_url)
                except ProviderError:
                    return  # a missing thumbnail must not hide the style
            tmp = path.with_suffix(path.suffix + ".tmp")
            tmp.write_bytes(data)
            tmp.replace(path)
        item.thumb_path = path

    await asyncio.gather(*(one(i) for i in items))
