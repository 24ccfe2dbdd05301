"""Shared test set-up: never touch the network, tiny configs, tiny synthetic images."""

import os

# Set before nststudy (or Keras) is imported anywhere: resolve_weights must never try Keras's download.
os.environ["NSTSTUDY_OFFLINE"] = "1"
# XLA for the optimisation step (chosen per run by nststudy.accel, which skips runs under 96² px or 50 steps)
# does not pay at test sizes: at 32 px each run compiles for ~7 s and then steps at 0.5 s instead of
# 0.06 s. Off for the tests unless NSTSTUDY_XLA is set; test_stylize.py has a slow test of the XLA path.
# With NSTSTUDY_PRECISION as well, no test times candidates (their choice would depend on the machine's load)
# and none writes the user's cache of chosen paths; tests/test_accel.py tests the choice on stub timings.
os.environ.setdefault("NSTSTUDY_PRECISION", "float32")
os.environ.setdefault("NSTSTUDY_PATHS_CACHE", os.path.join(os.environ.get("TMPDIR", "/tmp"),
                                                           f"nststudy-test-paths-{os.getpid()}.json"))
os.environ.setdefault("NSTSTUDY_XLA", "0")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from nststudy.config import StyleConfig  # noqa: E402


@pytest.fixture
def tiny_config() -> StyleConfig:
    """Random (seeded He-normal) weights, 32 px, 8 steps: fast enough for every test."""
    return StyleConfig(weights="random", image_size=32, epochs=1, steps_per_epoch=8, seed=0)


def make_content(h: int = 48, w: int = 32) -> np.ndarray:
    """A smooth, structured RGB uint8 'photo': two ramps and a wave (portrait, 48 high x 32 wide)."""
    y, x = np.mgrid[0:h, 0:w]
    img = np.stack([255 * x / (w - 1), 255 * y / (h - 1), 128 + 100 * np.sin(x / 3.0) * np.cos(y / 4.0)], -1)
    return np.clip(img, 0, 255).astype(np.uint8)


def make_style(h: int = 40, w: int = 40) -> np.ndarray:
    """A square 'texture' of stripes and checks, RGB uint8, a different size from the content."""
    y, x = np.mgrid[0:h, 0:w]
    img = np.stack([((x // 4) % 2) * 255, ((y // 5) % 2) * 200, ((x + y) // 6 % 2) * 150 + 50], -1)
    return img.astype(np.uint8)


@pytest.fixture
def content_image() -> np.ndarray:
    return make_content()


@pytest.fixture
def style_image() -> np.ndarray:
    return make_style()
