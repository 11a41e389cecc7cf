"""A PNG proved whole without its decoder says what the decoder says, and is read once.

``core.pngcheck`` proves a plain PNG whole from its chunks, CRCs, zlib stream and row filters:
a photo checked before upload (``imageio.check_decodes``) and a vendor's result rewrapped
(``core.rewrap``) no longer go through Pillow's decode, a third of the time of which is the
stream's inflate. Whatever it does not pass is decoded as before, so the verdict and the
sentence stay the decoder's; the damaged files below have whole chunks (their CRCs made
right again) and fail only in the stream or the rows.
"""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageFile

from retouchdesk.core import imageio, pngcheck, pngwrite, rewrap
from retouchdesk.core.errors import InputError
from retouchdesk.core.schema import load_catalog
from retouchdesk.services import inputs

DATA = Path(__file__).resolve().parents[2] / "data"
PNGS = sorted(p for p in DATA.rglob("*.png") if p.is_file())


def decoder_verdict(path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """What check_decodes said before: Pillow's decode, its sentence or 'ok'."""
    with monkeypatch.context() as m:
        m.setattr(pngcheck, "whole", lambda data: False)
        return verdict(path)


def verdict(path: Path, probed: imageio.ImageInfo | None = None) -> str:
    try:
        imageio.check_decodes(path, probed)
    except InputError as exc:
        return str(exc)
    return "ok"


@pytest.mark.parametrize("path", PNGS, ids=lambda p: str(p.relative_to(DATA)))
def test_every_png_gets_the_decoders_verdict(path: Path, monkeypatch) -> None:
    want = decoder_verdict(path, monkeypatch)
    assert verdict(path) == want
    try:
        info = imageio.probe(path)
    except InputError:
        return
    assert verdict(path, info) == want


def _png(rows: bytes, width: int, height: int, *, stream: bytes | None = None) -> bytes:
    """An 8-bit RGB PNG of filtered ``rows``; ``stream`` replaces their zlib stream."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    data = zlib.compress(rows, 6) if stream is None else stream
    parts = [pngwrite.chunk(b"IDAT", data[i : i + 8192]) for i in range(0, len(data), 8192)]
    return (
        pngcheck.SIGNATURE
        + pngwrite.chunk(b"IHDR", ihdr)
        + b"".join(parts)
        + (pngwrite.chunk(b"IEND", b""))
    )


def _rows(width: int = 96, height: int = 64) -> bytes:
    rng = np.random.default_rng(3)
    pixels = rng.integers(0, 255, (height, width * 3), dtype=np.uint8)
    filters = np.full((height, 1), 0, dtype=np.uint8)
    return np.hstack([filters, pixels]).tobytes()


def damaged() -> dict[str, bytes]:
    """Whole chunks (CRCs right) around image data a decoder refuses."""
    rows = _rows()
    stream = zlib.compress(rows, 6)
    bad_filter = bytearray(rows)
    bad_filter[(96 * 3 + 1) * 10] = 7  # row 10 names filter 7
    return {
        "stream cut short": _png(rows, 96, 64, stream=stream[: len(stream) * 2 // 3]),
        "stream garbled": _png(
            rows, 96, 64, stream=stream[:40] + bytes(b ^ 0x5A for b in stream[40:80]) + stream[80:]
        ),
        "rows missing": _png(rows[: len(rows) // 2], 96, 64),
        "rows extra": _png(rows + rows[: 96 * 3 + 1], 96, 64),
        "unknown filter": _png(bytes(bad_filter), 96, 64),
    }


@pytest.fixture(params=["whole buffer", "pieces"])
def limit(request, monkeypatch: pytest.MonkeyPatch) -> str:
    """Both ways of inflating: one libdeflate buffer, and zlib in pieces (very large PNGs)."""
    if request.param == "pieces":
        monkeypatch.setattr(pngcheck, "WHOLE_BUFFER_LIMIT", 0)
        monkeypatch.setattr(pngcheck, "_PIECE", 1000)
    return request.param


@pytest.mark.parametrize("case", list(damaged()), ids=str)
def test_a_damaged_png_with_whole_chunks_is_refused(
    case: str, limit: str, tmp_path: Path, monkeypatch
) -> None:
    path = tmp_path / "photo.png"
    path.write_bytes(damaged()[case])
    assert not pngcheck.whole(path.read_bytes())
    want = decoder_verdict(path, monkeypatch)
    # Pillow fills rows a whole stream does not hold, ignores rows beyond the image, and
    # passes such files; the check then agrees (they are decoded), and a result like them is
    # decoded, not rewrapped.
    assert ("damaged" in want) == (case not in ("rows missing", "rows extra"))
    assert verdict(path) == want
    assert verdict(path, imageio.probe(path)) == want
    with pytest.raises(rewrap.NotRewrappable):
        rewrap.rewrap_png(rewrap.png_chunks(path.read_bytes()))


def test_a_whole_png_passes_both_ways(limit: str, tmp_path: Path) -> None:
    rows = _rows()
    data = _png(rows, 96, 64)
    assert pngcheck.whole(data)
    out = rewrap.rewrap_png(rewrap.png_chunks(data), icc=imageio.srgb_profile())
    with Image.open(io.BytesIO(out)) as im:
        got = np.asarray(im)
    assert np.array_equal(got.reshape(64, -1), np.frombuffer(rows, np.uint8).reshape(64, -1)[:, 1:])


def test_a_result_whose_rows_name_an_unknown_filter_is_decoded_not_rewrapped(
    tmp_path: Path,
) -> None:
    """The stream inflates whole, but a decoder refuses the file: it must not be written as
    if it were whole (it goes through the decoder, which fails with its sentence)."""
    result = tmp_path / "vendor.png"
    result.write_bytes(damaged()["unknown filter"])
    dest = tmp_path / "out" / "result.png"
    with pytest.raises(InputError, match="damaged"):
        imageio.save_result(result, source=DATA / "coffee.png", destination=dest, replace=False)
    assert not dest.exists()


def test_a_plain_png_photo_is_checked_without_pillows_decoder(monkeypatch) -> None:
    def no_decode(self, *a, **k):
        raise AssertionError("decoded")

    monkeypatch.setattr(ImageFile.ImageFile, "load", no_decode)
    for name in ("astronaut.png", "chelsea.png", "coffee.png"):
        imageio.check_decodes(DATA / name)
        imageio.check_decodes(DATA / name, imageio.probe(DATA / name))


def test_a_photo_sent_as_it_is_is_opened_once(tmp_path: Path, monkeypatch) -> None:
    """The engine's check before an Enhancor upload: one probe, no second open to decode."""
    opened: list[str] = []
    real_open = Image.open

    def counting_open(fp, *a, **k):
        opened.append(str(fp))
        return real_open(fp, *a, **k)

    monkeypatch.setattr(Image, "open", counting_open)
    op = load_catalog().operation("enhancor", "portrait_upscale")
    prepared = inputs.prepare_image(DATA / "coffee.png", op, tmp_path, fit=False, local=False)
    assert prepared.send == DATA / "coffee.png"
    assert len(opened) == 1
