"""A study's records from its trial folders: results.csv, each trial's result as trials/<trial>.jpg, the
figures (metrics.png, grid.jpg, losses.png, tradeoff.png: drawn by ``nststudy.studyfigures``) and README.md,
for runs with snapshots also their record (``nststudy.snapshotrecord``), plus the index experiments/README.md
(and a committed results.csv read back). Tables: ``nststudy.tables``. Reads run records only; never runs
anything."""

from __future__ import annotations

import csv
import json
import textwrap
from pathlib import Path

from . import status as st
from .figurespec import resolve
from .files import atomic_path, save_figure, save_jpeg, write_text
from .runs import SNAPSHOT_TABLE, is_complete
from .contactsheet import GRID_DPI, contact_sheet, snapshot_sheet, weights_label
from .histories import committed_histories, finished_histories, write_histories
from .studyfigures import (comparable, loss_curves, loss_overlay, metric_figure, rows_weights_label, snapshot_curves,
                           trial_label, tradeoff)
from .snapshotrecord import SHEET, collect_snapshots, kept_snapshot_links, snapshot_table, write_snapshot_images
from .sweeps import Sweep, Trial, format_value, load_sweep, pair_label, preset_overrides, trial_state
from .tables import TRIAL_QUALITY, TRIALS, markdown_table, results_csv, rows_from_csv, trial_link

GRID = "grid.jpg"  # JPEG: a grid of 20 tiles of 270 px is several MB as PNG
GRID_QUALITY = 88


def collect(trials: list[Trial], runs: Path) -> list[dict]:
    """One row per trial: its swept values, status, the final value of every term its run recorded (by name,
    as result.json's ``final`` lists them), the start image's total loss where recorded (``initial_total``), wall
    time and weights label."""
    rows = []
    for t in trials:
        folder = runs / t.id
        status, reason = trial_state(folder)  # the statuses of nststudy.status
        row = {"trial": t.id, **{k: format_value(v) for k, v in t.axes.items()}, "status": status}
        if is_complete(folder):
            result = json.loads((folder / "result.json").read_text())
            row.update({k: v for k, v in result["final"].items() if k != "seconds"})
            start = (result.get("info") or {}).get("initial_loss")
            if start is not None:  # the start image's total: what "worsened" is judged against
                row["initial_total"] = start
            row.update(steps=result.get("steps"), wall_seconds=result.get("wall_seconds"),
                       weights=result.get("weights"))
            row.update({k: v for k, v in result.items() if k.startswith("metric_")})
        if reason:
            row["reason"] = reason
        rows.append(row)
    return rows


def _losses(row: dict) -> str:
    """' (total loss X at the start, Y at the end)' where both were recorded, else ''."""
    start, end = row.get("initial_total"), row.get("total")
    return f" (total loss {start:.3g} at the start, {end:.3g} at the end)" if None not in (start, end) else ""


def _figures(sweep: Sweep, rows, out: Path) -> list[str]:
    """The README's figure lines, for the figures the record holds: metrics, grid, losses, trade-off."""
    parts = []
    grid = next((g for g in (GRID, "grid.png") if (out / g).is_file()), None)  # an older record's PNG grid
    for name, alt in (("metrics.png", "metrics"), (grid, "grid"), (SHEET, "snapshots"), ("losses.png", "losses")):
        if name and (out / name).is_file():
            parts += [f"![{alt}]({name})", ""]
    if ("task" not in sweep.base and (out / "tradeoff.png").is_file()
            and any(r.get("metric_ssim_content") is not None for r in rows)):
        parts += ["![trade-off](tradeoff.png)", ""]
    elif "task" not in sweep.base and any(r.get("metric_reference") for r in rows) and not comparable(rows):
        parts += ["No trade-off plot: within an image pair these trials measure their style distance against "
                  "different references (`metric_reference` in results.csv), so their x-values do not compare.", ""]
    return parts


def study_readme(sweep: Sweep, rows, preset, runs: Path, links: dict | None = None,
                 snapshots: list[dict] | None = None) -> str:
    """README.md in issue 18's order: the question, the figures and what they show, the numbers, whether the
    seed's claim holds; then how to reproduce it and what the record holds."""
    rel = sweep.path.relative_to(sweep.path.parents[2]) if len(sweep.path.parents) > 2 else sweep.path
    cmd = f"nststudy sweep {rel}" + (f" --preset {preset}" if preset else "")
    done = sum(r["status"] == st.COMPLETE for r in rows)
    others = ", ".join(f"{n} {s}" for s, n in st.counts(r["status"] for r in rows).items()
                       if s != st.COMPLETE)
    wall = sum(r.get("wall_seconds") or 0 for r in rows)
    parts = [f"# {sweep.name}", "", f"**Question.** {sweep.question}", "", f"**Source.** {sweep.source}", ""]
    if preset:
        scaled = "; ".join(f"{k} {', '.join(map(str, m))} -> {', '.join(map(str, m.values()))}"
                           for k, m in preset_overrides(sweep, preset)[1].items())
        parts += [f"> Preset `{preset}`: tiny images, a few steps and random weights. These figures test the "
                  "machinery only and say nothing about style transfer."
                  + (f" Swept counts scaled down in proportion: {scaled}." if scaled else ""), ""]
    parts += _figures(sweep, rows, runs.parent)
    if sweep.notes and not preset:
        parts += ["## What the figure shows", "", sweep.notes, ""]
    parts += ["## Numbers", "", markdown_table(rows, links), ""]
    parts += snapshot_table(snapshots or [], links or {})
    failed = [r for r in rows if r.get("reason")]
    if failed:
        parts += ["Failed trials:", ""] + [f"- `{r['trial']}`: {textwrap.shorten(r['reason'], 500)}" for r in failed] + [""]
    flagged = [r for r in rows if r["status"] in st.FLAGGED]
    if flagged:
        parts += ["Flagged trials (finished, but not as asked; results.csv holds every number):", ""]
        parts += [f"- `{r['trial']}` is {r['status']}: {st.MEANING[r['status']]}{_losses(r)}" for r in flagged] + [""]
    if sweep.claim and not preset:
        parts += ["## Does the seed's claim hold?", "", sweep.claim, ""]
    parts += [f"**Reproduce.** `{cmd}` (resumable: a re-run reuses the finished trials whose parameters, images and "
              "notebook defaults are unchanged)", ""]
    if sweep.expected_runtime:
        parts += [f"**Expected runtime.** {sweep.expected_runtime}", ""]
    last = runs.parent / "sweep.json"
    ran = json.loads(last.read_text()) if last.is_file() else None
    took = (f" The last `nststudy sweep` call that ran trials ran {ran['ran']} in {ran['wall_seconds'] / 60:.1f} "
            f"min here (finished {ran['finished']}, {ran['workers']} worker(s))." if ran else "")
    parts += [f"**Record.** {done}/{len(rows)} trials complete{f' ({others})' if others else ''}; optimisation wall "
              f"time {wall / 60:.1f} min in all; weights: {rows_weights_label(rows)}.{took}", ""]
    parts += ["_Generated by `nststudy.report` from the trial records; edit `sweep.yaml`, not this file._", ""]
    return "\n".join(parts)


def write_index(experiments: Path) -> Path:
    """experiments/README.md: one line per study with its question and how far it has run."""
    lines = ["# Studies", "", "Each folder holds a `sweep.yaml` (the methods), and once run, `README.md`, "
             "`metrics.png`, `grid.jpg`, `losses.png`, `results.csv`, each trial's result as `trials/<trial>.jpg` "
             "and its per-step loss history as `trials/<trial>.history.csv.gz`. Run one with "
             "`nststudy sweep experiments/<study>/sweep.yaml`.",
             "", "| study | question | source | record |", "|---|---|---|---|"]
    for path in sorted(Path(experiments).glob("*/sweep.yaml")):
        try:
            sweep = load_sweep(path)
        except (ValueError, FileNotFoundError) as e:
            lines.append(f"| {path.parent.name} | (invalid sweep file: {e}) | | |")
            continue
        csv_path = path.parent / "results.csv"
        if csv_path.is_file():
            with open(csv_path) as f:
                statuses = [r["status"] for r in csv.DictReader(f)]
            record = f"[{statuses.count(st.COMPLETE)}/{len(statuses)} trials](./{path.parent.name}/README.md)"
        else:
            record = "not run yet"
        lines.append(f"| [{sweep.name}](./{path.parent.name}/sweep.yaml) | {sweep.question} | {sweep.source} | {record} |")
    return write_text(Path(experiments) / "README.md", "\n".join(lines) + "\n")


def write_trial_images(rows: list[dict], runs: Path, out: Path) -> dict:
    """Each finished trial's result (``image.png``) as ``out/trials/<trial>.jpg`` at the run's full size;
    JPEGs of trials that no longer have a finished result in this sweep are removed. Returns {trial id: href}."""
    folder = out / TRIALS
    written = {}
    for r in rows:
        src = runs / r["trial"] / "image.png"
        if r["status"] in st.FINISHED and src.is_file():
            save_jpeg(src, folder / f"{r['trial']}.jpg", TRIAL_QUALITY)
            written[r["trial"]] = trial_link(r["trial"])
    for stale in folder.glob("*.jpg") if folder.is_dir() else ():
        if stale.stem not in written:
            stale.unlink()
    return written


def kept_links(rows: list[dict], out: Path) -> dict:
    """{trial id: href} for the rows whose JPEG the record holds (a fresh clone: no runs to write them from)."""
    return {r["trial"]: trial_link(r["trial"]) for r in rows
            if r.get("trial") and (out / TRIALS / f"{r['trial']}.jpg").is_file()}


def _save(out: Path, name: str, fig, dpi: int = 80) -> None:
    """Save ``fig`` as ``out/name`` (JPEG for .jpg), or remove an older file when this record has none to draw."""
    import matplotlib.pyplot as plt

    path = out / name
    if fig is None:
        path.unlink(missing_ok=True)
    elif path.suffix == ".jpg":
        with atomic_path(path) as tmp:
            # full-resolution colour (4:4:4), as the trial JPEGs: the grid shows the colour grain they show
            fig.savefig(tmp, dpi=dpi, format="jpeg", pil_kwargs={"quality": GRID_QUALITY, "subsampling": 0},
                        bbox_inches="tight", pad_inches=0.05)
    else:
        save_figure(fig, path, dpi=dpi)
    if fig is not None:
        plt.close(fig)


def figure_spec(sweep: Sweep, rows: list[dict]) -> dict:
    """The metric figure to draw for these rows: the sweep's ``figure:`` block with its defaults filled in."""
    return resolve(sweep.figure, sweep.axes, "task" in sweep.base, {k for r in rows for k in r}, comparable(rows),
                   [pair_label(p) for p in sweep.pairs])


def write_report(sweep: Sweep, trials: list[Trial], runs: Path, preset=None) -> dict:
    """Write results.csv, the trial JPEGs and loss histories, metrics.png, grid.jpg, losses.png and README.md
    beside the runs folder (removing an older grid.png); refresh the index."""
    out = runs.parent
    rows = collect(trials, runs)
    write_text(out / "results.csv", results_csv(rows))
    links = write_trial_images(rows, runs, out)
    histories = finished_histories(trials, runs)
    write_histories(list(histories), runs, out)
    weights = weights_label(trials, runs)
    snapshots = collect_snapshots(trials, runs)
    if snapshots:
        write_text(out / SNAPSHOT_TABLE, results_csv(snapshots))
    else:
        (out / SNAPSHOT_TABLE).unlink(missing_ok=True)
    links.update(write_snapshot_images(snapshots, runs, out))
    labels = {t.id: trial_label(sweep, t) or t.id for t in trials}
    title = f"{sweep.name}: snapshots — {rows_weights_label(rows)}"
    _save(out, GRID, contact_sheet(sweep, trials, runs), dpi=GRID_DPI)
    (out / "grid.png").unlink(missing_ok=True)
    _save(out, SHEET, snapshot_sheet(title, snapshots, runs, labels) if snapshots else None, dpi=GRID_DPI)
    _save(out, "losses.png", loss_overlay(sweep, trials, histories, weights))
    spec = figure_spec(sweep, rows)
    if spec["kind"] == "metric":
        figure = metric_figure(sweep, rows, spec)
    elif spec["kind"] == "snapshots":
        figure = snapshot_curves(f"{sweep.name}: metrics of the snapshots against the step — "
                                 f"{rows_weights_label(rows)}", snapshots, spec, labels)
    else:
        figure = loss_curves(sweep, trials, histories, weights, spec)
    _save(out, "metrics.png", figure)
    return _tradeoff_and_text(sweep, trials, rows, preset, runs, links, snapshots=snapshots)


def _tradeoff_and_text(sweep: Sweep, trials, rows, preset, runs: Path, links, readme_rows=None,
                       snapshots=None) -> dict:
    """Draw the trade-off plot (``rows``: one per trial) or remove a stale one, write README.md (from
    ``readme_rows``, default ``rows``) and the index; return the records' paths."""
    out = runs.parent
    _save(out, "tradeoff.png", tradeoff(sweep, trials, rows))
    write_text(out / "README.md", study_readme(sweep, rows if readme_rows is None else readme_rows, preset, runs,
                                               links, snapshots))
    write_index(sweep.folder.parent)
    grid = out / GRID if (out / GRID).is_file() or not (out / "grid.png").is_file() else out / "grid.png"
    return {"results": str(out / "results.csv"), "grid": str(grid), "losses": str(out / "losses.png"),
            "metrics": str(out / "metrics.png"), "trial_images": str(out / TRIALS), "readme": str(out / "README.md")}


def build_report(sweep_path, preset=None) -> dict:
    """Regenerate a study's records from what its trial folders hold (the report notebook calls this).

    With no trial folder at all (a fresh clone: runs are not committed) but a committed results.csv, the
    committed grid, trial and snapshot JPEGs, results.csv and snapshots.csv are kept as they are, never
    replaced by an empty record; the figures the committed tables can draw are redrawn (the trade-off plot,
    metrics.png unless drawn from snapshots, and from the committed loss histories losses.png and the loss
    kinds of metrics.png; an older record without histories keeps its loss figures), and README.md is rewritten
    from the tables, the JPEGs there are and the sweep file's current text (e.g. edited ``notes``).
    """
    from .sweeps import expand, runs_folder

    sweep = load_sweep(sweep_path)
    trials = expand(sweep, preset)
    runs = runs_folder(sweep, preset, trials)
    out = runs.parent
    if (out / "results.csv").is_file() and not any((runs / t.id).exists() for t in trials):
        rows = rows_from_csv(out / "results.csv")
        by_id = {r.get("trial"): r for r in rows}
        known = [t for t in trials if t.id in by_id]
        spec = figure_spec(sweep, rows)
        if spec["kind"] == "metric":
            _save(out, "metrics.png", metric_figure(sweep, [by_id[t.id] for t in known], spec))
        histories = committed_histories([t.id for t in known], out)
        if histories:
            weights = rows_weights_label([by_id[t] for t in histories])
            _save(out, "losses.png", loss_overlay(sweep, known, histories, weights))
            if spec["kind"] in ("loss_vs_time", "loss_vs_step"):
                _save(out, "metrics.png", loss_curves(sweep, known, histories, weights, spec))
        snapshots = rows_from_csv(out / SNAPSHOT_TABLE) if (out / SNAPSHOT_TABLE).is_file() else []
        links = {**kept_links(rows, out), **kept_snapshot_links(snapshots, out)}
        paths = _tradeoff_and_text(sweep, known, [by_id[t.id] for t in known], preset, runs, links,
                                   readme_rows=rows, snapshots=snapshots)
        return {**paths, "kept_figures": True}
    return write_report(sweep, trials, runs, preset)


__all__ = ["collect", "write_report", "write_index", "build_report", "write_trial_images", "figure_spec",
           "study_readme"]
