"""AdCreative conformance: .NET reference-preserving JSON (``$id`` / ``$values``).

Public material: the documented token answer starts with ``"$id": "1"``
(https://api-docs.adcreative.ai/docs/getting-started/authentication), which is what
System.Text.Json's ``ReferenceHandler.Preserve`` writes; that handler also wraps every list as
``{"$id", "$values": [...]}``. The emulator answers that way by default; the client reads both
that and plain JSON, and a job's task ids survive the wrapping.
"""

from __future__ import annotations

import httpx
import pytest
from PIL import Image
from tests.emulators.drive import drive, make_context
from tests.unit.providers.test_adcreative import APP, CREDS, OP, emu_options, make_provider

from retouchdesk.providers.adcreative import FieldMap, dotnet_plain


def test_emulator_writes_like_reference_preservation(emulator):
    adc = emulator("adcreative", **emu_options())
    r = httpx.post(
        adc.url + "/api/v1/Authorization/GenerateJwtToken",
        json={"applicationId": APP, "jwtPrivateKey": CREDS["jwt_private_key"]},
        headers={"Content-Type": "application/json; x-api-version=1.0"},
    )
    assert r.text.startswith('{"$id": "1"') or next(iter(r.json())) == "$id"
    assert r.json()["$id"] == "1" and r.json()["accessToken"]


def test_dotnet_plain_reads_values_refs_and_plain_json():
    wire = {
        "$id": "1",
        "imageFaceEnhancerProcessId": "p-1",
        "tasks": {"$id": "2", "$values": [{"$id": "3", "taskId": "t-1"}, {"$ref": "3"}]},
    }
    plain = dotnet_plain(wire)
    assert plain == {
        "imageFaceEnhancerProcessId": "p-1",
        "tasks": [{"taskId": "t-1"}, {"taskId": "t-1"}],
    }
    assert FieldMap.start(plain) == ("p-1", ["t-1", "t-1"])
    assert dotnet_plain({"a": [1, {"b": 2}]}) == {"a": [1, {"b": 2}]}  # plain JSON unchanged
    # Without the unwrapping the task ids are lost (the job would wait for nothing).
    assert FieldMap.start(wire)[1] == []


@pytest.mark.parametrize("dotnet_refs", [True, False])
@pytest.mark.parametrize("shape", ["flat", "wrapped", "pascal"])
async def test_a_job_finishes_with_either_json(emulator, data_dir, tmp_path, dotnet_refs, shape):
    adc = emulator("adcreative", **emu_options(shape=shape, dotnet_refs=dotnet_refs))
    p = make_provider(adc)
    try:
        result = await drive(p, make_context(OP, data_dir / "coffee.png", {}, tmp_path / "w"))
    finally:
        await p.aclose()
    assert result.ctx.remote["task_ids"]
    assert Image.open(result.outputs[0].path).size == (600, 400)
    assert any(r.path.endswith("/Download") for r in adc.requests)
