"""Images in and out: load (path, PIL image, array or bundled sample), resize, save (colour spaces: ``colour``).

Conversions (documented in the README, "Inputs accepted"):
- EXIF orientation is applied, so a photo is oriented as a viewer shows it.
- Grayscale (L, 1), palette (P), CMYK and YCbCr become RGB; alpha (RGBA, LA, PA) is composited on white.
- 16-bit images (I;16, I) are scaled to 8 bits by their full 0..65535 range; 32-bit float images
  (F) are taken as 0..1 when their maximum is <= 1, else as 0..255, then clipped.
- Arrays: uint8 as is; other dtypes are taken as 0..255 and clipped; (H, W) is grayscale, (H, W, 4) RGBA.
Pillow's decompression-bomb limit stays on.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from .files import atomic_path

SKIMAGE_CONTENT = ("astronaut", "chelsea", "coffee", "rocket")  # photos scikit-image ships
SKIMAGE_STYLE = ("hubble_deep_field", "brick", "gravel", "grass")  # its textures
# The photo and paintings of Gatys et al. 2016 Fig. 2 and two more styles, bundled as JPEGs in
# nststudy/samples/ (credits and licences in its README; the Tübingen photo is CC BY 3.0, Andreas Praefcke).
PAINTING_CONTENT = ("tubingen",)
PAINTINGS = ("starry_night", "the_scream", "shipwreck", "great_wave", "udnie")
CONTENT_SAMPLES = PAINTING_CONTENT + SKIMAGE_CONTENT
STYLE_SAMPLES = PAINTINGS + SKIMAGE_STYLE
SAMPLES = CONTENT_SAMPLES + STYLE_SAMPLES
SAMPLE_DIR = Path(__file__).resolve().parent / "samples"
MIN_SIZE = 16  # pixels on the shortest side below which VGG's five poolings leave nothing


class ImageError(ValueError):
    """An input image that cannot be used; the message names the input and the problem."""


def load_sample(name: str) -> np.ndarray:
    """A bundled image (no download): one of ``SAMPLES``, a JPEG in ``samples/`` or a scikit-image sample."""
    name = name.removeprefix("sample:")
    if name not in SAMPLES:
        raise ImageError(f"unknown sample {name!r}; bundled samples: {', '.join(SAMPLES)}")
    if name in PAINTING_CONTENT + PAINTINGS:
        return _read_file(SAMPLE_DIR / f"{name}.jpg")
    from skimage import data

    return to_rgb_array(getattr(data, name)(), name)


def load_image(source, max_size=None) -> np.ndarray:
    """Read ``source`` (path, ``sample:NAME`` or a bundled sample name, PIL image, or array) as RGB uint8.

    With ``max_size``, an image whose longest side exceeds it is downscaled to that size.
    """
    if isinstance(source, np.ndarray):
        array = to_rgb_array(source, "array")
    elif isinstance(source, Image.Image):
        array = _pil_to_rgb(source, "PIL image")
    elif isinstance(source, (str, Path)):
        text = str(source)
        if text.startswith("sample:") or (text in SAMPLES and not Path(text).exists()):
            array = load_sample(text)
        else:
            array = _read_file(Path(source))
    else:
        raise ImageError(f"cannot read an image from {type(source).__name__}; pass a path, a PIL image, "
                         f"a HxWx3 array or a sample name ({', '.join(SAMPLES)})")
    if max_size is not None and max(array.shape[:2]) > max_size:
        array = resize_longest(array, max_size)
    return array


def _read_file(path: Path) -> np.ndarray:
    if not path.exists():
        raise ImageError(f"{path}: no such file")
    if path.is_dir():
        raise ImageError(f"{path}: is a directory, not an image file")
    if path.stat().st_size == 0:
        raise ImageError(f"{path}: the file is empty")
    try:
        with Image.open(path) as im:
            im.load()
            return _pil_to_rgb(im, str(path))
    except Image.DecompressionBombError as e:
        raise ImageError(f"{path}: refused as a possible decompression bomb ({e}); "
                         f"downscale it first or raise PIL.Image.MAX_IMAGE_PIXELS knowingly") from None
    except UnidentifiedImageError:
        raise ImageError(f"{path}: not an image file Pillow can read (PNG, JPEG, TIFF, BMP, WebP, ...)") from None
    except (OSError, SyntaxError) as e:
        raise ImageError(f"{path}: the image is truncated or corrupt ({e})") from None


def _pil_to_rgb(im: Image.Image, name: str) -> np.ndarray:
    im = ImageOps.exif_transpose(im)
    if im.mode in ("I;16", "I;16B", "I;16L", "I"):
        return to_rgb_array(np.asarray(im, dtype=np.float64) / 257.0, name)
    if im.mode == "F":
        a = np.asarray(im, dtype=np.float64)
        return to_rgb_array(a * 255.0 if np.nanmax(a) <= 1.0 else a, name)
    if im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info):
        im = im.convert("RGBA")
        white = Image.new("RGBA", im.size, (255, 255, 255, 255))
        return np.asarray(Image.alpha_composite(white, im).convert("RGB"))
    return np.asarray(im.convert("RGB"))


def to_rgb_array(array, name="array") -> np.ndarray:
    """HxW, HxWx1, HxWx3 or HxWx4 array -> HxWx3 uint8 (alpha composited on white)."""
    a = np.asarray(array)
    if a.ndim == 2:
        a = a[..., None]
    if a.ndim != 3 or a.shape[-1] not in (1, 3, 4):
        raise ImageError(f"{name}: expected an HxW, HxWx3 or HxWx4 image, got shape {a.shape}")
    if a.dtype != np.uint8:
        a = np.clip(np.nan_to_num(a.astype(np.float64)), 0, 255).round().astype(np.uint8)
    if a.shape[-1] == 1:
        a = np.repeat(a, 3, axis=-1)
    elif a.shape[-1] == 4:
        alpha = a[..., 3:].astype(np.float64) / 255.0
        a = (a[..., :3] * alpha + 255.0 * (1 - alpha)).round().astype(np.uint8)
    if min(a.shape[:2]) < 1:
        raise ImageError(f"{name}: image has no pixels (shape {a.shape})")
    return np.ascontiguousarray(a)


def resize(array: np.ndarray, height: int, width: int) -> np.ndarray:
    """Resize an RGB uint8 array to exactly (height, width) with Lanczos filtering."""
    if array.shape[:2] == (height, width):
        return array
    return np.asarray(Image.fromarray(array).resize((width, height), Image.LANCZOS))


def fit_size(shape, longest: int) -> tuple[int, int]:
    """(height, width) with the longest side ``longest`` and the aspect ratio of ``shape``."""
    h, w = shape[:2]
    scale = longest / max(h, w)
    return max(1, round(h * scale)), max(1, round(w * scale))


def resize_longest(array: np.ndarray, longest: int) -> np.ndarray:
    """Resize so the longest side is ``longest`` pixels, keeping the aspect ratio."""
    h, w = fit_size(array.shape, longest)
    if min(h, w) < MIN_SIZE:
        raise ImageError(f"image of {array.shape[1]}x{array.shape[0]} px at longest side {longest} would be "
                         f"{w}x{h} px; the shortest side must be at least {MIN_SIZE} px (aspect ratio too extreme)")
    return resize(array, h, w)


def save_image(array, path) -> Path:
    """Write an RGB uint8 array as PNG (or the path's format), atomically."""
    path = Path(path)
    with atomic_path(path) as tmp:
        Image.fromarray(to_rgb_array(array)).save(tmp, format=Image.registered_extensions().get(path.suffix.lower(), "PNG"))
    return path


__all__ = ["load_image", "load_sample", "resize", "resize_longest", "fit_size", "save_image", "to_rgb_array",
           "ImageError", "SAMPLES", "CONTENT_SAMPLES", "STYLE_SAMPLES", "PAINTINGS", "MIN_SIZE"]
