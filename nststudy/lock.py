"""The study lock: one sweep process per study folder (``SweepLock``, an exclusive ``flock`` on its ``.lock``)."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path


class SweepLock:
    """One sweep process per study folder: a second one refuses with a clear message."""

    def __init__(self, folder: Path):
        self.path = Path(folder) / ".lock"

    def __enter__(self):
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(self.fd)
            raise RuntimeError(f"{self.path.parent}: another sweep process is running on this study "
                               f"(lock {self.path}); wait for it or stop it first") from None
        os.ftruncate(self.fd, 0)
        os.write(self.fd, f"{os.getpid()}\n".encode())
        return self

    def __exit__(self, *exc):
        fcntl.flock(self.fd, fcntl.LOCK_UN)
        os.close(self.fd)
