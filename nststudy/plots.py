"""Figures from run histories: loss curves. Pure: each function returns a matplotlib Figure."""

from __future__ import annotations

import matplotlib.pyplot as plt
from matplotlib.figure import Figure

NOT_TERMS = {"step", "seconds", "octave"}
TERM_STYLES = {"total": ("black", "-"), "content": ("tab:blue", "--"), "style": ("tab:red", "--"),
               "tv": ("tab:green", ":")}


def plot_losses(history, title: str | None = None, ax=None) -> Figure:
    """Total loss and each weighted-or-raw term against the step, log scale (terms that are all zero
    are left out). ``history`` is a list of dicts with keys step, total, content, style, tv."""
    if ax is None:
        fig, ax = plt.subplots(figsize=(6, 3.6))
    else:
        fig = ax.figure
    steps = [h["step"] for h in history]
    extra = [k for k in dict.fromkeys(k for h in history for k in h) if k not in TERM_STYLES and k not in NOT_TERMS]
    for term, (color, ls) in [*TERM_STYLES.items(), *((k, (None, "-.")) for k in extra)]:
        values = [h.get(term, 0.0) for h in history]
        if not any(v > 0 for v in values):
            continue
        ax.plot(steps, values, color=color, linestyle=ls, label=term if term not in ("content", "style") else f"{term} (unweighted)")
    ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    ax.grid(True, which="major", alpha=0.3)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=8)
    if title:
        ax.set_title(title, fontsize=9)
    fig.tight_layout()
    return fig


__all__ = ["plot_losses"]
