"""A study's records from its trial folders: results.csv, grid.png, losses.png and README.md,
plus the index experiments/README.md. Reads run records only; never runs anything."""

from __future__ import annotations

import csv
import io
import json
import textwrap
from pathlib import Path

from .files import save_figure, write_text
from .runs import is_complete, load_run
from .sweeps import Sweep, Trial, format_value, load_sweep, trial_status

TERMS = ("total", "content", "style", "tv")


def collect(trials: list[Trial], runs: Path) -> list[dict]:
    """One row per trial: its swept values, status, final losses, wall time and weights label."""
    rows = []
    for t in trials:
        folder = runs / t.id
        status = trial_status(folder)
        row = {"trial": t.id, **{k: format_value(v) for k, v in t.axes.items()}, "status": status}
        if is_complete(folder):
            result = json.loads((folder / "result.json").read_text())
            row.update({k: result["final"].get(k) for k in TERMS})
            row.update(steps=result.get("steps"), wall_seconds=result.get("wall_seconds"),
                       weights=result.get("weights"))
            row.update({k: v for k, v in result.items() if k.startswith("metric_")})
        if (folder / "failed.json").is_file():
            row["reason"] = json.loads((folder / "failed.json").read_text()).get("reason")
        rows.append(row)
    return rows


def results_csv(rows: list[dict]) -> str:
    columns = list(dict.fromkeys(k for r in rows for k in r))
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=columns, lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
    return buf.getvalue()


def _layout(sweep: Sweep, trials: list[Trial]):
    """Row and column labels of the contact sheet. Product sweeps: rows = pair (× first axis when there are
    several axes), columns = the remaining axes. Zip sweeps: rows = the first axis when its values repeat
    (with any axis that is constant for that value), columns = the axes that vary within a row."""
    names = list(sweep.axes)
    multi_pair = len(sweep.pairs) > 1

    def label(t, keys):
        return ", ".join(f"{k}={format_value(t.axes[k])}" for k in keys)

    if len(names) == 1:
        row_keys, col_keys = [], names
    elif sweep.combine == "product":
        row_keys, col_keys = names[:1], names[1:]
    else:
        first = [format_value(t.axes[names[0]]) for t in trials]
        if len(set(first)) == len(first):
            row_keys, col_keys = [], names
        else:
            groups = {}
            for t in trials:
                groups.setdefault(format_value(t.axes[names[0]]), []).append(t)
            varies = {k for k in names[1:] for g in groups.values() if len({format_value(t.axes[k]) for t in g}) > 1}
            row_keys = [names[0]] + [k for k in names[1:] if k not in varies]
            col_keys = [k for k in names[1:] if k in varies]
    rows = {}
    for t in trials:
        r = " | ".join(filter(None, [t.axes["pair"] if multi_pair or not row_keys else "", label(t, row_keys)]))
        rows.setdefault(r, {})[label(t, col_keys)] = t
    cols = list(dict.fromkeys(c for r in rows.values() for c in r))
    return rows, cols


def contact_sheet(sweep: Sweep, trials: list[Trial], runs: Path, cell: float = 1.9):
    """The study's picture grid: the input(s) first (content and style, or the original), then one column
    per swept value."""
    import matplotlib.pyplot as plt
    from PIL import Image

    rows, cols = _layout(sweep, trials)
    inputs = ("content", "style") if all("style" in t.params for t in trials) else ("content",)
    k = len(inputs)
    fig, axes = plt.subplots(len(rows), len(cols) + k, figsize=(cell * (len(cols) + k), cell * len(rows) + 0.4),
                             squeeze=False)
    for i, (rlabel, cells) in enumerate(rows.items()):
        shown = [t for t in cells.values() if (runs / t.id / "content.png").is_file()] or list(cells.values())
        folder = runs / shown[0].id  # the inputs, from a trial that got far enough to record them
        for j, name in enumerate(inputs):
            ax = axes[i, j]
            p = folder / f"{name}.png"
            if p.is_file():
                ax.imshow(Image.open(p))
            ax.set_title((name if k == 2 else "original") if i == 0 else "", fontsize=8)
        axes[i, 0].set_ylabel(textwrap.fill(rlabel, 30), fontsize=7)
        for j, clabel in enumerate(cols):
            ax = axes[i, j + k]
            t = cells.get(clabel)
            status = trial_status(runs / t.id) if t else "absent"
            img = runs / t.id / "image.png" if t else None
            if img is not None and img.is_file() and status in ("complete", "diverged"):
                ax.imshow(Image.open(img))
            if status != "complete":
                ax.text(0.5, 0.5, status.upper(), ha="center", va="center", transform=ax.transAxes,
                        color="red", fontsize=9)
            ax.set_title(textwrap.fill(clabel, 28) if i == 0 else "", fontsize=7)
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
    weights = _weights_label(trials, runs)
    fig.suptitle(f"{sweep.name} — {weights}", fontsize=9)
    fig.tight_layout()
    return fig


def loss_overlay(sweep: Sweep, trials: list[Trial], runs: Path, term: str = "total"):
    """Every trial's loss curve on one log-scale plot."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    for t in trials:
        if not is_complete(runs / t.id):
            continue
        hist = load_run(runs / t.id)["history"]
        label = ", ".join(f"{k}={format_value(v)}" for k, v in t.axes.items() if k != "pair" or len(sweep.pairs) > 1)
        ax.plot([h["step"] for h in hist], [max(h[term], 1e-30) for h in hist], label=label, lw=1.2)
    ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel(f"{term} loss")
    ax.grid(True, alpha=0.3)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=6, loc="best")
    ax.set_title(f"{sweep.name}: {term} loss per trial — {_weights_label(trials, runs)}", fontsize=9)
    fig.tight_layout()
    return fig


def tradeoff(sweep: Sweep, trials: list[Trial], rows: list[dict]):
    """Content fidelity (SSIM to the content) against style fidelity (relative Gram distance to the style,
    fixed reference layers), one point per trial, labelled by its swept values; None without metrics."""
    import matplotlib.pyplot as plt

    points = [(r, t) for r, t in zip(rows, trials) if r.get("metric_ssim_content") is not None
              and r.get("metric_style_distance") is not None]
    if not points:
        return None
    fig, ax = plt.subplots(figsize=(6, 4.2))
    for r, t in points:
        x, y = float(r["metric_style_distance"]), float(r["metric_ssim_content"])
        ax.scatter([x], [y], s=18)
        label = ", ".join(format_value(v) for k, v in t.axes.items() if k != "pair" or len(sweep.pairs) > 1)
        ax.annotate(textwrap.shorten(label, 40), (x, y), fontsize=6, xytext=(3, 3), textcoords="offset points")
    ax.set_xlabel("style distance to the style image (relative Gram, conv1_1-conv5_1; lower = more style)")
    ax.set_ylabel("SSIM to the content (luminance; higher = more content)")
    ax.grid(True, alpha=0.3)
    ax.set_title(f"{sweep.name}: content-style trade-off", fontsize=9)
    fig.tight_layout()
    return fig


def _weights_label(trials, runs) -> str:
    labels = set()
    for t in trials:
        p = runs / t.id / "result.json"
        if p.is_file():
            labels.add(json.loads(p.read_text()).get("weights", "?"))
    return " / ".join(sorted(labels)) or "no completed trials"


def markdown_table(rows: list[dict]) -> str:
    if not rows:
        return ""
    skip = {"trial", "reason", "metric_reference"}
    columns = [c for c in dict.fromkeys(k for r in rows for k in r) if c not in skip
               and any(r.get(c) not in (None, 0, 0.0, "") for r in rows)]  # all-zero terms say nothing

    def fmt(v):
        if isinstance(v, float):
            return f"{v:.3g}"
        return "" if v is None else str(v)

    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(fmt(r.get(c)) for c in columns) + " |" for r in rows]
    return "\n".join(lines)


def study_readme(sweep: Sweep, rows, preset, runs: Path) -> str:
    rel = sweep.path.relative_to(sweep.path.parents[2]) if len(sweep.path.parents) > 2 else sweep.path
    cmd = f"nststudy sweep {rel}" + (f" --preset {preset}" if preset else "")
    done = sum(r["status"] == "complete" for r in rows)
    wall = sum(r.get("wall_seconds") or 0 for r in rows)
    parts = [f"# {sweep.name}", "", f"**Question.** {sweep.question}", "", f"**Source.** {sweep.source}", "",
             f"**Reproduce.** `{cmd}` (resumable: a re-run skips finished trials)", ""]
    if sweep.expected_runtime:
        parts += [f"**Expected runtime.** {sweep.expected_runtime}", ""]
    last = runs.parent / "sweep.json"
    ran = json.loads(last.read_text()) if last.is_file() else None
    took = (f" The last `nststudy sweep` call ran {ran['ran']} trial(s) in {ran['wall_seconds'] / 60:.1f} min here "
            f"(finished {ran['finished']}, {ran['workers']} worker(s))." if ran else "")
    parts += [f"**Record.** {done}/{len(rows)} trials complete; optimisation wall time {wall / 60:.1f} min in all; "
              f"weights: {_weights_label_rows(rows)}.{took}", ""]
    if preset:
        parts += [f"> Preset `{preset}`: tiny images, a few steps and random weights. These figures test the "
                  "machinery only and say nothing about style transfer.", ""]
    parts += ["![grid](grid.png)", "", "![losses](losses.png)", ""]
    if (runs.parent / "tradeoff.png").is_file() and any(r.get("metric_ssim_content") is not None for r in rows):
        parts += ["![trade-off](tradeoff.png)", ""]
    parts += ["## Results", "", markdown_table(rows), ""]
    if sweep.notes and not preset:
        parts += ["## What the figure shows", "", sweep.notes, ""]
    failed = [r for r in rows if r.get("reason")]
    if failed:
        parts += ["## Failed trials", ""] + [f"- `{r['trial']}`: {textwrap.shorten(r['reason'], 500)}" for r in failed] + [""]
    parts += ["_Generated by `nststudy.report` from the trial records; edit `sweep.yaml`, not this file._", ""]
    return "\n".join(parts)


def _weights_label_rows(rows) -> str:
    return " / ".join(sorted({str(r.get("weights")) for r in rows if r.get("weights")})) or "none yet"


def write_report(sweep: Sweep, trials: list[Trial], runs: Path, preset=None) -> dict:
    """Write results.csv, grid.png, losses.png and README.md beside the runs folder; refresh the index."""
    import matplotlib.pyplot as plt

    out = runs.parent
    rows = collect(trials, runs)
    write_text(out / "results.csv", results_csv(rows))
    for name, make in (("grid.png", contact_sheet), ("losses.png", loss_overlay)):
        fig = make(sweep, trials, runs)
        save_figure(fig, out / name, dpi=80)
        plt.close(fig)
    fig = tradeoff(sweep, trials, rows)
    if fig is not None:
        save_figure(fig, out / "tradeoff.png", dpi=80)
        plt.close(fig)
    write_text(out / "README.md", study_readme(sweep, rows, preset, runs))
    write_index(sweep.folder.parent)
    return {"results": str(out / "results.csv"), "grid": str(out / "grid.png"),
            "losses": str(out / "losses.png"), "readme": str(out / "README.md")}


def write_index(experiments: Path) -> Path:
    """experiments/README.md: one line per study with its question and how far it has run."""
    lines = ["# Studies", "", "Each folder holds a `sweep.yaml` (the methods), and once run, `README.md`, "
             "`grid.png`, `losses.png` and `results.csv`. Run one with `nststudy sweep experiments/<study>/sweep.yaml`.",
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
            record = f"[{statuses.count('complete')}/{len(statuses)} trials](./{path.parent.name}/README.md)"
        else:
            record = "not run yet"
        lines.append(f"| [{sweep.name}](./{path.parent.name}/sweep.yaml) | {sweep.question} | {sweep.source} | {record} |")
    return write_text(Path(experiments) / "README.md", "\n".join(lines) + "\n")


def build_report(sweep_path, preset=None) -> dict:
    """Regenerate a study's records from what its trial folders hold (the report notebook calls this)."""
    from .sweeps import expand, runs_folder

    sweep = load_sweep(sweep_path)
    trials = expand(sweep, preset)
    return write_report(sweep, trials, runs_folder(sweep, preset, trials), preset)


__all__ = ["collect", "results_csv", "contact_sheet", "loss_overlay", "write_report", "write_index",
           "build_report", "markdown_table"]
