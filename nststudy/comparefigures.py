"""The figures of a network-against-engine comparison (nststudy.compare): the trade-off plot and the image strip."""

from __future__ import annotations

from pathlib import Path

from .files import save_figure
from .images import load_image, resize_longest

MATCHED = "x1"  # the label of the engine run at the network's equivalent β (nststudy.compare)


def figures(record: dict, output) -> None:
    """tradeoff.png and strip.jpg of a compare record into ``output`` (atomic writes)."""
    import matplotlib.pyplot as plt

    for fig, name in ((tradeoff_figure(record), "tradeoff.png"), (strip_figure(record), "strip.jpg")):
        save_figure(fig, Path(output) / name)
        plt.close(fig)


def tradeoff_figure(record: dict):
    """Style distance (relative Gram, the metric network) against SSIM to the photo: per photo the engine's
    runs as a curve in β (labelled), the network as a star of the same colour."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    for i, row in enumerate(record["photos"]):
        colour = f"C{i % 10}"
        runs = sorted(row["engine"], key=lambda e: e["style_weight"])
        xs = [e["metric_style_distance"] for e in runs]
        ys = [e["metric_ssim_content"] for e in runs]
        ax.plot(xs, ys, "o-", color=colour, ms=4, lw=1, label=f"{Path(row['photo']).stem}: engine, β as labelled")
        for e, x, y in zip(runs, xs, ys):
            ax.annotate(f"β={e['style_weight']:.3g}", (x, y), fontsize=6, xytext=(3, 3), textcoords="offset points")
        n = row["network"]
        ax.scatter([n["metric_style_distance"]], [n["metric_ssim_content"]], marker="*", s=140, color=colour,
                   edgecolors="black", linewidths=0.5, zorder=3, label=f"{Path(row['photo']).stem}: network")
    ax.set_xlabel("style distance to the style image\n(relative Gram, conv1_1-conv5_1; lower = more style)", fontsize=8)
    ax.set_ylabel("SSIM to the photo\n(luminance; higher = more content)", fontsize=8)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=7, loc="best")
    ax.set_title(f"{record['network']} against the engine ({record['size']} px, {record['weights']})", fontsize=9)
    fig.tight_layout()
    return fig


def strip_figure(record: dict):
    """One row per photo: the photo, the network's image, the engine's image at the matched β (``x1``)."""
    import matplotlib.pyplot as plt

    rows = record["photos"]
    fig, axes = plt.subplots(len(rows), 3, figsize=(9, 2.6 * len(rows)), squeeze=False)
    for ax_row, row in zip(axes, rows):
        matched = next(e for e in row["engine"] if e["label"] == MATCHED)
        n = row["network"]
        panels = [(resize_longest(load_image(row["photo"]), max(row["size"])), Path(row["photo"]).stem),
                  (load_image(n["image"]), f"network, {1000 * n['seconds']:.0f} ms\n{_panel(n)}"),
                  (load_image(Path(matched["run"]) / "image.png"),
                   f"engine β={matched['style_weight']:.3g}, {matched['seconds']:.0f} s\n{_panel(matched)}")]
        for ax, (image, title) in zip(ax_row, panels):
            ax.imshow(image)
            ax.set_title(title, fontsize=8)
            ax.axis("off")
    fig.tight_layout()
    return fig


def _panel(entry: dict) -> str:
    ratio = entry.get("metric_style_ratio")
    return (f"style ratio {ratio:.2f}, " if ratio is not None else "") + f"SSIM {entry['metric_ssim_content']:.2f}"
