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
