"""Atomic file writes: write to a temporary file in the same folder, then rename over the target.

A process killed at any moment leaves either the old file or the new one, never half of one.
"""

from __future__ import annotations

import json
import os
import secrets
from contextlib import contextmanager
from pathlib import Path


def _create_temp(path: Path, suffix: str) -> Path:
    """Create an empty, unique temporary file next to ``path`` with the permissions a plain
    ``open(path, "w")`` would give (0o666 less the umask, applied by the kernel).

    Never reads the umask with ``os.umask``, which can only be read by setting it: another thread creating
    a file in between would get the wrong permissions. (``mkstemp`` creates its file 0o600, which would
    leave every record readable by its owner only.)
    """
    for _ in range(100):
        tmp = path.parent / f".{path.name}.{secrets.token_hex(4)}{suffix}"
        try:
            os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
            return tmp
        except FileExistsError:
            continue
    raise FileExistsError(f"{path.parent}: could not create a unique temporary file for {path.name}")


@contextmanager
def atomic_path(path, suffix=None):
    """Yield a temporary path next to ``path``; on success it replaces ``path`` atomically.

    The new file keeps the old file's permissions, else gets those of a plain ``open(path, "w")``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _create_temp(path, suffix or path.suffix or ".tmp")
    try:
        yield tmp
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        try:
            os.chmod(tmp, path.stat().st_mode & 0o777)
        except FileNotFoundError:
            pass  # a new file: the mode it was created with stands
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def write_text(path, text: str) -> Path:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)


def write_json(path, data) -> Path:
    return write_text(path, json.dumps(data, indent=2, sort_keys=False, default=str) + "\n")


def save_figure(fig, path, dpi=100) -> Path:
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=dpi, bbox_inches="tight", format=Path(path).suffix.lstrip(".") or "png")
    return Path(path)


def save_jpeg(src, dst, quality: int = 90) -> Path:
    """``src`` (any image file PIL reads) as an RGB JPEG at ``dst``, atomically, making ``dst``'s folder.

    Full-resolution colour (4:4:4, no chroma subsampling): the JPEG default 4:2:0 halves the colour resolution
    and wipes out the fine colour grain the colour distance measures. Over 16 stylised results of the studies it
    put the colour distance to the painting a median 32% (up to 85%) below the PNG's; 4:4:4 at quality 90 keeps
    it within a median 4% (at most 18%), for about 1.7x the bytes."""
    from PIL import Image

    Path(dst).parent.mkdir(parents=True, exist_ok=True)
    with Image.open(src) as im, atomic_path(dst) as tmp:
        im.convert("RGB").save(tmp, format="JPEG", quality=quality, subsampling=0)
    return Path(dst)

