"""Light and dark palettes that follow the system, and the few style rules the app needs.

Fusion style everywhere so that the window looks the same on every desktop; the palette
follows the system colour scheme (Qt >= 6.5 reports it) unless the ``ui.theme`` setting
forces ``light`` or ``dark``. Colours are neutral greys so that they do not bias colour
judgement next to the photo.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QGuiApplication, QPalette
from PySide6.QtWidgets import QApplication

from retouchdesk.resources import resource_path

ACCENT = QColor(0x3D, 0x8E, 0xE0)


def system_is_dark() -> bool:
    try:
        return QGuiApplication.styleHints().colorScheme() == Qt.ColorScheme.Dark
    except AttributeError:  # Qt < 6.5: judge by the default window colour
        return QGuiApplication.palette().color(QPalette.ColorRole.Window).lightness() < 128


def _palette(dark: bool) -> QPalette:
    pal = QPalette()
    if dark:
        window, base, text = (
            QColor(0x2B, 0x2B, 0x2D),
            QColor(0x22, 0x22, 0x24),
            QColor(0xE6, 0xE6, 0xE6),
        )
        button, alt, mid = (
            QColor(0x38, 0x38, 0x3B),
            QColor(0x30, 0x30, 0x33),
            QColor(0x55, 0x55, 0x58),
        )
        disabled = QColor(0x80, 0x80, 0x84)
    else:
        window, base, text = (
            QColor(0xEF, 0xEF, 0xF0),
            QColor(0xFF, 0xFF, 0xFF),
            QColor(0x1E, 0x1E, 0x20),
        )
        button, alt, mid = (
            QColor(0xF6, 0xF6, 0xF7),
            QColor(0xF4, 0xF4, 0xF5),
            QColor(0xB8, 0xB8, 0xBC),
        )
        disabled = QColor(0x9A, 0x9A, 0x9E)
    R = QPalette.ColorRole
    pal.setColor(R.Window, window)
    pal.setColor(R.WindowText, text)
    pal.setColor(R.Base, base)
    pal.setColor(R.AlternateBase, alt)
    pal.setColor(R.Text, text)
    pal.setColor(R.Button, button)
    pal.setColor(R.ButtonText, text)
    pal.setColor(R.ToolTipBase, base)
    pal.setColor(R.ToolTipText, text)
    pal.setColor(R.PlaceholderText, disabled)
    pal.setColor(R.Highlight, ACCENT)
    pal.setColor(R.HighlightedText, QColor(0xFF, 0xFF, 0xFF))
    pal.setColor(R.Link, ACCENT)
    pal.setColor(R.Mid, mid)
    pal.setColor(R.Midlight, mid.lighter(120))
    pal.setColor(R.Dark, mid.darker(130))
    G = QPalette.ColorGroup.Disabled
    for role in (R.WindowText, R.Text, R.ButtonText):
        pal.setColor(G, role, disabled)
    return pal


def stylesheet(dark: bool) -> str:
    hint = "#9a9aa0" if dark else "#6a6a70"
    seg_border = "#55555a" if dark else "#b8b8bc"
    seg_bg = "#38383b" if dark else "#f6f6f7"
    section = "#cfcfd4" if dark else "#333338"
    return f"""
QLabel[hint="true"] {{ color: {hint}; font-size: 11px; }}
QLabel#note {{ color: {hint}; font-size: 11px; font-style: italic; }}
QLabel[section="true"] {{ font-weight: 600; color: {section}; padding-top: 8px;
    border-bottom: 1px solid {seg_border}; padding-bottom: 2px; }}
QCheckBox[heading="true"] {{ font-weight: 600; }}
QToolButton[segment] {{ border: 1px solid {seg_border}; background: {seg_bg};
    padding: 3px 8px; min-height: 18px; }}
QToolButton[segment="first"] {{ border-top-left-radius: 4px; border-bottom-left-radius: 4px; }}
QToolButton[segment="last"] {{ border-top-right-radius: 4px; border-bottom-right-radius: 4px;
    border-left: none; }}
QToolButton[segment="middle"] {{ border-left: none; }}
QToolButton[segment]:checked {{ background: {ACCENT.name()}; color: white;
    border-color: {ACCENT.name()}; }}
QToolButton[segment]:disabled {{ color: {hint}; }}
QToolButton#reset {{ color: {hint}; padding: 0 2px; }}
QPushButton[small="true"] {{ padding: 1px 8px; }}
QPushButton#apply {{ background: {ACCENT.name()}; color: white; font-weight: 600;
    padding: 6px 14px; border-radius: 4px; border: 1px solid {ACCENT.darker(115).name()}; }}
QPushButton#apply:disabled {{ background: {seg_bg}; color: {hint}; border-color: {seg_border}; }}
QFrame#banner {{ background: {"#4a3f22" if dark else "#fff4d6"}; border-radius: 4px; }}
QLabel#problem {{ color: {"#f0a35e" if dark else "#a0520c"}; }}
QListView#filmstrip {{ background: {"#1f1f21" if dark else "#e2e2e4"}; border: none; }}
""" + (_dark_frames() if dark else "")


def _dark_frames() -> str:
    """Visible edges for text fields, radio buttons and check boxes on the dark palette.

    Fusion draws these outlines a shade darker than the window, which on a dark window is
    next to invisible: an empty field or an unchecked option could not be seen.
    """
    edge, base, off = "#66666b", "#222224", "#808084"
    accent = ACCENT.name()
    check = resource_path("icons", "check.svg").as_posix()
    check_off = resource_path("icons", "check-disabled.svg").as_posix()
    dot = (
        "qradialgradient(cx:0.5, cy:0.5, radius:0.5, fx:0.5, fy:0.5, "
        f"stop:0 {accent}, stop:0.42 {accent}, stop:0.5 {base}, stop:1 {base})"
    )
    return f"""
QLineEdit {{ border: 1px solid {edge}; border-radius: 3px; background: {base};
    padding: 2px 3px; }}
QLineEdit:focus {{ border-color: {accent}; }}
QLineEdit:disabled {{ color: {off}; border-color: #48484c; }}
QCheckBox::indicator, QRadioButton::indicator {{ width: 13px; height: 13px;
    border: 1px solid {edge}; background: {base}; }}
QCheckBox::indicator {{ border-radius: 3px; }}
QRadioButton::indicator {{ border-radius: 7px; }}
QCheckBox::indicator:hover, QRadioButton::indicator:hover {{ border-color: {accent}; }}
QCheckBox::indicator:checked {{ background: {accent}; border-color: {accent};
    image: url({check}); }}
QCheckBox::indicator:indeterminate {{ background: {edge}; }}
QRadioButton::indicator:checked {{ background: {dot}; border-color: {accent}; }}
QCheckBox::indicator:disabled, QRadioButton::indicator:disabled {{ border-color: #48484c; }}
QCheckBox::indicator:checked:disabled {{ background: #48484c; image: url({check_off}); }}
"""


def apply_theme(app: QApplication, theme: str = "system") -> bool:
    """Apply Fusion with the light or dark palette; returns True when dark."""
    dark = system_is_dark() if theme == "system" else theme == "dark"
    app.setStyle("Fusion")
    app.setPalette(_palette(dark))
    app.setStyleSheet(stylesheet(dark))
    return dark


def follow_system(app: QApplication) -> None:
    """Re-apply the palette when the desktop switches between light and dark (Qt >= 6.5)."""
    hints = QGuiApplication.styleHints()
    signal = getattr(hints, "colorSchemeChanged", None)
    if signal is not None:
        signal.connect(lambda *_: apply_theme(app, "system"))
