"""Reconstructions, feature inversion and DeepDream on tiny images with seeded random weights."""

import numpy as np
import pytest
import tensorflow as tf

from nststudy import StyleConfig, deep_dream, invert_features, reconstruct_content, reconstruct_style, save_run
from nststudy.losses import MV_B, MV_V
from nststudy.reconstruct import default_lambda_tv, reconstruct

from conftest import make_content, make_style

CFG = StyleConfig(weights="random", image_size=32, epochs=1, steps_per_epoch=40, optimizer="lbfgs", seed=1)


def test_content_reconstruction_first_layer_lowers_feature_error_by_a_large_factor():
    result = reconstruct_content(make_content(), "conv1_1", CFG, progress=False)
    first, last = result.history[0]["content"], result.history[-1]["content"]
    # From uniform noise, conv1_1 (a linear map + ReLU of the pixels) is easy to match: the loss falls by
    # orders of magnitude in 40 L-BFGS iterations (measured: 2e-16 of its start, an exact reconstruction,
    # since 64 filters over 3x3x3 inputs are invertible); ask for 100x.
    assert last < first / 100
    assert result.info["metric_feature_error"] < 0.1
    assert result.config.init == "noise" and result.config.style_layers == ()


def test_style_reconstruction_matches_grams_only():
    result = reconstruct_style(make_style(), ["conv1_1", "conv2_1"], CFG, progress=False)
    assert result.config.content_weight == 0 and result.config.style_layer_weights == (0.5, 0.5)
    assert result.history[-1]["style"] < result.history[0]["style"] / 10
    assert all(h["content"] == 0 for h in result.history)


def test_invert_features_objective_terms_by_hand():
    """With λ_α = λ_TV = 0 the objective is the relative feature error alone: 1 at x = 0 is not reachable
    from noise, but every term is reported and the data term falls."""
    result = invert_features(make_content(), "conv2_1", CFG, lambda_norm=0.0, lambda_tv=0.0, progress=False)
    rows = result.history
    assert all(abs(h["total"] - h["content"]) < 1e-6 * max(1.0, h["total"]) for h in rows)
    assert rows[-1]["content"] < rows[0]["content"] / 5
    assert set(rows[0]) >= {"prior", "tv", "content", "total"}


def test_invert_features_regularisers_normalised_as_documented():
    # One step from a known start: check the α-norm and TV terms against NumPy on the same image.
    seen = {}

    def grab(it):
        seen.setdefault("image", it._image_fn())
        return True

    cfg = CFG.replace(optimizer="adam", steps_per_epoch=1)
    result = invert_features(make_content(), "conv1_1", cfg, norm_exponent=4.0, tv_exponent=1.0, lambda_norm=2.0,
                             lambda_tv=3.0, callback=grab, progress=False)
    row = result.history[0]
    x1 = seen["image"][0]  # the first row holds the terms of the image after step 1, the one the callback saw
    assert x1.shape == (32, 21, 3)  # make_content() is 48x32 -> 32x21 at image_size 32
    centred = x1.astype(np.float64) - [123.68, 116.779, 103.939]
    hw = 32 * 21
    prior = 2.0 * np.sum(np.abs(centred) ** 4) / (hw * MV_B ** 4)
    dx = centred[:-1, 1:] - centred[:-1, :-1]
    dy = centred[1:, :-1] - centred[:-1, :-1]
    tv = 3.0 * np.sum(np.sqrt(dx ** 2 + dy ** 2 + 1e-8)) / (hw * MV_V)
    assert row["prior"] == pytest.approx(prior, rel=1e-4)
    assert row["tv"] == pytest.approx(tv, rel=1e-4)


def test_default_lambda_tv_grows_with_depth():
    assert default_lambda_tv("conv1_2") < default_lambda_tv("conv3_1") < default_lambda_tv("block5_conv1")


def test_deep_dream_raises_the_objective_over_octaves(tmp_path):
    result = deep_dream(make_content(), ["conv2_1"], steps=4, step_size=0.02, octaves=2, octave_scale=1.3,
                        config=CFG.replace(image_size=40), progress=False)
    objective = [h["objective"] for h in result.history]
    assert len(objective) == 8 and [h["octave"] for h in result.history] == [0] * 4 + [1] * 4
    assert objective[3] > objective[0] and objective[7] > objective[4]
    assert result.image.shape[:2] == result.content.shape[:2] and result.image.dtype == np.uint8
    run = save_run(result, tmp_path / "dream")
    assert "random" in run.name and (run / "history.csv").read_text().splitlines()[0].endswith("objective,octave")


def test_deep_dream_callback_stops_and_roll_is_undone():
    """With step_size 0 a step changes no pixel, so after the random jitter rolls (up to 8 px each way) the
    image must be the original pixel for pixel: a roll not undone would leave it shifted."""
    calls = []
    result = deep_dream(make_content(), "conv1_1", steps=5, step_size=0.0, octaves=1, jitter=8, config=CFG,
                        callback=lambda it: calls.append(it.step) or it.step == 2, progress=False)
    assert calls == [1, 2] and result.stopped == "callback"
    assert result.image.shape == result.content.shape == (32, 21, 3)
    np.testing.assert_array_equal(result.image, result.content)


def test_reconstruct_dispatch_parses_papermill_strings_and_checks_task():
    r = reconstruct("content", make_content(), '["conv1_1"]', CFG.replace(steps_per_epoch=2), progress=False)
    assert r.config.content_layers == ("block1_conv1",)
    with pytest.raises(ValueError, match="task"):
        reconstruct("paint", make_content(), ["conv1_1"], CFG)
    with pytest.raises(ValueError, match="one layer"):
        reconstruct("content", make_content(), ["conv1_1", "conv2_1"], CFG)


def test_norm_prior_and_tv_exponent_analytic():
    from nststudy.losses import norm_prior, total_variation_loss

    x = tf.constant([[[1.0], [-2.0]], [[0.5], [3.0]]])  # 2x2x1
    # Σ|x|^3 = 1 + 8 + 0.125 + 27 = 36.125
    assert float(norm_prior(x, 3.0)) == pytest.approx(36.125)
    # one position (0,0): dx = -2 - 1 = -3, dy = 0.5 - 1 = -0.5 -> (9 + 0.25)^(1/2) = 3.0414
    assert float(total_variation_loss(x, exponent=1.0)) == pytest.approx(np.sqrt(9.25), rel=1e-6)


def test_reconstruct_refuses_unknown_options_and_ignored_values():
    """reconstruct() used to drop options it did not know (a misspelt 'octave' did nothing, silently)."""
    with pytest.raises(ValueError, match=r"unknown option 'octave'.*accepted: .*octaves"):
        reconstruct("dream", make_content(), ["conv1_1"], CFG, octave=2)
    with pytest.raises(ValueError, match=r"octaves=5 is an option of task='dream' and does nothing for task='invert'"):
        reconstruct("invert", make_content(), ["conv1_1"], CFG, octaves=5)


def test_reconstruct_reads_the_old_exponent_names_with_a_warning():
    cfg = CFG.replace(steps_per_epoch=1)
    with pytest.warns(FutureWarning, match=r"'alpha' is now called 'norm_exponent'"):
        r = reconstruct("invert", make_content(), ["conv1_1"], cfg, alpha=4.0, progress=False)
    assert r.info["norm_exponent"] == 4.0
    with pytest.raises(ValueError, match="both 'beta' and its new name 'tv_exponent'"):
        reconstruct("invert", make_content(), ["conv1_1"], cfg, beta=1.0, tv_exponent=1.0)


def test_feature_inversion_prior_reaches_every_record(tmp_path):
    """The prior term was written to history.csv but dropped from result.json and results.csv; the objective
    now declares it and every record follows."""
    import json

    from nststudy.report import collect
    from nststudy.sweeps import Trial

    result = invert_features(make_content(), "conv1_1", CFG.replace(steps_per_epoch=2), progress=False)
    assert result.terms == ("total", "content", "style", "tv", "prior")
    run = save_run(result, tmp_path / "runs" / "t1")
    assert (run / "history.csv").read_text().splitlines()[0] == "step,total,content,style,tv,seconds,prior"
    final = json.loads((run / "result.json").read_text())["final"]
    assert list(final) == ["total", "content", "style", "tv", "seconds", "prior"]
    assert final["prior"] == pytest.approx(result.history[-1]["prior"]) and final["prior"] > 0
    (row,) = collect([Trial(run.name, {}, {})], run.parent)
    assert row["prior"] == final["prior"]
    assert list(row)[:7] == ["trial", "status", "total", "content", "style", "tv", "prior"]


def test_deep_dream_records_its_own_names():
    """DeepDream's layers and octaves are its own settings, in result.info, not StyleConfig's content_layers
    and epochs (which it leaves as they were)."""
    result = deep_dream(make_content(), ["conv1_1"], steps=2, octaves=2, jitter=0, config=CFG, progress=False)
    assert result.info["dream_layers"] == ["block1_conv1"] and result.info["octaves"] == 2
    assert result.config == CFG
    assert [h["octave"] for h in result.history] == [0, 0, 1, 1]
    assert list(result.history[0]) == ["step", "total", "content", "style", "tv", "seconds", "objective", "octave"]


def test_a_deep_dream_that_raises_its_objective_is_complete_not_worsened(tmp_path):
    """'worsened' means the optimiser moved the objective the wrong way: up for a loss, down for DeepDream's
    ascent. A dream whose mean activation rose (test above) is complete."""
    import json

    result = deep_dream(make_content(), ["conv2_1"], steps=3, step_size=0.02, octaves=1, jitter=0, config=CFG,
                        progress=False)
    assert result.history[-1]["total"] > result.history[0]["total"]
    run = save_run(result, tmp_path / "dream_random")
    assert json.loads((run / "result.json").read_text())["status"] == "complete"
