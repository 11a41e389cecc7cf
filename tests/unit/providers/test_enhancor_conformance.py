"""Enhancor conformance: the live validator's texts and leniency.

Public material: a third-party console that probes the live API ("Pixel Slinger",
``test_skin_matrix.py`` and its README, verified 09/08/2026) expects "Model version" and
"Enhancement mode" in the error texts, sends ``enhancementMode: "standard"`` with v3 (accepted)
and reports that an unknown field is silently ignored. The emulator in its default
(production) mode does the same; the client turns those texts into plain sentences.
"""

from __future__ import annotations

import json

import httpx
import pytest
from tests.emulators.drive import drive, make_context

from retouchdesk.core.errors import ProviderError
from retouchdesk.core.schema import load_catalog
from retouchdesk.providers import http
from retouchdesk.providers.enhancor import EnhancorProvider
from retouchdesk.services.hosting import HostingService, LocalReceiver

KEY = "enh-test-key-0123456789"
FAST = http.RetryPolicy(max_attempts=2, backoff_base=0.02, backoff_max=0.1, jitter=0.0)
OP = load_catalog().operation("enhancor", "realistic_skin")
BASE = {"img_url": "http://127.0.0.1:9/x.png", "webhookUrl": "http://127.0.0.1:9/h"}


def queue(enh, body):
    return httpx.post(
        enh.url + "/api/realistic-skin/v1/queue", json={**BASE, **body}, headers={"x-api-key": KEY}
    )


def test_live_validator_texts_and_leniency(emulator):
    enh = emulator("enhancor", api_key=KEY, time_scale=0.05)  # production mode
    r = queue(enh, {"model_version": "enhancorv2"})
    assert r.status_code == 400 and "Model version" in r.json()["error"]["message"]
    r = queue(enh, {"model_version": "enhancorv3", "enhancementMode": "heavy"})
    assert r.status_code == 400 and "Enhancement mode" in r.json()["error"]["message"]
    r = queue(enh, {"model_version": "enhancorv1", "enhancementMode": "detailed"})
    assert "Enhancement mode" in r.json()["error"]["message"]
    # Accepted by the live API: v3 with standard, unknown fields, v4 model names. Like the
    # public probe, an unreachable img_url shows that validation was passed.
    for body in (
        {"model_version": "enhancorv3", "enhancementMode": "standard"},
        {"model_version": "enhancorv1", "some_future_field": 1},
        {"model_version": "enhancorv4_base", "enhancementMode": "standard"},
    ):
        r = queue(enh, body)
        assert r.json()["error"]["message"] == "Failed to process image", (body, r.text)


@pytest.mark.parametrize(
    ("vendor_text", "sentence"),
    [
        (
            "Model version must be 'enhancorv1' , 'enhancorv3' , 'enhancorv4' or `enhancorv4_base`",
            "Enhancor does not know the model version that was sent",
        ),
        (
            "Enhancement mode must be 'standard' or 'heavy'",
            "Enhancor refused the enhancement mode for this model version "
            "(v1 takes standard or heavy, v3 only standard)",
        ),
    ],
)
async def test_the_live_texts_become_plain_sentences(
    emulator, data_dir, tmp_path, vendor_text, sentence
):
    enh = emulator("enhancor", api_key=KEY, time_scale=0.05)
    body = json.dumps({"error": {"message": vendor_text}}).encode()
    enh.faults.status(400, path="/api/realistic-skin/v1/queue", body=body)
    hosting = HostingService(LocalReceiver())
    p = EnhancorProvider(api_key=KEY, base_url=enh.url, hosting=hosting, retry=FAST)
    try:
        with pytest.raises(ProviderError) as info:
            await drive(p, make_context(OP, data_dir / "astronaut.png", {}, tmp_path / "w"))
    finally:
        await p.aclose()
        await hosting.aclose()
    assert str(info.value) == sentence
