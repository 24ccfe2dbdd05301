"""Figures from run histories: loss curves. Pure: each function returns a matplotlib Figure."""

from __future__ import annotations

import matplotlib.pyplot as plt
from matplotlib.figure import Figure

def plot_losses(history, terms, title: str | None = None, ax=None) -> Figure:
    """Every term the objective declared (``terms``, "total" first) against the step, log scale; terms that
    are all zero are left out. ``history`` is a list of dicts with a ``step`` and each term."""
    if ax is None:
        fig, ax = plt.subplots(figsize=(6, 3.6))
    else:
        fig = ax.figure
    steps = [h["step"] for h in history]
    for i, term in enumerate(terms):
        values = [h.get(term, 0.0) for h in history]
        if not any(v > 0 for v in values):
            continue
        first = i == 0  # the total: black, solid; each other term a colour of its own, dashed
        ax.plot(steps, values, color="black" if first else f"C{i - 1}", linestyle="-" if first else "--", label=term)
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
