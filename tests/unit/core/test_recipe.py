"""Recipes: TOML round trip, and the XMP provenance packet in every result format.

The written files are read back by other libraries (Pillow's own XMP reader, tifffile's tag
700) and the packet is parsed as XML, so a malformed packet or a lost recipe fails here.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from retouchdesk.core import imageio
from retouchdesk.core import recipe as rc
from retouchdesk.core.errors import InputError

CHAIN = rc.Recipe(
    [
        rc.Step("local", "object_removal", {"method": "telea", "radius": 5}, "file", "m1.png"),
        rc.Step("local", "color_correction", {"strength": 80, "levels": True}),
        rc.Step("youcam", "upscale", {"scale": 2, "note": 'a <b> & "c"'}),
    ],
    name="clean & big",
    source_sha256="ab" * 32,
    source_name="chelsea.png",
)


def test_toml_round_trip() -> None:
    text = rc.to_toml(CHAIN)
    assert "object_removal" in text and 'mask_role = "file"' in text
    assert rc.from_toml(text) == CHAIN


@pytest.mark.parametrize(
    "text",
    [
        "steps = []",
        "[[steps]]\nprovider='local'",
        "[[steps]]\nprovider='l'\noperation='o'\nmask_role='x'",
        "x =",
    ],
)
def test_bad_recipe_is_one_sentence(text: str) -> None:
    with pytest.raises(InputError) as err:
        rc.from_toml(text)
    assert "\n" not in str(err.value)


def test_merge_keeps_foreign_xmp_and_replaces_ours() -> None:
    foreign = (
        b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf='
        b'"http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description rdf:about="" '
        b'xmlns:dc="http://purl.org/dc/elements/1.1/" dc:format="image/jpeg"/></rdf:RDF>'
        b"</x:xmpmeta>"
    )
    first = rc.merge_xmp(foreign, rc.Recipe(CHAIN.steps[:1], source_sha256="1" * 64))
    second = rc.merge_xmp(first, CHAIN)
    assert b"dc:format" in second
    assert second.count(b"xmlns:retouchdesk") == 1
    assert rc.from_xmp(second) == CHAIN
    assert rc.from_xmp(foreign) is None


@pytest.mark.parametrize("ext", ["jpg", "png", "tif", "webp"])
def test_every_format_carries_the_recipe(tmp_path: Path, data_dir: Path, ext: str) -> None:
    src = data_dir / "chelsea.png"
    dest = tmp_path / f"out.{ext}"
    with Image.open(src) as im:
        imageio.save_result(im.convert("RGB"), source=src, destination=dest, recipe=CHAIN)
    assert rc.read_from_file(dest) == CHAIN
    if ext == "tif":
        import tifffile

        with tifffile.TiffFile(dest) as tf:
            packet = bytes(tf.pages[0].tags[700].value)
    else:
        with Image.open(dest) as im:
            packet = im.info.get("xmp") or im.info.get("XML:com.adobe.xmp") or b""
            if isinstance(packet, str):
                packet = packet.encode()
    assert rc.from_xmp(packet) == CHAIN


def test_sixteen_bit_tiff_carries_the_recipe(tmp_path: Path, data_dir: Path) -> None:
    src = data_dir / "chelsea.png"
    arr = (np.arange(64 * 48 * 3, dtype=np.uint32) % 65536).astype(np.uint16).reshape(48, 64, 3)
    dest = imageio.save_result(arr, source=src, destination=tmp_path / "o.tif", recipe=CHAIN)
    assert rc.read_from_file(dest) == CHAIN


def test_recipe_written_even_when_source_xmp_is_not_kept(tmp_path: Path, data_dir: Path) -> None:
    src = data_dir / "chelsea.png"
    policy = imageio.OutputPolicy(keep_xmp=False)
    with Image.open(src) as im:
        dest = imageio.save_result(
            im.convert("RGB"),
            source=src,
            destination=tmp_path / "o.jpg",
            policy=policy,
            recipe=CHAIN,
        )
    assert rc.read_from_file(dest) == CHAIN


def test_provenance_shows_file_parameters_by_name_only() -> None:
    from retouchdesk.services import recipes
    from retouchdesk.services.runtime import build_runtime
    from retouchdesk.services.settings import Settings

    rt = build_runtime(settings=Settings())
    rt.store.close()  # only the catalog is needed
    catalog = rt.catalog
    op = next(o for o in catalog.operations() if any(p.kind.value == "image" for p in o.params))
    ref = next(p.name for p in op.params if p.kind.value == "image")
    step = rc.Step(op.provider, op.id, {ref: "/home/ann/private/face.jpg"}, "photo",
                   "/home/ann/.local/share/masks/jobs/ab12.png")  # fmt: skip
    shown = recipes.for_provenance(catalog, step)
    assert shown.params[ref] == "face.jpg" and shown.mask == "ab12"
    assert "/home/ann" not in rc.xmp_description(rc.Recipe([shown])).decode()


def test_names_with_quotes_and_white_space_round_trip_through_xmp() -> None:
    """Our own XML escaping (no xml.sax at run time) keeps every character a name can hold;
    the packet is read back by ElementTree, a parser the writer does not share."""
    odd = rc.Recipe(
        CHAIN.steps,
        name='say "hi"\n& <go>\tnow',
        source_sha256="cd" * 32,
        source_name='it\'s "q" & co.png',
    )
    packet = rc.merge_xmp(None, odd)
    assert rc.from_xmp(packet) == odd
