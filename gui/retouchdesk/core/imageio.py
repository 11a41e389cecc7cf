"""Image input and output: open any photo the app accepts, write results safely.

Reading: JPEG, PNG (8 and 16 bit), TIFF, WebP and HEIC/HEIF (through pillow-heif). EXIF
orientation is applied on load, so every pixel coordinate in the app (canvas, masks, providers)
is in the upright image. CMYK, greyscale, palette and alpha images are normalised to 8-bit RGB or
RGBA (``load_image``); :func:`load_array` keeps 16 bits per channel when asked, for operations
that can use them. Decompression bombs, 0-byte, truncated, corrupt and non-image files are refused
with one plain :class:`InputError` sentence that names the file.

Writing: :func:`save_result` writes atomically (temporary file in the destination folder, then
``os.replace``), never onto the source, and carries the source's metadata: EXIF (with the
orientation reset to 1 because the pixels are already upright, pixel dimensions updated and GPS
dropped unless kept), the ICC profile and XMP (its orientation reset too).
"""

from __future__ import annotations

import io
import os
import re
import secrets
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, ImageCms, ImageFile, ImageOps, UnidentifiedImageError

from retouchdesk.core.errors import InputError, OutputError
from retouchdesk.core.schema import normalise_format

try:  # HEIC/HEIF support is optional at run time; without it such files are refused plainly.
    import pillow_heif

    pillow_heif.register_heif_opener()
    HEIF_AVAILABLE = True
except Exception:  # pragma: no cover - depends on the platform's wheels
    HEIF_AVAILABLE = False

#: Largest image accepted, in pixels (a 20000x20000 "bomb" is 400 MP; a 150 MP medium-format
#: photo still opens). Pillow's own guard is aligned with it so that it never fires first.
MAX_PIXELS = 200_000_000
Image.MAX_IMAGE_PIXELS = MAX_PIXELS
# A truncated file is an error, never a half-grey result.
ImageFile.LOAD_TRUNCATED_IMAGES = False

#: Formats results can be written in, and their file extensions.
WRITE_FORMATS = {"jpeg": "jpg", "png": "png", "tiff": "tif", "webp": "webp"}
READ_FORMATS = ("jpeg", "png", "tiff", "webp", "heic", "bmp", "gif")
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
        raise InputError(f"{path.name}: not an image file that Retouch Desk can open") from None
    except (OSError, ValueError, SyntaxError) as exc:
        raise _damaged(path, exc) from None
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


def _damaged(path: Path, exc: BaseException) -> InputError:
    reason = "the file is truncated" if "truncat" in str(exc).lower() else str(exc)
    return InputError(f"{path.name}: the image is damaged and cannot be read ({reason})")


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
    with _open(path) as im:
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


def _raw_exif(im: Image.Image) -> bytes | None:
    raw = im.info.get("exif")
    if isinstance(raw, bytes) and raw:
        return raw
    try:
        exif = im.getexif()
    except Exception:
        return None
    return exif.tobytes() if len(exif) else None


def _raw_xmp(im: Image.Image) -> bytes | None:
    xmp = im.info.get("xmp") or im.info.get("XML:com.adobe.xmp")
    if not xmp and hasattr(im, "tag_v2"):
        xmp = im.tag_v2.get(_XMP_TIFF_TAG)
    if isinstance(xmp, str):
        xmp = xmp.encode("utf-8")
    return bytes(xmp) if xmp else None


def _srgb_profile() -> bytes:
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


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
        return im.convert("RGBA"), icc if mode in ("RGBa",) else None
    if mode.startswith("I;16") or mode in ("I", "F"):
        # 16/32-bit greyscale: scale to 8 bits (load_array(keep_16bit=True) keeps 16 bits).
        arr = np.asarray(im, dtype=np.float64)
        top = 65535.0 if mode.startswith("I;16") or arr.max(initial=0) > 255 else 255.0
        arr8 = np.clip(np.rint(arr * (255.0 / top)), 0, 255).astype(np.uint8)
        notes.append("converted from 16-bit greyscale to 8 bits")
        return Image.fromarray(arr8, "L").convert("RGB"), None
    # L, 1, YCbCr, LAB, HSV: a plain conversion is exact enough for display and processing.
    # A grey ICC profile no longer describes RGB pixels, so it is dropped here.
    return im.convert("RGB"), icc if _icc_space(icc) == "RGB" else None


def load_image(path: Path | str) -> LoadedImage:
    """Decode ``path`` fully: upright, 8-bit RGB or RGBA, with the metadata to carry over.

    A 16-bit RGB PNG/TIFF is reduced to 8 bits here (``meta.bit_depth`` still says 16); use
    :func:`load_array` with ``keep_16bit=True`` to keep the precision.
    """
    path = Path(path)
    with _open(path) as im:
        fmt = normalise_format(im.format or path.suffix)
        orientation = _orientation(im)
        depth = _bit_depth(im, path)
        stored_mode = im.mode
        exif = _raw_exif(im)
        xmp = _raw_xmp(im)
        icc = im.info.get("icc_profile") or None
        try:
            if getattr(im, "n_frames", 1) > 1:
                im.seek(0)  # first frame of an animation or a multi-page TIFF
            im.load()
            upright = ImageOps.exif_transpose(im) if orientation != 1 else im.copy()
        except (OSError, ValueError, SyntaxError, EOFError) as exc:
            raise _damaged(path, exc) from None
        except MemoryError:
            raise InputError(f"{path.name}: not enough memory to open this image") from None
    notes: list[str] = []
    image, icc = _normalise(upright, notes, icc)
    if depth > 8 and not any("16-bit" in n for n in notes):
        notes.append(f"reduced from {depth} to 8 bits per channel")
    meta = ImageMeta(
        exif=exif,
        icc=icc,
        xmp=xmp,
        format=fmt,
        orientation=orientation,
        bit_depth=depth,
        mode=stored_mode,
    )
    return LoadedImage(image=image, meta=meta, path=path, notes=notes)


def load_array(path: Path | str, *, keep_16bit: bool = False) -> np.ndarray:
    """The upright pixels as an HxWx3 (or x4 with alpha) array, RGB order.

    uint8 by default. With ``keep_16bit`` a 16-bit PNG or TIFF comes back as uint16 (read by
    OpenCV, which keeps the precision that Pillow drops), with the EXIF orientation applied.
    """
    path = Path(path)
    if keep_16bit:
        info = probe(path)
        if info.bit_depth == 16 and info.format in ("png", "tiff"):
            data = np.fromfile(str(path), dtype=np.uint8)
            import cv2

            arr = cv2.imdecode(data, cv2.IMREAD_UNCHANGED | cv2.IMREAD_IGNORE_ORIENTATION)
            if arr is not None and arr.dtype == np.uint16:
                if arr.ndim == 2:
                    arr = np.repeat(arr[:, :, None], 3, axis=2)
                elif arr.shape[2] == 4:
                    arr = cv2.cvtColor(arr, cv2.COLOR_BGRA2RGBA)
                else:
                    arr = cv2.cvtColor(arr, cv2.COLOR_BGR2RGB)
                return np.ascontiguousarray(apply_orientation(arr, info.orientation))
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
    return np.array(image, dtype=np.uint8)


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


def _exif_for_result(raw: bytes, size: tuple[int, int], keep_gps: bool) -> bytes | None:
    """The source's EXIF for an upright result: orientation 1, new pixel size, GPS maybe gone."""
    exif = Image.Exif()
    try:
        exif.load(raw)
        exif[_ORIENTATION] = 1
        ifd = exif.get_ifd(_EXIF_IFD)
        if ifd:
            if _PIXEL_X in ifd:
                ifd[_PIXEL_X] = size[0]
            if _PIXEL_Y in ifd:
                ifd[_PIXEL_Y] = size[1]
        if not keep_gps:
            exif.get_ifd(_GPS_IFD).clear()
            exif.pop(_GPS_IFD, None)
        return exif.tobytes()
    except Exception:  # an unreadable EXIF block is dropped rather than failing the result
        return None


def _xmp_for_result(xmp: bytes) -> bytes:
    return _XMP_ORIENTATION.sub(rb"\g<1>1", xmp)


def _same_file(a: Path, b: Path) -> bool:
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
        return ImageMeta(
            exif=_raw_exif(im),
            icc=im.info.get("icc_profile") or None,
            xmp=_raw_xmp(im),
            format=normalise_format(im.format or path.suffix),
            orientation=_orientation(im),
            bit_depth=_bit_depth(im, path),
            mode=im.mode,
        )


def _prepare_result(result: Path | Image.Image) -> tuple[Image.Image, Image.Image | None]:
    """The result image upright; also the opened JPEG when its quantisation can be reused."""
    if isinstance(result, Image.Image):
        return result, None
    im = _open(Path(result))
    try:
        im.load()
    except (OSError, ValueError, SyntaxError) as exc:
        raise InputError(f"{Path(result).name}: the result image is damaged ({exc})") from None
    if _orientation(im) != 1:
        return ImageOps.exif_transpose(im), None
    return im, im if normalise_format(im.format or "") == "jpeg" else None


def save_result(
    result: Path | Image.Image,
    *,
    source: Path,
    destination: Path,
    policy: OutputPolicy | None = None,
) -> Path:
    """Write ``result`` to ``destination`` atomically, with ``source``'s metadata; never onto it.

    The format comes from the destination's extension when it names one, else from ``policy``.
    Returns ``destination``.
    """
    policy = policy or OutputPolicy()
    source, destination = Path(source), Path(destination)
    if _same_file(source, destination) or (
        isinstance(result, Path | str) and _same_file(Path(result), destination)
    ):
        raise OutputError(f"{destination.name}: refusing to write over the original photo")
    try:
        meta = read_meta(source)
    except InputError:
        meta = ImageMeta()
    image, jpeg_original = _prepare_result(result)
    has_alpha = _has_alpha(image)
    fmt = format_for_path(destination) or output_format(policy, meta.format, has_alpha=has_alpha)

    image = _image_for_format(image, fmt)
    kwargs: dict[str, object] = {}
    if policy.keep_exif and meta.exif:
        exif = _exif_for_result(meta.exif, image.size, policy.keep_gps)
        if exif:
            kwargs["exif"] = exif
    icc = _icc_for_result(meta, image, policy)
    if icc:
        kwargs["icc_profile"] = icc
    xmp = _xmp_for_result(meta.xmp) if policy.keep_xmp and meta.xmp else None
    if fmt == "jpeg":
        if jpeg_original is not None and image is jpeg_original:
            kwargs["quality"] = "keep"  # the provider's JPEG: no second generation of loss
        else:
            kwargs["quality"] = int(policy.jpeg_quality)
            kwargs["subsampling"] = 0 if policy.jpeg_quality >= 90 else 2
        kwargs["optimize"] = True
        if xmp:
            kwargs["xmp"] = xmp
    elif fmt == "png":
        kwargs["compress_level"] = 6
        if xmp:
            from PIL.PngImagePlugin import PngInfo

            info = PngInfo()
            info.add_itxt("XML:com.adobe.xmp", xmp.decode("utf-8", "replace"))
            kwargs["pnginfo"] = info
    elif fmt == "tiff":
        # Uncompressed: Pillow's compressing (libtiff) writer cannot store the EXIF and GPS
        # sub-directories, and losing metadata is worse than a larger file.
        kwargs["compression"] = None
        if xmp:
            # Pillow's TIFF writer takes either tiffinfo or exif: merge XMP into the EXIF tags.
            tags = Image.Exif()
            if isinstance(kwargs.get("exif"), bytes):
                tags.load(kwargs.pop("exif"))  # type: ignore[arg-type]
            tags[_XMP_TIFF_TAG] = xmp
            kwargs["tiffinfo"] = tags
    elif fmt == "webp":
        kwargs["quality"] = int(policy.jpeg_quality)
        if xmp:
            kwargs["xmp"] = xmp
    _atomic_save(image, destination, fmt, kwargs)
    return destination


def _image_for_format(image: Image.Image, fmt: str) -> Image.Image:
    """A mode the format can store: JPEG has no alpha (flattened on white), and so on."""
    mode = image.mode
    if fmt == "jpeg":
        if _has_alpha(image):
            rgba = image.convert("RGBA")
            flat = Image.new("RGB", rgba.size, (255, 255, 255))
            flat.paste(rgba, mask=rgba.getchannel("A"))
            return flat
        if mode not in ("RGB", "L", "CMYK"):
            return image.convert("L" if mode.startswith("I") else "RGB")
        return image
    if fmt == "png":
        if mode in ("RGB", "RGBA", "L", "LA", "P", "I;16", "1"):
            return image
        return image.convert("RGBA" if _has_alpha(image) else "RGB")
    if fmt == "webp":
        if mode in ("RGB", "RGBA"):
            return image
        return image.convert("RGBA" if _has_alpha(image) else "RGB")
    if fmt == "tiff":
        if mode in ("RGB", "RGBA", "L", "LA", "I;16", "CMYK"):
            return image
        return image.convert("RGBA" if _has_alpha(image) else "RGB")
    return image


def _icc_for_result(meta: ImageMeta, image: Image.Image, policy: OutputPolicy) -> bytes | None:
    """The source's profile if it describes the result's colour space (RGB vs grey vs CMYK)."""
    if not policy.keep_icc or not meta.icc:
        return None
    space = _icc_space(meta.icc)
    grey = image.mode in ("L", "LA", "I;16", "1")
    if space == "RGB" and not grey:
        return meta.icc
    if space == "GRAY" and grey:
        return meta.icc
    if space == "CMYK" and image.mode == "CMYK":
        return meta.icc
    if space == "CMYK" and not grey:
        return _srgb_profile()  # load_image converted the CMYK source to sRGB
    return None


def _create_temp(folder: Path, stem: str) -> tuple[int, str]:
    """A new temporary file beside the destination, with the usual permissions (umask).

    ``tempfile.mkstemp`` would make it private (0600), and the rename keeps that mode: a
    photographer's results must be readable like any file they save.
    """
    for _ in range(100):
        name = str(folder / f".{stem}.{secrets.token_hex(4)}.part")
        try:
            return os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666), name
        except FileExistsError:
            continue
    raise FileExistsError(f"no free temporary name in {folder}")


def _atomic_save(
    image: Image.Image, destination: Path, fmt: str, kwargs: dict[str, object]
) -> None:
    folder = destination.parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = _create_temp(folder, destination.stem)
    except OSError as exc:
        raise OutputError(
            f"{folder}: cannot write results in this folder ({exc.strerror or exc})"
        ) from None
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as f:
            image.save(f, format=fmt.upper(), **kwargs)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, destination)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise OutputError(
            f"{destination.name}: the result could not be written ({exc.strerror or exc})"
        ) from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
