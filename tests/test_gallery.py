"""tools/make_gallery.py: the README's content/style/result strip, from a run folder."""

import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

TOOL = Path(__file__).resolve().parents[1] / "tools" / "make_gallery.py"
spec = importlib.util.spec_from_file_location("make_gallery", TOOL)
make_gallery = importlib.util.module_from_spec(spec)
spec.loader.exec_module(make_gallery)


def _run(folder: Path, kind: str) -> Path:
    folder.mkdir()
    sizes = {"content.png": (60, 40), "style.png": (30, 30), "image.png": (60, 40)}  # (width, height)
    for i, (name, (w, h)) in enumerate(sizes.items()):
        Image.fromarray(np.full((h, w, 3), 60 * i, np.uint8)).save(folder / name)
    (folder / "env.json").write_text(json.dumps({"weights": {"kind": kind}}))
    return folder


def test_strip_puts_the_three_images_side_by_side_at_the_results_height(tmp_path, monkeypatch):
    run = _run(tmp_path / "run", "imagenet")
    out = tmp_path / "docs" / "gallery.png"
    monkeypatch.setattr(sys, "argv", ["make_gallery", str(run), "--out", str(out)])
    make_gallery.main()
    sheet = np.asarray(Image.open(out))
    assert sheet.shape == (40, 60 + 8 + 40 + 8 + 60, 3)  # style 30x30 scaled to height 40 -> 40 wide; 8 px gaps
    assert (sheet[:, :60] == 0).all() and (sheet[:, 68:108] == 60).all() and (sheet[:, 116:] == 120).all()
    assert (sheet[:, 60:68] == 255).all()  # white gap


def test_random_weights_run_is_refused(tmp_path, monkeypatch):
    run = _run(tmp_path / "run", "random")
    out = tmp_path / "gallery.png"
    monkeypatch.setattr(sys, "argv", ["make_gallery", str(run), "--out", str(out)])
    with pytest.raises(SystemExit, match="random weights"):
        make_gallery.main()
    assert not out.exists()


FIGURE_TOOL = Path(__file__).resolve().parents[1] / "tools" / "make_realtime_figure.py"
spec = importlib.util.spec_from_file_location("make_realtime_figure", FIGURE_TOOL)
make_realtime_figure = importlib.util.module_from_spec(spec)
spec.loader.exec_module(make_realtime_figure)
COMMITTED_RUN = Path(__file__).resolve().parents[1] / "experiments" / "feedforward" / "starry_night_48min"


def _training_run(folder: Path, photos=("astronaut", "chelsea", "rocket")) -> Path:
    """A feed-forward run folder as committed: records with round numbers and two small output JPEGs."""
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({"width": 0.5, "crop_size": 128, "batch_size": 4,
                                                    "style_weight": 10.0, "weights": "imagenet"}))
    (folder / "inputs.json").write_text(json.dumps({"style": "starry_night", "photos": list(photos),
                                                    "held_out": ["coffee"]}))
    (folder / "result.json").write_text(json.dumps({
        "steps": 1657, "wall_seconds": 2880.12, "seconds_per_step": 1.7382, "stopped": "minutes",
        "metric_ssim_content": 0.4163, "metric_style_ratio": 0.5077, "metric_color_ratio": 0.2263,
        "metric_flicker": 1.3013}))
    Image.fromarray(np.full((20, 30, 3), 200, np.uint8)).save(folder / "heldout_coffee.jpg")
    Image.fromarray(np.full((30, 40, 3), 50, np.uint8)).save(folder / "tubingen.jpg")
    return folder


def test_realtime_figure_puts_photos_outputs_and_style_at_the_held_out_outputs_height(tmp_path):
    sheet = np.asarray(make_realtime_figure.figure(_training_run(tmp_path / "run")))
    # at height 20: coffee 600x400 -> 30 wide, its output 30, Tübingen 1024x768 -> 27, its output 40x30 -> 27,
    # The Starry Night 1024x640 -> 32; four 8 px gaps
    assert sheet.shape == (20, 30 + 30 + 27 + 27 + 32 + 4 * 8, 3)
    assert abs(sheet[:, 38:68].mean() - 200) < 3 and abs(sheet[:, 111:138].mean() - 50) < 3  # the two outputs
    assert (sheet[:, 30:38] == 255).all()  # white gap


def test_realtime_caption_reads_every_number_from_the_records(tmp_path):
    text = make_realtime_figure.caption(_training_run(tmp_path / "run"))
    # 2880.12 s / 60 = 48.0 minutes; 1.7382 s -> 1.74; metrics rounded to two places
    assert "width 0.5, trained 1657 steps in 48 minutes (1.74 s a step" in text
    assert "on 128 px crops of astronaut, chelsea, rocket, batch 4, style weight 10, ImageNet VGG19" in text
    assert "SSIM to the photo 0.42, style ratio 0.51, colour ratio 0.23, flicker 1.30" in text
    with pytest.raises(SystemExit, match="Tübingen was a training photo"):
        make_realtime_figure.caption(_training_run(tmp_path / "run2", photos=("tubingen", "chelsea")))


def test_committed_readme_caption_is_what_the_committed_run_gives():
    """A hand edit of the README's real-time caption fails here: rerun tools/make_realtime_figure.py."""
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    block = make_realtime_figure.caption(COMMITTED_RUN)
    assert make_realtime_figure.replace_caption(readme, block) == readme
