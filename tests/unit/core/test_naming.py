"""Result names: the template, the fields, and never an existing file."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from retouchdesk.core.errors import ConfigurationError
from retouchdesk.core.naming import DEFAULT_TEMPLATE, check_template, result_path


def rp(tmp_path: Path, template: str = DEFAULT_TEMPLATE, **kw) -> Path:
    kw.setdefault("operation", "upscale")
    kw.setdefault("provider", "local")
    kw.setdefault("ext", "jpg")
    return result_path(tmp_path / "src" / "IMG_0001.JPG", tmp_path / "out", template, **kw)


def test_default_template(tmp_path: Path):
    assert rp(tmp_path) == tmp_path / "out" / "IMG_0001_upscale_local.jpg"


def test_existing_files_get_a_number_and_are_never_reused(tmp_path: Path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "IMG_0001_upscale_local.jpg").write_bytes(b"x")
    (out / "IMG_0001_upscale_local_2.jpg").write_bytes(b"x")
    assert rp(tmp_path).name == "IMG_0001_upscale_local_3.jpg"
    taken = {out / "IMG_0001_upscale_local_3.jpg"}
    assert rp(tmp_path, taken=taken).name == "IMG_0001_upscale_local_4.jpg"


def test_every_field(tmp_path: Path):
    name = rp(
        tmp_path,
        "{date}-{stem}.{operation}.{provider}.{variant}.{counter}.{ext}",
        variant="dark",
        date=dt.date(2026, 1, 2),
        ext=".png",
    ).name
    assert name == "2026-01-02-IMG_0001.upscale.local.dark.1.png"


def test_counter_counts_up_instead_of_a_suffix(tmp_path: Path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "IMG_0001-1.jpg").write_bytes(b"x")
    assert rp(tmp_path, "{stem}-{counter}.{ext}").name == "IMG_0001-2.jpg"


def test_variant_is_appended_when_the_template_lacks_it(tmp_path: Path):
    assert rp(tmp_path, variant="light").name == "IMG_0001_upscale_local_light.jpg"


def test_empty_variant_leaves_no_stray_separators(tmp_path: Path):
    assert rp(tmp_path, "{stem}_{variant}_{operation}.{ext}").name == "IMG_0001_upscale.jpg"


def test_unsafe_characters_are_replaced(tmp_path: Path):
    p = rp(tmp_path, operation="a/b", provider="..", variant='x:"y"')
    assert p.parent == tmp_path / "out"
    assert "/" not in p.name[len("IMG_0001") :] and ":" not in p.name


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("{stem}_{nope}.{ext}", "unknown field {nope}"),
        ("sub/{stem}.{ext}", "folder separators"),
        ("{operation}.{ext}", "must contain {stem}"),
        ("{stem", "malformed"),
    ],
)
def test_bad_templates_are_refused_plainly(template: str, message: str):
    with pytest.raises(ConfigurationError, match=message.replace("{", r"\{").replace("}", r"\}")):
        check_template(template)
