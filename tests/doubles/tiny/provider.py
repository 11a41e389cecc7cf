"""A whole provider in one module, for the test that adding a vendor needs nothing else.

It inverts the photo on this machine and reports a fixed credit balance: just enough to go
through the engine end to end and to show an optional feature (``balance``) overriding the
base class's neutral default. Its schema (``tiny.toml`` beside this file) names
:meth:`TinyProvider.from_config` and declares its one setting, ``shrink``.
"""

from __future__ import annotations

import asyncio
import io
from typing import Any

from PIL import Image, ImageOps

from retouchdesk.providers.base import JobContext, Output, Provider, SubmitResult
from retouchdesk.providers.config import ProviderConfig

BALANCE = 7.0


class TinyProvider(Provider):
    id = "tiny"

    def __init__(self, shrink: int = 2, token: str = "", work_seconds: float = 0.0) -> None:
        self.shrink = shrink
        self.token = token
        self.work_seconds = work_seconds  # a pretend server's time per photo
        self.running = 0
        self.most_at_once = 0  # the most submissions in flight at one moment

    @classmethod
    def from_config(cls, config: ProviderConfig) -> TinyProvider:
        """The constructor the schema names, from its setting and its credential."""
        return cls(shrink=config["shrink"], token=config["token"])

    async def submit(self, ctx: JobContext) -> SubmitResult:
        self.running += 1
        self.most_at_once = max(self.most_at_once, self.running)
        try:
            await asyncio.sleep(self.work_seconds)
        finally:
            self.running -= 1
        with Image.open(ctx.input_path) as im:
            out = ImageOps.invert(im.convert("RGB"))
        if ctx.params.get("half"):
            out = out.resize((out.width // self.shrink, out.height // self.shrink))
        buf = io.BytesIO()
        out.save(buf, "PNG")
        return SubmitResult(outputs=[Output(data=buf.getvalue(), suffix=".png")], cost=1.0)

    async def balance(self) -> Any:
        return BALANCE
