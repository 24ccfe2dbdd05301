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
    as_photo = run_metrics(photo, photo, style, source, reference=(extractor, source))
    assert as_photo["metric_style_ratio"] == pytest.approx(1.0)
    assert as_photo["metric_color_ratio"] == pytest.approx(1.0)
    assert as_photo["metric_photo_colour_to_style"] == pytest.approx(colour_distance(photo, style))
    as_style = run_metrics(style, photo, style, source, reference=(extractor, source))
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


def test_metrics_compare_with_the_original_style_blend_not_the_recoloured_one():
    """With colour preservation the run optimises against greyed (luminance) style images; its metrics must
    still measure the result against the original style images, blended as the run blended them: Gram
    targets 3/4 G(s1) + 1/4 G(s2), colours of s1, s1, s1 and s2 pooled (each pixel of s1 weighing 3 of s2's)."""
    from nststudy.images import resize
    from nststudy.losses import gram_matrix
    from nststudy.colour import preprocess
    from nststudy.metrics import REFERENCE_STYLE

    content, s1, s2 = make_content(), make_style(), make_content(40, 40)[::-1].copy()
    config = StyleConfig(weights="random", image_size=32, epochs=1, steps_per_epoch=2,
                         color_preservation="luminance", style_blend_weights=[3, 1])
    r = stylize(content, [s1, s2], config, progress=False)
    h, w = r.image.shape[:2]
    o1, o2 = resize(s1, h, w), resize(s2, h, w)
    extractor, _ = reference_extractor(r.weights_source)

    def feats(img):
        return extractor(preprocess(np.asarray(img, np.float32)[None]))

    fx, f1, f2 = feats(r.image), feats(o1), feats(o2)
    want = 0.0
    for name in REFERENCE_STYLE:
        target = 0.75 * gram_matrix(f1[name]).numpy() + 0.25 * gram_matrix(f2[name]).numpy()
        want += np.linalg.norm(gram_matrix(fx[name]).numpy() - target) / np.linalg.norm(target)
    assert r.info["metric_style_distance"] == pytest.approx(want, rel=1e-4)
    pooled = np.concatenate([o1, o1, o1, o2], axis=0)  # one image holding the blend's colours
    assert r.info["metric_colour_to_style"] == pytest.approx(colour_distance(r.image, pooled), rel=1e-6)
    assert "blend of 2 original style images" in r.info["metric_reference"]
    assert "0.75" in r.info["metric_reference"] and "0.25" in r.info["metric_reference"]


def test_a_blend_is_also_measured_against_each_painting_alone():
    """style_blend asks where between two paintings a blend lies: the per-style ratios of a blend are the ratios
    a single-style run against that painting would record, whatever the blend weights."""
    extractor, source = reference_extractor(resolve_weights("vgg19", "random", 0))
    photo, first = make_content(32, 32), make_style(32, 32)
    second = (255.0 - photo).astype(photo.dtype)  # other colours than the photo's
    image = (0.5 * photo + 0.5 * first).astype(np.float32)
    blend = run_metrics(image, photo, [first, second], source, weights=[3, 1], reference=(extractor, source))
    for i, one in ((1, first), (2, second)):
        alone = run_metrics(image, photo, one, source, reference=(extractor, source))
        assert blend[f"metric_style_ratio_{i}"] == pytest.approx(alone["metric_style_ratio"], rel=1e-5)
        assert blend[f"metric_color_ratio_{i}"] == pytest.approx(alone["metric_color_ratio"], rel=1e-5)
    assert blend["metric_style_ratio_1"] < blend["metric_style_ratio_2"]  # the image holds half of the first
    assert "metric_style_ratio_1" not in run_metrics(image, photo, first, source, reference=(extractor, source))


def test_a_single_styles_metrics_name_it_as_the_original():
    r = stylize(make_content(), make_style(), StyleConfig(weights="random", image_size=32, epochs=1,
                steps_per_epoch=1, color_preservation="histogram"), progress=False)
    assert "original style image" in r.info["metric_reference"]
    from nststudy.images import resize

    original = resize(make_style(), *r.image.shape[:2])
    assert r.info["metric_colour_to_style"] == pytest.approx(colour_distance(r.image, original), rel=1e-6)


def test_a_corrupt_imagenet_file_is_an_error_not_random_metric_weights(tmp_path, monkeypatch):
    """The metric network finds ImageNet VGG19 through $NSTSTUDY_WEIGHTS_DIR; a corrupt file there must stop
    the measurement with an error naming it, not be swapped for random weights."""
    from nststudy.metrics import run_metrics
    from nststudy.models import KERAS_WEIGHTS, WeightsFileError, WeightsSource

    bad = tmp_path / KERAS_WEIGHTS["vgg19"][0]
    bad.write_bytes(np.random.default_rng(0).bytes(4096))
    monkeypatch.setenv("NSTSTUDY_WEIGHTS_DIR", str(tmp_path))
    run_source = WeightsSource("file", str(tmp_path / "my_weights.h5"), "0" * 32, "explicit path")
    image = make_content(32, 32)
    with pytest.raises(WeightsFileError) as err:
        run_metrics(image, image, image, run_source)
    assert str(bad) in str(err.value)
