"""Image input and output: open any photo the app accepts, write results safely.

Reading: JPEG, PNG (8 and 16 bit), TIFF, WebP, BMP, GIF and HEIC/HEIF (through pillow-heif).
EXIF orientation is applied on load, so every pixel coordinate in the app (canvas, masks,
providers) is in the upright image. :func:`load_image` gives 8-bit RGB/RGBA for display;
:func:`load_pixels` gives the pixels for processing and keeps 16 bits per channel (tifffile and
imagecodecs read 16-bit TIFF/PNG, which Pillow cannot hold) and integer greyscale exactly. TIFF
layouts Pillow's libtiff lacks (WebP, Zstandard, JPEG XL compression) are read by tifffile, BMP
bit-field layouts by OpenCV. Multipage and animated files give their first frame, with a note.
Decompression bombs, 0-byte, truncated, corrupt and non-image files are refused with one plain
:class:`InputError` sentence that names the file and tells "damaged" (it starts like an image
but cannot be parsed) from "a kind of image Retouch Desk cannot open" (valid, unsupported).

Writing: :func:`save_result` (see :mod:`core.resultwrite`) writes atomically (temporary file in
the destination folder, then ``os.replace``), never onto the source, in the right format and bit
depth, with the source's metadata: descriptive EXIF cleaned tag by tag (orientation reset to 1,
pixel size updated, GPS dropped unless kept), the ICC profile and XMP (its orientation reset).
"""

from __future__ import annotations

import dataclasses
import functools
import importlib.util
import io
import logging
import os
import re
import struct
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import numpy as np
from PIL import Image, ImageCms, ImageFile, ImageOps, UnidentifiedImageError

from retouchdesk.core import exifdata, handover, partials, pngcheck
from retouchdesk.core.errors import DestinationTaken, InputError, OutputError
from retouchdesk.core.schema import normalise_format

# HEIC/HEIF support is optional at run time; without it such files are refused plainly.
# pillow-heif (libheif: 4 MB resident, 8 ms to import in every process that reads photos) is
# loaded by the first HEIF file opened or saved: until then a stand-in plugin under the
# same format name recognises the file by its brand and hands over.
HEIF_AVAILABLE = importlib.util.find_spec("pillow_heif") is not None
_HEIF_BRANDS = frozenset(
    (b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"hevm", b"hevs", b"mif1", b"msf1")
)


def _heif_plugin() -> Any:
    """pillow-heif, registered with Pillow (replacing the stand-in); SyntaxError, which
    Pillow takes as "not this format", when it does not load."""
    try:
        import pillow_heif

        pillow_heif.register_heif_opener()
    except Exception as exc:  # a broken wheel or libheif: the file is not understood
        raise SyntaxError(f"HEIF support did not load: {exc}") from None
    return pillow_heif


def _looks_heif(prefix: bytes) -> bool:
    return prefix[4:8] == b"ftyp" and prefix[8:12] in _HEIF_BRANDS


def _open_heif(fp: IO[bytes], filename: str | bytes) -> ImageFile.ImageFile:
    return _heif_plugin().HeifImageFile(fp, filename)


def _save_heif(im: Image.Image, fp: IO[bytes], filename: str | bytes) -> None:
    _heif_plugin()
    Image.SAVE["HEIF"](im, fp, filename)


if HEIF_AVAILABLE:
    Image.register_open("HEIF", _open_heif, _looks_heif)
    Image.register_save("HEIF", _save_heif)
    Image.register_extensions("HEIF", [".heic", ".heics", ".heif", ".heifs", ".hif"])
    Image.register_mime("HEIF", "image/heif")

#: Largest image accepted, in pixels (a 20000x20000 "bomb" is 400 MP; a 150 MP medium-format
#: photo still opens). Pillow's own guard is aligned with it so that it never fires first.
MAX_PIXELS = 200_000_000
Image.MAX_IMAGE_PIXELS = MAX_PIXELS
# A truncated file is an error, never a half-grey result.
ImageFile.LOAD_TRUNCATED_IMAGES = False
# Pillow reports damaged EXIF, odd APNG/MPO headers and the like as UserWarnings on stderr. The
# app skips such parts itself (tag by tag, first frame) and says so in the result's record; a
# process-wide filter (thread-safe, unlike catch_warnings) keeps them off the terminal.
warnings.filterwarnings("ignore", category=UserWarning, module=r"PIL\.")
# tifffile logs what it tolerates in odd files (wrong strip counts...) as warnings; Python's
# last-resort handler would print them. What matters reaches the user as a sentence or a note.
logging.getLogger("tifffile").setLevel(logging.CRITICAL)

#: Formats results can be written in, and their file extensions.
WRITE_FORMATS = {"jpeg": "jpg", "png": "png", "tiff": "tif", "webp": "webp"}
_EXT_TO_FORMAT = {
    "jpg": "jpeg",
    "jpeg": "jpeg",
    "jpe": "jpeg",
    "png": "png",
    "tif": "tiff",
    "tiff": "tiff",
    "webp": "webp",
}
_ALPHA_FORMATS = {"png", "tiff", "webp"}

_ORIENTATION = 0x0112
_GPS_IFD = 0x8825
_EXIF_IFD = 0x8769
_PIXEL_X = 0xA002
_PIXEL_Y = 0xA003
_XMP_TIFF_TAG = 700
_XMP_ORIENTATION = re.compile(rb'(tiff:Orientation(?:="|>))\s*\d+')


@dataclass(frozen=True)
class ImageInfo:
    """What :func:`probe` learns from a file's header (width/height are upright)."""

    path: Path
    width: int
    height: int
    format: str  # normalised: jpeg, png, tiff, webp, heic, ...
    size_bytes: int
    mode: str  # Pillow's mode of the file as stored (RGB, CMYK, P, I;16, ...)
    has_alpha: bool
    bit_depth: int  # bits per channel as stored (8 or 16 usually)
    orientation: int = 1

    @property
    def megapixels(self) -> float:
        return self.width * self.height / 1e6


@dataclass(frozen=True)
class ImageMeta:
    """Metadata of a source photo, carried over to its results."""

    exif: bytes | None = None  # raw EXIF as stored (orientation not yet reset)
    icc: bytes | None = None  # the profile that describes the loaded pixels
    xmp: bytes | None = None
    format: str = ""
    orientation: int = 1
    bit_depth: int = 8
    mode: str = ""
    exif_tags: exifdata.CleanExif | None = None  # descriptive tags only, malformed ones skipped
    compression: str = ""  # TIFF: raw, tiff_lzw, tiff_adobe_deflate, jpeg, ...
    compression_code: int = 0  # TIFF: the Compression tag's value
    frames: int = 1

    @property
    def grey(self) -> bool:
        """Stored as greyscale: results that stay neutral are written grey, with its profile."""
        return self.mode in _GREY_MODES


_GREY_MODES = frozenset({"1", "L", "LA", "La", "I", "I;16", "I;16B", "I;16L", "I;16N", "F"})


@dataclass
class Pixels:
    """Upright pixels for processing: HxWx3 RGB or HxWx4 RGBA, uint8 or uint16 (16-bit source).

    Grey sources are spread to RGB here (every operation works on colour); ``meta.grey`` lets
    the writer fold a neutral result back to grey with the source's grey ICC profile.
    """

    array: np.ndarray
    meta: ImageMeta
    path: Path | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def size(self) -> tuple[int, int]:
        return int(self.array.shape[1]), int(self.array.shape[0])


@dataclass
class LoadedImage:
    """An upright, 8-bit RGB/RGBA image and what it came with."""

    image: Image.Image
    meta: ImageMeta
    path: Path | None = None
    notes: list[str] = field(default_factory=list)  # conversions made (CMYK -> sRGB, 16 -> 8 bit)

    @property
    def size(self) -> tuple[int, int]:
        return self.image.size


@dataclass(frozen=True)
class OutputPolicy:
    """How results are written: format and which metadata they inherit from the source."""

    format: str = "same"  # same, jpeg, png, tiff, webp
    jpeg_quality: int = 95
    keep_exif: bool = True
    keep_icc: bool = True
    keep_xmp: bool = True
    keep_gps: bool = True


# -- reading -----------------------------------------------------------------------------------


def _open(path: Path) -> Image.Image:
    """Open ``path`` lazily, turning every failure into one plain sentence."""
    path = Path(path)
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise InputError(f"{path.name}: the file does not exist") from None
    except OSError as exc:
        raise InputError(f"{path.name}: the file cannot be read ({exc.strerror})") from None
    if path.is_dir():
        raise InputError(f"{path.name}: is a folder, not an image file")
    if size == 0:
        raise InputError(f"{path.name}: the file is empty (0 bytes)")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            im = Image.open(path)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise InputError(
            f"{path.name}: the image is too large (more than {MAX_PIXELS / 1e6:.0f} megapixels); "
            "it may be a decompression bomb"
        ) from None
    except UnidentifiedImageError:
        raise _unidentified(path) from None
    except (OSError, ValueError, SyntaxError) as exc:
        raise _damaged(path, exc) from None
    _note_png_without_late_exif(im, path)
    w, h = im.size
    if w <= 0 or h <= 0:
        raise InputError(f"{path.name}: the image has no pixels ({w}x{h})")
    if w * h > MAX_PIXELS:
        im.close()
        raise InputError(
            f"{path.name}: the image is too large ({w}x{h} = {w * h / 1e6:.0f} megapixels, "
            f"the limit is {MAX_PIXELS / 1e6:.0f}); it may be a decompression bomb"
        )
    return im


#: PNG chunks Pillow reads after the image data on load (EXIF and text, where XMP lives).
_PNG_LATE_CHUNKS = frozenset({b"eXIf", b"tEXt", b"zTXt", b"iTXt"})


def _note_png_without_late_exif(im: Image.Image, path: Path) -> None:
    """Spare a PNG the full decode Pillow does to look for EXIF after its image data.

    Pillow's ``getexif()`` on a PNG without an eXIf chunk before IDAT decodes every pixel, in
    case one follows. Probing the photo's orientation would then cost a decode. The chunk
    headers say whether anything follows IDAT (a few reads, pixels untouched); when nothing
    does, the image is marked as having no EXIF, which is what the decode would find.
    """
    if im.format != "PNG" or "exif" in im.info or "Raw profile type exif" in im.info:
        return
    try:
        with open(path, "rb") as f:
            f.seek(8)
            after_data = False
            while True:
                head = f.read(8)
                if len(head) < 8:
                    return  # cut short: the decoder will say so
                length, kind = struct.unpack(">I4s", head)
                if kind == b"IDAT":
                    after_data = True
                elif kind == b"IEND":
                    break
                elif after_data and kind in _PNG_LATE_CHUNKS:
                    return  # metadata after the pixels: Pillow reads it on load, as before
                f.seek(length + 4, os.SEEK_CUR)
    except (OSError, struct.error):
        return
    im.info["exif"] = b""


#: File signatures of the formats Retouch Desk reads: a file that starts like one of them but
#: cannot be parsed is damaged; anything else is a format the app does not open.
_SIGNATURES = (
    (b"\x89PNG\r\n\x1a\n", "PNG"),
    (b"\xff\xd8\xff", "JPEG"),
    (b"II*\x00", "TIFF"),
    (b"MM\x00*", "TIFF"),
    (b"II+\x00", "TIFF"),
    (b"MM\x00+", "TIFF"),
    (b"BM", "BMP"),
    (b"GIF8", "GIF"),
)


def _signature(path: Path) -> str:
    """The format a file's first bytes claim ('' when none the app reads)."""
    try:
        with open(path, "rb") as f:
            head = f.read(16)
    except OSError:
        return ""
    for magic, name in _SIGNATURES:
        if head.startswith(magic):
            return name
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "WebP"
    if _looks_heif(head):
        return "HEIC"
    return ""


def _unidentified(path: Path) -> InputError:
    """Pillow did not recognise the file: damaged if it starts like a format we read."""
    claimed = _signature(path)
    if claimed:
        return InputError(
            f"{path.name}: the image is damaged and cannot be read (it starts like a {claimed} "
            "file but its header is broken)"
        )
    return InputError(f"{path.name}: not an image file that Retouch Desk can open")


def _damaged(path: Path, exc: BaseException) -> InputError:
    """A decoding failure: a valid file in an unsupported variant, or a damaged one."""
    text = str(exc)
    lower = text.lower()
    if lower.startswith("unsupported") or "unknown compression" in lower or "palette size" in lower:
        return unsupported(path, text)
    reason = "the file is truncated" if "truncat" in text.lower() else text
    return InputError(f"{path.name}: the image is damaged and cannot be read ({reason})")


def unsupported(path: Path, what: str) -> InputError:
    """A valid file in a variant the app does not decode: never called damaged."""
    return InputError(f"{path.name}: a kind of image Retouch Desk cannot open ({what})")


def open_image(path: Path | str) -> Image.Image:
    """Open ``path`` lazily (header only) with the checks of :func:`load_image`."""
    return _open(Path(path))


def orientation_of(im: Image.Image) -> int:
    """The EXIF orientation (1..8) of an opened image; 1 when absent or damaged."""
    return _orientation(im)


def _orientation(im: Image.Image) -> int:
    try:
        value = int(im.getexif().get(_ORIENTATION, 1))
    except Exception:  # a damaged EXIF block must not make the photo unreadable
        return 1
    return value if 1 <= value <= 8 else 1


def _bit_depth(im: Image.Image, path: Path) -> int:
    """Bits per channel as stored; Pillow opens 16-bit RGB PNG/TIFF as 8-bit RGB."""
    fmt = normalise_format(im.format or "")
    if fmt == "png":
        with open(path, "rb") as f:
            header = f.read(25)
        if len(header) == 25 and header[12:16] == b"IHDR":
            return int(header[24])
    if fmt == "tiff":
        bps = getattr(im, "tag_v2", {}).get(258)
        if bps:
            return int(bps[0] if isinstance(bps, tuple | list) else bps)
    if fmt == "heic":
        depth = im.info.get("bit_depth")
        if depth:
            return int(depth)
    if im.mode.startswith("I;16"):
        return 16
    if im.mode in ("I", "F"):
        return 32
    if im.mode == "1":
        return 1
    return 8


def _has_alpha(im: Image.Image) -> bool:
    return im.mode in ("RGBA", "LA", "PA", "La", "RGBa") or (
        im.mode in ("P", "L", "RGB") and "transparency" in im.info
    )


def probe(path: Path | str) -> ImageInfo:
    """Size (upright), format, mode, alpha and bit depth from the header, without decoding."""
    path = Path(path)
    try:
        im = _open(path)
    except InputError as exc:
        # a TIFF or BMP layout Pillow does not know may still be readable
        info = _tiff_probe(path) or (_bmp_probe(path) if _bmp_layout(exc) else None)
        if info is None:
            raise
        return info
    with im:
        orientation = _orientation(im)
        w, h = im.size
        if orientation in (5, 6, 7, 8):
            w, h = h, w
        return ImageInfo(
            path=path,
            width=w,
            height=h,
            format=normalise_format(im.format or path.suffix),
            size_bytes=path.stat().st_size,
            mode=im.mode,
            has_alpha=_has_alpha(im),
            bit_depth=_bit_depth(im, path),
            orientation=orientation,
        )


def _raw_xmp(im: Image.Image) -> bytes | None:
    xmp = im.info.get("xmp") or im.info.get("XML:com.adobe.xmp")
    if not xmp and hasattr(im, "tag_v2"):
        xmp = im.tag_v2.get(_XMP_TIFF_TAG)  # pyright: ignore[reportAttributeAccessIssue]
    if isinstance(xmp, str):
        xmp = xmp.encode("utf-8")
    return bytes(xmp) if xmp else None


@functools.cache
def _srgb_profile() -> bytes:
    """Pillow's sRGB profile with a fixed creation date, built once.

    lcms stamps a profile with the second it was built (header bytes 24-35, no profile ID is
    computed over it), so the same pixels written a second apart got different bytes and a
    profile compared with one built earlier differed. The date says nothing about the colours.
    """
    icc = bytearray(ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes())
    icc[24:36] = struct.pack(">6H", 2000, 1, 1, 0, 0, 0)
    return bytes(icc)


def _icc_space(icc: bytes | None) -> str:
    """The colour space of an ICC profile: 'RGB', 'GRAY', 'CMYK', ... or '' if unreadable."""
    if not icc or len(icc) < 20:
        return ""
    return icc[16:20].decode("ascii", "replace").strip()


def _normalise(
    im: Image.Image, notes: list[str], icc: bytes | None
) -> tuple[Image.Image, bytes | None]:
    """8-bit RGB or RGBA, whatever the stored mode; returns the image and the profile it has."""
    mode = im.mode
    if mode == "CMYK":
        if _icc_space(icc) == "CMYK":
            try:
                src = ImageCms.ImageCmsProfile(io.BytesIO(icc))  # type: ignore[arg-type]
                dst = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))
                out = ImageCms.profileToProfile(im, src, dst, outputMode="RGB")
                notes.append("converted from CMYK to sRGB with the embedded profile")
                return out, _srgb_profile()  # type: ignore[return-value]
            except Exception:  # a broken profile: fall back to the plain formula below
                pass
        notes.append("converted from CMYK to RGB")
        return im.convert("RGB"), None
    if mode in ("RGB", "RGBA"):
        if mode == "RGB" and "transparency" in im.info:
            return im.convert("RGBA"), icc
        return im, icc
    if mode == "P":
        return im.convert("RGBA" if _has_alpha(im) else "RGB"), icc
    if mode in ("PA", "LA", "La", "RGBa"):
        return im.convert("RGBA"), icc
    if mode.startswith("I;16") or mode in ("I", "F"):
        # 16/32-bit greyscale: scale to 8 bits (load_array(keep_16bit=True) keeps 16 bits).
        arr = np.asarray(im, dtype=np.float64)
        top = 65535.0 if mode.startswith("I;16") or arr.max(initial=0) > 255 else 255.0
        arr8 = np.clip(np.rint(arr * (255.0 / top)), 0, 255).astype(np.uint8)
        notes.append("converted from 16-bit greyscale to 8 bits")
        return Image.fromarray(arr8, "L").convert("RGB"), icc
    if mode in ("L", "1") and "transparency" in im.info:
        return im.convert("RGBA"), icc  # tRNS in a grey PNG: a colour key, kept as alpha
    # L, 1, YCbCr, LAB, HSV: a plain conversion is exact enough for display and processing.
    # A grey profile is kept: the writer folds a neutral result back to grey (meta.grey).
    return im.convert("RGB"), icc if _icc_space(icc) in ("RGB", "GRAY") else None


def _meta_of(im: Image.Image, path: Path) -> ImageMeta:
    """What an opened (not yet decoded) file carries: metadata, depth, frames, compression."""
    try:
        tags = exifdata.clean(im.getexif())
    except Exception:  # an EXIF block too damaged to even list: nothing is kept
        tags = exifdata.CleanExif()
    return ImageMeta(
        exif=exifdata.to_bytes(tags),
        icc=im.info.get("icc_profile") or None,
        xmp=_raw_xmp(im),
        format=normalise_format(im.format or path.suffix),
        orientation=_orientation(im),
        bit_depth=_bit_depth(im, path),
        mode=im.mode,
        exif_tags=tags,
        compression=str(im.info.get("compression", "")),
        compression_code=int(getattr(im, "tag_v2", {}).get(259, 0) or 0),
        frames=_frames(im),
    )


def _frames(im: Image.Image) -> int:
    try:
        return max(1, int(getattr(im, "n_frames", 1)))
    except Exception:  # a damaged page chain: the first page is still there
        return 1


def load_image(path: Path | str) -> LoadedImage:
    """Decode ``path`` fully: upright, 8-bit RGB or RGBA, with the metadata to carry over.

    A 16-bit RGB PNG/TIFF is reduced to 8 bits here (``meta.bit_depth`` still says 16); use
    :func:`load_pixels` to keep the precision.
    """
    path = Path(path)
    with _open(path) as im:
        meta = _meta_of(im, path)
        icc = meta.icc
        try:
            if meta.frames > 1:
                im.seek(0)  # first frame of an animation or a multi-page TIFF
            im.load()
            upright = ImageOps.exif_transpose(im) if meta.orientation != 1 else im.copy()
        except (OSError, ValueError, SyntaxError, EOFError) as exc:
            raise _damaged(path, exc) from None
        except MemoryError:
            raise InputError(f"{path.name}: not enough memory to open this image") from None
    notes: list[str] = []
    if meta.frames > 1:
        notes.append(f"the file holds {meta.frames} pages or frames; the first one was used")
    image, icc = _normalise(upright, notes, icc)
    if meta.bit_depth > 8 and not any("16-bit" in n for n in notes):
        notes.append(f"reduced from {meta.bit_depth} to 8 bits per channel")
    meta = dataclasses.replace(meta, icc=icc)
    return LoadedImage(image=image, meta=meta, path=path, notes=notes)


def load_pixels(path: Path | str) -> Pixels:
    """Decode ``path`` upright for processing, keeping 16 bits per channel when stored so.

    16-bit PNG and TIFF go through imagecodecs/tifffile (Pillow has no 48-bit RGB mode); TIFFs
    whose compression Pillow's libtiff lacks (WebP, Zstandard, JPEG XL in TIFF) are decoded by
    tifffile too. Everything else is :func:`load_image`'s 8-bit RGB/RGBA.
    """
    path = Path(path)
    if handover.is_handover(path):  # a worker's raw result: pixels only, already upright
        arr = handover.load(path)
        return Pixels(array=arr, meta=ImageMeta(bit_depth=arr.dtype.itemsize * 8), path=path)
    try:
        with _open(path) as im:
            meta = _meta_of(im, path)
            png8 = (im.size, len(im.getbands())) if _plain_png(im, meta) else None
    except InputError as exc:
        # layouts only tifffile / OpenCV read
        other = _tiff_only(path) or (_bmp_only(path) if _bmp_layout(exc) else None)
        if other is None:
            raise
        return other
    notes: list[str] = []
    arr = None
    if meta.mode in _INT_GREY_MODES:
        arr = _read_int_grey(path)
    elif meta.bit_depth == 16 and meta.format in ("png", "tiff"):
        arr = _read_16bit(path, meta)
    elif png8 is not None:
        arr = _read_png8(path, *png8)
    elif meta.format == "jpeg" and meta.mode == "RGB" and meta.frames == 1:
        arr = _jpeg_pixels(path)
    if arr is not None:
        if meta.frames > 1:
            notes.append(f"the file holds {meta.frames} pages or frames; the first one was used")
        arr = np.ascontiguousarray(apply_orientation(arr, meta.orientation))
        return Pixels(array=arr, meta=meta, path=path, notes=notes)
    try:
        if meta.format == "tiff" and meta.compression_code in _TIFFFILE_CODECS:
            raise InputError(path.name)  # decoded by tifffile below, never by libtiff
        loaded = load_image(path)
    except InputError:
        arr = _tiff_pixels(path) if meta.format == "tiff" else None
        if meta.format == "bmp":
            arr = _bmp_pixels(path)
        if arr is None:
            raise
        arr = np.ascontiguousarray(apply_orientation(arr, meta.orientation))
        return Pixels(array=arr, meta=meta, path=path, notes=notes)
    return Pixels(array=to_array(loaded.image), meta=loaded.meta, path=path, notes=loaded.notes)


def _jpeg_pixels(path: Path) -> np.ndarray | None:
    """A whole colour JPEG decoded by libjpeg-turbo through imagecodecs, as stored (RGB, not
    yet upright); None to let Pillow decode it (and say what is wrong with a damaged file).

    Pillow uses libjpeg-turbo with the same settings, so the pixels are the same, but this
    decodes straight into one array with the GIL released: 0.06 s for 24 megapixels against
    0.5 s through Pillow's 4-byte pixels, its copies and the conversion to numpy. OpenCV did
    the same in 0.10 s, but loading it (37 MB, 0.1 s holding the GIL) for the window's upright
    copy of a rotated photo stalled the window. A file that does not end with the
    end-of-image marker (cut short) goes to Pillow, which refuses it; libjpeg would pad it.
    """
    import imagecodecs

    try:
        data = path.read_bytes()
    except OSError:
        return None
    if len(data) < 4 or data[-2:] != b"\xff\xd9":
        return None
    try:
        arr = imagecodecs.jpeg8_decode(data)
    except Exception:  # imagecodecs' own error, or out of memory: Pillow's path says why
        return None
    if arr.ndim != 3 or arr.shape[2] != 3 or arr.dtype != np.uint8:
        return None
    return arr


_INT_GREY_MODES = frozenset({"I", "I;16", "I;16B", "I;16L", "I;16N", "I;16S"})


def _read_int_grey(path: Path) -> np.ndarray | None:
    """Integer greyscale (12/16/32-bit, Pillow's I and I;16 modes) as exact 16-bit samples.

    The stored numbers are kept as they are when they fit 0..65535 (a 12-bit scan stays
    0..4095, as every other reader shows it); a grey colour key (PNG tRNS) becomes alpha.
    Other ranges (negative, beyond 16 bits) go through the 8-bit path, which scales them.
    """
    try:
        with _open(path) as im:
            if _frames(im) > 1:
                im.seek(0)
            im.load()
            values = np.asarray(im, dtype=np.int64)
            key = im.info.get("transparency")
    except Exception:
        return None
    if values.ndim != 2 or values.size == 0 or values.min() < 0 or values.max() > 65535:
        return None
    grey = values.astype(np.uint16)
    if isinstance(key, int):
        alpha = np.where(values == key, 0, 65535).astype(np.uint16)
        return _as_colour(np.dstack([grey, alpha]))
    return _as_colour(grey)


def _as_colour(arr: np.ndarray) -> np.ndarray | None:
    """HxW, HxWx2, HxWx3 or HxWx(4+) samples as HxWx3 RGB or HxWx4 RGBA (None otherwise)."""
    if arr.ndim == 2:
        return np.repeat(arr[:, :, None], 3, axis=2)
    if arr.ndim != 3:
        return None
    c = arr.shape[2]
    if c == 1:
        return np.repeat(arr, 3, axis=2)
    if c == 2:
        return np.dstack([arr[:, :, :1].repeat(3, axis=2), arr[:, :, 1:2]])
    if c in (3, 4):
        return arr
    return arr[:, :, :4]


def _plain_png(im: Image.Image, meta: ImageMeta) -> bool:
    """An 8-bit truecolour PNG (RGB or RGBA) of one frame, not interlaced, without a colour
    key: what vendors return, and what libpng decodes to exactly the samples Pillow gives
    (all 42 such files among Pillow's test images)."""
    return (
        meta.format == "png"
        and im.mode in ("RGB", "RGBA")
        and meta.bit_depth == 8
        and meta.frames == 1
        and "transparency" not in im.info
        and not im.info.get("interlace")
    )


def _read_png8(path: Path, size: tuple[int, int], bands: int) -> np.ndarray | None:
    """A plain 8-bit PNG (:func:`_plain_png`) decoded by libpng through imagecodecs, or None
    to let Pillow read it (and say what is wrong with it).

    Pillow's PNG decoder holds the GIL for up to 35 ms at a time on a 12 MP photo; results
    are read in worker threads of the window's process, and those slices stalled the window
    during a batch. imagecodecs releases it for the whole decode, and is faster (0.2 s
    against 0.3 s at 12 MP).
    """
    try:
        import imagecodecs

        arr = imagecodecs.png_decode(path.read_bytes())
    except Exception:
        return None
    w, h = size
    if arr.dtype != np.uint8 or arr.shape != (h, w, bands):
        return None
    return arr


def _read_16bit(path: Path, meta: ImageMeta) -> np.ndarray | None:
    """A 16-bit PNG/TIFF as stored (not yet upright), or None to fall back to 8 bits."""
    try:
        if meta.format == "png":
            import imagecodecs

            arr = imagecodecs.png_decode(path.read_bytes())
            return _as_colour(arr) if arr.dtype == np.uint16 else None
        arr = _tiff_first_page(path, want=np.uint16)
        return arr
    except Exception:  # anything odd: Pillow's 8-bit path says what it can
        return None


def _tiff_page_facts(path: Path) -> dict | None:
    """Header facts of a TIFF's first page as tifffile reads them (None: not a TIFF to it)."""
    if _signature(path) != "TIFF":
        return None
    try:
        import tifffile

        with tifffile.TiffFile(path) as tif:
            page = tif.pages.first
            tags = {t.code: t.value for t in page.tags}
            orientation = tags.get(274, 1)
            return {
                "width": int(page.imagewidth),
                "height": int(page.imagelength),
                "samples": int(page.samplesperpixel),
                "bits": int(page.bitspersample),
                "compression": getattr(page.compression, "name", str(page.compression)),
                "photometric": getattr(page.photometric, "name", str(page.photometric)),
                "orientation": orientation if isinstance(orientation, int) else 1,
                "icc": bytes(tags[34675]) if 34675 in tags else None,
                "frames": len(tif.pages),
            }
    except Exception:
        return None


def _tiff_probe(path: Path) -> ImageInfo | None:
    facts = _tiff_page_facts(path)
    if facts is None:
        return None
    w, h, orientation = facts["width"], facts["height"], facts["orientation"]
    if not 1 <= orientation <= 8:
        orientation = 1
    if w <= 0 or h <= 0:
        return None
    if w * h > MAX_PIXELS:
        raise InputError(
            f"{path.name}: the image is too large ({w}x{h} = {w * h / 1e6:.0f} megapixels, "
            f"the limit is {MAX_PIXELS / 1e6:.0f}); it may be a decompression bomb"
        )
    if orientation in (5, 6, 7, 8):
        w, h = h, w
    return ImageInfo(
        path=path,
        width=w,
        height=h,
        format="tiff",
        size_bytes=path.stat().st_size,
        mode=f"{facts['photometric']} {facts['samples']}x{facts['bits']}-bit",
        has_alpha=facts["samples"] in (2, 4),
        bit_depth=facts["bits"],
        orientation=orientation,
    )


def check_decodes(path: Path | str, probed: ImageInfo | None = None) -> None:
    """Decode the first frame once; raise the sentence that says why it cannot be read.

    A TIFF that Pillow cannot decode but tifffile can (WebP, Zstandard or JPEG XL compression,
    layouts Pillow does not know) passes; one tifffile parses but cannot decode is "a kind of
    image Retouch Desk cannot open", never "damaged".

    A plain PNG is proved whole without decoding it (:func:`pngcheck.whole`: chunks, CRCs, the
    zlib stream and its rows' filters; a third of the time of Pillow's decode). Anything that
    check does not pass is decoded as before, so the verdict and its sentence are the
    decoder's. ``probed`` is :func:`probe`'s answer for this file: a PNG Pillow has already
    opened is then not opened again.
    """
    path = Path(path)
    if probed is not None and probed.format == "png" and _whole_png(path, probed.size_bytes):
        return
    try:
        with _open(path) as im:
            if im.format == "PNG" and _frames(im) == 1 and _whole_png(path):
                return
            if _tifffile_codec(im):
                raise OSError("compression not in Pillow's libtiff")
            if _frames(im) > 1:
                im.seek(0)
            if im.format in ("JPEG", "MPO"):
                # At 1/8 scale libjpeg still reads every entropy-coded block, so truncation
                # and bad data fail as in a full decode; it skips most of the IDCT, 3x faster,
                # and Pillow then no longer holds the GIL for up to 37 ms at a time (12 MP):
                # inputs are checked in worker threads while the window paints.
                im.draft(im.mode, (max(1, im.width // 8), max(1, im.height // 8)))
            im.load()
        return
    except InputError as exc:
        error = exc
    except (OSError, ValueError, SyntaxError, EOFError) as exc:
        error = _damaged(path, exc)
    except MemoryError:
        raise InputError(f"{path.name}: not enough memory to open this image") from None
    if _bmp_layout(error) and _bmp_pixels(path) is not None:
        return
    facts = _tiff_page_facts(path)
    if facts is None:
        raise error
    if _tiff_pixels(path) is not None:
        return
    if "too large" in str(error) or "damaged" not in str(error):
        raise error
    photometric, compression = facts["photometric"], facts["compression"]
    raise unsupported(
        path, f"a TIFF layout it does not read: {photometric.lower()}, {compression.lower()}"
    )


def _whole_png(path: Path, size: int | None = None) -> bool:
    """Whether ``path`` is a plain PNG proved whole (of ``size`` bytes when given)."""
    try:
        data = path.read_bytes()
    except OSError:
        return False
    return (size is None or len(data) == size) and pngcheck.whole(data)


#: TIFF compressions Pillow's libtiff is usually built without (JPEG 2000, LERC, Zstandard,
#: WebP, JPEG XL): such pages go straight to tifffile, so libtiff never prints its complaint.
_TIFFFILE_CODECS = frozenset({34712, 34887, 50000, 50001, 50002, 52546})


def _tifffile_codec(im: Image.Image) -> bool:
    tags = getattr(im, "tag_v2", None)
    return tags is not None and tags.get(259) in _TIFFFILE_CODECS


def _tiff_pixels(path: Path) -> np.ndarray | None:
    """The first page via tifffile, 16- or 8-bit (not yet upright), or None."""
    for want in (np.uint16, np.uint8):
        try:
            arr = _tiff_first_page(path, want=want)
        except Exception:
            arr = None
        if arr is not None:
            return arr
    return None


def _bmp_pixels(path: Path) -> np.ndarray | None:
    """A BMP layout Pillow does not decode (32-bit bit fields) through OpenCV, as RGB."""
    if _signature(path) != "BMP":
        return None
    try:
        import cv2

        # OpenCV prints its decoder errors on stderr; the user gets our sentence instead
        cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)
        arr = cv2.imdecode(np.fromfile(str(path), dtype=np.uint8), cv2.IMREAD_COLOR)
    except Exception:
        return None
    if arr is None or arr.ndim != 3:
        return None
    return np.ascontiguousarray(arr[:, :, ::-1])


def _bmp_layout(error: BaseException) -> bool:
    """Pillow refused a valid BMP only for its bit-field layout (OpenCV reads those)."""
    return "BMP bitfields layout" in str(error)


def _bmp_probe(path: Path) -> ImageInfo | None:
    arr = _bmp_pixels(path)
    if arr is None:
        return None
    return ImageInfo(
        path=path,
        width=int(arr.shape[1]),
        height=int(arr.shape[0]),
        format="bmp",
        size_bytes=path.stat().st_size,
        mode="RGB",
        has_alpha=False,
        bit_depth=8,
    )


def _bmp_only(path: Path) -> Pixels | None:
    arr = _bmp_pixels(path)
    if arr is None:
        return None
    meta = ImageMeta(format="bmp", mode="RGB", exif_tags=exifdata.CleanExif())
    return Pixels(array=arr, meta=meta, path=path, notes=[])


def _tiff_only(path: Path) -> Pixels | None:
    """A TIFF Pillow cannot open at all, read by tifffile (its ICC profile kept)."""
    facts = _tiff_page_facts(path)
    arr = _tiff_pixels(path) if facts is not None else None
    if facts is None or arr is None:
        return None
    orientation = facts["orientation"] if 1 <= facts["orientation"] <= 8 else 1
    meta = ImageMeta(
        icc=facts["icc"],
        format="tiff",
        orientation=orientation,
        bit_depth=facts["bits"],
        mode="L" if facts["samples"] in (1, 2) else "RGB",
        frames=facts["frames"],
        exif_tags=exifdata.CleanExif(),
    )
    arr = np.ascontiguousarray(apply_orientation(arr, orientation))
    return Pixels(array=arr, meta=meta, path=path, notes=[])


def _tiff_first_page(path: Path, *, want: type) -> np.ndarray | None:
    """The first page's RGB(A) or grey(+alpha) samples via tifffile, unpremultiplied."""
    import tifffile

    with tifffile.TiffFile(path) as tif:
        page = tif.pages.first
        photometric = int(page.photometric)
        if photometric not in (1, 2) or page.dtype != np.dtype(want):
            return None  # palette, CMYK, Lab, min-is-white...: Pillow's path handles them
        arr = page.asarray()
        axes = page.axes
        extra = tuple(page.extrasamples or ())
    if axes.startswith("S"):
        arr = np.moveaxis(arr, 0, -1)
    if arr.ndim == 3 and arr.shape[2] > 4:
        arr = arr[:, :, :4]
    if extra and extra[0] == 1 and arr.ndim == 3 and arr.shape[2] in (2, 4):
        # Associated (premultiplied) alpha: results are written unassociated
        top = float(np.iinfo(arr.dtype).max)
        alpha = arr[:, :, -1:].astype(np.float64)
        colour = arr[:, :, :-1].astype(np.float64) * top / np.maximum(alpha, 1.0)
        colour = np.where(alpha > 0, colour, 0.0)
        arr = np.dstack([np.clip(np.rint(colour), 0, top).astype(arr.dtype), arr[:, :, -1:]])
    return _as_colour(arr)


def load_array(path: Path | str, *, keep_16bit: bool = False) -> np.ndarray:
    """The upright pixels as an HxWx3 (or x4 with alpha) array, RGB order.

    uint8 by default; with ``keep_16bit`` a 16-bit PNG or TIFF comes back as uint16.
    """
    if keep_16bit:
        return load_pixels(path).array
    if handover.is_handover(path):
        arr = handover.load(path)
        return (
            arr
            if arr.dtype == np.uint8
            else ((arr.astype(np.uint32) * 255 + 32767) // 65535).astype(np.uint8)
        )
    return to_array(load_image(path).image)


def apply_orientation(arr: np.ndarray, orientation: int) -> np.ndarray:
    """Turn an array stored with EXIF ``orientation`` upright (the same as exif_transpose)."""
    ops = {
        2: lambda a: a[:, ::-1],
        3: lambda a: a[::-1, ::-1],
        4: lambda a: a[::-1, :],
        5: lambda a: np.swapaxes(a, 0, 1),
        6: lambda a: np.swapaxes(a, 0, 1)[:, ::-1],
        7: lambda a: np.swapaxes(a, 0, 1)[::-1, ::-1],
        8: lambda a: np.swapaxes(a, 0, 1)[::-1, :],
    }
    fn = ops.get(orientation)
    return fn(arr) if fn else arr


# -- PIL <-> numpy -------------------------------------------------------------------------------


def to_array(image: Image.Image) -> np.ndarray:
    """HxWx3 uint8 RGB, or HxWx4 RGBA when the image has alpha (a copy, C-contiguous)."""
    if image.mode not in ("RGB", "RGBA"):
        image = image.convert("RGBA" if _has_alpha(image) else "RGB")
    return pixels_of(image)


STRIP_BYTES = 1 << 20  # about a millisecond of copying with the GIL held


def pixels_of(image: Image.Image) -> np.ndarray:
    """The pixels of an 8-bit L, LA, RGB or RGBA image as a new uint8 array, copied in strips.

    ``np.array(image)`` goes through ``Image.tobytes()``, which builds one bytes object of the
    whole image while holding the GIL: 25-30 ms for a 12 MP photo, 60 ms at 24 MP. Results
    are read in worker threads of the window's process, and that was long enough to stall the
    window during a batch. Strips of about 1 MB hold it for about a millisecond each.
    """
    bands = len(image.getbands())
    w, h = image.size
    shape = (h, w) if bands == 1 else (h, w, bands)
    out = np.empty(shape, dtype=np.uint8)
    rows = max(1, STRIP_BYTES // max(1, w * bands))
    flat = out.reshape(h, w * bands)
    for y0 in range(0, h, rows):
        y1 = min(h, y0 + rows)
        strip = image.crop((0, y0, w, y1)).tobytes()
        flat[y0:y1] = np.frombuffer(strip, dtype=np.uint8).reshape(y1 - y0, w * bands)
    return out


def from_array(arr: np.ndarray) -> Image.Image:
    """A Pillow image from an HxW (grey), HxWx3 (RGB) or HxWx4 (RGBA) array.

    uint8 arrays map directly; uint16 RGB is reduced to 8 bits (Pillow has no 16-bit RGB mode)
    and uint16 grey stays 16-bit (mode I;16); float arrays are taken as 0..1.
    """
    a = np.asarray(arr)
    if a.dtype == np.uint16:
        if a.ndim == 2:
            return Image.fromarray(np.ascontiguousarray(a))  # mode I;16
        a = (a.astype(np.uint32) * 255 + 32767) // 65535
    elif a.dtype.kind == "f":
        a = np.rint(np.clip(a, 0.0, 1.0) * 255.0)
    a = np.ascontiguousarray(a.astype(np.uint8, copy=False))
    if a.ndim == 2:
        return Image.fromarray(a, "L")
    if a.ndim == 3 and a.shape[2] == 3:
        return Image.fromarray(a, "RGB")
    if a.ndim == 3 and a.shape[2] == 4:
        return Image.fromarray(a, "RGBA")
    if a.ndim == 3 and a.shape[2] == 1:
        return Image.fromarray(a[:, :, 0], "L")
    raise ValueError(f"cannot make an image from an array of shape {a.shape}")


# -- writing -------------------------------------------------------------------------------------


def format_for_path(path: Path | str) -> str | None:
    """The writable format named by a file's extension, or None."""
    return _EXT_TO_FORMAT.get(Path(path).suffix.lower().lstrip("."))


def output_format(policy: OutputPolicy, source_format: str, *, has_alpha: bool = False) -> str:
    """The format a result is written in: the policy's, or the source's when "same".

    A source format that cannot be written (HEIC, BMP, GIF) becomes JPEG; a result with alpha
    that would lose it in JPEG becomes PNG.
    """
    fmt = normalise_format(policy.format or "same")
    if fmt == "same":
        fmt = normalise_format(source_format or "jpeg")
    if fmt not in WRITE_FORMATS:
        fmt = "jpeg"
    if has_alpha and fmt not in _ALPHA_FORMATS:
        fmt = "png"
    return fmt


def extension_for(fmt: str) -> str:
    """The file extension (without the dot) used for results in ``fmt``."""
    return WRITE_FORMATS.get(normalise_format(fmt), "jpg")


def xmp_for_result(xmp: bytes) -> bytes:
    """XMP for an upright result: its tiff:Orientation reset to 1."""
    return _XMP_ORIENTATION.sub(rb"\g<1>1", xmp)


def same_file(a: Path, b: Path) -> bool:
    """Whether ``a`` and ``b`` name the same file (resolved, or the same inode)."""
    try:
        if a.resolve() == b.resolve():
            return True
        return b.exists() and os.path.samefile(a, b)
    except OSError:
        return False


def read_meta(path: Path | str) -> ImageMeta:
    """Metadata of ``path`` without decoding its pixels."""
    path = Path(path)
    with _open(path) as im:
        return _meta_of(im, path)


def icc_space(icc: bytes | None) -> str:
    """The colour space an ICC profile describes: 'RGB', 'GRAY', 'CMYK', or ''."""
    return _icc_space(icc)


def srgb_profile() -> bytes:
    return _srgb_profile()


def save_result(
    result: Path | Image.Image | np.ndarray,
    *,
    source: Path,
    destination: Path,
    policy: OutputPolicy | None = None,
    report: dict | None = None,
    recipe: Any = None,
    icc_override: bytes | None = None,
    replace: bool = True,
) -> Path:
    """Write ``result`` to ``destination`` atomically, with ``source``'s metadata; never onto it.

    ``result`` is a file, a Pillow image or an upright array (uint8, or uint16 for 16-bit
    results). The format comes from the destination's extension when it names one, else from
    ``policy``. ``report`` (a dict) receives the format, bits per channel and notes on what
    was converted or left out. ``recipe`` (a :class:`core.recipe.Recipe`) goes into the XMP
    as the result's provenance; ``icc_override`` labels converted pixels (an export). With
    ``replace=False`` an existing ``destination`` is never replaced: :class:`DestinationTaken`
    is raised instead (see :func:`atomic_write`). Returns ``destination``. See
    :mod:`core.resultwrite`.
    """
    from retouchdesk.core import resultwrite

    return resultwrite.save(
        result,
        source=Path(source),
        destination=Path(destination),
        policy=policy,
        report=report,
        recipe=recipe,
        icc_override=icc_override,
        replace=replace,
    )


def create_temp(folder: Path, stem: str) -> tuple[int, str]:
    """A new temporary file beside the destination, with the usual permissions (umask).

    ``tempfile.mkstemp`` would make it private (0600), and the rename keeps that mode: a
    photographer's results must be readable like any file they save.
    """
    partials.sweep(folder)  # what a killed earlier run left here
    for _ in range(100):
        name = str(partials.temp_name(folder, stem))
        try:
            return os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666), name
        except FileExistsError:
            continue
    raise FileExistsError(f"no free temporary name in {folder}")


def atomic_write(
    destination: Path, write: Callable[[IO[bytes]], None], *, replace: bool = True
) -> None:
    """Call ``write(file)`` on a temporary file beside ``destination``, then rename it.

    ``replace=False`` is for result names chosen by the engine: another process (a second
    ``retouchdesk run``, the window) may have written the same name since it was chosen, and
    its result must not be overwritten. The temporary file is then hard-linked to the name,
    which fails atomically when the name exists, and :class:`DestinationTaken` is raised so
    the caller can pick the next free name.
    """
    folder = destination.parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = create_temp(folder, destination.stem)
    except OSError as exc:
        raise OutputError(
            f"{folder}: cannot write results in this folder ({exc.strerror or exc})"
        ) from None
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        if replace:
            os.replace(tmp, destination)
        else:
            rename_no_clobber(tmp, destination)
    except DestinationTaken:
        tmp.unlink(missing_ok=True)
        raise
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise OutputError(
            f"{destination.name}: the result could not be written ({exc.strerror or exc})"
        ) from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def rename_no_clobber(tmp: Path, destination: Path) -> None:
    """Move ``tmp`` to ``destination`` unless that name exists (atomically where links work)."""
    try:
        os.link(tmp, destination)
    except FileExistsError:
        raise DestinationTaken(f"{destination} exists") from None
    except OSError:
        # No hard links (FAT/exFAT cards, some network shares): check, then rename. Only a
        # writer in the same instant can slip between the two.
        if destination.exists():
            raise DestinationTaken(f"{destination} exists") from None
        os.replace(tmp, destination)
        return
    tmp.unlink(missing_ok=True)
