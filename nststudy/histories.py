"""A study's loss histories in its record: each finished trial's per-step history.csv committed as
trials/<trial>.history.csv.gz, so the loss figures are drawn from committed data, also in a fresh clone (no runs).
Reads run records only; ``nststudy.report`` calls it."""

from __future__ import annotations

import gzip
from pathlib import Path

from .files import atomic_path
from .runs import is_complete, parse_history
from .tables import TRIALS

SUFFIX = ".history.csv.gz"


def history_path(out: Path, trial: str) -> Path:
    return Path(out) / TRIALS / f"{trial}{SUFFIX}"


def finished_histories(trials, runs: Path) -> dict:
    """{trial id: history rows} of the ``trials`` (``sweeps.Trial``) whose run folder is complete."""
    return {t.id: read_history(Path(runs) / t.id / "history.csv") for t in trials if is_complete(Path(runs) / t.id)}


def write_histories(trials: list[str], runs: Path, out: Path) -> dict:
    """Each of ``trials`` (finished trial ids) whose run folder holds a history.csv, gzipped to
    ``history_path(out, id)`` byte for byte (mtime 0: the same history gives the same file); histories of trials
    not among them are removed. Returns {trial id: path written}."""
    written = {}
    for trial in trials:
        src = Path(runs) / trial / "history.csv"
        if src.is_file():
            dst = history_path(out, trial)
            with atomic_path(dst) as tmp, open(tmp, "wb") as raw, \
                    gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as gz:
                gz.write(src.read_bytes())
            written[trial] = dst
    folder = Path(out) / TRIALS
    for stale in folder.glob(f"*{SUFFIX}") if folder.is_dir() else ():
        if stale.name[: -len(SUFFIX)] not in written:
            stale.unlink()
    return written


def read_history(path) -> list[dict]:
    """A committed (gzipped) or run (plain) history.csv as rows: ``step`` an int, every other column a float."""
    data = Path(path).read_bytes()
    return parse_history((gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data).decode())


def committed_histories(trials: list[str], out: Path) -> dict:
    """{trial id: rows} for the ``trials`` whose history the record holds."""
    return {t: read_history(history_path(out, t)) for t in trials if history_path(out, t).is_file()}


__all__ = ["SUFFIX", "history_path", "finished_histories", "write_histories", "read_history", "committed_histories"]
