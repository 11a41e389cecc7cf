"""The app's TOML reader reads every shipped file as the standard library does, and its
errors are the ones the app's readers catch (tomli's error class is not tomllib's)."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from retouchdesk.core import recipe, schema, tomlread
from retouchdesk.core.errors import ConfigurationError
from retouchdesk.services.settings import Settings

ROOT = Path(__file__).resolve().parents[3]


def test_the_compiled_parser_is_the_one_used() -> None:
    # The dependency is declared: a missing wheel would silently bring back the slow start.
    assert tomlread.loads.__module__.startswith("tomli")


@pytest.mark.parametrize("path", sorted((ROOT / "resources" / "providers").glob("*.toml")))
def test_every_provider_file_reads_as_with_tomllib(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    assert tomlread.loads(text) == tomllib.loads(text)


def test_a_broken_provider_file_is_one_sentence_naming_it(tmp_path: Path) -> None:
    bad = tmp_path / "broken.toml"
    bad.write_text('id = "x"\nname = \n', encoding="utf-8")
    with pytest.raises(schema.SchemaError, match=r"broken\.toml"):
        schema.load_provider(bad)


def test_a_broken_settings_file_is_a_configuration_error(tmp_path: Path) -> None:
    path = tmp_path / "settings.toml"
    path.write_text("[ui\ntheme = 'dark'\n", encoding="utf-8")
    with pytest.raises(ConfigurationError, match="damaged"):
        Settings(path)


def test_a_broken_recipe_is_refused_with_a_sentence() -> None:
    with pytest.raises(Exception) as info:
        recipe.from_toml("[recipe\n")
    # The app's own error, not the parser's escaping past the reader's except clause.
    assert not isinstance(info.value, (tomllib.TOMLDecodeError, tomlread.TOMLDecodeError))
    assert "recipe" in str(info.value).lower()
