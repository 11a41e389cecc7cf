"""A cloud job costs what the wire costs: the vendor's bytes kept, the photo decoded once.

Through the real engine against the Enhancor emulator (real HTTP over loopback, the local
receiver hosting the photo), as ``retouchdesk run`` builds the runtime with the key in the
environment:

* a vendor result already in the output format (PNG for a PNG photo, JPEG for a JPEG photo)
  is written with the vendor's own image data: the pixels decoded by OpenCV (libpng,
  libjpeg) equal the vendor's, the JPEG's entropy-coded data and the PNG's IDAT bytes are
  unchanged, and the photo's ICC profile, EXIF (orientation 1) and XMP, with the recipe, are
  in the file, read back by Pillow and LittleCMS;
* a result that must change (rotated by its own EXIF) is still decoded and made upright;
* the photo is decoded at most once per job, also when an upright copy is sent;
* a key given in the environment never opens the secret store (keyring detection);
* a job still queued at the vendor is polled again after the provider's interval, not
  abandoned by the status iterator and picked up after a retry wait.
"""

from __future__ import annotations

import io
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image, ImageCms, ImageFile

from retouchdesk.core import imageio
from retouchdesk.core import recipe as core_recipe
from retouchdesk.core.jobs import JobRecord, JobState
from retouchdesk.services import runtime as runtime_mod
from retouchdesk.services.engine import JobRequest

KEY = "wire-test-key-7c2e41"
pytestmark = pytest.mark.timeout(60)
ORIENTATION, MAKE = 0x0112, 0x010F


@pytest.fixture
def enhancor(emulator, monkeypatch: pytest.MonkeyPatch, app_home: Path):
    """Start the emulator (its result container chosen by the test) with the key in the env."""

    def start(result_suffix: str = ".png", time_scale: float = 0.02):
        emu = emulator("enhancor", api_key=KEY, time_scale=time_scale, result_suffix=result_suffix)
        monkeypatch.setenv("RETOUCHDESK_ENHANCOR_BASE_URL", emu.url)
        monkeypatch.setenv("RETOUCHDESK_ENHANCOR_API_KEY", KEY)
        monkeypatch.setenv("RETOUCHDESK_ENHANCOR_POLL_INTERVAL", "0.05")
        monkeypatch.setenv("RETOUCHDESK_ENGINE_BACKOFF_BASE", "0.01")
        return emu

    return start


async def run_job(photo: Path, out: Path, messages: list[str] | None = None) -> JobRecord:
    """One Enhancor job through the runtime ``retouchdesk run`` builds; ``messages`` gets
    the job's messages (waits, retries)."""
    rt = runtime_mod.build_runtime(lazy_secrets=True)
    if messages is not None:
        rt.engine.subscribe(lambda ev: messages.append(ev.message or ""))
    try:
        rt.engine.start(resume=False)
        job = rt.engine.submit(
            JobRequest("enhancor", "portrait_upscale", photo, {"mode": "fast"}, output_dir=out)
        )
        [done] = await rt.engine.wait([job.id], timeout=40)
    finally:
        await rt.aclose()
    assert done.state is JobState.DONE, done.error
    return done


def png_photo(tmp_path: Path, data_dir: Path) -> Path:
    """chelsea.png: Pillow's test photo with an ICC profile and XMP."""
    photo = tmp_path / "in" / "chelsea.png"
    photo.parent.mkdir(parents=True, exist_ok=True)
    photo.write_bytes((data_dir / "chelsea.png").read_bytes())
    return photo


def jpeg_photo(tmp_path: Path, data_dir: Path, orientation: int = 1) -> Path:
    """A camera-like JPEG: EXIF (make, orientation), chelsea's ICC profile."""
    photo = tmp_path / "in" / f"cat_{orientation}.jpg"
    photo.parent.mkdir(parents=True, exist_ok=True)
    with Image.open(data_dir / "chelsea.png") as im:
        exif = Image.Exif()
        exif[MAKE] = "WireCam"
        exif[ORIENTATION] = orientation
        icc = im.info["icc_profile"]
        im.convert("RGB").save(photo, quality=90, exif=exif.tobytes(), icc_profile=icc)
    return photo


def cv2_pixels(data: bytes) -> np.ndarray:
    """Decoded by OpenCV (libpng / libjpeg), the stored orientation ignored."""
    flags = cv2.IMREAD_UNCHANGED | cv2.IMREAD_IGNORE_ORIENTATION
    arr = cv2.imdecode(np.frombuffer(data, np.uint8), flags)
    assert arr is not None
    return arr


def jpeg_scan(data: bytes) -> bytes:
    """Everything from the first SOS marker on: the entropy-coded data and EOI."""
    pos = 2
    while data[pos + 1] != 0xDA:
        pos += 2 + int.from_bytes(data[pos + 2 : pos + 4], "big")
    return data[pos:]


def png_idat(data: bytes) -> bytes:
    pos, out = 8, b""
    while pos < len(data):
        length = int.from_bytes(data[pos : pos + 4], "big")
        if data[pos + 4 : pos + 8] == b"IDAT":
            out += data[pos + 8 : pos + 8 + length]
        pos += 12 + length
    return out


def vendor_output(emu) -> bytes:
    [job] = emu.jobs.values()
    assert job.output
    return job.output


@pytest.mark.parametrize("kind", ["png", "jpeg"])
async def test_a_result_in_the_output_format_keeps_the_vendors_data_and_gets_our_metadata(
    kind: str, enhancor, tmp_path: Path, data_dir: Path
):
    emu = enhancor(".png" if kind == "png" else ".jpg")
    photo = png_photo(tmp_path, data_dir) if kind == "png" else jpeg_photo(tmp_path, data_dir)
    done = await run_job(photo, tmp_path / "out")
    [result] = done.results
    vendor, written = vendor_output(emu), Path(result).read_bytes()

    assert written != vendor  # the metadata was added...
    assert np.array_equal(cv2_pixels(written), cv2_pixels(vendor))  # ...to the same pixels
    with Image.open(io.BytesIO(written)) as ours, Image.open(io.BytesIO(vendor)) as theirs:
        assert ours.format == theirs.format == kind.upper()
        assert np.array_equal(np.asarray(ours), np.asarray(theirs))
        icc = ours.info.get("icc_profile")
        xmp = ours.info.get("xmp") or ours.info.get("XML:com.adobe.xmp")
        exif = ours.getexif()
    if kind == "jpeg":
        assert jpeg_scan(written) == jpeg_scan(vendor)  # not one coefficient re-encoded
        assert exif[MAKE] == "WireCam" and exif[ORIENTATION] == 1
    else:
        assert png_idat(written) == png_idat(vendor)  # the compressed data as it came
    with Image.open(photo) as src:
        assert icc is not None and icc == src.info["icc_profile"]
    profile = ImageCms.ImageCmsProfile(io.BytesIO(icc))  # LittleCMS parses what we wrote
    assert ImageCms.getProfileDescription(profile).strip()
    assert xmp
    steps = core_recipe.read_from_file(Path(result))
    assert steps is not None and steps.steps[0].operation == "portrait_upscale"
    assert done.result_meta[str(result)]["format"] == kind


async def test_a_result_rotated_by_its_own_exif_is_still_made_upright(
    enhancor, tmp_path: Path, data_dir: Path, monkeypatch: pytest.MonkeyPatch
):
    """The vendor's JPEG says "rotate me": its bytes cannot be kept as they are."""
    emu = enhancor(".jpg")
    real_render = emu._render

    def rotated_output(job) -> bytes:
        with Image.open(io.BytesIO(real_render(job))) as im:
            exif = Image.Exif()
            exif[ORIENTATION] = 6
            buf = io.BytesIO()
            im.save(buf, "JPEG", quality=92, exif=exif.tobytes())
        return buf.getvalue()

    monkeypatch.setattr(emu, "_render", rotated_output)
    done = await run_job(jpeg_photo(tmp_path, data_dir), tmp_path / "out")
    with Image.open(io.BytesIO(vendor_output(emu))) as vendor:
        w, h = vendor.size
    with Image.open(done.results[0]) as ours:
        assert ours.size == (h, w)  # turned upright
        assert ours.getexif().get(ORIENTATION, 1) == 1


@pytest.mark.parametrize("rotated", [False, True], ids=["sent-as-is", "upright-copy"])
async def test_the_photo_is_decoded_at_most_once_per_job(
    rotated: bool, enhancor, tmp_path: Path, data_dir: Path, monkeypatch: pytest.MonkeyPatch
):
    enhancor(".jpg" if rotated else ".png")
    photo = jpeg_photo(tmp_path, data_dir, 6) if rotated else png_photo(tmp_path, data_dir)
    decodes: list[str] = []
    real_load = ImageFile.ImageFile.load

    def counting_load(self):
        if self.tile and str(getattr(self, "filename", "")) == str(photo):
            decodes.append(self.format or "?")  # pixels about to be decoded from the photo
        return real_load(self)

    monkeypatch.setattr(ImageFile.ImageFile, "load", counting_load)
    # Colour JPEGs and plain PNGs are decoded by libjpeg / libpng directly, not by Pillow;
    # a plain PNG sent as it is is proved whole by its chunks and stream (_whole_png).
    for name in ("_jpeg_pixels", "_read_png8", "_whole_png"):
        real = getattr(imageio, name)

        def counting(path, *args, _real=real, _name=name):
            if str(path) == str(photo):
                decodes.append(_name)
            return _real(path, *args)

        monkeypatch.setattr(imageio, name, counting)
    done = await run_job(photo, tmp_path / "out")
    assert len(decodes) <= 1, decodes
    assert decodes, "the photo was never checked before upload"
    if rotated:
        assert any("upright" in n for n in done.result_meta[str(done.results[0])]["input_notes"])


async def test_a_key_in_the_environment_never_opens_the_secret_store(
    enhancor, tmp_path: Path, data_dir: Path, monkeypatch: pytest.MonkeyPatch
):
    enhancor(".png")
    opened: list[str] = []

    def recording_open(settings=None, passphrase_callback=None):
        opened.append("secret store")
        return None

    monkeypatch.setattr(runtime_mod, "open_secret_store", recording_open)
    await run_job(png_photo(tmp_path, data_dir), tmp_path / "out")
    assert opened == []  # keyring detection costs over half a second, for nothing here


async def test_a_job_queued_at_the_vendor_is_followed_without_a_retry_wait(
    enhancor, tmp_path: Path, data_dir: Path, monkeypatch: pytest.MonkeyPatch
):
    emu = enhancor(".png", time_scale=0.2)  # 0.2 s in each state: the first polls see it queued
    monkeypatch.setenv("RETOUCHDESK_ENGINE_BACKOFF_BASE", "5")  # a retry would show as a wait
    messages: list[str] = []
    await run_job(png_photo(tmp_path, data_dir), tmp_path / "out", messages)
    assert any("pending at Enhancor" in m or "Enhancor's queue" in m for m in messages), messages
    assert not [m for m in messages if "again in" in m or "stopped reporting" in m], messages
    assert len(emu.received("/api/upscaler/v1/status", "POST")) >= 2
