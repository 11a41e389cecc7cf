"""Shared fixtures of the offline engine's tests: the real photographs as arrays."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

DATA = Path(__file__).resolve().parents[3] / "data"


def photo(name: str) -> np.ndarray:
    """A test photograph as an HxWx3 uint8 RGB array."""
    return np.asarray(Image.open(DATA / name).convert("RGB")).copy()


@pytest.fixture(scope="session")
def load_photo():
    """The loader itself, for tests that need a photo by name."""
    return photo


@pytest.fixture(scope="session")
def astronaut() -> np.ndarray:
    return photo("astronaut.png")


@pytest.fixture(scope="session")
def coffee() -> np.ndarray:
    return photo("coffee.png")


@pytest.fixture(scope="session")
def chelsea() -> np.ndarray:
    return photo("chelsea.png")
