"""Metrics against known cases (issue: measure what the reports could only eyeball)."""

import numpy as np
import pytest

from nststudy import StyleConfig, stylize
from nststudy.metrics import (colour_distance, feature_distances, luminance, photo_ratios, reference_extractor,
                              run_metrics, ssim_luminance)
from nststudy.models import resolve_weights

from conftest import make_content, make_style


def test_ssim_of_an_image_with_itself_is_one_and_drops_with_noise():
    x = make_content(48, 48)
    assert ssim_luminance(x, x) == pytest.approx(1.0)
    noisy = np.clip(x + np.random.default_rng(0).normal(0, 40, x.shape), 0, 255).astype(np.uint8)
    assert ssim_luminance(x, noisy) < 0.9


def test_luminance_weights():
    # BT.601: pure red 255 -> 0.299 * 255 = 76.245
    assert luminance(np.array([[[255, 0, 0]]], np.uint8))[0, 0] == pytest.approx(76.245)


def test_colour_distance_zero_for_same_statistics_and_symmetric():
    a, b = make_content(32, 32), make_style(32, 32)
    assert colour_distance(a, a) == pytest.approx(0.0, abs=1e-4)
    assert colour_distance(a, a[::-1, ::-1]) == pytest.approx(0.0, abs=1e-4)  # same pixels, moved
    assert colour_distance(a, b) == pytest.approx(colour_distance(b, a), rel=1e-6)
    assert colour_distance(a, b) > 1.0


def test_gram_distance_zero_for_the_same_image_positive_otherwise():
    extractor, source = reference_extractor(resolve_weights("vgg19", "random", 0))
    assert source.is_random
    a, b = make_content(32, 32), make_style(32, 32)
    same = feature_distances(a, a, a, extractor)
    assert same["metric_content_distance"] == pytest.approx(0.0, abs=1e-6)
    assert same["metric_style_distance"] == pytest.approx(0.0, abs=1e-6)
    other = feature_distances(a, a, b, extractor)
    assert other["metric_style_distance"] > 0.1


def test_every_run_records_metrics(tmp_path):
    from nststudy import save_run
    import json

    r = stylize(make_content(), make_style(), StyleConfig(weights="random", image_size=32, epochs=1,
                                                          steps_per_epoch=2), progress=False)
    assert {"metric_ssim_content", "metric_content_distance", "metric_style_distance", "metric_colour_to_style",
            "metric_colour_to_content", "metric_reference", "metric_style_ratio", "metric_color_ratio"} <= set(r.info)
    assert "RANDOM" in r.info["metric_reference"]
    record = json.loads((save_run(r, tmp_path / "run") / "result.json").read_text())
    assert record["metric_ssim_content"] == pytest.approx(r.info["metric_ssim_content"])
    assert record["metric_style_ratio"] == pytest.approx(r.info["metric_style_ratio"])


def test_photo_ratios_are_one_for_the_photo_and_zero_for_the_style():
    # By definition: a "result" that is the photo has the photo's own distances (ratios 1); one that is the
    # style image has Gram distance 0 and colour distance 0 to the style (ratios 0).
    extractor, source = reference_extractor(resolve_weights("vgg19", "random", 0))
    photo, style = make_content(32, 32), make_style(32, 32)
    as_photo = run_metrics(photo, photo, style, source, extractor)
    assert as_photo["metric_style_ratio"] == pytest.approx(1.0)
    assert as_photo["metric_color_ratio"] == pytest.approx(1.0)
    assert as_photo["metric_photo_colour_to_style"] == pytest.approx(colour_distance(photo, style))
    as_style = run_metrics(style, photo, style, source, extractor)
    assert as_style["metric_style_ratio"] == pytest.approx(0.0, abs=1e-6)
    assert as_style["metric_color_ratio"] == pytest.approx(0.0, abs=1e-4)
    # Halfway numbers are plain quotients of the recorded distances.
    made_up = {"metric_style_distance": 1.5, "metric_colour_to_style": 3.0}
    ratios = photo_ratios(made_up, photo, style, extractor)
    assert ratios["metric_style_ratio"] == pytest.approx(1.5 / ratios["metric_photo_style_distance"])
    assert ratios["metric_color_ratio"] == pytest.approx(3.0 / colour_distance(photo, style))
    # A photo that already is the style: no ratio to take.
    same = photo_ratios(made_up, style, style, extractor)
    assert same["metric_style_ratio"] is None and same["metric_color_ratio"] is None
