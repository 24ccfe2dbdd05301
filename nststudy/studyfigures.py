"""A study's figures from its trials and rows: the picture grid, the loss overlay, the trade-off plot and the
metric-versus-parameter plot. Each function returns a matplotlib Figure (or None: nothing to draw); saving
them is ``nststudy.report``'s job."""

from __future__ import annotations

import json
import re
import textwrap
from pathlib import Path

from . import status as st
from .figurespec import aggregate, axis_label
from .runs import input_image, is_complete, load_run
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


def _wrap(label: str, width: int = 30) -> str:
    """A column title: one line group per axis, lists (``a+b+c``) broken between their items (not inside a
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
    titles = [_wrap(c) for c in cols]
    top = 0.35 + _LINE * max([t.count("\n") + 1 for t in titles] + [1]) + 0.1  # suptitle, then column titles
    left = 0.15 + _LINE * max(textwrap.fill(r, 30).count("\n") + 1 for r in rows)
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
                ax.set_ylabel(textwrap.fill(rlabel, 30), fontsize=7)
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


def _trial_label(sweep: Sweep, t: Trial) -> str:
    return ", ".join(f"{k}={format_value(v)}" for k, v in t.axes.items() if k != "pair" or len(sweep.pairs) > 1)


def loss_overlay(sweep: Sweep, trials: list[Trial], runs: Path, term: str = "total"):
    """Every trial's loss curve on one log-scale plot."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    for t in trials:
        if not is_complete(runs / t.id):
            continue
        hist = load_run(runs / t.id)["history"]
        ax.plot([h["step"] for h in hist], [max(h[term], 1e-30) for h in hist], label=_trial_label(sweep, t), lw=1.2)
    ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel(f"{term} loss")
    ax.grid(True, alpha=0.3)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=6, loc="best")
    ax.set_title(f"{sweep.name}: {term} loss per trial — {weights_label(trials, runs)}", fontsize=9)
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


def metric_figure(sweep: Sweep, rows: list[dict], spec: dict):
    """Each metric of ``spec`` (``figurespec.resolve``) against the swept value ``spec["x"]``, one panel per
    metric and one line per image pair (and per value of any other axis that varies at equal x); repeats at
    equal x (seeds) as their mean with a min-max band, n in the legend. None when no row holds any metric."""
    import matplotlib.pyplot as plt

    x, order = spec["x"], spec["order"]
    lines = {m: aggregate(rows, x, m, spec["line_keys"], order, spec.get("lines", ())) for m in spec["metrics"]}
    metrics = [m for m in spec["metrics"] if lines[m]]
    if not metrics:
        return None
    many = max(len(lines[m]) for m in metrics) > 6  # the legend goes below the panels, 20 colours instead of 10
    colour = (lambda i: plt.get_cmap("tab20")(i % 20)) if many else (lambda i: f"C{i % 10}")
    fig, axes = plt.subplots(1, len(metrics), figsize=(4.3 * len(metrics) + 0.6, 3.9), squeeze=False)
    for ax, m in zip(axes[0], metrics):
        for i, (label, points) in enumerate(lines[m].items()):
            xs = [float(p[0]) if spec["numeric"] else _position(p[0], order) for p in points]
            counts = sorted({p[4] for p in points})
            if counts[-1] > 1:
                n = f"n={counts[0]}" if len(counts) == 1 else f"n={counts[0]}-{counts[-1]}"
                label = f"{label or 'mean'} (mean of {n}; band: min-max)"
                ax.fill_between(xs, [p[2] for p in points], [p[3] for p in points], color=colour(i), alpha=0.2)
            ax.plot(xs, [p[1] for p in points], "o-", color=colour(i), ms=4, lw=1.3, label=label or None)
        if spec["log_x"] and spec["numeric"]:
            ax.set_xscale("log")
        if not spec["numeric"]:
            ax.set_xticks(range(len(order)))
            ax.set_xticklabels([_wrap(v, 14) for v in order], fontsize=6, rotation=30 if len(order) > 4 else 0)
        ax.set_xlabel(x + (" (log scale)" if spec["log_x"] and spec["numeric"] else ""), fontsize=8)
        values = [p[k] for pts in lines[m].values() for p in pts for k in (1, 2, 3)]
        log_y = min(values) > 0 and max(values) / min(values) > 100  # a loss over decades (a diverged run)
        if log_y:
            ax.set_yscale("log")
        ax.set_ylabel(axis_label(m) + (" (log scale)" if log_y else ""), fontsize=8)
        ax.grid(True, alpha=0.3)
    fig.suptitle(f"{sweep.name}: {', '.join(m.removeprefix('metric_') for m in metrics)} against {x} — "
                 f"{rows_weights_label(rows)}", fontsize=9)
    fig.tight_layout()
    if many:  # below the panels, where it hides no point
        handles, labels = axes[0][0].get_legend_handles_labels()
        rows_needed = -(-len(labels) // 2)
        fig.set_figheight(3.9 + 0.16 * rows_needed)
        fig.legend(handles, labels, fontsize=6, loc="lower center", ncol=2, frameon=False)
        fig.tight_layout(rect=(0, 0.16 * rows_needed / fig.get_figheight(), 1, 1))
    elif any(ax.get_legend_handles_labels()[0] for ax in axes[0]):
        axes[0][0].legend(fontsize=6, loc="best")
    return fig


def _position(value: str, order: list) -> int:
    return order.index(value) if value in order else len(order)


def loss_curves(sweep: Sweep, trials: list[Trial], runs: Path, spec: dict):
    """The ``loss_vs_time`` and ``loss_vs_step`` kinds: each history column of ``spec["metrics"]`` against wall
    time (history's ``seconds``) or the step, one line per finished trial, log scale. None when no trial has
    finished."""
    import matplotlib.pyplot as plt

    done = [t for t in trials if is_complete(runs / t.id)]
    if not done:
        return None
    by = "seconds" if spec["kind"] == "loss_vs_time" else "step"
    fig, axes = plt.subplots(1, len(spec["metrics"]), figsize=(6.5 * len(spec["metrics"]), 4.2), squeeze=False)
    histories = {t.id: load_run(runs / t.id)["history"] for t in done}
    for ax, m in zip(axes[0], spec["metrics"]):
        for t in done:
            hist = [h for h in histories[t.id] if h.get(m) is not None]
            ax.plot([h[by] for h in hist], [max(h[m], 1e-30) for h in hist], lw=1.2, label=_trial_label(sweep, t))
        ax.set_yscale("log")
        ax.set_xlabel("wall time (s)" if by == "seconds" else "step", fontsize=8)
        ax.set_ylabel(f"{m} loss (log; lower = closer to the objective's optimum)", fontsize=8)
        ax.grid(True, alpha=0.3)
    axes[0][-1].legend(fontsize=6, loc="upper left", bbox_to_anchor=(1.02, 1.0), frameon=False)
    fig.suptitle(f"{sweep.name}: loss against {'wall time' if by == 'seconds' else 'step'} — "
                 f"{weights_label(trials, runs)}", fontsize=9)
    fig.tight_layout()
    return fig


def weights_label(trials, runs) -> str:
    labels = set()
    for t in trials:
        p = runs / t.id / "result.json"
        if p.is_file():
            labels.add(json.loads(p.read_text()).get("weights", "?"))
    return " / ".join(sorted(labels)) or "no completed trials"


def rows_weights_label(rows) -> str:
    return " / ".join(sorted({str(r.get("weights")) for r in rows if r.get("weights")})) or "none yet"


def comparable(rows) -> bool:
    """Whether the style distances of ``rows`` share one axis: within each image pair, every row was measured
    against the same reference (a blend sweep's rows each measure against their own blended target)."""
    references = {}
    for r in rows:
        references.setdefault(str(r.get("pair", "")), set()).add(r.get("metric_reference"))
    return all(len(refs) == 1 for refs in references.values())


__all__ = ["contact_sheet", "loss_overlay", "tradeoff", "metric_figure", "loss_curves", "comparable",
           "weights_label", "rows_weights_label", "GRID_DPI", "TILE_INCHES"]
