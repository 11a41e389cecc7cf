"""A whole provider in one module, for the test that adding a vendor needs nothing else.

It inverts the photo on this machine and reports a fixed credit balance: just enough to go
through the engine end to end and to show an optional feature (``balance``) overriding the
base class's neutral default. Its schema (``tiny.toml`` beside this file) names :func:`make`.
"""

from __future__ import annotations

import io
from typing import Any

from PIL import Image, ImageOps

from retouchdesk.providers.base import JobContext, Output, Provider, SubmitResult

BALANCE = 7.0


class TinyProvider(Provider):
    id = "tiny"

    async def submit(self, ctx: JobContext) -> SubmitResult:
        with Image.open(ctx.input_path) as im:
            out = ImageOps.invert(im.convert("RGB"))
        if ctx.params.get("half"):
            out = out.resize((out.width // 2, out.height // 2))
        buf = io.BytesIO()
        out.save(buf, "PNG")
        return SubmitResult(outputs=[Output(data=buf.getvalue(), suffix=".png")], cost=1.0)

    async def balance(self) -> Any:
        return BALANCE


def make(env: Any) -> Provider:
    """The factory the schema names; ``env`` is the registry's ProviderEnv (unused here)."""
    return TinyProvider()
