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


# ------------------------------------------------------------------------------------------------------------
# The network against the engine (nststudy.compare, experiments/feedforward/compare.py)

REPO = Path(__file__).resolve().parents[1]


def script(name: str):
    """The ``main`` of experiments/feedforward/<name>.py."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(f"ff_{name}", REPO / "experiments" / "feedforward" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.main


@pytest.fixture(scope="module")
def trained(work) -> Path:
    """A training run folder as 'nststudy train' leaves it, written by hand: trained on p0 and p1 for 100 s."""
    folder = work / "trained_random-weights"
    folder.mkdir()
    config = TrainConfig(photos=str(work / "photos"), preview_size=32, **{k: v for k, v in TINY.items()
                                                                         if k != "preview_size"})
    (folder / "config.json").write_text(config.to_json())
    (folder / "inputs.json").write_text(json.dumps({"style": str(work / "style.png"), "photos": [
        str(work / "photos" / "p0.png"), str(work / "photos" / "p1.png")], "held_out": [str(work / "photos" / "p2.png")]}))
    (folder / "result.json").write_text(json.dumps({"status": "complete", "steps": 10, "wall_seconds": 100.0}))
    save_transform(build_transform(0.25, 1, "zero", seed=7), folder / "model.keras")
    Image.fromarray(np.roll(make_content(40, 48), 90, axis=-1)).save(work / "never_seen.png")
    return folder


def test_equivalent_style_weight_by_hand():
    from nststudy.losses import equivalent_style_weight

    # conv3_3 (2 poolings): a 256x192 photo has 64·48 positions, a 128² crop 32·32: 3x -> β 10 -> 30
    assert equivalent_style_weight(10.0, (128, 128), (192, 256), 2) == pytest.approx(30.0, rel=1e-12)
    # conv2_1 (1 pooling): 32x27 -> 16·13 = 208 positions, a 32² crop 16·16 = 256: 10 · 208/256 = 8.125
    assert equivalent_style_weight(10.0, (32, 32), (32, 27), 1) == pytest.approx(8.125, rel=1e-12)


def test_break_even_by_hand():
    from nststudy.compare import break_even

    # 48 min of training, 0.05 s against 180 s an image: 2880 / 179.95 = 16.004 -> 17 images
    # (16: 2880.8 s > 2880 s of the engine; 17: 2880.85 s <= 3060 s)
    assert break_even(2880, 0.05, 180) == 17
    assert break_even(100, 0.0, 10) == 10  # exactly even at 10 images: 100 + 0 <= 100
    assert break_even(0, 0.04, 3) == 1  # inference only: the first image already pays
    assert break_even(100, 2.0, 1.5) is None  # a network slower than the engine never pays


def test_engine_config_matches_the_training_objective(trained):
    from nststudy.compare import engine_config

    t = TrainConfig.from_json((trained / "config.json").read_text())
    e = engine_config(t, 8.125, 32, steps=2)
    assert (e.content_layers, e.style_layers, e.style_layer_weights) == (("block2_conv1",),
                                                                         ("block1_conv1", "block2_conv1"), (0.5, 0.5))
    assert (e.model, e.weights, e.pooling, e.content_weight, e.tv_weight) == ("vgg19", "random", "max", 1.0, 0.0)
    assert e.style_normalization == "none"  # nststudy.train minimises Gatys et al.'s E_l, not the normalised one
    assert (e.style_weight, e.image_size, e.total_steps, e.init) == (8.125, 32, 2, "content")
    assert e.style_scale == 1.0  # style at crop_size (32 px) across, as in training
    assert engine_config(t, 10, 256).style_scale == 0.125 and engine_config(t, 10, 256).total_steps == 500


def test_compare_writes_panel_figures_and_break_even_and_reuses_finished_runs(work, trained, monkeypatch, capsys):
    out, runs = work / "compared", work / "compare_runs"
    args = [str(trained), "--photos", f"{work / 'photos' / 'p2.png'},{work / 'never_seen.png'}", "-o", str(out),
            "--runs", str(runs), "--size", "32", "--steps", "2", "--factors", "0.1,1", "--repeats", "1", "-q"]
    assert script("compare")(args) == 0, capsys.readouterr().err
    record = json.loads((out / "compare.json").read_text())
    assert [Path(r["photo"]).stem for r in record["photos"]] == ["p2", "never_seen"]
    p2 = record["photos"][0]
    # 48x40 -> 32x27 at 32 px: β 10 on 32² crops is 8.125 here (test_equivalent_style_weight_by_hand)
    assert p2["size"] == [32, 27] and p2["equivalent_style_weight"] == pytest.approx(8.125)
    assert [(e["label"], round(e["style_weight"], 4)) for e in p2["engine"]] == [("x0.1", 0.8125), ("x1", 8.125),
                                                                                 ("own", 10.0)]
    for entry in [p2["network"], *p2["engine"]]:
        assert {"metric_style_distance", "metric_style_ratio", "metric_color_ratio", "metric_ssim_content"} <= set(entry)
        assert set(entry["objective"]) == {"content", "style"}
    assert all(e["status"] == "complete" for e in p2["engine"])
    b = record["break_even"]
    assert b["training_seconds"] == 100.0 and b["images_inference_only"] == 1
    assert b["images"] == math.ceil(100.0 / (b["engine_seconds_per_image"] - b["network_seconds_per_image"]))
    assert Image.open(out / "tradeoff.png").format == "PNG" and Image.open(out / "strip.jpg").format == "JPEG"
    assert "break-even" in capsys.readouterr().out

    def no_rerun(*a, **k):
        raise AssertionError("a finished engine run was run again")

    import importlib

    monkeypatch.setattr(importlib.import_module("nststudy.stylize"), "stylize", no_rerun)
    assert script("compare")(args) == 0  # every engine run reused
    again = json.loads((out / "compare.json").read_text())
    assert [e["run"] for e in again["photos"][0]["engine"]] == [e["run"] for e in p2["engine"]]


def test_compare_refuses_a_photo_the_network_was_trained_on(work, trained, capsys):
    out = work / "refused"
    code = script("compare")([str(trained), "--photos", str(work / "photos" / "p0.png"), "-o", str(out),
                              "--runs", str(work / "refused_runs"), "--size", "32", "--steps", "2", "-q"])
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert code == 2 and len(err) == 1 and "p0.png: trained on by this network" in err[0]
    assert not out.exists() and not (work / "refused_runs").exists()


def test_flicker_table_of_several_models(work, trained, capsys):
    target = work / "flicker.json"
    code = script("flicker")([str(trained), str(work / "source.keras"), "--photos", str(work / "never_seen.png"),
                              "--clips", "4x16,3x24", "-o", str(target)])
    assert code == 0, capsys.readouterr().err
    table = json.loads(target.read_text())
    assert table["clips"] == ["4x16", "3x24"] and len(table["models"]) == 2
    folder, bare = table["models"]
    assert set(folder["photos"][0]["flicker"]) == {"4x16", "3x24"}
    assert all(v > 0 for v in folder["photos"][0]["flicker"].values())
    assert "metric_style_distance" in folder["photos"][0]  # a run folder: its style is known
    assert "metric_style_distance" not in bare["photos"][0] and bare["config"] is None  # a bare .keras file
    # both are the seed-7 network: the same frames, the same flicker
    assert folder["photos"][0]["flicker"] == bare["photos"][0]["flicker"]
