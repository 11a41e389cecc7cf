"""What the canvas shows: oriented, colour-managed pixels, from the right pyramid level."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageCms
from PySide6.QtCore import QPointF

from retouchdesk.model.display import load_display, make_thumbnail, to_display
from retouchdesk.ui.canvas import Canvas


def qimage_rgb(q) -> np.ndarray:
    from PySide6.QtGui import QImage

    q = q.convertToFormat(QImage.Format.Format_RGB888)
    arr = np.frombuffer(q.constBits(), np.uint8).reshape(q.height(), q.bytesPerLine())
    return arr[:, : q.width() * 3].reshape(q.height(), q.width(), 3).copy()


def test_exif_orientation_is_honoured(tmp_path, data_dir):
    src = Image.open(data_dir / "coffee.png").convert("RGB")  # 600 x 400, landscape
    exif = Image.Exif()
    exif[0x0112] = 6  # stored sideways: rotate 90° clockwise to view
    path = tmp_path / "sideways.jpg"
    src.transpose(Image.Transpose.ROTATE_90).save(path, quality=95, exif=exif)
    img = load_display(path)
    assert (img.width, img.height) == (600, 400)
    shown = qimage_rgb(img.full).astype(float)
    assert np.abs(shown - np.asarray(src, dtype=float)).mean() < 4  # upright, same picture
    thumb, size = make_thumbnail(path)
    assert size == (600, 400) and thumb.width() > thumb.height()


def test_srgb_profile_is_shown_unchanged_and_named(tmp_path, data_dir):
    src = Image.open(data_dir / "chelsea.png").convert("RGB")
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    path = tmp_path / "tagged.png"
    src.save(path, icc_profile=icc)
    img = load_display(path)
    assert "sRGB" in img.icc_name
    diff = np.abs(qimage_rgb(img.full).astype(int) - np.asarray(src, dtype=int))
    assert diff.max() <= 2


def test_a_profile_changes_the_displayed_colours():
    """sRGB-tagged pixels pass unchanged; CMYK ink values become the red they print as."""
    img = Image.new("RGB", (4, 4), (200, 40, 40))
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    same = to_display(img, srgb)
    assert np.asarray(same)[0, 0].tolist() == pytest.approx([200, 40, 40], abs=2)
    cmyk = Image.new("CMYK", (2, 2), (0, 255, 255, 0))  # pure red ink, no profile
    red = np.asarray(to_display(cmyk, None))[0, 0]
    assert red[0] > 200 and red[1] < 80 and red[2] < 80


def test_big_photo_is_painted_from_a_small_level_when_zoomed_out(qtbot, tmp_path):
    w, h = 6000, 4000  # 24 MP
    arr = np.zeros((h, w, 3), np.uint8)
    arr[:, : w // 2] = (220, 30, 30)
    arr[:, w // 2 :] = (30, 30, 220)
    path = tmp_path / "big.jpg"
    Image.fromarray(arr).save(path, quality=85)
    img = load_display(path)
    assert (img.width, img.height) == (w, h)
    assert len(img.levels) >= 3 and img.levels[-1].width() < 800
    canvas = Canvas()
    qtbot.addWidget(canvas)
    canvas.resize(1000, 700)
    canvas.show()
    qtbot.waitExposed(canvas)
    canvas.set_image(img.levels, img.width, img.height)
    assert canvas.fit_mode and canvas.zoom < 0.2
    level, scale = canvas.photo.level_for(canvas.zoom)
    assert level.width() <= w / 4 and scale >= canvas.zoom  # never below one source px per px
    # The view shows the picture: red left, blue right, at the scene positions of the pixels.
    shot = canvas.viewport().grab().toImage()
    left = canvas.mapFromScene(QPointF(w * 0.25, h / 2))
    right = canvas.mapFromScene(QPointF(w * 0.75, h / 2))
    cl, cr = shot.pixelColor(left), shot.pixelColor(right)
    assert cl.red() > 180 and cl.blue() < 80
    assert cr.blue() > 180 and cr.red() < 80
    canvas.actual_size()
    assert canvas.photo.level_for(canvas.zoom)[1] == 1.0


def test_transparency_is_kept_for_the_checkerboard(tmp_path):
    path = tmp_path / "cutout.png"
    Image.new("RGBA", (10, 8), (255, 0, 0, 128)).save(path)
    img = load_display(path)
    assert img.has_alpha
    c = img.full.pixelColor(3, 3)
    assert abs(c.alpha() - 128) <= 1 and c.red() >= 250 and c.green() <= 3


def test_pixel_grid_appears_only_when_zoomed_far_in(qtbot):
    from PySide6.QtGui import QColor, QImage

    img = QImage(40, 30, QImage.Format.Format_RGB32)
    img.fill(QColor(250, 250, 250))
    canvas = Canvas()
    qtbot.addWidget(canvas)
    canvas.resize(400, 300)
    canvas.show()
    qtbot.waitExposed(canvas)
    canvas.set_image([img], 40, 30)

    def darkest_row_pixel(zoom: float) -> int:
        canvas.set_view(zoom, QPointF(20, 15))
        shot = canvas.viewport().grab().toImage()
        left = max(0, canvas.mapFromScene(QPointF(1, 15)).x())
        right = min(shot.width() - 1, canvas.mapFromScene(QPointF(39, 15)).x())
        y = canvas.mapFromScene(QPointF(20, 15.5)).y()
        return min(shot.pixelColor(x, y).red() for x in range(left, right))

    assert darkest_row_pixel(4.0) >= 245  # plain white pixels: no grid
    assert darkest_row_pixel(16.0) < 235  # grid lines between the big pixels
