"""On-disk cache of target features (content features and style Gram matrices) across the trials of a sweep.

A sweep's trials share images and layers, so the targets of, say, ten α/β trials are the same ten times.
With ``NSTSTUDY_TARGET_CACHE`` set to a folder (``nststudy sweep`` sets it to ``<runs>/.targets`` for its
trials), each target set is computed once and read back by later trials. The key covers everything the
numbers depend on: the image's pixels and size (SHA-1 of its bytes), the model, pooling, the weights (md5,
or the seed of random weights), the layers and the kind (features or Grams). Unset, nothing is cached.

Files are written atomically; an unreadable entry is recomputed and replaced, never trusted.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np

from .files import atomic_path

ENV = "NSTSTUDY_TARGET_CACHE"
VERSION = 1  # bump when the meaning of a stored target changes


def cache_dir() -> Path | None:
    folder = os.environ.get(ENV, "").strip()
    return Path(folder) if folder else None


def weights_id(source) -> str:
    """What identifies a model's weights: the file's md5, or the seed of random weights."""
    if source.is_random:
        return f"random-{source.seed}"
    return source.md5 or str(source.path)


def target_key(image: np.ndarray, *, model: str, pooling: str, weights: str, layers, kind: str) -> str:
    pixels = hashlib.sha1(np.ascontiguousarray(image).tobytes())
    pixels.update(f"{image.shape}{image.dtype}".encode())
    meta = {"image": pixels.hexdigest(), "model": model, "pooling": pooling, "weights": weights,
            "layers": list(layers), "kind": kind, "version": VERSION}
    return f"{kind}-{hashlib.sha1(json.dumps(meta, sort_keys=True).encode()).hexdigest()[:24]}"


def cached(key: str, compute) -> dict[str, np.ndarray]:
    """``compute()`` (a dict of arrays), or its earlier result stored under ``key`` in the cache folder."""
    folder = cache_dir()
    if folder is None:
        return compute()
    path = folder / f"{key}.npz"
    if path.is_file():
        try:
            with np.load(path) as stored:
                return {name: stored[name] for name in stored.files}
        except Exception:  # truncated or corrupt: recompute and replace
            pass
    arrays = {name: np.asarray(value) for name, value in compute().items()}
    folder.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            np.savez(f, **arrays)
    return arrays


__all__ = ["cached", "target_key", "weights_id", "cache_dir", "ENV"]
