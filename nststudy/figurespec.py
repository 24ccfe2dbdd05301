"""A study's metric figure, specified: the ``figure:`` block of sweep.yaml checked, its defaults chosen, and the
rows grouped into the lines it draws. Pure: no files, no matplotlib.

The block (every key optional)::

    figure:
      x: style_weight        # a swept axis (default: the first one), or style_image / content_image: one half
                             #   of the image pair, each line then the other half (a study over paintings)
      metrics: [metric_style_ratio, metric_ssim_content]  # results.csv columns (loss kinds: history.csv columns)
      log_x: true            # default: numeric, all positive and spanning more than a decade
      kind: metric           # metric | loss_vs_time | loss_vs_step | snapshots (metrics of each snapshot
                             #   of runs with snapshot_every, against the step)
      lines: [style_normalization]  # axes that always make lines of their own, even where x fixes them
      targets: {metric_style_ratio: 0.4}  # a dashed line at a value the study checks against, per metric
"""

from __future__ import annotations

import re

from .config import paper_name

KINDS = ("metric", "loss_vs_time", "loss_vs_step", "snapshots")
KEYS = ("x", "metrics", "log_x", "kind", "lines", "targets")
# x may be one half of the image pair ("content / style" in a row's "pair"); the lines are then the other half.
PAIR_AXES = {"content_image": 0, "style_image": 1}
SEED_AXES = ("seed",)  # axes whose trials are repeats: averaged over, never a line of their own
# Default metrics, in order, by kind of study; a fallback stands in for a metric older records lack.
STYLE_METRICS = ("metric_style_ratio", "metric_color_ratio", "metric_ssim_content")
STYLE_FALLBACK = {"metric_style_ratio": "metric_style_distance", "metric_color_ratio": "metric_colour_to_style"}
# measured against the style image(s): rows measured against different references (blends) do not compare
AGAINST_STYLE = ("metric_style_ratio", "metric_color_ratio", "metric_style_distance", "metric_colour_to_style")
TASK_METRICS = ("metric_feature_error", "metric_pixel_error")  # reconstructions and feature inversion
LOSS_METRICS = ("total",)
# Axis labels: what the number is, and which way is "more" of what the study is after.
LABELS = {
    "metric_style_ratio": "style distance / the photo's\n(lower = more style)",
    "metric_color_ratio": "colour distance to the painting / the photo's\n(lower = more of its colours)",
    "metric_ssim_content": "SSIM to the content\n(higher = more content)",
    "metric_style_distance": "style distance (relative Gram)\n(lower = more style)",
    "metric_colour_to_style": "colour distance to the style (CIELAB)\n(lower = more of its colours)",
    "metric_colour_to_content": "colour distance to the content (CIELAB)\n(lower = closer colours)",
    "metric_content_distance": "content distance (relative, conv4_2)\n(lower = more content)",
    "metric_feature_error": "relative feature error\n(lower = closer reconstruction)",
    "metric_pixel_error": "pixel RMSE / 255\n(lower = closer to the original)",
    "total": "final total loss",
}


def axis_label(metric: str) -> str:
    """The y-axis label of a results.csv column: LABELS, the per-painting ratios of a blend
    (``metric_style_ratio_2``: against the second style image alone), or the column's name."""
    m = re.fullmatch(r"metric_(style|color)_ratio_(\d+)", metric)
    if m:
        what = "style" if m.group(1) == "style" else "colour"
        return f"{what} distance to style image {m.group(2)} alone\n/ the photo's (lower = closer to it)"
    return LABELS.get(metric, metric)


def check_figure(block, axes: dict, where: str) -> dict:
    """The ``figure:`` block of a sweep file, checked against its swept ``axes``; ``where`` names the file in
    errors. Returns the block as a dict with only the keys given."""
    if block is None:
        return {}
    if not isinstance(block, dict):
        raise ValueError(f"{where}: 'figure' must be a mapping with keys {', '.join(KEYS)}; got {block!r}")
    for key in block:
        if key not in KEYS:
            raise ValueError(f"{where}: figure: unknown key {key!r}; accepted: {', '.join(KEYS)}")
    if "x" in block and block["x"] not in axes and block["x"] not in PAIR_AXES:
        raise ValueError(f"{where}: figure: x={block['x']!r} is not a swept axis; accepted: "
                         f"{', '.join([*axes, *PAIR_AXES])}")
    metrics = block.get("metrics", [])
    if "metrics" in block and (not isinstance(metrics, list) or not metrics
                               or not all(isinstance(m, str) and m for m in metrics)):
        raise ValueError(f"{where}: figure: metrics must be a non-empty list of results.csv column names; "
                         f"got {metrics!r}")
    if "log_x" in block and not isinstance(block["log_x"], bool):
        raise ValueError(f"{where}: figure: log_x must be true or false; got {block['log_x']!r}")
    lines = block.get("lines", [])
    if not isinstance(lines, list) or any(a not in axes or a == block.get("x") for a in lines):
        raise ValueError(f"{where}: figure: lines must be a list of swept axes other than x; got {lines!r}; "
                         f"accepted: {', '.join(axes)}")
    targets = block.get("targets", {})
    if not isinstance(targets, dict) or not all(isinstance(k, str) and _is_number(v) for k, v in targets.items()):
        raise ValueError(f"{where}: figure: targets must map results.csv column names to numbers; got {targets!r}")
    if block.get("kind", "metric") not in KINDS:
        raise ValueError(f"{where}: figure: kind={block['kind']!r}; accepted: {', '.join(KINDS)}")
    return dict(block)


def _is_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def resolve(block: dict, axes: dict, task: bool, columns, comparable: bool = True, pairs=()) -> dict:
    """The figure to draw: ``block`` (checked by ``check_figure``) with its defaults filled in from the sweep's
    ``axes``, whether it is a reconstruction-type study (``task``), the ``columns`` its rows hold and its image
    ``pairs`` (labels as rows hold them, "content / style": the values of a PAIR_AXES x).

    x: the first swept axis that is not a seed; numeric when all its values are numbers, drawn on a log axis
    when all are positive and span more than a decade. metrics: the stylisation panel (or, for ``task``
    studies, the reconstruction errors), as far as the rows hold them, leaving out the distances to the style
    when the rows measure them against different references (not ``comparable``: a blend sweep); the final
    total loss otherwise."""
    kind = block.get("kind", "metric")
    names = [a for a in axes if a not in SEED_AXES] or list(axes)
    x = block.get("x", names[0])
    values = list(dict.fromkeys(pair_half(p, x) for p in pairs)) if x in PAIR_AXES else axes[x]
    numeric = all(_is_number(v) for v in values)
    spans = numeric and min(values) > 0 and max(values) / min(values) > 10
    columns = set(columns)
    if "metrics" in block:
        metrics = list(block["metrics"])
    elif kind not in ("metric", "snapshots"):
        metrics = list(LOSS_METRICS)
    else:
        wanted = TASK_METRICS if task else STYLE_METRICS
        metrics = [m if m in columns else STYLE_FALLBACK.get(m) for m in wanted]
        metrics = [m for m in metrics if m in columns and (comparable or m not in AGAINST_STYLE)]
        metrics = metrics or [m for m in LOSS_METRICS if m in columns]
    return {"kind": kind, "x": x, "numeric": numeric, "log_x": block.get("log_x", bool(spans)),
            "metrics": metrics, "order": list(dict.fromkeys(_key(v) for v in values)), "line_keys": line_keys(axes, x),
            "lines": list(block.get("lines", [])), "targets": dict(block.get("targets", {}))}


def pair_half(pair: str, x: str) -> str:
    """The content (``x`` = content_image) or style (style_image) half of a row's pair label "content / style"."""
    return str(pair).split(" / ", 1)[PAIR_AXES[x]] if " / " in str(pair) else str(pair)


def line_keys(axes: dict, x: str) -> list[str]:
    """The axes that make a line of their own beside the image pair: every swept axis but ``x`` and the seed."""
    return [a for a in axes if a != x and a not in SEED_AXES]


def aggregate(rows: list[dict], x: str, metric: str, keys: list[str], order=None, always=()) -> dict:
    """Group ``rows`` into lines: one per image pair and value of the ``keys`` that vary within an x value
    (keys fixed by x, as in a zip sweep, do not split a line, unless named in ``always``: the figure block's
    ``lines``, e.g. a style loss whose betas are not on the other loss's scale). Within a line, rows with equal x (seeds, or
    repeats) become one point: ``(x, mean, min, max, n)``. Rows without a number for ``metric`` are left out.
    Points are in ``order`` (x values as ``resolve`` gives them; others after, in row order); each point's x is
    the value's text (``"0.01"``, ``"conv4_2"``). With x one half of the pair (PAIR_AXES), the other half
    names the line. Returns ``{label: points}``."""
    if x in PAIR_AXES:
        other = next(a for a in PAIR_AXES if a != x)
        rows = [{**r, x: pair_half(r.get("pair", ""), x), "pair": pair_half(r.get("pair", ""), other)}
                for r in rows]
    rows = [r for r in rows if _is_number(r.get(metric)) and r.get(x) is not None]
    by_x = {}
    for r in rows:
        by_x.setdefault(_key(r[x]), []).append(r)
    split = [k for k in keys if k in always or any(len({_key(r.get(k)) for r in g}) > 1 for g in by_x.values())]
    pairs = {str(r.get("pair", "")) for r in rows}
    groups = {}
    for r in rows:
        label = ", ".join(([str(r.get("pair", ""))] if len(pairs) > 1 else [])
                          + [f"{k}={_key(r.get(k))}" for k in split])
        groups.setdefault(label, {}).setdefault(_key(r[x]), []).append(float(r[metric]))
    rank = {v: i for i, v in enumerate(order or [])}
    out = {}
    for label, points in groups.items():
        xs = sorted(points, key=lambda v: rank.get(v, len(rank)))
        out[label] = [(v, sum(points[v]) / len(points[v]), min(points[v]), max(points[v]), len(points[v]))
                      for v in xs]
    return out


def _key(value) -> str:
    """A swept value as a row holds it, in one form whether the row came from the trials or from results.csv
    (``1.0`` and ``"1"`` are one value; lists are ``a+b``, as ``sweeps.format_value`` writes them)."""
    if isinstance(value, (list, tuple)):
        return "+".join(_key(v) for v in value) if value else "none"
    if isinstance(value, bool) or value is None:
        return str(value)
    try:
        return f"{float(value):g}"
    except (TypeError, ValueError):
        return paper_name(str(value))


__all__ = ["KINDS", "KEYS", "PAIR_AXES", "LABELS", "axis_label", "check_figure", "resolve", "aggregate", "line_keys",
           "pair_half"]
