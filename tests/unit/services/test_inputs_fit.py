"""The one fit-to-limits path (services.inputs) when only the file is too large.

The window's question (``check_limits``) and the copy the engine sends (``prepare_image`` with
``fit``) agree on the size, and the copy fits the byte limit, read back by Pillow.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from tests.doubles.fake_provider import SCHEMA_DIR

from retouchdesk.core.errors import InputError
from retouchdesk.core.schema import load_provider
from retouchdesk.services import inputs


def test_a_file_too_large_in_bytes_is_fitted_by_pixels_the_window_and_engine_agree(
    tmp_path: Path,
):
    op = load_provider(SCHEMA_DIR / "fake.toml").operations["brighten"]
    op = replace(op, limits=replace(op.limits, max_bytes=200_000))
    noisy = np.random.default_rng(3).integers(0, 256, (600, 800, 3), dtype=np.uint8)
    photo = tmp_path / "noisy.png"
    Image.fromarray(noisy, "RGB").save(photo)
    assert photo.stat().st_size > 1_000_000  # noise does not compress

    check = inputs.check_limits(photo, op, local=False)
    assert check.problems == [
        f"the file is {photo.stat().st_size / 1e6:.1f} MB, the limit is 0.2 MB"
    ]
    assert check.fixable and check.fit_size is not None
    assert check.fit_size[0] < 800 and abs(check.fit_size[0] / check.fit_size[1] - 4 / 3) < 0.01

    with pytest.raises(InputError, match=r"^noisy\.png cannot be used for Brighten: the file is"):
        inputs.prepare_image(photo, op, tmp_path / "plain", fit=False, local=False)

    sent = inputs.prepare_image(photo, op, tmp_path / "fit", fit=True, local=False)
    assert sent.sent_size == check.fit_size  # what the window offered is what is sent
    assert sent.send.stat().st_size <= 200_000
    with Image.open(sent.send) as im:
        assert im.size == check.fit_size


def test_a_job_with_the_fit_option_sends_the_copy_and_records_its_size(tmp_path: Path):
    """``prepare_for_job``: the job option decides the fit, the output and scratch folders are
    made, and what the result's metadata records comes with it."""
    from tests.doubles.records import job_record

    from retouchdesk.services.jobfiles import WritableFolders
    from retouchdesk.services.jobspec import FIT_LIMITS

    op = load_provider(SCHEMA_DIR / "fake.toml").operations["brighten"]
    op = replace(op, limits=replace(op.limits, max_bytes=200_000))
    photo = tmp_path / "noisy.png"
    noisy = np.random.default_rng(5).integers(0, 256, (300, 400, 3), dtype=np.uint8)
    Image.fromarray(noisy, "RGB").save(photo)
    rec = job_record("noisy", tmp_path, input_path=photo, options={FIT_LIMITS: True})
    work = tmp_path / "work"
    sent = inputs.prepare_for_job(rec, op, {}, work, local=False, folders=WritableFolders())
    assert sent.sent_size is not None and sent.send.parent == work
    assert sent.result_meta()["sent_downscaled_to"] == list(sent.sent_size)
    assert (tmp_path / "out").is_dir() and work.is_dir()
    rec.options = {}
    with pytest.raises(InputError, match=r"the limit is 0\.2 MB"):
        inputs.prepare_for_job(rec, op, {}, work, local=False, folders=WritableFolders())
    assert inputs.JobInput(photo).result_meta() == {}  # sent as it is: nothing to record
