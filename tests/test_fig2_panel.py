"""tools/make_fig2_panel.py: the README's Gatys et al. Fig. 2 panel, from a study's committed JPEGs."""

import csv
import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

TOOLS = Path(__file__).resolve().parents[1] / "tools"
sys.path.insert(0, str(TOOLS))
spec = importlib.util.spec_from_file_location("make_fig2_panel", TOOLS / "make_fig2_panel.py")
fig2 = importlib.util.module_from_spec(spec)
spec.loader.exec_module(fig2)


def _study(folder: Path, rows) -> Path:
    """A committed study record: results.csv and trials/<trial>.jpg for the rows marked with a picture."""
    (folder / "trials").mkdir(parents=True)
    with open(folder / "results.csv", "w", newline="") as f:
        w = csv.DictWriter(f, ["trial", "pair", "status", "weights"])
        w.writeheader()
        for trial, pair, status, weights, picture in rows:
            w.writerow({"trial": trial, "pair": pair, "status": status, "weights": weights})
            if picture:
                Image.fromarray(np.full((40, 60, 3), 200, np.uint8)).save(folder / "trials" / f"{trial}.jpg")
    return folder


def test_panel_is_the_photo_then_each_complete_imagenet_result_with_its_painting_inset(tmp_path):
    study = _study(tmp_path / "gatys_fig2", [
        ("tubingen+starry_night__s=1", "tubingen / starry_night", "complete", "ImageNet weights", True),
        ("tubingen+the_scream__s=1", "tubingen / the_scream", "complete", "ImageNet weights", True),
        ("tubingen+shipwreck__s=1", "tubingen / shipwreck", "failed", "", False),  # not shown
        ("tubingen+udnie__s=1", "tubingen / udnie", "complete", "RANDOM WEIGHTS (seed 0)", True),  # not shown
    ])
    assert [r["trial"] for r in fig2.panel_rows(study)] == ["tubingen+starry_night__s=1", "tubingen+the_scream__s=1"]
    out = tmp_path / "docs" / "panel.jpg"
    assert fig2.main([str(study), "--out", str(out), "--tile", "80"]) == 0
    sheet = Image.open(out)
    # three tiles 80 px high: the photo (its own aspect), then two 60x40 results scaled to 120x80; 8-px gaps
    from nststudy.images import load_image
    h, w = load_image("tubingen").shape[:2]
    assert sheet.size == (round(w * 80 / h) + 8 + 120 + 8 + 120, 80)
    tile = np.asarray(sheet)[:, -120:]
    assert tile[5, 100].mean() > 190  # the result itself (grey 200) at the upper right
    assert tile[-2, 2].mean() != pytest.approx(200, abs=5)  # the painting inset at the lower left


def test_panel_refuses_a_record_with_nothing_to_show_or_two_photos(tmp_path):
    empty = _study(tmp_path / "a", [("t1", "tubingen / starry_night", "failed", "", False)])
    with pytest.raises(SystemExit, match="no complete ImageNet-weights trial"):
        fig2.panel_rows(empty)
    two = _study(tmp_path / "b", [("t1", "tubingen / starry_night", "complete", "ImageNet weights", True),
                                  ("t2", "chelsea / starry_night", "complete", "ImageNet weights", True)])
    with pytest.raises(SystemExit, match="one photo"):
        fig2.panel_rows(two)
