"""Multiscale (coarse to fine) runs: config validation, one continuous history, the final size."""

import pytest

from nststudy import StyleConfig, stylize
from nststudy.config import parse_value

from conftest import make_content, make_style


def test_scales_validated_and_round_trip():
    assert StyleConfig.from_dict(StyleConfig(scales=[128]).to_dict()).scales == (128,)
    assert parse_value("scales", "64,128") == [64, 128]
    for bad in ([300], [128, 64], [8], ["a"], [64.5]):
        with pytest.raises(ValueError, match="scales"):
            StyleConfig(scales=bad)


def test_multiscale_runs_coarse_to_fine_with_one_history():
    seen = []
    cfg = StyleConfig(weights="random", image_size=48, scales=[24, 32], epochs=1, steps_per_epoch=3)
    result = stylize(make_content(48, 32), make_style(), cfg, callback=lambda it: seen.append(it.step),
                     progress=False)
    assert [(h["step"], h["scale"]) for h in result.history] == [(i + 1, s) for i, s in
                                                                 enumerate([24] * 3 + [32] * 3 + [48] * 3)]
    assert seen == list(range(1, 10))
    assert result.image.shape == (48, 32, 3) and result.config.scales == (24, 32)
    seconds = [h["seconds"] for h in result.history]
    assert seconds == sorted(seconds)


def test_multiscale_callback_stop_ends_all_scales():
    cfg = StyleConfig(weights="random", image_size=48, scales=[24], epochs=1, steps_per_epoch=4)
    result = stylize(make_content(48, 32), make_style(), cfg, callback=lambda it: it.step == 2, progress=False)
    assert result.stopped == "callback" and len(result.history) == 2


def test_scale_steps_validated_and_round_trip():
    config = StyleConfig(scales=[64, 128], scale_steps=[100, 150.0])
    assert config.scale_steps == (100, 150)
    assert StyleConfig.from_dict(config.to_dict()).scale_steps == (100, 150)
    assert parse_value("scale_steps", "100,150") == [100, 150]
    assert StyleConfig(scales=[128]).scale_steps == ()  # empty: every size runs epochs x steps_per_epoch
    for scales, bad in (([128], [100, 150]), ([], [100]), ([64, 128], [100]), ([128], [0]), ([128], [1.5]),
                        ([128], ["a"]), ([128], [True]), ([128], [float("inf")])):
        with pytest.raises(ValueError, match=r"scale_steps=.*whole number >= 1 per size of scales="):
            StyleConfig(scales=scales, scale_steps=bad)


def test_scale_steps_set_each_coarse_length_apart_from_the_final_one():
    """scales [24, 32] with scale_steps [2, 4] and 1 x 3 final steps: 2 rows at 24 px, 4 at 32, 3 at 48."""
    cfg = StyleConfig(weights="random", image_size=48, scales=[24, 32], scale_steps=[2, 4], epochs=1,
                      steps_per_epoch=3)
    result = stylize(make_content(48, 32), make_style(), cfg, progress=False, metrics=False)
    assert [h["scale"] for h in result.history] == [24] * 2 + [32] * 4 + [48] * 3
    assert [h["step"] for h in result.history] == list(range(1, 10))
    assert result.config.scale_steps == (2, 4)
