"""Issue 20's comparisons: a fine-tune that starts from a trained network (``TrainConfig.init_model``), so two
fine-tunes of equal steps compare fairly, and the network against the optimisation engine on held-out photos
(``nststudy.compare``). Tiny networks, 32-64 px, random VGG weights, two engine steps.
"""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import make_content, make_style
from nststudy import cli
from nststudy.train import train
from nststudy.trainconfig import TrainConfig
from nststudy.transform import Stylizer, build_transform, load_transform, save_transform

# As tests/test_realtime.py: width 1/4, one residual block, 32 px crops, VGG19 to conv2_1, seeded random weights.
TINY = dict(weights="random", width=0.25, residual_blocks=1, crop_size=32, batch_size=2, steps=1,
            checkpoint_every=1, preview_every=0, preview_size=40, held_out=1,
            content_layers=["conv2_1"], style_layers=["conv1_1", "conv2_1"], style_layer_weights=[0.5, 0.5])


@pytest.fixture(scope="module")
def work(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("ffcompare")
    photos = d / "photos"
    photos.mkdir()
    for i in range(3):
        Image.fromarray(np.roll(make_content(48, 40), 40 * i, axis=-1)).save(photos / f"p{i}.png")
    Image.fromarray(make_style()).save(d / "style.png")
    # the network fine-tunes start from: seed 7, so its weights are not the ones a fresh seed-0 run builds
    save_transform(build_transform(0.25, 1, "zero", seed=7), d / "source.keras")
    return d


def run_cli(capsys, *argv):
    code = cli.main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, [line for line in captured.err.splitlines() if line.strip()]


# ------------------------------------------------------------------------------------------------------------
# init_model: fine-tunes from a trained network

def test_init_model_starts_from_the_source_weights_and_is_recorded(work):
    """One Adam step at lr 1e-12 moves no weight by more than ~1e-12 (Adam's step is at most about lr), so the
    fine-tuned network's output is the source's to within float32 round-off (< 0.01 of 255); a fresh seed-0
    network differs from it by tens of grey levels (different Glorot draws)."""
    config = TrainConfig(photos=str(work / "photos"), init_model=str(work / "source.keras"), learning_rate=1e-12,
                         **TINY)
    run = train(work / "style.png", config, work / "tuned", progress=False)
    photo = make_content(40, 48)
    source = Stylizer(load_transform(work / "source.keras")).raw(photo[None].astype(np.float32)).numpy()
    tuned = Stylizer(load_transform(run)).raw(photo[None].astype(np.float32)).numpy()
    fresh = Stylizer(build_transform(0.25, 1, "zero", seed=0)).raw(photo[None].astype(np.float32)).numpy()
    assert np.abs(tuned - source).max() < 0.01
    assert np.abs(fresh - source).mean() > 5
    assert json.loads((run / "config.json").read_text())["init_model"] == str(work / "source.keras")
    md5 = hashlib.md5((work / "source.keras").read_bytes()).hexdigest()
    assert json.loads((run / "inputs.json").read_text())["init_model_md5"] == md5


def test_init_model_of_another_architecture_is_refused_before_anything_is_written(work, capsys):
    out = work / "mismatch"
    code, err = run_cli(capsys, "train", work / "style.png", "--photos", work / "photos", "-o", out, "-q",
                        *[a for k, v in TINY.items() if k != "residual_blocks"
                          for a in ("--set", f"{k}={','.join(map(str, v)) if isinstance(v, list) else v}")],
                        "--set", "residual_blocks=2", "--set", f"init_model={work / 'source.keras'}")
    assert code == 2 and len(err) == 1, err
    assert "nststudy_transform_w0.25_r1_zero" in err[0] and "nststudy_transform_w0.25_r2_zero" in err[0]
    assert not out.exists() and not Path(f"{out}_random-weights").exists()


def test_init_model_that_is_not_a_model_file_is_refused(work):
    (work / "notes.keras").write_text("not a model")
    config = TrainConfig(photos=str(work / "photos"), init_model=str(work / "notes.keras"), **TINY)
    with pytest.raises(ValueError, match="notes.keras: not a Keras .keras archive"):
        train(work / "style.png", config, work / "bad_init", progress=False)
    assert not (work / "bad_init_random-weights").exists()
