"""The trade-off plot puts trials on one axis only when their style distances are measured against the
same reference (issue 17: "draw trade-off plots only where the x-values compare across rows")."""

from pathlib import Path

import matplotlib

matplotlib.use("Agg")

from nststudy.studyfigures import tradeoff
from nststudy.sweeps import Sweep, Trial

SINGLE = "vgg19 conv4_2 / conv1_1-conv5_1, imagenet; style: the original style image"


def _sweep(tmp_path, axes):
    return Sweep(path=Path(tmp_path) / "sweep.yaml", name="demo", question="q", source="s",
                 notebook=Path("notebooks/stylize.ipynb"), base={}, axes=axes, combine="product",
                 pairs=[["a", "b"]])


def _rows(refs):
    return [{"pair": "a / b", "metric_ssim_content": 0.5 + 0.1 * i, "metric_style_distance": 1.0 - 0.1 * i,
             "metric_reference": ref} for i, ref in enumerate(refs)]


def test_one_reference_per_pair_is_drawn(tmp_path):
    rows = _rows([SINGLE, SINGLE, SINGLE])
    trials = [Trial(f"t{i}", {}, {"pair": "a / b", "style_weight": w}) for i, w in enumerate((1.0, 10.0, 100.0))]
    assert tradeoff(_sweep(tmp_path, {"style_weight": [1, 10, 100]}), trials, rows) is not None


def test_rows_against_different_references_are_not_drawn(tmp_path):
    # a blend sweep: each blend weight measures style distance against a different target (its blended Grams)
    refs = [SINGLE.replace("the original style image", f"blend of 2 original style images (weights {w}, {1 - w})")
            for w in (0.25, 0.5, 0.75)]
    trials = [Trial(f"t{i}", {}, {"pair": "a / b", "style_blend_weights": w}) for i, w in enumerate((0.25, 0.5, 0.75))]
    assert tradeoff(_sweep(tmp_path, {"style_blend_weights": [0.25, 0.5, 0.75]}), trials, _rows(refs)) is None
