"""A study's plots from its trials and rows: the loss overlay, the trade-off plot, the metric-versus-parameter
plot and the loss curves (the picture grid is ``nststudy.contactsheet``'s). Each function returns a matplotlib
Figure (or None: nothing to draw); saving them is ``nststudy.report``'s job."""

from __future__ import annotations

from .contactsheet import wrap_label
from .figurespec import PAIR_AXES, aggregate, axis_label
from .sweeps import Sweep, Trial, format_value


def trial_label(sweep: Sweep, t: Trial) -> str:
    return ", ".join(f"{k}={format_value(v)}" for k, v in t.axes.items() if k != "pair" or len(sweep.pairs) > 1)


def loss_overlay(sweep: Sweep, trials: list[Trial], histories: dict, weights: str, term: str = "total"):
    """Every finished trial's loss curve on one log-scale plot; ``histories``: {trial id: history rows} of the
    finished trials (``histories.finished_histories``, or a record's committed ones), ``weights`` the title's
    label."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    for t in trials:
        if t.id not in histories:
            continue
        hist = histories[t.id]
        ax.plot([h["step"] for h in hist], [max(h[term], 1e-30) for h in hist], label=trial_label(sweep, t), lw=1.2)
    ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel(f"{term} loss")
    ax.grid(True, alpha=0.3)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=6, loc="best")
    ax.set_title(f"{sweep.name}: {term} loss per trial — {weights}", fontsize=9)
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
    equal x (seeds) as their mean with a min-max band, n in the legend; the spec's ``targets`` as dashed lines.
    None when no row holds any metric."""
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
            style = "o" if spec["x"] in PAIR_AXES else "o-"  # paintings have no order: points, not a line
            ax.plot(xs, [p[1] for p in points], style, color=colour(i), ms=5 if style == "o" else 4, lw=1.3,
                    label=label or None)
        if m in spec.get("targets", {}):
            ax.axhline(spec["targets"][m], color="0.35", ls="--", lw=1)
            ax.annotate(f"target {spec['targets'][m]:g}", (0.01, spec["targets"][m]),
                        xycoords=("axes fraction", "data"), fontsize=6, color="0.35", va="bottom")
        if spec["log_x"] and spec["numeric"]:
            ax.set_xscale("log")
        if not spec["numeric"]:
            ax.set_xticks(range(len(order)))
            ax.set_xticklabels([wrap_label(v, 14) for v in order], fontsize=6, rotation=30 if len(order) > 4 else 0)
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


def loss_curves(sweep: Sweep, trials: list[Trial], histories: dict, weights: str, spec: dict):
    """The ``loss_vs_time`` and ``loss_vs_step`` kinds: each history column of ``spec["metrics"]`` against wall
    time (history's ``seconds``) or the step, one line per finished trial (``histories``, as for
    ``loss_overlay``), log scale. None when no trial has finished."""
    import matplotlib.pyplot as plt

    done = [t for t in trials if t.id in histories]
    if not done:
        return None
    by = "seconds" if spec["kind"] == "loss_vs_time" else "step"
    fig, axes = plt.subplots(1, len(spec["metrics"]), figsize=(6.5 * len(spec["metrics"]), 4.2), squeeze=False)
    for ax, m in zip(axes[0], spec["metrics"]):
        for t in done:
            hist = [h for h in histories[t.id] if h.get(m) is not None]
            ax.plot([h[by] for h in hist], [max(h[m], 1e-30) for h in hist], lw=1.2, label=trial_label(sweep, t))
        ax.set_yscale("log")
        ax.set_xlabel("wall time (s)" if by == "seconds" else "step", fontsize=8)
        ax.set_ylabel(f"{m} loss (log; lower = closer to the objective's optimum)", fontsize=8)
        ax.grid(True, alpha=0.3)
    axes[0][-1].legend(fontsize=6, loc="upper left", bbox_to_anchor=(1.02, 1.0), frameon=False)
    fig.suptitle(f"{sweep.name}: loss against {'wall time' if by == 'seconds' else 'step'} — {weights}", fontsize=9)
    fig.tight_layout()
    return fig


def snapshot_curves(title: str, rows: list[dict], spec: dict, labels: dict):
    """The ``snapshots`` kind: each metric of ``spec`` measured on the runs' snapshots (``report.collect_snapshots``
    rows) against the step, one line per trial (``labels``: {trial id: label}). None without a number to draw."""
    import matplotlib.pyplot as plt

    metrics = [m for m in spec["metrics"] if any(isinstance(r.get(m), (int, float)) for r in rows)]
    if not metrics:
        return None
    fig, axes = plt.subplots(1, len(metrics), figsize=(4.6 * len(metrics), 3.6), squeeze=False)
    trials = list(dict.fromkeys(r["trial"] for r in rows))
    for ax, m in zip(axes[0], metrics):
        for trial in trials:
            points = sorted((int(r["step"]), r[m]) for r in rows
                            if r["trial"] == trial and isinstance(r.get(m), (int, float)))
            ax.plot([p[0] for p in points], [p[1] for p in points], "o-", ms=3, lw=1.2, label=labels.get(trial, trial))
        ax.set_xlabel("step (snapshot)", fontsize=8)
        ax.set_ylabel(axis_label(m), fontsize=8)
        ax.grid(True, alpha=0.3)
    if len(trials) > 1:
        axes[0][-1].legend(fontsize=6, loc="best")
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return fig


def rows_weights_label(rows) -> str:
    return " / ".join(sorted({str(r.get("weights")) for r in rows if r.get("weights")})) or "none yet"


def comparable(rows) -> bool:
    """Whether the style distances of ``rows`` share one axis: within each image pair, every row was measured
    against the same reference (a blend sweep's rows each measure against their own blended target). Rows
    measured against nothing (a failed trial) do not count."""
    references = {}
    for r in rows:
        if r.get("metric_reference") is not None:
            references.setdefault(str(r.get("pair", "")), set()).add(r.get("metric_reference"))
    return all(len(refs) == 1 for refs in references.values())


__all__ = ["loss_overlay", "tradeoff", "metric_figure", "loss_curves", "snapshot_curves", "comparable",
           "rows_weights_label", "trial_label"]
