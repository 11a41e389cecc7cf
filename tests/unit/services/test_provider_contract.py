"""Adding a provider is one TOML file and one module: no table in services, model or ui.

The tiny provider (``tests/doubles/tiny/``) is not registered anywhere. Its schema names its
factory and says it has credits; the catalog, the registry, the engine and the accounts model
take everything from there, and its one optional feature (``balance``) overrides the base
class's neutral default while the others (``test_connection``, ``list_styles``) stay neutral.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from tests.doubles.tiny.provider import BALANCE, TinyProvider

from retouchdesk.core.jobs import JobState
from retouchdesk.model.accounts import NOT_AVAILABLE, AccountsModel
from retouchdesk.services import registry
from retouchdesk.services.engine import EngineConfig, JobRequest
from retouchdesk.services.runtime import build_runtime, load_full_catalog
from retouchdesk.services.settings import Settings

TINY = Path(__file__).resolve().parents[2] / "doubles" / "tiny"
pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def runtime(tmp_path: Path, app_home: Path):
    rt = build_runtime(
        settings=Settings(tmp_path / "settings.toml", environ={}),
        catalog=load_full_catalog([TINY]),
        engine_config=EngineConfig(backoff_base=0.01, backoff_max=0.05),
        db_path=tmp_path / "jobs.db",
    )
    yield rt
    rt.store.close()


async def test_a_provider_from_its_toml_and_module_runs_a_job_end_to_end(
    runtime, tmp_path, data_dir
):
    assert "tiny" in registry.known_providers(runtime.catalog)
    schema = runtime.catalog.provider("tiny")
    assert schema.has_credits and not schema.needs_hosting and not schema.lists_styles
    src = tmp_path / "in" / "chelsea.png"
    src.parent.mkdir()
    src.write_bytes((data_dir / "chelsea.png").read_bytes())
    runtime.engine.start()
    try:
        rec = runtime.engine.submit(
            JobRequest("tiny", "invert", src, {"half": True}, output_dir=tmp_path / "out")
        )
        deadline = asyncio.get_running_loop().time() + 30
        while not runtime.engine.get(rec.id).state.terminal:
            assert asyncio.get_running_loop().time() < deadline, runtime.engine.get(rec.id)
            await asyncio.sleep(0.02)
        done = runtime.engine.get(rec.id)
        assert done.state is JobState.DONE, done.error
        [result] = done.results
    finally:
        await runtime.aclose()
    with Image.open(src) as a, Image.open(result) as b:  # read back by Pillow, not by us
        original = np.asarray(a.convert("RGB"), dtype=np.int16)
        inverted = np.asarray(b.convert("RGB"), dtype=np.int16)
    assert inverted.shape[:2] == (original.shape[0] // 2, original.shape[1] // 2)
    halved = np.asarray(
        Image.fromarray(original.astype(np.uint8)).resize(inverted.shape[1::-1]), dtype=np.int16
    )
    assert np.abs((255 - halved) - inverted).mean() < 3


async def test_optional_features_come_from_the_base_class_and_the_schema(runtime):
    accounts = AccountsModel(runtime.settings, None, runtime.catalog, environ={})
    assert accounts.has_credits("tiny") and not accounts.has_hosting("tiny")
    assert await accounts.refresh_credits("tiny") == f"{BALANCE:,.0f} credits"
    ok, text = await accounts.test_connection("tiny")  # no test call: the balance stands in
    assert ok and text == f"Connected: {BALANCE:,.0f} credits."
    tiny = TinyProvider()
    assert await tiny.test_connection() is None  # neutral defaults of what it does not offer
    assert await tiny.list_styles("any") == ([], None)
    assert await tiny.history(5) == []
    local_accounts = AccountsModel(runtime.settings, None, runtime.catalog, environ={})
    assert not local_accounts.has_credits("codeformer")
    ok, text = await local_accounts.test_connection("local")
    assert (ok, text) == (False, NOT_AVAILABLE)


def test_its_credentials_are_settings_read_from_the_environment_and_masked(runtime, tmp_path):
    from retouchdesk.services.secrets import secret_keys
    from retouchdesk.services.settings import spec

    token = spec("tiny", "token")
    assert token.secret and token.env_name == "RETOUCHDESK_TINY_TOKEN"
    assert secret_keys("tiny") == ["token"]
    settings = Settings(tmp_path / "s.toml", environ={"RETOUCHDESK_TINY_TOKEN": "tok-1234567"})
    assert settings.get("tiny", "token") == "tok-1234567"
    shown = dict((name, value) for name, value, _source in settings.describe())
    assert shown["tiny.token"] == "******** (11 characters)"
    assert "tok-1234567" not in str(shown)
    with pytest.raises(ValueError, match="is a secret"):
        settings.set("tiny", "token", "tok-1234567")  # never written to the settings file
