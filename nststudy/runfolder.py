"""Stylise into a run folder: snapshots while the run goes, a resume from the last one, the record at the end,
and the metrics of every snapshot (``snapshots.csv``). What ``nststudy stylize`` and the trial notebook call.

A killed run (a sweep's trial at the end of a session) with ``snapshot_every`` set continues from its last
snapshot: ``resume_run(folder)`` by hand, or ``stylize_into(..., resume=True)``, which continues only a
snapshot taken by a run of the same images and config and otherwise starts afresh.
"""

from __future__ import annotations

from pathlib import Path

from .config import StyleConfig
from .files import write_text
from .images import load_image
from .tables import results_csv
from .runs import SNAPSHOT_TABLE, Snapshots, clear_snapshots, load_snapshot, run_directory, save_run


def resumable(directory, content, style, config: StyleConfig) -> dict | None:
    """The folder's last snapshot (``runs.load_snapshot``) when a run of these images and this config took it,
    so that continuing it gives the run asked for; None otherwise (no snapshot, another run's, unreadable)."""
    directory = Path(directory)
    if not config.snapshot_every or not (directory / "snapshot.npz").is_file():
        return None
    try:
        snap = load_snapshot(directory)
    except (OSError, ValueError, KeyError):  # another run's config.json, a damaged file: start afresh
        return None
    same = snap["config"] == config and snap["content"] == str(content) and snap["style"] == str(style)
    return snap if same else None


def stylize_into(directory, content, style, config: StyleConfig, resume: bool = False, progress: bool = True):
    """Run ``stylize(content, style, config)`` and record it in ``directory`` (``runs.save_run``; with random
    weights the folder gets ``runs.run_directory``'s suffix). Returns ``(folder, result)``.

    With ``config.snapshot_every`` the run saves a snapshot every that many steps (``runs.Snapshots``) and,
    once finished, the metrics of each snapshot's image (``snapshots.csv``). ``resume=True`` continues from the
    folder's last snapshot when ``resumable`` accepts it, else starts afresh (which clears old snapshots)."""
    from .models import resolve_weights
    from .stylize import stylize  # looked up at call time, as the CLI always did (tests replace it)

    if not config.snapshot_every:
        result = stylize(content, style, config, progress=progress)
        out = run_directory(directory, result.weights_source)
        clear_snapshots(out)  # no snapshot of another run may stay beside this run's record
        return _finish(out, result)
    out = run_directory(directory, resolve_weights(config.model, config.weights, config.seed))
    snap = resumable(out, content, style, config) if resume else None
    if snap is not None:
        return continue_snapshot(out, snap, progress)
    callback = Snapshots(out, config.snapshot_every, content, style, config)
    return _finish(out, stylize(content, style, config, callback=callback, progress=progress))


def resume_run(directory, progress: bool = True):
    """Continue a killed run from the last snapshot in ``directory``, with the images and config recorded
    there; returns ``(folder, result)``. FileNotFoundError when the folder has no snapshot."""
    return continue_snapshot(Path(directory), load_snapshot(directory), progress)


def continue_snapshot(out: Path, snap: dict, progress: bool = True):
    """Continue the run of ``snap`` (``runs.load_snapshot``) in folder ``out``; returns ``(folder, result)``,
    the record saying ``resumed_from_step``."""
    from .stylize import stylize

    config, done = snap["config"], snap["state"]["step"]
    callback = Snapshots(out, config.snapshot_every, snap["content"], snap["style"], config, snap["history"])
    result = stylize(snap["content"], snap["style"], config, callback=callback, progress=progress,
                     resume=snap["state"])
    offset = snap["history"][-1]["seconds"] if snap["history"] else 0.0
    result.history = snap["history"] + [{**h, "seconds": round(h["seconds"] + offset, 4)} for h in result.history]
    return _finish(out, result, {"resumed_from_step": done})


def _finish(out: Path, result, extra: dict | None = None):
    """The snapshots' metrics, then the record (result.json last: the folder is complete only then)."""
    measure_snapshots(out, result)
    return save_run(result, out, extra), result


def snapshot_rows(directory, result) -> list[dict]:
    """One row per snapshot image in ``directory/snapshots``: its step, the wall time and total loss the
    history gives for that step, and ``result.measure``'s metrics of the image. [] when there is no snapshot or
    the result was not measured (``stylize(..., metrics=False)``)."""
    files = sorted(Path(directory, "snapshots").glob("step_*.png"))
    if not files or result.measure is None:
        return []
    at = {h["step"]: h for h in result.history}
    rows = []
    for path in files:
        step = int(path.stem.split("_")[1])
        metrics = {k: v for k, v in result.measure(load_image(path)).items() if not isinstance(v, str)}
        rows.append({"step": step, "seconds": at.get(step, {}).get("seconds"), "total": at.get(step, {}).get("total"),
                     **metrics})
    return rows


def measure_snapshots(directory, result) -> Path | None:
    """Write ``snapshots.csv`` (``snapshot_rows``) into ``directory``; None, and no file, without snapshots."""
    rows = snapshot_rows(directory, result)
    path = Path(directory) / SNAPSHOT_TABLE
    if not rows:
        path.unlink(missing_ok=True)
        return None
    return write_text(path, results_csv(rows))


__all__ = ["stylize_into", "resume_run", "continue_snapshot", "resumable", "snapshot_rows", "measure_snapshots",
           "SNAPSHOT_TABLE"]
