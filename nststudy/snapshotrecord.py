"""A study's snapshots in its record: for trials that saved snapshots (``snapshot_every``), the rows of their
snapshots.csv, each snapshot as trials/<trial>/step_NNNNNN.jpg and the README's table of them. Reads run records
only; ``nststudy.report`` calls it."""

from __future__ import annotations

from pathlib import Path

from .contactsheet import snapshot_path
from .files import save_jpeg
from .runs import SNAPSHOT_TABLE, is_complete
from .sweeps import Trial
from .tables import TRIAL_QUALITY, TRIALS, markdown_table, rows_from_csv, snapshot_key, trial_link

SHEET = "snapshots.jpg"  # the runs' snapshots, one row per trial; their numbers in snapshots.csv


def collect_snapshots(trials: list[Trial], runs: Path) -> list[dict]:
    """One row per snapshot of every finished trial that saved snapshots (``snapshot_every``): ``trial``, then its
    run's snapshots.csv row (step, seconds, total, the metrics of the snapshot's image)."""
    rows = []
    for t in trials:
        path = runs / t.id / SNAPSHOT_TABLE
        if is_complete(runs / t.id) and path.is_file():
            rows += [{"trial": t.id, **r} for r in rows_from_csv(path)]
    return rows


def snapshot_table(snapshots: list[dict], links: dict) -> list[str]:
    """The README's lines for the runs' snapshots: a table, a row per snapshot linking its JPEG ([] for none)."""
    if not snapshots:
        return []
    many = len({r["trial"] for r in snapshots}) > 1
    shown = [{"trial": snapshot_key(r), **({"run": r["trial"]} if many else {}),
              **{k: v for k, v in r.items() if k != "trial"}} for r in snapshots]
    return ["### Snapshots", "", f"Each run's image every `snapshot_every` steps, measured as the final results "
            f"are ({SNAPSHOT_TABLE}, {SHEET}).", "", markdown_table(shown, links), ""]


def write_snapshot_images(snapshots: list[dict], runs: Path, out: Path) -> dict:
    """Each snapshot (``collect_snapshots``) as ``out/trials/<trial>/step_NNNNNN.jpg`` at the run's size; the
    snapshot JPEGs of runs that no longer have them are removed. Returns {``snapshot_key``: href}."""
    written = {}
    for r in snapshots:
        src = snapshot_path(runs, r)
        if src.is_file():
            save_jpeg(src, out / TRIALS / f"{snapshot_key(r)}.jpg", TRIAL_QUALITY)
            written[snapshot_key(r)] = trial_link(snapshot_key(r))
    for stale in (out / TRIALS).glob("*/step_*.jpg") if (out / TRIALS).is_dir() else ():
        if f"{stale.parent.name}/{stale.stem}" not in written:
            stale.unlink()
            if not any(stale.parent.iterdir()):
                stale.parent.rmdir()
    return written


def kept_snapshot_links(snapshots: list[dict], out: Path) -> dict:
    """{``snapshot_key``: href} for the snapshot rows whose JPEG the record holds (a fresh clone)."""
    return {snapshot_key(r): trial_link(snapshot_key(r)) for r in snapshots
            if (out / TRIALS / f"{snapshot_key(r)}.jpg").is_file()}


__all__ = ["SHEET", "collect_snapshots", "snapshot_table", "write_snapshot_images", "kept_snapshot_links"]
