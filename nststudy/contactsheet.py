"""The study's picture grid (contact sheet): the inputs, then one tile per trial at a fixed size, with its status
written over any trial that did not complete; and the sheet of its runs' snapshots. Returns matplotlib Figures;
saving them is ``nststudy.report``'s job."""

from __future__ import annotations

import json
import re
import textwrap
from pathlib import Path

from . import status as st
from .runs import input_image
from .sweeps import Sweep, Trial, format_value, trial_status

GRID_DPI = 100  # the grid is saved at this resolution...
TILE_INCHES = 2.7  # ...so each tile's long side is 270 px: a 256-px run at about its own size, grain visible
_LINE = 7 / 72 * 1.35  # inches per line of 7-pt text


def _layout(sweep: Sweep, trials: list[Trial]):
    """Row and column labels of the contact sheet. Product sweeps: rows = pair (× first axis when there are
    several axes), columns = the remaining axes. Zip sweeps: rows = the first axis when its values repeat
    (with any axis that is constant for that value), columns = the axes that vary within a row - unless that
    grid would be half empty or more, then one row per pair and one column per trial."""
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
    if sweep.combine == "zip" and row_keys and len(trials) <= 0.5 * len(rows) * len(cols):
        rows, cols = arrange([], names)  # half the grid or more would be empty: one row per pair
    return rows, cols


def wrap_label(label: str, width: int = 30) -> str:
    """A column title or row label: one line group per axis, lists (``a+b+c``) broken between their items (not inside a
    number such as ``4e+12``)."""
    return "\n".join(textwrap.fill(re.sub(r"(?<![0-9]e)\+", " + ", part), width, break_long_words=False)
                     for part in label.split(", "))


def _tile_shape(trials, runs: Path, tile: float) -> tuple[float, float]:
    """(width, height) in inches of one tile: ``tile`` on the long side, in the first recorded image's aspect."""
    from PIL import Image

    for t in trials:
        for name in ("image.png", "content.png"):
            p = runs / t.id / name
            if p.is_file():
                with Image.open(p) as im:
                    w, h = im.size
                aspect = min(2.0, max(0.5, h / w))
                return (tile, tile * aspect) if aspect <= 1 else (tile / aspect, tile)
    return tile, tile


def contact_sheet(sweep: Sweep, trials: list[Trial], runs: Path, tile: float = TILE_INCHES):
    """The study's picture grid: the input(s) first (content and style, or the original), then one column
    per swept value. Every tile is ``tile`` inches on its long side, whatever the grid's size (the axes are
    placed by hand, not squeezed by tight_layout around the titles)."""
    import matplotlib.pyplot as plt
    from PIL import Image

    rows, cols = _layout(sweep, trials)
    inputs = ("content", "style") if all("style" in t.params for t in trials) else ("content",)
    k = len(inputs)
    tw, th = _tile_shape(trials, runs, tile)
    gap = 0.06
    titles = [wrap_label(c) for c in cols]
    top = 0.35 + _LINE * max([t.count("\n") + 1 for t in titles] + [1]) + 0.1  # suptitle, then column titles
    left = 0.15 + _LINE * max(wrap_label(r, 30).count("\n") + 1 for r in rows)
    ncol = len(cols) + k
    width, height = left + ncol * (tw + gap) + 0.1, top + len(rows) * (th + gap) + 0.1
    fig = plt.figure(figsize=(width, height))

    def cell(i, j):
        x0, y0 = left + j * (tw + gap), height - top - (i + 1) * th - i * gap
        return fig.add_axes([x0 / width, y0 / height, tw / width, th / height])

    for i, (rlabel, cells) in enumerate(rows.items()):
        shown = [t for t in cells.values() if (runs / t.id / "content.png").is_file()] or list(cells.values())
        folder = runs / shown[0].id  # the inputs, from a trial that got far enough to record them
        for j, name in enumerate(inputs):
            ax = cell(i, j)
            picture = input_image(folder, name)
            if picture is not None:
                ax.imshow(picture)
            ax.set_title((name if k == 2 else "original") if i == 0 else "", fontsize=7)
            if j == 0:
                ax.set_ylabel(wrap_label(rlabel, 30), fontsize=7)
        for j, clabel in enumerate(cols):
            ax = cell(i, j + k)
            t = cells.get(clabel)
            status = trial_status(runs / t.id) if t else "absent"
            img = runs / t.id / "image.png" if t else None
            if img is not None and img.is_file() and status in st.FINISHED:
                ax.imshow(Image.open(img))
            if status != st.COMPLETE:
                ax.text(0.5, 0.5, status.upper(), ha="center", va="center", transform=ax.transAxes,
                        color="red", fontsize=9)
            ax.set_title(titles[j] if i == 0 else "", fontsize=7)
    for ax in fig.axes:
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle(f"{sweep.name} — {weights_label(trials, runs)}", fontsize=9, y=1 - 0.12 / height)
    return fig


def snapshot_path(runs: Path, row: dict) -> Path:
    """The snapshot image of a ``report.collect_snapshots`` row: ``runs/<trial>/snapshots/step_NNNNNN.png``."""
    return runs / row["trial"] / "snapshots" / f"step_{int(row['step']):06d}.png"


def snapshot_sheet(title: str, rows: list[dict], runs: Path, labels: dict, tile: float = TILE_INCHES):
    """The snapshots of a study's runs (``snapshot_every``): one row per trial, left to right by step, each tile
    ``tile`` inches on its long side and titled with its step; ``labels`` names the rows ({trial id: label}).
    None when no snapshot image is there."""
    import matplotlib.pyplot as plt
    from PIL import Image

    by_trial = {}
    for r in rows:
        if snapshot_path(runs, r).is_file():
            by_trial.setdefault(r["trial"], []).append(r)
    if not by_trial:
        return None
    with Image.open(snapshot_path(runs, next(iter(by_trial.values()))[0])) as im:
        w, h = im.size
    tw, th = (tile, tile * h / w) if w >= h else (tile * w / h, tile)
    ncol = max(len(v) for v in by_trial.values())
    left = 0.15 + _LINE * max(wrap_label(labels.get(k, k)).count("\n") + 1 for k in by_trial)
    width, height = left + ncol * (tw + 0.06) + 0.1, 0.5 + len(by_trial) * (th + 0.06 + _LINE) + 0.1
    fig = plt.figure(figsize=(width, height))
    for i, (trial, cells) in enumerate(by_trial.items()):
        for j, r in enumerate(sorted(cells, key=lambda r: int(r["step"]))):
            x0, y0 = left + j * (tw + 0.06), height - 0.5 - (i + 1) * (th + _LINE) - i * 0.06
            ax = fig.add_axes([x0 / width, y0 / height, tw / width, th / height])
            with Image.open(snapshot_path(runs, r)) as im:
                ax.imshow(im.convert("RGB"))
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_title(f"step {int(r['step'])}", fontsize=7)
            if j == 0:
                ax.set_ylabel(wrap_label(labels.get(trial, trial)), fontsize=7)
    fig.suptitle(title, fontsize=9, y=1 - 0.12 / height)
    return fig


def weights_label(trials, runs) -> str:
    labels = set()
    for t in trials:
        p = runs / t.id / "result.json"
        if p.is_file():
            labels.add(json.loads(p.read_text()).get("weights", "?"))
    return " / ".join(sorted(labels)) or "no completed trials"


__all__ = ["contact_sheet", "snapshot_sheet", "snapshot_path", "wrap_label", "weights_label", "GRID_DPI",
           "TILE_INCHES"]
