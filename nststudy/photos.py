"""The photos a transform network trains on: where they come from, which are held out, and batches of
random crops with flips, scale jitter and input noise (nststudy.train)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from .images import CONTENT_SAMPLES, ImageError, load_image, resize_longest
from .trainconfig import TrainConfig

# The photos trained on when none are given: the bundled sample photos (the Tübingen photo and
# scikit-image's four), names load_image understands. One constant to extend.
DEFAULT_PHOTOS = tuple(CONTENT_SAMPLES)
PHOTO_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")
PHOTO_SCALE = 1.5  # photos are held in memory with their shorter side at PHOTO_SCALE * crop_size



def photo_sources(photos: str) -> list[str]:
    """The photos to train on: ``""`` for ``DEFAULT_PHOTOS``; a folder (its image files, sorted by name); or
    a comma-separated list of image paths and bundled sample names (``astronaut,chelsea,coffee,rocket``)."""
    if not photos:
        return list(DEFAULT_PHOTOS)
    path = Path(photos)
    if "," in photos and not path.exists():
        return [p.strip() for p in photos.split(",") if p.strip()]
    if not path.is_dir():
        raise ImageError(f"photos {photos}: no such folder; give a folder of photos ({', '.join(PHOTO_SUFFIXES)}) "
                         f"or a comma-separated list of images")
    found = sorted(str(p) for p in path.iterdir() if p.is_file() and p.suffix.lower() in PHOTO_SUFFIXES)
    if not found:
        raise ImageError(f"photos {photos}: the folder holds no photos (files ending {', '.join(PHOTO_SUFFIXES)})")
    return found


def split_photos(sources, held_out: int, seed: int) -> tuple[list[str], list[str]]:
    """(trained on, held out): ``held_out`` photos chosen by the seed, the rest for training, order kept."""
    if len(sources) <= held_out:
        raise ImageError(f"{len(sources)} photo(s) but held_out={held_out}: at least one photo must be left "
                         f"to train on; add photos or lower held_out")
    chosen = set(np.random.default_rng(seed).permutation(len(sources))[:held_out].tolist())
    return ([s for i, s in enumerate(sources) if i not in chosen], [s for i, s in enumerate(sources) if i in chosen])


def load_photo(source, crop_size: int) -> np.ndarray:
    """A training photo as RGB uint8, scaled so its shorter side is ``PHOTO_SCALE * crop_size``."""
    image = load_image(source)
    h, w = image.shape[:2]
    short = round(PHOTO_SCALE * crop_size)
    return resize_longest(image, max(short, round(max(h, w) * short / min(h, w))))


class Crops:
    """Batches of random square crops, flips and scale jitter; batch k depends only on (seed, k)."""

    def __init__(self, photos, config: TrainConfig):
        self.photos, self.config = photos, config

    def batch(self, step: int) -> tuple[np.ndarray, np.ndarray]:
        """(crops, noise), float32 (B, S, S, 3): crops in 0..255 and Gaussian noise of std ``noise_std``."""
        c = self.config
        rng = np.random.default_rng([c.seed, step])
        out = np.empty((c.batch_size, c.crop_size, c.crop_size, 3), np.float32)
        for b in range(c.batch_size):
            photo = self.photos[rng.integers(len(self.photos))]
            h, w = photo.shape[:2]
            side = min(h, w, c.crop_size * 2.0 ** rng.uniform(-c.scale_jitter, c.scale_jitter))
            y0, x0 = rng.uniform(0, h - side), rng.uniform(0, w - side)
            crop = Image.fromarray(photo).resize((c.crop_size, c.crop_size), Image.BILINEAR,
                                                 box=(x0, y0, x0 + side, y0 + side))
            crop = np.asarray(crop, np.float32)
            out[b] = crop[:, ::-1] if c.flip and rng.random() < 0.5 else crop
        noise = rng.normal(0.0, c.noise_std, out.shape).astype(np.float32) if c.noise_std else np.zeros_like(out)
        return out, noise
