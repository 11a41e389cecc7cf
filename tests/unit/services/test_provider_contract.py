"""Adding a provider is one TOML file and one module: no table in services, model or ui.

The tiny provider (``tests/doubles/tiny/``) is not registered anywhere. Its schema names its
constructor, declares a setting of its own (``shrink``) and says it has credits and how many
jobs it takes at once; the catalog, the settings, the registry, the engine and the accounts
model take everything from there, and its one optional feature (``balance``) overrides the
base class's neutral default while the others (``test_connection``, ``list_styles``) stay
neutral.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from tests.doubles.tiny.provider import BALANCE, TinyProvider

from retouchdesk.core.errors import ConfigurationError
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


def _tiny_runtime(tmp_path: Path, environ: dict[str, str]):
    settings = Settings(tmp_path / "settings.toml", environ=environ)
    config = EngineConfig.from_settings(settings)
    config.backoff_base, config.backoff_max = 0.01, 0.05
    return build_runtime(
        settings=settings,
        catalog=load_full_catalog([TINY]),
        engine_config=config,
        db_path=tmp_path / "jobs.db",
    )


async def _run_all(rt, sources: list[Path], out: Path) -> list[Path]:
    rt.engine.start()
    recs = [rt.engine.submit(JobRequest("tiny", "invert", s, {"half": True}, output_dir=out))
            for s in sources]  # fmt: skip
    deadline = asyncio.get_running_loop().time() + 30
    while not all(rt.engine.get(r.id).state.terminal for r in recs):
        assert asyncio.get_running_loop().time() < deadline, [rt.engine.get(r.id) for r in recs]
        await asyncio.sleep(0.02)
    results: list[Path] = []
    for r in recs:
        done = rt.engine.get(r.id)
        assert done.state is JobState.DONE, done.error
        results += done.results
    return results


def _photo(tmp_path: Path, data_dir: Path, name: str = "chelsea.png") -> Path:
    src = tmp_path / "in" / name
    src.parent.mkdir(exist_ok=True)
    src.write_bytes((data_dir / "chelsea.png").read_bytes())
    return src


async def test_a_provider_from_its_toml_and_module_runs_a_job_end_to_end(
    runtime, tmp_path, data_dir
):
    assert "tiny" in registry.known_providers(runtime.catalog)
    schema = runtime.catalog.provider("tiny")
    assert schema.has_credits and not schema.needs_hosting and not schema.lists_styles
    src = _photo(tmp_path, data_dir)
    try:
        [result] = await _run_all(runtime, [src], tmp_path / "out")
    finally:
        await runtime.aclose()
    with Image.open(src) as a, Image.open(result) as b:  # read back by Pillow, not by us
        original = np.asarray(a.convert("RGB"), dtype=np.int16)
        inverted = np.asarray(b.convert("RGB"), dtype=np.int16)
    # its own setting's default (2, from tiny.toml) reached the constructor
    assert inverted.shape[:2] == (original.shape[0] // 2, original.shape[1] // 2)
    halved = np.asarray(
        Image.fromarray(original.astype(np.uint8)).resize(inverted.shape[1::-1]), dtype=np.int16
    )
    assert np.abs((255 - halved) - inverted).mean() < 3


def test_its_own_setting_is_a_typed_setting_from_its_toml(tmp_path):
    from retouchdesk.services.settings import all_specs, spec

    load_full_catalog([TINY])
    shrink = spec("tiny", "shrink")
    assert (shrink.type, shrink.default, shrink.secret) == (int, 2, False)
    assert shrink.env_name == "RETOUCHDESK_TINY_SHRINK" and "smaller" in shrink.help
    assert "tiny.shrink" in {s.dotted for s in all_specs()}
    settings = Settings(tmp_path / "s.toml", environ={})
    settings.set("tiny", "shrink", "5")  # typed on the way in: a whole number in the file
    assert Settings(tmp_path / "s.toml", environ={}).get("tiny", "shrink") == 5
    assert "shrink = 5" in (tmp_path / "s.toml").read_text()
    with pytest.raises(ConfigurationError, match=r"tiny\.shrink must be a int"):
        Settings(tmp_path / "s.toml", environ={"RETOUCHDESK_TINY_SHRINK": "lots"}).get(
            "tiny", "shrink"
        )


@pytest.mark.parametrize(("given", "factor"), [("4", 4), ("99", 8), ("0", 1)])
async def test_its_setting_from_the_environment_reaches_the_constructor_clamped(
    tmp_path, data_dir, given, factor
):
    rt = _tiny_runtime(tmp_path, {"RETOUCHDESK_TINY_SHRINK": given})
    src = _photo(tmp_path, data_dir)
    try:
        assert rt.provider("tiny").shrink == factor  # tiny.toml: min 1, max 8
        [result] = await _run_all(rt, [src], tmp_path / "out")
    finally:
        await rt.aclose()
    with Image.open(src) as a, Image.open(result) as b:
        assert b.size == (a.width // factor, a.height // factor)


async def test_the_engine_takes_as_many_jobs_at_once_as_its_toml_says(tmp_path, data_dir):
    async def most_at_once(environ: dict[str, str]) -> int:
        home = tmp_path / str(len(environ))
        home.mkdir()
        rt = _tiny_runtime(home, environ)
        provider = rt.provider("tiny")
        provider.work_seconds = 0.15
        sources = [_photo(home, data_dir, f"p{i}.png") for i in range(7)]
        try:
            await _run_all(rt, sources, home / "out")
        finally:
            await rt.aclose()
        return provider.most_at_once

    assert await most_at_once({}) == 3  # concurrency = 3 in tiny.toml, not the base class's 2
    assert await most_at_once({"RETOUCHDESK_ENGINE_CONCURRENCY": "tiny=1"}) == 1  # user wins


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
