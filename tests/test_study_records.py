"""A study's record can be checked (issue 18): each trial's result as a JPEG at the run's size, linked from the
README's table; grid tiles large enough to see grain; a metric-versus-parameter figure drawn from the rows;
the README in the order question, figures and what they show, numbers, the seed's claim.

No notebook runs here: the trial folders are written by hand, as a finished trial leaves them (result.json,
output.ipynb, the images, config.json, history.csv), so each test takes a second or two.
"""

import csv
import json
import shutil
from pathlib import Path

import matplotlib
import numpy as np
import pytest
import yaml
from PIL import Image, JpegImagePlugin

matplotlib.use("Agg")

from nststudy.figurespec import LABELS, aggregate, axis_label, check_figure, resolve  # noqa: E402
from nststudy.report import build_report, figure_spec  # noqa: E402
from nststudy.studyfigures import comparable, metric_figure  # noqa: E402
from nststudy.sweeps import expand, load_sweep  # noqa: E402

PAIR = ["chelsea", "hubble_deep_field"]
ID_1 = "chelsea+hubble_deep_field__style_weight=1"
ID_10 = "chelsea+hubble_deep_field__style_weight=10"
# The README's links, written out by hand: '+' percent-encoded as %2B, '=' kept (both legal in a URL path).
LINK_1 = "[jpg](trials/chelsea%2Bhubble_deep_field__style_weight=1.jpg)"
LINK_10 = "[jpg](trials/chelsea%2Bhubble_deep_field__style_weight=10.jpg)"
RED, BLUE = (230, 20, 20), (20, 20, 230)


def make_study(root: Path, axes=None, extra=None) -> Path:
    data = {"name": "records", "question": "Is every record checkable?", "source": "tests/test_study_records.py",
            "base": {"weights": "random", "image_size": 32}, "axes": axes or {"style_weight": [1.0, 10.0]},
            "pairs": [PAIR], "expected_runtime": "none: written by hand"}
    data.update(extra or {})
    folder = root / "experiments" / "records"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "sweep.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
    return folder / "sweep.yaml"


def fake_trial(folder: Path, colour, size=(64, 40), metrics=None, losses=(10.0, 4.0)):
    """A finished trial's folder: ``size`` is (width, height) of its result, filled with ``colour``."""
    folder.mkdir(parents=True)
    w, h = size
    Image.fromarray(np.full((h, w, 3), colour, np.uint8)).save(folder / "image.png")
    for name, grey in (("content.png", 120), ("style.png", 200)):
        Image.fromarray(np.full((h, w, 3), grey, np.uint8)).save(folder / name)
    (folder / "config.json").write_text("{}")
    (folder / "history.csv").write_text("step,total,content,style,tv,seconds\n"
                                        + "".join(f"{i},{v},{v / 2},{v / 2},0.0,{0.5 * i}\n"
                                                  for i, v in enumerate(losses, 1)))
    final = {"total": losses[-1], "content": losses[-1] / 2, "style": losses[-1] / 2, "tv": 0.0, "seconds": 1.0}
    (folder / "result.json").write_text(json.dumps({
        "status": "complete", "final": final, "steps": len(losses), "wall_seconds": 1.0,
        "weights": "random weights (test)", **(metrics or {})}))
    (folder / "output.ipynb").write_text("{}")


def runs_of(path: Path) -> Path:
    return path.parent / "runs_random-weights"


def two_trials(tmp_path, extra=None):
    path = make_study(tmp_path, extra=extra)
    fake_trial(runs_of(path) / ID_1, RED, metrics={"metric_ssim_content": 0.8, "metric_style_distance": 4.0})
    fake_trial(runs_of(path) / ID_10, BLUE, metrics={"metric_ssim_content": 0.3, "metric_style_distance": 2.0})
    return path


def test_each_trial_is_a_jpeg_at_the_runs_size_linked_from_the_table(tmp_path):
    path = two_trials(tmp_path)
    build_report(path)
    out = path.parent
    for tid, colour in ((ID_1, RED), (ID_10, BLUE)):
        jpg = out / "trials" / f"{tid}.jpg"
        assert jpg.read_bytes()[:3] == b"\xff\xd8\xff", f"{jpg} is not a JPEG"
        with Image.open(jpg) as im:
            assert im.size == (64, 40)  # the run's full size (fake_trial's 64 x 40)
            assert np.abs(np.asarray(im, float).mean((0, 1)) - colour).max() < 4  # its result, not another's
    readme = (out / "README.md").read_text()
    assert "| image | pair | style_weight |" in readme
    assert f"| {LINK_1} | chelsea / hubble_deep_field | 1 |" in readme
    assert f"| {LINK_10} | chelsea / hubble_deep_field | 10 |" in readme


def test_jpegs_of_trials_no_longer_in_the_sweep_are_removed(tmp_path):
    path = two_trials(tmp_path)
    old = path.parent / "trials" / "chelsea+hubble_deep_field__style_weight=100.jpg"
    old.parent.mkdir()
    Image.new("RGB", (8, 8)).save(old)
    failed = runs_of(path) / ID_10
    (failed / "result.json").unlink()
    (failed / "failed.json").write_text(json.dumps({"reason": "test: the trial failed"}))
    build_report(path)
    assert sorted(p.name for p in (path.parent / "trials").iterdir()) == [f"{ID_1}.history.csv.gz", f"{ID_1}.jpg"]
    readme = (path.parent / "README.md").read_text()
    assert LINK_1 in readme and LINK_10 not in readme  # a failed trial has no result to link


def test_loss_histories_are_committed_and_a_fresh_clone_draws_the_loss_figures_from_them(tmp_path):
    """Each finished trial's history.csv goes into the record gzipped, byte for byte; without runs (a fresh clone)
    build_report reads them back and redraws losses.png (and a loss-kind metrics.png) from them."""
    import gzip

    from nststudy.histories import read_history

    path = two_trials(tmp_path, extra={"figure": {"kind": "loss_vs_step"}})
    build_report(path)
    committed = path.parent / "trials" / f"{ID_10}.history.csv.gz"
    source = runs_of(path) / ID_10 / "history.csv"
    assert gzip.decompress(committed.read_bytes()) == source.read_bytes()
    assert read_history(committed) == [{"step": 1, "total": 10.0, "content": 5.0, "style": 5.0, "tv": 0.0,
                                        "seconds": 0.5}, {"step": 2, "total": 4.0, "content": 2.0, "style": 2.0,
                                                          "tv": 0.0, "seconds": 1.0}]
    first = committed.read_bytes()
    build_report(path)
    assert committed.read_bytes() == first  # same history, same bytes: no churn in the repository
    shutil.rmtree(runs_of(path))
    for name in ("losses.png", "metrics.png"):
        (path.parent / name).unlink()
    assert build_report(path)["kept_figures"]
    for name in ("losses.png", "metrics.png"):
        assert (path.parent / name).is_file(), f"{name} not redrawn from the committed histories"


def test_a_fresh_clone_keeps_the_jpegs_and_links_those_there_are(tmp_path):
    path = two_trials(tmp_path)
    build_report(path)
    out = path.parent
    kept = {p.name: p.read_bytes() for p in (out / "trials").iterdir()}
    shutil.rmtree(runs_of(path))
    (out / "trials" / f"{ID_10}.jpg").unlink()
    paths = build_report(path)
    assert paths["kept_figures"]
    assert (out / "trials" / f"{ID_1}.jpg").read_bytes() == kept[f"{ID_1}.jpg"]
    readme = (out / "README.md").read_text()
    assert LINK_1 in readme and LINK_10 not in readme
    assert "![grid](grid.jpg)" in readme


def test_grid_is_a_jpeg_whose_tiles_are_at_least_256_px(tmp_path):
    path = two_trials(tmp_path)
    (path.parent / "grid.png").write_bytes(b"an older record's grid")
    paths = build_report(path)
    grid = path.parent / "grid.jpg"
    assert Path(paths["grid"]) == grid and grid.read_bytes()[:3] == b"\xff\xd8\xff"
    assert not (path.parent / "grid.png").exists()  # replaced, not left beside it
    with Image.open(grid) as im:
        px = np.asarray(im.convert("RGB"), int)
        assert JpegImagePlugin.get_sampling(im) == 0  # 4:4:4, full-resolution colour, as the trial JPEGs
    with Image.open(path.parent / "trials" / f"{ID_1}.jpg") as im:
        assert JpegImagePlugin.get_sampling(im) == 0
    red = (px[..., 0] > 180) & (px[..., 1] < 70) & (px[..., 2] < 70)  # the style_weight=1 trial's tile
    ys, xs = np.nonzero(red)
    assert len(xs), "the red tile is not in the grid"
    # a 64 x 40 result drawn 256+ px on its long side (the width), its aspect kept (height 5/8 of it)
    width, height = xs.max() - xs.min() + 1, ys.max() - ys.min() + 1
    assert width >= 256, width
    assert abs(height / width - 40 / 64) < 0.03


def test_readme_sections_come_in_issue_18s_order(tmp_path):
    path = two_trials(tmp_path, extra={"notes": "What the figure shows, in words.",
                                       "claim": "The seed's claim holds: more beta, more style."})
    build_report(path)
    readme = (path.parent / "README.md").read_text()
    order = ["# records", "**Question.**", "**Source.**", "![metrics](metrics.png)", "![grid](grid.jpg)",
             "![losses](losses.png)", "![trade-off](tradeoff.png)", "## What the figure shows",
             "What the figure shows, in words.", "## Numbers", "## Does the seed's claim hold?", "more beta, more style",
             "**Reproduce.**", "**Expected runtime.**", "**Record.**"]
    where = [readme.find(s) for s in order]
    assert -1 not in where, [s for s, i in zip(order, where) if i == -1]
    assert where == sorted(where), [s for s, _ in sorted(zip(order, where), key=lambda p: p[1])]


def test_a_worsened_trial_is_listed_with_its_start_and_end_losses(tmp_path):
    """'worsened' is judged against the start image's loss (result.json info.initial_loss), which the history
    (from step 1) does not hold: results.csv keeps it for every trial and the README names the flagged one."""
    path = two_trials(tmp_path)
    record = runs_of(path) / ID_10 / "result.json"
    result = json.loads(record.read_text())
    result.update(status="worsened", info={"initial_loss": 2.0})
    record.write_text(json.dumps(result))
    good = runs_of(path) / ID_1 / "result.json"
    good.write_text(json.dumps({**json.loads(good.read_text()), "info": {"initial_loss": 50.0}}))
    build_report(path)
    readme = (path.parent / "README.md").read_text()
    assert (f"- `{ID_10}` is worsened: all steps ran but the final loss is above the initial loss" in readme
            and "(total loss 2 at the start, 4 at the end)" in readme), readme
    assert f"`{ID_1}` is" not in readme  # complete: not flagged
    rows = {r["trial"]: r for r in csv.DictReader(open(path.parent / "results.csv"))}
    assert (rows[ID_10]["initial_total"], rows[ID_1]["initial_total"]) == ("2.0", "50.0")
    assert "initial_total" not in readme.split("## Numbers")[1].split("\n\n")[1]  # the table stays compact


def test_no_claim_no_claim_section(tmp_path):
    path = two_trials(tmp_path)
    build_report(path)
    assert "## Does the seed's claim hold?" not in (path.parent / "README.md").read_text()


def test_metrics_figure_is_drawn_from_a_committed_results_csv(tmp_path):
    """A fresh clone: no runs, only results.csv. metrics.png is drawn from its rows: the style distance stands
    in for the style ratio an older record lacks, and each panel's line holds the table's numbers."""
    path = make_study(tmp_path, axes={"style_weight": [0.01, 1.0, 100.0]})
    rows = [(f"chelsea+hubble_deep_field__style_weight={w}", w, ssim, sd)
            for w, ssim, sd in (("0.01", 0.85, 4.9), ("1", 0.73, 4.7), ("100", 0.25, 2.7))]
    (path.parent / "results.csv").write_text(
        "trial,pair,style_weight,status,total,weights,metric_ssim_content,metric_style_distance\n"
        + "".join(f"{t},chelsea / hubble_deep_field,{w},complete,1.0,ImageNet weights,{a},{b}\n" for t, w, a, b in rows))
    build_report(path)
    assert (path.parent / "metrics.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "![metrics](metrics.png)" in (path.parent / "README.md").read_text()

    sweep = load_sweep(path)
    from nststudy.report import figure_spec
    from nststudy.tables import rows_from_csv

    table = rows_from_csv(path.parent / "results.csv")
    spec = figure_spec(sweep, table)
    assert spec["metrics"] == ["metric_style_distance", "metric_ssim_content"] and spec["log_x"]
    fig = metric_figure(sweep, table, spec)
    style_ax, ssim_ax = fig.axes
    assert list(style_ax.lines[0].get_xdata()) == [0.01, 1.0, 100.0]
    assert list(style_ax.lines[0].get_ydata()) == [4.9, 4.7, 2.7]
    assert list(ssim_ax.lines[0].get_ydata()) == [0.85, 0.73, 0.25]
    assert style_ax.get_xscale() == "log" and "lower = more style" in style_ax.get_ylabel()
    assert "ImageNet weights" in fig._suptitle.get_text()


def test_seeds_are_averaged_with_their_spread_and_n():
    """Hand values: pair A at x=1 has seeds 1, 2, 3 (mean 2, min 1, max 3); at x=10 seeds 4 and 6 (mean 5);
    pair B one seed each. One line per pair, the seed never a line of its own."""
    rows = [{"pair": "A", "beta": "1", "seed": s, "m": v} for s, v in ((0, 1.0), (1, 2.0), (2, 3.0))]
    rows += [{"pair": "A", "beta": "10", "seed": s, "m": v} for s, v in ((0, 4.0), (1, 6.0))]
    rows += [{"pair": "B", "beta": 1.0, "seed": 0, "m": 7.0}, {"pair": "B", "beta": 10.0, "seed": 0, "m": None}]
    lines = aggregate(rows, "beta", "m", keys=[], order=["10", "1"])
    assert lines == {"A": [("10", 5.0, 4.0, 6.0, 2), ("1", 2.0, 1.0, 3.0, 3)], "B": [("1", 7.0, 7.0, 7.0, 1)]}


def test_an_axis_that_varies_at_equal_x_makes_lines_and_one_fixed_by_x_does_not():
    # a zip sweep like the optimizer study: learning rate goes with the optimiser, steps vary within each
    rows = [{"pair": "A", "opt": o, "lr": lr, "steps": n, "m": float(i)}
            for i, (o, lr, n) in enumerate([("sgd", 1e-4, 50), ("sgd", 1e-4, 80), ("adam", 5, 50), ("adam", 5, 80)])]
    lines = aggregate(rows, "opt", "m", keys=["lr", "steps"], order=["sgd", "adam"])
    assert lines == {"steps=50": [("sgd", 0.0, 0.0, 0.0, 1), ("adam", 2.0, 2.0, 2.0, 1)],
                     "steps=80": [("sgd", 1.0, 1.0, 1.0, 1), ("adam", 3.0, 3.0, 3.0, 1)]}


def test_figure_lines_split_an_axis_that_x_fixes():
    """The defaults study: beta 100 and 1000 go with the paper's loss, 4e11 and 4e12 with the normalised one. Their
    betas are on different scales, so ``lines: [norm]`` keeps them apart; without it they are one line."""
    rows = [{"pair": "A", "beta": b, "norm": n, "m": float(i)}
            for i, (b, n) in enumerate([(100, "none"), (1000, "none"), (4e11, "target"), (4e12, "target")])]
    assert list(aggregate(rows, "beta", "m", keys=["norm"])) == [""]
    lines = aggregate(rows, "beta", "m", keys=["norm"], always=["norm"])
    assert lines == {"norm=none": [("100", 0.0, 0.0, 0.0, 1), ("1000", 1.0, 1.0, 1.0, 1)],
                     "norm=target": [("4e+11", 2.0, 2.0, 2.0, 1), ("4e+12", 3.0, 3.0, 3.0, 1)]}
    axes = {"beta": [100, 1000, 4e11, 4e12], "norm": ["none", "none", "target", "target"]}
    assert resolve(check_figure({"lines": ["norm"]}, axes, "s"), axes, False, ["m"])["lines"] == ["norm"]
    for bad in (["seedless"], ["beta"], "norm"):
        with pytest.raises(ValueError, match="lines must be a list of swept axes other than x"):
            check_figure({"x": "beta", "lines": bad}, axes, "s")


def test_seed_axis_draws_a_band_and_says_n(tmp_path):
    path = make_study(tmp_path, axes={"style_weight": [1.0, 10.0], "seed": [0, 1, 2]})
    sweep = load_sweep(path)
    rows = [{"pair": "chelsea / hubble_deep_field", "style_weight": t.axes["style_weight"], "seed": t.axes["seed"],
             "metric_ssim_content": 0.5 + 0.1 * t.axes["seed"], "weights": "w"} for t in expand(sweep)]
    fig = metric_figure(sweep, rows, resolve({}, sweep.axes, False, rows[0]))
    ax = fig.axes[0]
    assert list(ax.lines[0].get_ydata()) == pytest.approx([0.6, 0.6])  # mean of 0.5, 0.6, 0.7
    assert ax.collections, "no min-max band"
    assert "n=3" in ax.get_legend().get_texts()[0].get_text()


def test_a_metric_over_decades_gets_a_log_axis(tmp_path):
    """optimizer_lr: a diverged rate ends 1e4 times above the others; on a linear axis the others lie flat at 0."""
    path = make_study(tmp_path, axes={"style_weight": [1.0, 10.0, 100.0]})
    sweep = load_sweep(path)
    for totals, scale in (([2e11, 3e11, 4.8e15], "log"), ([2e11, 3e11, 9e11], "linear")):
        rows = [{"pair": "chelsea / hubble_deep_field", "style_weight": t.axes["style_weight"], "total": v,
                 "weights": "w"} for t, v in zip(expand(sweep), totals)]
        fig = metric_figure(sweep, rows, resolve({"metrics": ["total"]}, sweep.axes, False, rows[0]))
        assert fig.axes[0].get_yscale() == scale
        assert ("log scale" in fig.axes[0].get_ylabel()) == (scale == "log")


def test_axis_labels_name_each_painting_of_a_blend():
    assert axis_label("metric_style_ratio_2").startswith("style distance to style image 2 alone")
    assert axis_label("metric_color_ratio_1").startswith("colour distance to style image 1 alone")
    assert axis_label("metric_ssim_content") == LABELS["metric_ssim_content"] and axis_label("x") == "x"


def test_figure_defaults_follow_the_axes():
    layers = {"layers": [["conv1_2"], ["block4_conv2"]]}
    spec = resolve({}, layers, True, {"metric_feature_error", "metric_pixel_error", "total"})
    assert spec["x"] == "layers" and not spec["numeric"] and spec["order"] == ["conv1_2", "conv4_2"]
    assert spec["metrics"] == ["metric_feature_error", "metric_pixel_error"]  # a reconstruction's errors
    spec = resolve({}, {"style_weight": [1.0, 5.0]}, False, {"metric_style_ratio", "metric_color_ratio",
                                                               "metric_ssim_content", "metric_style_distance"})
    assert spec["metrics"] == ["metric_style_ratio", "metric_color_ratio", "metric_ssim_content"]
    assert spec["numeric"] and not spec["log_x"]  # one decade at most: linear
    assert resolve({}, {"seed": [0, 1], "init": ["noise"]}, False, {"total"})["x"] == "init"
    assert resolve({}, {"octaves": [1, 3]}, True, {"total"})["metrics"] == ["total"]  # DeepDream: no metric
    assert resolve({"kind": "loss_vs_time"}, {"optimizer": ["adam"]}, False, set())["metrics"] == ["total"]


def test_a_study_over_paintings_has_one_point_per_photo_at_each_painting_and_its_targets_dashed(tmp_path):
    """defaults_check: one swept value, ten pairs. x: style_image puts the paintings on the x axis (in the sweep
    file's order), each photo a series of its own; targets draw the bar the study checks against."""
    pairs = [["tubingen", "starry_night"], ["tubingen", "the_scream"], ["chelsea", "starry_night"],
             ["chelsea", "the_scream"]]
    block = {"x": "style_image", "targets": {"metric_style_ratio": 0.4}}
    path = make_study(tmp_path, axes={"style_weight": [4e12]}, extra={"pairs": pairs, "figure": block})
    sweep = load_sweep(path)
    rows = [{"pair": t.axes["pair"], "style_weight": 4e12, "metric_style_ratio": v, "weights": "w"}
            for t, v in zip(expand(sweep), (0.11, 0.12, 0.10, 0.13))]
    spec = figure_spec(sweep, rows)
    assert spec["x"] == "style_image" and not spec["numeric"] and spec["order"] == ["starry_night", "the_scream"]
    assert aggregate(rows, "style_image", "metric_style_ratio", spec["line_keys"], spec["order"]) == {
        "tubingen": [("starry_night", 0.11, 0.11, 0.11, 1), ("the_scream", 0.12, 0.12, 0.12, 1)],
        "chelsea": [("starry_night", 0.10, 0.10, 0.10, 1), ("the_scream", 0.13, 0.13, 0.13, 1)]}
    ax = metric_figure(sweep, rows, spec).axes[0]
    series = [line for line in ax.lines if line.get_label() in ("tubingen", "chelsea")]
    assert [list(line.get_ydata()) for line in series] == [[0.11, 0.12], [0.10, 0.13]]
    assert all(line.get_linestyle() == "None" for line in series)  # paintings have no order: no joining line
    target = [line for line in ax.lines if line not in series]
    assert len(target) == 1 and list(target[0].get_ydata()) == [0.4, 0.4] and target[0].get_linestyle() == "--"
    assert [t.get_text() for t in ax.texts] == ["target 0.4"]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["starry_night", "the_scream"]
    assert spec == figure_spec(sweep, rows_from_csv_like(rows))  # the same from results.csv's text


def rows_from_csv_like(rows):
    """Rows as results.csv gives them back: every value text."""
    return [{k: str(v) for k, v in r.items()} for r in rows]


@pytest.mark.parametrize("block, message", [
    ({"targets": {"metric_style_ratio": "low"}}, r"targets must map results.csv column names to numbers"),
    ({"x": "painting"}, r"x='painting' is not a swept axis; accepted: style_weight, content_image, style_image"),
    ({"x": "beta"}, r"x='beta' is not a swept axis; accepted: style_weight"),
    ({"kind": "scatter"}, r"kind='scatter'; accepted: metric, loss_vs_time, loss_vs_step"),
    ({"metrics": "metric_ssim_content"}, r"metrics must be a non-empty list"),
    ({"log_x": "yes"}, r"log_x must be true or false"),
    ({"y": "metric_ssim_content"}, r"unknown key 'y'; accepted: x, metrics, log_x, kind"),
])
def test_figure_block_is_checked(tmp_path, block, message):
    path = make_study(tmp_path, extra={"figure": block})
    with pytest.raises(ValueError, match=message) as e:
        load_sweep(path)
    assert str(path) in str(e.value)


def test_claim_must_be_text(tmp_path):
    with pytest.raises(ValueError, match="'claim' must be text"):
        load_sweep(make_study(tmp_path, extra={"claim": ["holds"]}))
    sweep = load_sweep(make_study(tmp_path / "b", extra={"claim": "Holds.\n", "figure": {"x": "style_weight"}}))
    assert sweep.claim == "Holds." and sweep.figure == {"x": "style_weight"}


def test_loss_kinds_are_drawn_from_the_runs_and_kept_without_them(tmp_path):
    path = two_trials(tmp_path, extra={"figure": {"kind": "loss_vs_time"}})
    build_report(path)
    drawn = (path.parent / "metrics.png").read_bytes()
    assert drawn[:8] == b"\x89PNG\r\n\x1a\n"
    shutil.rmtree(runs_of(path))
    assert build_report(path)["kept_figures"]
    assert (path.parent / "metrics.png").read_bytes() == drawn  # histories are not in results.csv: kept


def test_grid_titles_break_lists_between_items_but_not_numbers():
    from nststudy.contactsheet import wrap_label

    assert wrap_label("style_weight=4e+12") == "style_weight=4e+12"  # PyYAML-style large betas stay one number
    assert wrap_label("style_layers=conv1_1+conv2_1", width=40) == "style_layers=conv1_1 + conv2_1"


def test_distances_to_blended_references_are_not_drawn_by_default():
    # a blend sweep: each row's style distance is measured against its own blended target (see test_tradeoff)
    columns = {"metric_style_distance", "metric_colour_to_style", "metric_ssim_content"}
    blend = {"style_blend_weights": [[1.0, 0.0], [0.5, 0.5]]}
    assert resolve({}, blend, False, columns, comparable=False)["metrics"] == ["metric_ssim_content"]
    assert resolve({}, blend, False, columns)["metrics"] == ["metric_style_distance", "metric_colour_to_style",
                                                             "metric_ssim_content"]


def test_a_failed_trial_does_not_make_its_pair_incomparable():
    """The model study: VGG16 failed (no weights, no metrics), VGG19 measured. Its style distances still share
    one axis, so metrics.png keeps them; two references within a pair (a blend) still do not."""
    measured = {"pair": "tubingen / starry_night", "metric_reference": "vgg19 conv4_2 / conv1_1-conv5_1"}
    failed = {"pair": "tubingen / starry_night", "metric_reference": None}
    assert comparable([failed, measured]) and comparable([failed])
    assert not comparable([measured, {**measured, "metric_reference": "blend 0.5 / 0.5"}])


def test_grid_content_tile_of_a_training_run_is_its_held_out_photo(tmp_path):
    """Feed-forward training runs recorded before train.finish wrote content.png (experiments/feedforward) left the
    grid's content column blank; the tile is now their first held-out photo at image.png's size."""
    from nststudy.images import load_image, resize
    from nststudy.runs import input_image as _input_tile

    folder = tmp_path / "run"
    folder.mkdir()
    Image.new("RGB", (40, 30)).save(folder / "image.png")
    (folder / "result.json").write_text(json.dumps({"status": "complete", "held_out": ["coffee"]}))
    tile = np.asarray(_input_tile(folder, "content"))
    assert tile.shape == (30, 40, 3)
    np.testing.assert_array_equal(tile, resize(load_image("coffee"), 30, 40))
    assert _input_tile(folder, "style") is None  # only the content has a stand-in
    Image.new("RGB", (8, 6), (255, 0, 0)).save(folder / "content.png")  # a recorded input wins
    assert np.asarray(_input_tile(folder, "content")).shape == (6, 8, 3)
    (folder / "content.png").unlink()
    (folder / "result.json").write_text(json.dumps({"status": "complete"}))
    assert _input_tile(folder, "content") is None


def test_a_committed_jpeg_keeps_the_colour_grain_the_colour_distance_measures(tmp_path):
    """The trial JPEGs are the evidence a reader re-measures. With the JPEG default (4:2:0 chroma subsampling)
    a grainy result's colour distance to a smooth painting drops by 17% here (and a median 32% on the studies'
    results); save_jpeg keeps full-resolution colour, within 5%."""
    import io

    from nststudy.files import save_jpeg
    from nststudy.metrics import colour_distance

    rng = np.random.default_rng(0)
    base = np.linspace(60, 190, 128)[None, :, None] * np.ones((96, 128, 3))
    result = np.clip(base + rng.normal(0, 25, base.shape), 0, 255).astype(np.uint8)  # per-pixel colour grain
    painting = np.clip(base * np.array([0.6, 0.8, 1.2]), 0, 255).astype(np.float32)
    Image.fromarray(result).save(tmp_path / "image.png")
    save_jpeg(tmp_path / "image.png", tmp_path / "image.jpg", 90)
    default = io.BytesIO()
    Image.fromarray(result).save(default, format="JPEG", quality=90)

    def distance(src):
        with Image.open(src) as im:
            return colour_distance(np.asarray(im.convert("RGB"), np.float32), painting)

    exact = colour_distance(result.astype(np.float32), painting)
    assert distance(tmp_path / "image.jpg") == pytest.approx(exact, rel=0.05)
    assert distance(default) < 0.9 * exact  # the control: what the default subsampling would have committed
