"""Pillow's own test images (odd on purpose) through an identity job: a result or one sentence.

Every file copied into ``tests/data/pillow-images`` (every TIFF, JPEG, PNG, WebP and BMP of
Pillow's corpus but its font/drawing renders, see its LICENSE.md) runs through the real job
engine and the offline engine's worker process with ``color_correction`` at strength 0, which
leaves the photo unchanged. Then, judged with Pillow and tifffile (not the app's reader):

* no traceback and no "unexpected error": a job is done, or failed with one plain sentence
  that names the file;
* a result opens, is upright (the source's size after its EXIF orientation) and says
  orientation 1;
* for lossless sources written losslessly, pixels within 1 level of the upright source;
* the ICC profile is the source's, byte for byte (sRGB for CMYK sources, converted through
  their profile); EXIF tags that can be written are kept, minus the orientation; XMP is kept;
* the originals are byte-identical afterwards.

A handful of the same files go through the real CLI in one subprocess, whose terminal output
must be free of warnings and tracebacks. The summary (results, sentences, metadata kept in %)
is printed, to be compared between runs.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import warnings
from collections import Counter
from pathlib import Path

import cv2
import numpy as np
import pytest
import tifffile
from PIL import Image, ImageOps, TiffImagePlugin

from retouchdesk.core.exifdata import EXIF_IFD, GPS_IFD, INTEROP_IFD, ORIENTATION, STRUCTURAL
from retouchdesk.core.jobs import JobState
from retouchdesk.services.engine import JobRequest
from retouchdesk.services.runtime import build_runtime
from retouchdesk.services.settings import Settings

CORPUS = Path(__file__).resolve().parents[1] / "data" / "pillow-images"
EXTENSIONS = {".tif", ".tiff", ".jpg", ".jpeg", ".png", ".webp", ".bmp"}
FILES = sorted(p for p in CORPUS.rglob("*") if p.suffix.lower() in EXTENSIONS)
LOSSLESS = {"PNG", "TIFF", "BMP"}
SIMPLE_MODES = {"1", "L", "LA", "P", "PA", "RGB", "RGBA", "I;16", "I;16B", "I;16L", "I"}
REPO = Path(__file__).resolve().parents[2]

# The engine runs in this process: Pillow's UserWarnings raised in its threads would reach
# pytest's report (the app itself filters them; the CLI test below checks the terminal).
pytestmark = [
    pytest.mark.slow,
    pytest.mark.timeout(900),
    pytest.mark.filterwarnings("ignore::UserWarning"),
]


def _sha(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


def _rel(p: Path) -> str:
    return str(p.relative_to(CORPUS))


class Source:
    """What an independent reader (Pillow, else tifffile) sees in a source file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.size: tuple[int, int] | None = None
        self.pixels: np.ndarray | None = None  # upright, Pillow's RGB(A) conversion
        self.format = ""
        self.icc: bytes | None = None
        self.xmp: bytes | None = None
        self.exif: set[tuple[int, int]] = set()
        self.cmyk = False
        self.deep: np.ndarray | None = None  # 16-bit / integer samples, upright (HxW[xC])
        self.associated = False  # premultiplied alpha (TIFF ExtraSamples 1)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                self._pillow()
            except Exception:
                self._tifffile()

    def _pillow(self) -> None:
        with Image.open(self.path) as im:
            self.format = im.format or ""
            self.icc = im.info.get("icc_profile") or None
            xmp = im.info.get("xmp") or im.info.get("XML:com.adobe.xmp")
            if not xmp and hasattr(im, "tag_v2"):
                xmp = im.tag_v2.get(700)
            self.xmp = (xmp.encode() if isinstance(xmp, str) else bytes(xmp)) if xmp else None
            self.exif = _writable_tags(im)
            self.cmyk = im.mode == "CMYK"
            mode = im.mode
            orientation = int(im.getexif().get(ORIENTATION, 1))
            bits = im.tag_v2.get(258, (8,)) if hasattr(im, "tag_v2") else (8,)
            im.load()
            up = ImageOps.exif_transpose(im)
            self.size = up.size
            if mode.startswith("I"):
                raw = np.asarray(up, dtype=np.int64)
                if raw.min() >= 0 and raw.max() <= 65535:
                    self.deep = raw
                return
            if self.format == "TIFF" and next(iter(bits)) == 16 and mode in ("RGB", "RGBA"):
                self._deep_tiff(orientation)
                return
            if self.format == "PNG" and _png_depth(self.path) == 16 and mode in ("RGB", "RGBA"):
                deep = cv2.imread(str(self.path), cv2.IMREAD_UNCHANGED)
                if deep is not None and deep.dtype == np.uint16 and deep.ndim == 3:
                    order = cv2.COLOR_BGRA2RGBA if deep.shape[2] == 4 else cv2.COLOR_BGR2RGB
                    self.deep = _orient(cv2.cvtColor(deep, order), orientation)
                return
            if mode in SIMPLE_MODES:
                alpha = mode in ("LA", "PA", "RGBA") or "transparency" in im.info
                self.pixels = np.asarray(up.convert("RGBA" if alpha else "RGB"))

    def _deep_tiff(self, orientation: int) -> None:
        with tifffile.TiffFile(self.path) as tif:
            page = tif.pages.first
            raw = page.asarray()
            if page.axes.startswith("S"):
                raw = np.moveaxis(raw, 0, -1)
            self.associated = bool(page.extrasamples) and page.extrasamples[0] == 1
        if raw.dtype == np.uint16:
            self.deep = _orient(raw, orientation)

    def _tifffile(self) -> None:
        try:
            with tifffile.TiffFile(self.path) as tif:
                page = tif.pages.first
                self.format = "TIFF"
                h, w = page.shape[:2] if page.axes.startswith("Y") else page.shape[1:3]
                self.size = (w, h)
                tag = page.tags.get(34675)
                self.icc = bytes(tag.value) if tag is not None else None
        except Exception:
            self.size = None


def _png_depth(path: Path) -> int:
    head = path.read_bytes()[:25]
    return head[24] if head[12:16] == b"IHDR" else 8


def _orient(a: np.ndarray, orientation: int) -> np.ndarray:
    """Upright samples for an EXIF orientation (numpy only, as the specification draws it)."""
    if orientation in (5, 6, 7, 8):
        a = np.swapaxes(a, 0, 1)
    flip_h = orientation in (2, 3, 6, 7)
    flip_v = orientation in (3, 4, 7, 8)
    if flip_h:
        a = a[:, ::-1]
    if flip_v:
        a = a[::-1]
    return np.ascontiguousarray(a)


def _deep_result(path: Path) -> np.ndarray | None:
    """A result's samples as stored, at full depth (tifffile / OpenCV, not the app)."""
    if path.suffix.lower() in (".tif", ".tiff"):
        with tifffile.TiffFile(path) as tif:
            page = tif.pages.first
            raw = page.asarray()
            return np.moveaxis(raw, 0, -1) if page.axes.startswith("S") else raw
    raw = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if raw is None:
        return None
    if raw.ndim == 3 and raw.shape[2] in (3, 4):
        raw = cv2.cvtColor(raw, cv2.COLOR_BGRA2RGBA if raw.shape[2] == 4 else cv2.COLOR_BGR2RGB)
    return raw


def _compare_deep(name: str, src: Source, result: Path) -> list[str]:
    """16-bit and integer-grey sources: samples within one 16-bit level of the source's."""
    got = _deep_result(result)
    want = src.deep
    assert want is not None
    if got is None:
        return [f"{name}: result unreadable at full depth"]
    if want.ndim == 2 and got.ndim == 3:
        got = got[:, :, 0]  # grey kept with an alpha channel (colour key)
    if got.shape != want.shape:
        return [f"{name}: result samples {got.shape}, source {want.shape}"]
    g, w = got.astype(np.float64), want.astype(np.float64)
    if src.associated and g.ndim == 3 and g.shape[2] in (2, 4):
        g[..., :-1] = np.rint(g[..., :-1] * g[..., -1:] / 65535.0)  # compare premultiplied
    diff = np.abs(g - w).max()
    return [] if diff <= 1 else [f"{name}: samples differ by up to {diff:.0f} (16-bit levels)"]


def _writable_tags(im: Image.Image) -> set[tuple[int, int]]:
    """The source's descriptive EXIF tags that Pillow can write back on their own."""
    out: set[tuple[int, int]] = set()
    try:
        exif = im.getexif()
        groups: list[tuple[int, dict]] = [(0, dict(exif.items()))]
        for pointer in (EXIF_IFD, GPS_IFD):
            if pointer in exif:
                groups.append((pointer, dict(exif.get_ifd(pointer))))
        if EXIF_IFD in exif and INTEROP_IFD in exif.get_ifd(EXIF_IFD):
            groups.append((INTEROP_IFD, dict(exif.get_ifd(INTEROP_IFD))))
    except Exception:
        return out
    for group, tags in groups:
        for tag, value in tags.items():
            if group == 0 and (tag in STRUCTURAL or tag == ORIENTATION):
                continue
            if group == EXIF_IFD and tag == INTEROP_IFD:
                continue
            try:
                ifd = TiffImagePlugin.ImageFileDirectory_v2(group=group or None)
                ifd[tag] = value
                ifd.tobytes(0)
            except Exception:
                continue  # malformed in the source: skipping it is the point
            out.add((group, tag))
    return out


def _result_tags(path: Path) -> set[tuple[int, int]]:
    with Image.open(path) as im:
        return {(g, t) for g, t in _writable_tags(im)}


def _result_icc_xmp(path: Path) -> tuple[bytes | None, bytes | None, int]:
    """ICC, XMP and EXIF orientation of a result (Pillow, else tifffile for 16-bit grey+alpha)."""
    try:
        with Image.open(path) as im:
            im.load()
            xmp = im.info.get("xmp") or im.info.get("XML:com.adobe.xmp")
            if not xmp and hasattr(im, "tag_v2"):
                xmp = im.tag_v2.get(700)
            orientation = int(im.getexif().get(ORIENTATION, 1))
            return im.info.get("icc_profile") or None, (bool(xmp) and xmp) or None, orientation
    except Exception:
        with tifffile.TiffFile(path) as tif:
            tags = {t.code: t.value for t in tif.pages.first.tags}
        return tags.get(34675), tags.get(700), int(tags.get(274, 1))


def _result_pixels(path: Path, alpha: bool) -> tuple[tuple[int, int], np.ndarray | None]:
    try:
        with Image.open(path) as im:
            im.load()
            return im.size, np.asarray(im.convert("RGBA" if alpha else "RGB"))
    except Exception:
        with tifffile.TiffFile(path) as tif:
            page = tif.pages.first
            return (page.shape[1], page.shape[0]), None


async def _run_engine(tmp_path: Path) -> list:
    rt = build_runtime(settings=Settings(), db_path=tmp_path / "jobs.sqlite3")
    rt.engine.start()
    out = tmp_path / "out"
    requests = [
        JobRequest(
            provider="local",
            operation="color_correction",
            input_path=p,
            params={"strength": 0},
            output_dir=out / p.parent.relative_to(CORPUS),
        )
        for p in FILES
    ]
    rt.engine.submit_batch(requests)
    records = await rt.engine.wait(timeout=800)
    await rt.aclose()
    return records


async def test_every_pillow_image_gives_an_exact_result_or_one_sentence(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    assert len(FILES) > 300  # the corpus is really there
    before = {p: _sha(p) for p in FILES}
    records = await _run_engine(tmp_path)
    assert len(records) == len(FILES)
    problems: list[str] = []
    kinds: Counter[str] = Counter()
    kept = Counter()
    for rec in records:
        src = rec.input_path
        name = _rel(src)
        if rec.state is JobState.FAILED:
            error = rec.error or ""
            if (
                "Traceback" in error
                or "unexpected error" in error
                or "\n" in error
                or not error.startswith(src.name)
                or len(error) > 300
            ):
                problems.append(f"{name}: not one plain sentence: {error!r}")
            kinds[_sentence_kind(error)] += 1
            continue
        if rec.state is not JobState.DONE:
            problems.append(f"{name}: ended {rec.state.value}")
            continue
        kinds["result"] += 1
        if src.suffix.lower() in (".tif", ".tiff"):
            kinds["tiff_result"] += 1
        problems += _check_result(name, Source(src), Path(rec.results[0]), kept)
    by_name = {_rel(r.input_path): r for r in records}
    for name in MUST_GIVE_RESULT:
        rec = by_name[name]
        if rec.state is not JobState.DONE:
            problems.append(f"{name}: a valid file got no result: {rec.error}")
    for name, rec in by_name.items():
        if name.startswith("bmp/g/") and rec.state is not JobState.DONE:
            problems.append(f"{name}: a valid BMP got no result: {rec.error}")
        if name.startswith("bmp/q/") and "damaged" in (rec.error or ""):
            problems.append(f"{name}: a valid (if unusual) BMP called damaged")
    multipage = by_name["multipage.tiff"]
    notes = multipage.result_meta[str(multipage.results[0])].get("warnings", [])
    if not any("first one was used" in n for n in notes):
        problems.append(f"multipage.tiff: no note about its pages: {notes}")
    after = {p: _sha(p) for p in FILES}
    assert after == before, "an original was modified"
    summary = _summary(kinds, kept, len(FILES))
    with capsys.disabled():
        print("\n" + summary)
    assert not problems, "\n".join(problems[:40]) + f"\n({len(problems)} problems)\n{summary}"


#: Valid files that once failed: WebP-in-TIFF was called damaged, 16-bit and 12-bit TIFFs,
#: palette multipage TIFFs (a traceback), rotated bilevel TIFFs (a codec error when writing).
MUST_GIVE_RESULT = [
    "hopper_webp.tif",
    "tiff_16bit_RGB.tiff",
    "tiff_16bit_RGBa.tiff",
    "tiff_strip_planar_16bit_RGB.tiff",
    "12bit.cropped.tif",
    "16bit.cropped.tif",
    "multipage.tiff",
    "g4_orientation_6.tif",
    "g4_orientation_8.tif",
    "hopper_orientation_6.jpg",
    "hopper_orientation_5.webp",
    "pil_sample_cmyk.jpg",
    "hopper_bad_exif.jpg",
    "exif_gps.jpg",
    "icc_profile_big.jpg",
    "tiff_strip_cmyk_jpeg.tif",
    "l_trns.png",
    "i_trns.png",
    "hopper_gray_4bpp.tif",
]


def _sentence_kind(error: str) -> str:
    if "damaged" in error:
        return "damaged"
    if "cannot open" in error or "can open" in error:
        return "cannot open"
    if "too large" in error or "megapixels" in error:
        return "too large"
    return "other sentence"


def _check_result(name: str, src: Source, result: Path, kept: Counter) -> list[str]:
    out: list[str] = []
    alpha = src.pixels is not None and src.pixels.shape[2] == 4
    try:
        size, pixels = _result_pixels(result, alpha)
        icc, xmp, orientation = _result_icc_xmp(result)
    except Exception as exc:
        return [f"{name}: the result does not open ({type(exc).__name__}: {exc})"]
    if src.size is not None and size != src.size:
        out.append(f"{name}: result {size}, upright source {src.size}")
    if orientation != 1:
        out.append(f"{name}: result orientation {orientation}")
    lossless_out = result.suffix.lower() in (".png", ".tif", ".tiff")
    if src.deep is not None and lossless_out:
        kept["pixel_checked"] += 1
        out += _compare_deep(name, src, result)
    elif (
        src.pixels is not None
        and pixels is not None
        and src.format in LOSSLESS
        and lossless_out
        and pixels.shape == src.pixels.shape
    ):
        kept["pixel_checked"] += 1
        diff = np.abs(pixels.astype(np.int16) - src.pixels.astype(np.int16))
        if alpha:  # colour under fully transparent pixels carries nothing
            diff[..., :3][src.pixels[..., 3] == 0] = 0
        if diff.max() > 1:
            out.append(f"{name}: pixels differ by up to {int(diff.max())} levels")
    elif src.pixels is not None and pixels is not None and pixels.shape != src.pixels.shape:
        out.append(f"{name}: result shape {pixels.shape}, source {src.pixels.shape}")
    if src.icc and len(src.icc) >= 128:  # a few stray bytes are no profile (icc-after-SOF)
        kept["icc_sources"] += 1
        from PIL import ImageCms

        space = src.icc[16:20]
        if src.cmyk and space == b"CMYK":
            srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
            ok = icc is not None and icc[16:20] == b"RGB " and icc[36:40] == srgb[36:40]
        else:
            ok = icc == src.icc
        if ok:
            kept["icc_kept"] += 1
        else:
            out.append(f"{name}: ICC profile not kept")
    if src.xmp:
        kept["xmp_sources"] += 1
        if xmp:
            kept["xmp_kept"] += 1
        else:
            out.append(f"{name}: XMP not kept")
    if src.exif:
        kept["exif_tags"] += len(src.exif)
        try:
            have = _result_tags(result)
        except Exception:
            have = set()
        missing = src.exif - have
        kept["exif_kept"] += len(src.exif) - len(missing)
        if missing:
            out.append(f"{name}: EXIF tags lost: {sorted(missing)[:8]}")
    return out


def _pct(a: int, b: int) -> str:
    return f"{100.0 * a / b:.1f} %" if b else "n/a"


def _summary(kinds: Counter, kept: Counter, total: int) -> str:
    sentences = total - kinds["result"]
    by_kind = ", ".join(
        f"{k} {v}" for k, v in sorted(kinds.items()) if k not in ("result", "tiff_result")
    )
    tiffs = sum(1 for p in FILES if p.suffix.lower() in (".tif", ".tiff"))
    return (
        f"Pillow corpus, {total} files through an identity job: {kinds['result']} results, "
        f"{sentences} sentences ({by_kind}); TIFF results {kinds['tiff_result']} of {tiffs}; "
        f"pixels checked on {kept['pixel_checked']} "
        f"lossless results; ICC kept {_pct(kept['icc_kept'], kept['icc_sources'])} "
        f"({kept['icc_kept']}/{kept['icc_sources']}), EXIF tags kept "
        f"{_pct(kept['exif_kept'], kept['exif_tags'])} ({kept['exif_kept']}/{kept['exif_tags']}), "
        f"XMP kept {_pct(kept['xmp_kept'], kept['xmp_sources'])} "
        f"({kept['xmp_kept']}/{kept['xmp_sources']})"
    )


#: Through the real CLI: rotated, 16-bit, CMYK with a profile, multipage, damaged, unsupported.
CLI_FILES = [
    "hopper_orientation_6.jpg",
    "tiff_16bit_RGB.tiff",
    "pil_sample_cmyk.jpg",
    "multipage.tiff",
    "truncated_jpeg.jpg",
    "hopper_webp.tif",
    "hopper_bad_exif.jpg",
]


def test_a_handful_through_the_real_cli_with_a_clean_terminal(tmp_path: Path, app_home: Path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("RETOUCHDESK_")}
    env.update(RETOUCHDESK_HOME=str(app_home), COLUMNS="200")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO / "gui"), env.get("PYTHONPATH")]))
    files = [CORPUS / n for n in CLI_FILES]
    before = {p: _sha(p) for p in files}
    out = tmp_path / "out"
    proc = subprocess.run(
        [sys.executable, "-m", "retouchdesk", "run", "--provider", "local",
         "--op", "color_correction", "--set", "strength=0", *map(str, files), "-o", str(out)],
        env=env, cwd=tmp_path, capture_output=True, text=True, timeout=240,
    )  # fmt: skip
    text = proc.stdout + proc.stderr
    assert "Traceback" not in text and "Warning" not in text, text
    assert "truncated_jpeg.jpg" in text and "damaged" in text  # the one bad file, said so
    results = sorted(p.name for p in out.iterdir())
    assert len(results) == len(CLI_FILES) - 1, (results, text)
    with Image.open(next(out.glob("hopper_orientation_6*"))) as im:
        assert im.getexif().get(ORIENTATION, 1) == 1
        with Image.open(CORPUS / "hopper_orientation_6.jpg") as src:
            assert im.size == ImageOps.exif_transpose(src).size
    with tifffile.TiffFile(next(out.glob("tiff_16bit_RGB*"))) as tif:
        assert tif.pages.first.dtype == np.uint16  # 16-bit in, 16-bit out
    assert {p: _sha(p) for p in files} == before
