"""A study's records from its trial folders: results.csv, grid.png, losses.png and README.md, plus the
index experiments/README.md (and a committed results.csv read back). Reads run records only; never runs
anything."""

from __future__ import annotations

import csv
import io
import json
import textwrap
from pathlib import Path

from . import status as st
from .files import save_figure, write_text
from .runs import is_complete, load_run
from .sweeps import Sweep, Trial, format_value, load_sweep, preset_overrides, trial_state, trial_status


def collect(trials: list[Trial], runs: Path) -> list[dict]:
    """One row per trial: its swept values, status, the final value of every term its run recorded (by name,
    as result.json's ``final`` lists them), wall time and weights label."""
    rows = []
    for t in trials:
        folder = runs / t.id
        status, reason = trial_state(folder)  # the statuses of nststudy.status
        row = {"trial": t.id, **{k: format_value(v) for k, v in t.axes.items()}, "status": status}
        if is_complete(folder):
            result = json.loads((folder / "result.json").read_text())
            row.update({k: v for k, v in result["final"].items() if k != "seconds"})
            row.update(steps=result.get("steps"), wall_seconds=result.get("wall_seconds"),
                       weights=result.get("weights"))
            row.update({k: v for k, v in result.items() if k.startswith("metric_")})
        if reason:
            row["reason"] = reason
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
    (with any axis that is constant for that value), columns = the axes that vary within a row - unless that
    grid would be mostly empty, then one row per pair and one column per trial."""
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
    def arrange(row_keys, col_keys):
        rows = {}
        for t in trials:
            r = " | ".join(filter(None, [t.axes["pair"] if multi_pair or not row_keys else "", label(t, row_keys)]))
            rows.setdefault(r, {})[label(t, col_keys)] = t
        return rows, list(dict.fromkeys(c for r in rows.values() for c in r))

    rows, cols = arrange(row_keys, col_keys)
    if sweep.combine == "zip" and row_keys and len(trials) < 0.5 * len(rows) * len(cols):
        rows, cols = arrange([], names)  # rows would share no columns (a mostly empty grid): one row per pair
    return rows, cols


def _wrap(label: str, width: int = 30) -> str:
    """A column title: one line group per axis, lists (``a+b+c``) broken between their items."""
    return "\n".join(textwrap.fill(part.replace("+", " + "), width, break_long_words=False)
                     for part in label.split(", "))


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
            if img is not None and img.is_file() and status in st.FINISHED:
                ax.imshow(Image.open(img))
            if status != st.COMPLETE:
                ax.text(0.5, 0.5, status.upper(), ha="center", va="center", transform=ax.transAxes,
                        color="red", fontsize=9)
            ax.set_title(_wrap(clabel) if i == 0 else "", fontsize=7)
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
    if not points or "task" in sweep.base:  # reconstructions have no content and style to trade
        return None
    if not comparable(r for r, _ in points):
        return None
    labels = [", ".join(format_value(v) for k, v in t.axes.items() if k != "pair") or str(r.get("pair", ""))
              for r, t in points]
    numbered = max(len(label) for label in labels) > 16  # long labels: numbers on the plot, a key beside it
    fig, ax = plt.subplots(figsize=(9 if numbered else 6, 4.2))
    pairs = list(dict.fromkeys(str(r.get("pair", "")) for r, _ in points))
    colours = {p: f"C{i % 10}" for i, p in enumerate(pairs)}  # one colour per pair, the swept values as labels
    for n, ((r, t), label) in enumerate(zip(points, labels), 1):
        x, y = float(r["metric_style_distance"]), float(r["metric_ssim_content"])
        pair = str(r.get("pair", ""))
        key = f"{n}: {label}" + (f" ({pair})" if len(pairs) > 1 else "")
        ax.scatter([x], [y], s=18, color=colours[pair], label=key if numbered else None)
        ax.annotate(str(n) if numbered else label, (x, y), fontsize=6, xytext=(3, 3), textcoords="offset points")
    if numbered:
        ax.legend(fontsize=6, loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0, frameon=False)
    elif len(pairs) > 1:
        for p in pairs:
            ax.scatter([], [], s=18, color=colours[p], label=p)
        ax.legend(fontsize=7, loc="best")
    ax.set_xlabel("style distance to the style image\n(relative Gram, conv1_1-conv5_1; lower = more style)", fontsize=8)
    ax.set_ylabel("SSIM to the content\n(luminance; higher = more content)", fontsize=8)
    ax.grid(True, alpha=0.3)
    named = ", ".join(k for k in sweep.axes if k != "pair")
    ax.set_title(f"{sweep.name}: content-style trade-off" + (f" (points labelled by {named})" if named else ""),
                 fontsize=9)
    fig.tight_layout()
    return fig


def _weights_label(trials, runs) -> str:
    labels = set()
    for t in trials:
        p = runs / t.id / "result.json"
        if p.is_file():
            labels.add(json.loads(p.read_text()).get("weights", "?"))
    return " / ".join(sorted(labels)) or "no completed trials"



def comparable(rows) -> bool:
    """Whether the style distances of ``rows`` share one axis: within each image pair, every row was measured
    against the same reference (a blend sweep's rows each measure against their own blended target)."""
    references = {}
    for r in rows:
        references.setdefault(str(r.get("pair", "")), set()).add(r.get("metric_reference"))
    return all(len(refs) == 1 for refs in references.values())


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
    done = sum(r["status"] == st.COMPLETE for r in rows)
    others = ", ".join(f"{n} {s}" for s, n in st.counts(r["status"] for r in rows).items()
                       if s != st.COMPLETE)
    wall = sum(r.get("wall_seconds") or 0 for r in rows)
    parts = [f"# {sweep.name}", "", f"**Question.** {sweep.question}", "", f"**Source.** {sweep.source}", "",
             f"**Reproduce.** `{cmd}` (resumable: a re-run reuses the finished trials whose parameters, images and "
             "notebook defaults are unchanged)", ""]
    if sweep.expected_runtime:
        parts += [f"**Expected runtime.** {sweep.expected_runtime}", ""]
    last = runs.parent / "sweep.json"
    ran = json.loads(last.read_text()) if last.is_file() else None
    took = (f" The last `nststudy sweep` call ran {ran['ran']} trial(s) in {ran['wall_seconds'] / 60:.1f} min here "
            f"(finished {ran['finished']}, {ran['workers']} worker(s))." if ran else "")
    parts += [f"**Record.** {done}/{len(rows)} trials complete{f' ({others})' if others else ''}; optimisation wall "
              f"time {wall / 60:.1f} min in all; weights: {_weights_label_rows(rows)}.{took}", ""]
    if preset:
        scaled = "; ".join(f"{k} {', '.join(map(str, m))} -> {', '.join(map(str, m.values()))}"
                           for k, m in preset_overrides(sweep, preset)[1].items())
        parts += [f"> Preset `{preset}`: tiny images, a few steps and random weights. These figures test the "
                  "machinery only and say nothing about style transfer."
                  + (f" Swept counts scaled down in proportion: {scaled}." if scaled else ""), ""]
    parts += ["![grid](grid.png)", "", "![losses](losses.png)", ""]
    if ("task" not in sweep.base and (runs.parent / "tradeoff.png").is_file()
            and any(r.get("metric_ssim_content") is not None for r in rows)):
        parts += ["![trade-off](tradeoff.png)", ""]
    elif "task" not in sweep.base and any(r.get("metric_reference") for r in rows) and not comparable(rows):
        parts += ["No trade-off plot: within an image pair these trials measure their style distance against "
                  "different references (`metric_reference` in results.csv), so their x-values do not compare.", ""]
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
            record = f"[{statuses.count(st.COMPLETE)}/{len(statuses)} trials](./{path.parent.name}/README.md)"
        else:
            record = "not run yet"
        lines.append(f"| [{sweep.name}](./{path.parent.name}/sweep.yaml) | {sweep.question} | {sweep.source} | {record} |")
    return write_text(Path(experiments) / "README.md", "\n".join(lines) + "\n")


def rows_from_csv(path) -> list[dict]:
    """A committed results.csv read back as report rows: numbers as numbers, empty cells as None."""
    def value(s):
        if s == "":
            return None
        for kind in (int, float):
            try:
                return kind(s)
            except ValueError:
                pass
        return s

    with open(path, newline="") as f:
        return [{k: value(v) for k, v in row.items()} for row in csv.DictReader(f)]


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
    return _tradeoff_and_text(sweep, trials, rows, preset, runs)


def _write_tradeoff(out: Path, fig) -> None:
    """Save the trade-off figure, or remove an older one when this record has none to draw."""
    import matplotlib.pyplot as plt

    if fig is None:
        (out / "tradeoff.png").unlink(missing_ok=True)
        return
    save_figure(fig, out / "tradeoff.png", dpi=80)
    plt.close(fig)


def _tradeoff_and_text(sweep: Sweep, trials, rows, preset, runs: Path, readme_rows=None) -> dict:
    """Draw the trade-off plot (``rows``: one per trial) or remove a stale one, write README.md (from
    ``readme_rows``, default ``rows``) and the index; return the records' paths."""
    out = runs.parent
    _write_tradeoff(out, tradeoff(sweep, trials, rows))
    write_text(out / "README.md", study_readme(sweep, rows if readme_rows is None else readme_rows, preset, runs))
    write_index(sweep.folder.parent)
    return {"results": str(out / "results.csv"), "grid": str(out / "grid.png"),
            "losses": str(out / "losses.png"), "readme": str(out / "README.md")}


def build_report(sweep_path, preset=None) -> dict:
    """Regenerate a study's records from what its trial folders hold (the report notebook calls this).

    With no trial folder at all (a fresh clone: runs are not committed) but a committed results.csv, only
    README.md is rewritten, from that table and the sweep file's current text (e.g. edited ``notes``); the
    committed figures and results.csv are kept as they are, never replaced by an empty record; only the
    trade-off plot, drawn from the table's metric columns, is redrawn.
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
        # the trade-off plot is the only figure the table alone can redraw; README.md reads every row
        paths = _tradeoff_and_text(sweep, known, [by_id[t.id] for t in known], preset, runs, readme_rows=rows)
        return {**paths, "kept_figures": True}
    return write_report(sweep, trials, runs, preset)


__all__ = ["collect", "results_csv", "contact_sheet", "loss_overlay", "write_report", "write_index",
           "build_report", "markdown_table", "rows_from_csv"]
