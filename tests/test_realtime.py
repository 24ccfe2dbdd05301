"""Real time (issue 20): the transform network, its training (resume bit for bit), video and flicker, `nststudy
train` / `nststudy apply` and their refusals of bad input. Tiny networks, 32-64 px, random VGG weights.

The CLI is called in-process (``cli.main``) to spare a TensorFlow import per call; exit code and stderr are
what a shell would see.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from conftest import make_content, make_style
from nststudy import cli, losses
from nststudy.checkpoint import load_checkpoint
from nststudy.train import Crops, make_loss_terms, resume, style_targets, train
from nststudy.trainconfig import TrainConfig
from nststudy.transform import (InstanceNormalization, ModelFileError, SpaceToDepthConv, Stylizer, build_transform,
                                channels, load_transform, save_transform)
from nststudy.video import FlickerMeter, flicker, mean_frame_change, pan_zoom_frames, read_video, write_video

# A network and loss network small enough for a CPU test: width 1/4 (8/16/32 channels), one residual block,
# 32 px crops, batch 2, VGG19 to conv2_2 with seeded random weights.
TINY = dict(weights="random", width=0.25, residual_blocks=1, crop_size=32, batch_size=2, steps=6,
            checkpoint_every=3, preview_every=3, preview_size=40, held_out=1, learning_rate=1e-3,
            content_layers=["conv2_2"], style_layers=["conv1_1", "conv2_1"], style_layer_weights=[0.5, 0.5],
            noise_std=2.0, stability_weight=1.0)


class Killed(Exception):
    """Stands for a kill -9 in the middle of a run: nothing after the raise runs."""


@pytest.fixture(scope="module")
def work(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("realtime")
    photos = d / "photos"
    photos.mkdir()
    for i in range(3):  # three small 'photos': the structured test image, shifted in colour
        Image.fromarray(np.roll(make_content(64, 56), 40 * i, axis=-1)).save(photos / f"p{i}.png")
    Image.fromarray(make_style()).save(d / "style.png")
    write_video(d / "clip.mp4", pan_zoom_frames(make_content(96, 96), frames=12, size=(36, 48)), fps=12)
    return d


@pytest.fixture(scope="module")
def reference(work) -> Path:
    """An uninterrupted 6-step run (checkpoints at 3 and 6)."""
    config = TrainConfig(photos=str(work / "photos"), **TINY)
    return train(work / "style.png", config, work / "ref", progress=False)


def run_cli(capsys, *argv) -> tuple[int, list[str], str]:
    """(exit code, stderr lines, stdout) of ``nststudy ARGV``."""
    code = cli.main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, [line for line in captured.err.splitlines() if line.strip()], captured.out


def snapshot(folder: Path) -> dict:
    """Every file under ``folder`` with its bytes: to show that nothing changed."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


# ------------------------------------------------------------------------------------------------------------
# The network

def test_channels_follow_johnson_times_width():
    # Johnson et al. 2016, supplementary Table 1: 32, 64, 128 channels.
    assert channels(1) == (32, 64, 128)
    assert channels(0.5) == (16, 32, 64)
    assert channels(0.25) == (8, 16, 32)


@pytest.mark.parametrize("shape", [(1, 33, 47, 3), (2, 17, 64, 3), (1, 40, 21, 3)])
def test_output_has_the_input_size_for_odd_sizes(shape):
    net = build_transform(0.25, 1, seed=0)
    x = np.random.default_rng(0).uniform(0, 255, shape).astype(np.float32)
    y = net(x).numpy()
    assert y.shape == shape
    assert 0 <= y.min() and y.max() <= 255  # the scaled tanh: 127.5 (tanh + 1)


def test_reflect_padding_variant_also_keeps_the_size():
    y = build_transform(0.25, 0, "reflect")(np.zeros((1, 19, 30, 3), np.float32))
    assert y.shape == (1, 19, 30, 3)


def test_bfloat16_twin_computes_in_bfloat16_and_stays_close(reference):
    """The bfloat16 twin has the same weights; its output is within 2 grey levels of float32 on average
    (bfloat16 keeps 8 significant bits, ~0.4 % of 255 is ~1 level; measured 0.9 on the Starry Night network)."""
    net = load_transform(reference)
    fast = Stylizer(net, "bfloat16")
    assert fast.precision == "bfloat16" and fast.model is not net
    policies = {layer.name: layer.dtype_policy.name for layer in fast.model.layers}
    assert policies["conv0"] == policies["conv1"] == "mixed_bfloat16" and policies["to_rgb"] == "float32"
    x = np.asarray(Image.open(reference / "previews" / sorted(os.listdir(reference / "previews"))[0]), np.float32)
    difference = np.abs(fast(x).astype(int) - Stylizer(net)(x).astype(int))
    assert difference.mean() < 2.0
    assert fast(x).shape == x.shape


def test_instance_norm_whitens_each_image_and_channel():
    # With gamma = 1, beta = 0: mean 0 and variance var / (var + eps) per image and channel (hand formula).
    x = np.random.default_rng(1).normal(3.0, 2.0, (2, 8, 8, 4)).astype(np.float32)
    y = InstanceNormalization(epsilon=1e-5)(x).numpy()
    np.testing.assert_allclose(y.mean(axis=(1, 2)), 0, atol=1e-5)
    var = x.var(axis=(1, 2))
    np.testing.assert_allclose(y.var(axis=(1, 2)), var / (var + 1e-5), rtol=1e-4)


def test_instance_norm_gradient_matches_the_plain_formula():
    """The fused kernel's gradient against autodiff through the textbook formula with tf.nn.moments."""
    x = tf.constant(np.random.default_rng(2).normal(1.0, 3.0, (3, 6, 5, 4)).astype(np.float32))
    layer = InstanceNormalization(epsilon=1e-5)
    layer.build(x.shape)
    layer.gamma.assign([0.5, 1.0, 2.0, -1.0])
    layer.beta.assign([0.0, 1.0, -1.0, 3.0])

    def plain(v):
        mean, var = tf.nn.moments(v, axes=[1, 2], keepdims=True)
        return (v - mean) / tf.sqrt(var + 1e-5) * layer.gamma + layer.beta

    with tf.GradientTape(persistent=True) as tape:
        tape.watch(x)
        fused, reference = tf.reduce_sum(layer(x) ** 3), tf.reduce_sum(plain(x) ** 3)
    np.testing.assert_allclose(float(fused), float(reference), rtol=1e-4)
    np.testing.assert_allclose(tape.gradient(fused, x), tape.gradient(reference, x), rtol=1e-3, atol=1e-3)
    weights = [layer.gamma, layer.beta]
    for a, b in zip(tape.gradient(fused, weights), tape.gradient(reference, weights)):
        np.testing.assert_allclose(a, b, rtol=1e-3, atol=1e-3)


@pytest.mark.parametrize("channels_in, channels_out, height, width", [(16, 3, 32, 48), (3, 8, 20, 14)])
def test_space_to_depth_conv_equals_a_plain_9x9_conv(channels_in, channels_out, height, width):
    """Same kernel and bias in keras's own Conv2D(padding="same"): same output and kernel gradient."""
    import keras

    x = tf.constant(np.random.default_rng(4).normal(size=(2, height, width, channels_in)).astype(np.float32))
    fast = SpaceToDepthConv(channels_out, 9)
    fast.build(x.shape)
    fast.bias.assign(np.linspace(-1, 1, channels_out).astype(np.float32))
    plain = keras.layers.Conv2D(channels_out, 9, padding="same")
    plain.build(x.shape)
    plain.set_weights([fast.kernel.numpy(), fast.bias.numpy()])
    with tf.GradientTape(persistent=True) as tape:
        a, b = fast(x), plain(x)
        la, lb = tf.reduce_sum(a ** 2), tf.reduce_sum(b ** 2)
    np.testing.assert_allclose(a, b, atol=1e-4)
    np.testing.assert_allclose(tape.gradient(la, fast.kernel), tape.gradient(lb, plain.kernel), rtol=1e-4, atol=1e-2)


def test_save_and_load_give_the_same_output(tmp_path):
    net = build_transform(0.25, 1, seed=3)
    x = np.random.default_rng(2).uniform(0, 255, (1, 29, 35, 3)).astype(np.float32)
    path = save_transform(net, tmp_path / "m.keras")
    again = load_transform(path)
    np.testing.assert_array_equal(again(x).numpy(), net(x).numpy())
    np.testing.assert_array_equal(Stylizer(again)(x[0]), Stylizer(net)(x[0]))


# ------------------------------------------------------------------------------------------------------------
# Formulas

def test_stability_loss_by_hand():
    # mean of (0-1)^2, (1-1)^2, (2-1)^2, (3-1)^2 = (1 + 0 + 1 + 4) / 4 = 1.5
    assert float(losses.stability_loss([[0.0, 1.0], [2.0, 3.0]], [[1.0, 1.0], [1.0, 1.0]])) == pytest.approx(1.5)


def test_flicker_by_hand():
    # Input frames 0, 10, 20 change by 10 a step; outputs 0, 5, 0 by 5: flicker 5 / 10 = 0.5.
    inputs = [np.full((2, 2, 3), v, np.uint8) for v in (0, 10, 20)]
    outputs = [np.full((2, 2, 3), v, np.uint8) for v in (0, 5, 0)]
    assert mean_frame_change(inputs) == 10.0
    assert flicker(outputs, inputs) == 0.5
    meter = FlickerMeter()
    for a, b in zip(inputs, outputs):
        meter.update(a, b)
    assert (meter.flicker, meter.frames) == (0.5, 3)


def test_train_config_round_trips_and_names_bad_keys():
    config = TrainConfig(width=0.25, content_layers="relu3_3", style_layers=["conv1_1"], style_layer_weights=[1])
    assert config.content_layers == ("block3_conv3",)
    assert TrainConfig.from_json(config.to_json()) == config
    with pytest.raises(ValueError, match="'widht'.*did you mean 'width'"):
        TrainConfig.from_dict({"widht": 0.5})
    with pytest.raises(ValueError, match="crop_size"):
        TrainConfig(crop_size=8)
    with pytest.raises(ValueError, match="noise_std"):
        TrainConfig(noise_std=2.0)  # the stability term needs its weight too


# ------------------------------------------------------------------------------------------------------------
# Training

def test_photo_sources_folder_list_or_bundled(work):
    from nststudy.train import DEFAULT_PHOTOS, photo_sources

    assert photo_sources("") == list(DEFAULT_PHOTOS)
    assert photo_sources("chelsea, /x/y.jpg") == ["chelsea", "/x/y.jpg"]
    assert [Path(p).name for p in photo_sources(str(work / "photos"))] == ["p0.png", "p1.png", "p2.png"]


def test_crops_depend_only_on_seed_and_step(work):
    photos = [np.asarray(Image.open(p)) for p in sorted((work / "photos").iterdir())]
    config = TrainConfig(**{**TINY, "weights": "random"})
    a, b = Crops(photos, config), Crops(photos, config)
    np.testing.assert_array_equal(a.batch(5)[0], b.batch(5)[0])
    np.testing.assert_array_equal(a.batch(5)[1], b.batch(5)[1])
    assert not np.array_equal(a.batch(5)[0], a.batch(6)[0])
    assert a.batch(5)[0].shape == (2, 32, 32, 3)
    assert 1.0 < a.batch(5)[1].std() < 3.0  # noise_std = 2 pixels


def test_run_folder_is_complete(reference):
    names = {p.name for p in reference.iterdir()}
    assert reference.name.endswith("_random-weights")
    assert {"config.json", "env.json", "inputs.json", "history.csv", "loss.png", "model.keras", "image.png",
            "style.png", "checkpoint.npz", "result.json", "previews"} <= names
    previews = sorted(p.name for p in (reference / "previews").iterdir())
    held = json.loads((reference / "inputs.json").read_text())["held_out"]
    # content.png: the held-out photo image.png shows stylised, at its size (a study grid's content tile)
    assert "content.png" in names
    assert Image.open(reference / "content.png").size == Image.open(reference / "image.png").size
    assert len(held) == 1 and Path(held[0]).stem not in [Path(p).stem for p in
                                                         json.loads((reference / "inputs.json").read_text())["photos"]]
    stem = Path(held[0]).stem
    assert previews == [f"final_{stem}.png", f"step_000003_{stem}.png", f"step_000006_{stem}.png"]
    result = json.loads((reference / "result.json").read_text())
    assert (result["status"], result["stopped"], result["steps"]) == ("complete", "steps", 6)
    assert TrainConfig.from_dict(json.loads((reference / "config.json").read_text())).steps == 6
    assert "RANDOM WEIGHTS" in result["weights"]
    # the quality panel on the held-out photo, and the flicker of its pan-and-zoom clip
    assert {"metric_ssim_content", "metric_colour_to_style", "metric_flicker"} <= set(result)
    assert 0 < result["metric_flicker"] < 100 and -1 <= result["metric_ssim_content"] <= 1


def test_a_few_steps_lower_the_loss(work, reference):
    """On one fixed batch not trained on, 6 Adam steps at Johnson et al.'s learning rate (1e-3) bring the total
    loss below 0.8 of the initial network's (measured here: 1.58e8 -> 1.19e8, 0.75; at 1e-2 it rises)."""
    from nststudy.models import build_extractor, resolve_weights

    config = TrainConfig(photos=str(work / "photos"), **TINY)
    source = resolve_weights(config.model, config.weights, config.seed)
    extractor = build_extractor(config.model, config.content_layers + config.style_layers, source)
    content = build_extractor(config.model, config.content_layers, source)
    grams = style_targets(extractor, config, np.asarray(Image.open(reference / "style.png")), source)
    photos = [np.asarray(Image.open(p)) for p in sorted((work / "photos").iterdir())]
    x, noise = (tf.constant(a) for a in Crops(photos, config).batch(1000))
    before = make_loss_terms(build_transform(0.25, 1, seed=0), extractor, content, grams, config)(x, noise)
    after = make_loss_terms(load_transform(reference), extractor, content, grams, config)(x, noise)
    assert float(after["total"]) < 0.8 * float(before["total"])


def test_resume_continues_step_count_data_order_and_optimiser_bit_for_bit(work, reference):
    config = TrainConfig(photos=str(work / "photos"), **TINY)

    def kill_after_step_4(step, terms):
        if step == 4:
            raise Killed

    with pytest.raises(Killed):
        train(work / "style.png", config, work / "killed", progress=False, callback=kill_after_step_4)
    folder = work / "killed_random-weights"
    assert not (folder / "result.json").exists() and load_checkpoint(folder)["step"] == 3
    resume(folder, progress=False)
    done, ref = load_checkpoint(folder), load_checkpoint(reference)
    assert done["step"] == ref["step"] == 6
    for a, b in zip(done["weights"] + done["optimizer"], ref["weights"] + ref["optimizer"]):
        np.testing.assert_array_equal(a, b)
    history = [line.split(",") for line in (folder / "history.csv").read_text().splitlines()[1:]]
    reference_history = [line.split(",") for line in (reference / "history.csv").read_text().splitlines()[1:]]
    assert [h[0] for h in history] == ["1", "2", "3", "4", "5", "6"]
    # Same losses at every step (seconds, column 5, differ): the same crops in the same order.
    assert [h[:5] + h[6:] for h in history] == [h[:5] + h[6:] for h in reference_history]
    assert json.loads((folder / "result.json").read_text())["resumed_from_step"] == 3


# ------------------------------------------------------------------------------------------------------------
# Video and apply

def test_video_round_trip_keeps_frame_count_and_rate(tmp_path):
    frames = pan_zoom_frames(make_content(80, 80), frames=9, size=(33, 47))  # odd size: yuv444p
    write_video(tmp_path / "v.mp4", frames, fps=29.97)
    back, fps = read_video(tmp_path / "v.mp4")
    assert (len(back), fps, back[0].shape) == (9, 29.97, (33, 47, 3))
    assert np.abs(np.asarray(back, float) - np.asarray(frames, float)).mean() < 8  # H.264 at quality 8


def test_apply_stylises_images_folders_and_videos(work, reference, capsys):
    out = work / "applied"
    code, err, printed = run_cli(capsys, "apply", reference, work / "clip.mp4", work / "photos", "chelsea", "-o", out,
                                 "-q")  # a video, a folder and a bundled sample
    assert code == 0, err
    assert sorted(p.name for p in out.iterdir()) == ["chelsea.png", "clip.mp4", "p0.png", "p1.png", "p2.png"]
    frames, fps = read_video(out / "clip.mp4")
    assert (len(frames), fps, frames[0].shape) == (12, 12.0, (36, 48, 3))
    assert np.asarray(Image.open(out / "p1.png")).shape == (64, 56, 3)
    assert ", 12 frames at 12 fps" in printed and "flicker" in printed


# ------------------------------------------------------------------------------------------------------------
# Bad input: one line on stderr, exit code 2, earlier outputs untouched

def test_not_a_video_is_refused_before_anything_is_written(work, reference, capsys, tmp_path):
    fake = tmp_path / "fake.mp4"
    fake.write_text("not a video")
    out = tmp_path / "out"
    out.mkdir()
    (out / "clip.mp4").write_bytes(b"an earlier result")
    before = snapshot(out)
    code, err, _ = run_cli(capsys, "apply", reference, work / "photos" / "p0.png", fake, "-o", out, "-q")
    assert code == 2 and len(err) == 1
    assert err[0].startswith("nststudy: error: ") and "fake.mp4: not a video" in err[0]
    assert snapshot(out) == before  # p0.png, valid, was not written either: inputs are checked first


@pytest.mark.parametrize("kind", ["h5", "other_keras_model"])
def test_a_model_file_of_the_wrong_kind_is_refused(work, capsys, tmp_path, kind):
    import keras

    if kind == "h5":
        model = tmp_path / "weights.h5"
        model.write_bytes(b"\x89HDF\r\n\x1a\n" + bytes(64))
        expected = "not a Keras .keras archive"
    else:
        model = tmp_path / "dense.keras"
        keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)], name="dense").save(model)
        expected = "not a transform network"
    out = tmp_path / "out"
    out.mkdir()
    (out / "p0.png").write_bytes(b"an earlier result")
    before = snapshot(out)
    code, err, _ = run_cli(capsys, "apply", model, work / "photos" / "p0.png", "-o", out, "-q")
    assert code == 2 and len(err) == 1 and expected in err[0] and str(model) in err[0]
    assert snapshot(out) == before
    with pytest.raises(ModelFileError):
        load_transform(model)


def test_an_empty_photo_folder_is_refused(work, reference, capsys, tmp_path):
    (tmp_path / "empty").mkdir()
    before = snapshot(reference)
    code, err, _ = run_cli(capsys, "train", work / "style.png", "--photos", tmp_path / "empty", "-o", reference, "-q",
                        "--set", "weights=random")
    assert code == 2 and len(err) == 1 and "empty: the folder holds no photos" in err[0]
    assert snapshot(reference) == before


def test_an_unreadable_style_image_is_refused(work, reference, capsys, tmp_path):
    bad = tmp_path / "style.jpg"
    bad.write_bytes(b"\xff\xd8\xff\xe0 truncated")
    before = snapshot(reference)
    code, err, _ = run_cli(capsys, "train", bad, "--photos", work / "photos", "-o", reference, "-q",
                        "--set", "weights=random")
    assert code == 2 and len(err) == 1 and "style.jpg" in err[0]
    assert snapshot(reference) == before


def test_training_into_an_existing_run_is_refused(work, reference, capsys):
    before = snapshot(reference)
    sets = [a for k, v in TINY.items() for a in ("--set", f"{k}={json.dumps(v) if isinstance(v, list) else v}")]
    code, err, _ = run_cli(capsys, "train", work / "style.png", "--photos", work / "photos", "-o", reference, "-q",
                           *sets)
    assert code == 2 and len(err) == 1 and "already holds a run" in err[0] and "--resume" in err[0]
    assert snapshot(reference) == before


# ------------------------------------------------------------------------------------------------------------
# The notebook and the benchmark's FLOP count

def test_train_notebook_runs_and_refuses_a_misspelt_parameter(work, tmp_path):
    import papermill

    from nststudy.trainconfig import config_from_namespace

    repo = Path(__file__).resolve().parent.parent
    out = tmp_path / "nb_run"
    params = {**TINY, "content": str(work / "photos"), "style": str(work / "style.png"), "output_dir": str(out),
              "show": False, "steps": 2, "preview_every": 0}
    papermill.execute_notebook(str(repo / "notebooks" / "train.ipynb"), str(tmp_path / "out.ipynb"),
                               parameters=params, kernel_name="python3", progress_bar=False, cwd=str(repo))
    folder = Path(f"{out}_random-weights")
    config = TrainConfig.from_dict(json.loads((folder / "config.json").read_text()))
    assert (config.steps, config.width, config.photos) == (2, 0.25, str(work / "photos"))
    assert json.loads((folder / "result.json").read_text())["steps"] == 2
    with pytest.raises(ValueError, match="'widht'.*did you mean 'width'"):
        config_from_namespace({"widht": 0.5, "style": "x"}, extra=("style",))


def test_benchmark_flop_count_matches_the_built_network():
    """benchmarks/realtime.transform_flops, written from the architecture, against a count over the Keras
    model's own Conv2D layers (output positions x kernel area x in x out channels x 2)."""
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
    from realtime import transform_flops

    import keras

    for width, blocks in ((1.0, 5), (0.25, 2)):
        net = build_transform(width, blocks, "zero")
        convs = [layer for layer in net.layers if isinstance(layer, (keras.layers.Conv2D, SpaceToDepthConv))]
        outputs = keras.Model(net.input, [c.output for c in convs])(np.zeros((1, 64, 64, 3), np.float32))
        count = sum(2 * y.shape[1] * y.shape[2] * int(np.prod(c.kernel.shape)) for c, y in zip(convs, outputs))
        assert len(convs) == 6 + 2 * blocks
        assert transform_flops(64, width, blocks) == count


def test_resume_of_a_finished_run_without_more_steps_is_refused(reference, capsys):
    before = snapshot(reference)
    code, err, _ = run_cli(capsys, "train", "--resume", reference, "-q")
    assert code == 2 and len(err) == 1 and "already trained 6 of steps=6" in err[0] and "--steps" in err[0]
    code, err, _ = run_cli(capsys, "train", "--resume", reference, "--set", "width=1", "-q")
    assert code == 2 and len(err) == 1 and "--resume DIR takes its style" in err[0]
    assert snapshot(reference) == before
    code, err, _ = run_cli(capsys, "train", "--resume", reference, "--steps", "3", "-q")  # fewer than done
    assert code == 2 and len(err) == 1 and "already trained 6 of steps=3" in err[0]
    assert snapshot(reference) == before  # config.json keeps steps=6
