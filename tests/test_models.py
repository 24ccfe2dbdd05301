"""nststudy.models: where the VGG weights come from (in the documented order) and the feature extractor.

No test uses the real ImageNet file: the tests write their own Keras-format weight files (a VGG19 with
a distinctive block1_conv1 bias) and point the resolution at them. The real file's md5 is fixed, so a
self-written file found through $NSTSTUDY_WEIGHTS_DIR or the Keras cache must be refused as corrupt,
unless the test patches KERAS_WEIGHTS to expect the self-written file's md5.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import h5py
import keras
import numpy as np
import pytest

from nststudy import models
from nststudy.config import model_layers
from nststudy.models import (
    WeightsFileError,
    WeightsNotFoundError,
    WeightsSource,
    build_extractor,
    keras_cache_dir,
    resolve_weights,
)

FNAME = "vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5"
REAL_MD5 = "253f8cb515780f3b799900260a226db6"
BIAS_HEAD = np.array([0.7301776, 0.06493629, 0.03428847], np.float32)


def _md5(path) -> str:
    return hashlib.md5(Path(path).read_bytes()).hexdigest()


def _save_legacy_h5(model, path: Path) -> Path:
    """Keras's legacy HDF5 weight format, the one keras.applications ships and ``model.load_weights``
    reads for a path ending in plain ``.h5`` (``model.save_weights`` insists on ``.weights.h5``)."""
    from keras.src.legacy.saving import legacy_h5_format

    path.parent.mkdir(parents=True, exist_ok=True)
    with h5py.File(path, "w") as f:
        legacy_h5_format.save_weights_to_hdf5_group(f, model)
    return path


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    """A VGG19 notop weights file with block1_conv1's bias set to 0.7301776, 0.06493629, 0.03428847, 0, ...

    Returns (path, {layer name: [kernel, bias]} of every conv layer as written)."""
    base = keras.applications.VGG19(include_top=False, weights=None, input_shape=(None, None, 3))
    layer = base.get_layer("block1_conv1")
    kernel, bias = layer.get_weights()
    bias = np.zeros_like(bias)
    bias[:3] = BIAS_HEAD
    layer.set_weights([kernel, bias])
    path = _save_legacy_h5(base, tmp_path_factory.mktemp("written") / FNAME)
    weights = {l.name: [w.copy() for w in l.get_weights()] for l in base.layers
               if isinstance(l, keras.layers.Conv2D)}
    return path, weights


@pytest.fixture
def weights_file(written):
    return written[0]


@pytest.fixture(autouse=True)
def isolated(monkeypatch, tmp_path):
    """No real weights can leak in: $NSTSTUDY_WEIGHTS_DIR unset (CI sets it), an empty Keras cache,
    no download, and a fresh model cache."""
    monkeypatch.delenv("NSTSTUDY_WEIGHTS_DIR", raising=False)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "empty_keras_home"))
    monkeypatch.setenv("NSTSTUDY_OFFLINE", "1")
    models._BASES.clear()
    yield
    models._BASES.clear()


def _put(folder: Path, source: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / FNAME
    target.write_bytes(source.read_bytes())
    return target


def _conv(extractor, name):
    return extractor.get_layer(name).get_weights()


# ----------------------------------------------------------------------------- resolution order

def test_explicit_path_is_used_and_its_weights_loaded(written):
    path, weights = written
    src = resolve_weights("vgg19", str(path))
    assert src == WeightsSource(kind="file", path=str(path.resolve()), md5=_md5(path), found_by="explicit path")
    assert src.md5 != REAL_MD5
    assert not src.is_random
    assert FNAME in src.label

    ext = build_extractor("vgg19", ["block1_conv1", "block2_conv1"], src)
    kernel, bias = _conv(ext, "block1_conv1")
    np.testing.assert_array_equal(bias[:3], BIAS_HEAD)
    assert not bias[3:].any()
    np.testing.assert_array_equal(kernel, weights["block1_conv1"][0])
    for name in ("block1_conv2", "block2_conv1"):
        for got, want in zip(_conv(ext, name), weights[name]):
            np.testing.assert_array_equal(got, want)


def test_explicit_path_with_user_expansion(written, monkeypatch):
    path, _ = written
    monkeypatch.setenv("HOME", str(path.parent.parent))
    src = resolve_weights("vgg19", f"~/{path.parent.name}/{FNAME}")
    assert src.path == str(path.resolve())
    assert src.found_by == "explicit path"


def test_env_dir_with_wrong_md5_is_refused(weights_file, tmp_path, monkeypatch):
    target = _put(tmp_path / "weights_dir", weights_file)
    monkeypatch.setenv("NSTSTUDY_WEIGHTS_DIR", str(tmp_path / "weights_dir"))
    with pytest.raises(WeightsFileError) as err:
        resolve_weights("vgg19", "imagenet")
    msg = str(err.value)
    assert str(target) in msg
    assert REAL_MD5 in msg
    assert _md5(weights_file) in msg


def test_keras_cache_with_wrong_md5_is_refused(weights_file, tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "kh"))
    target = _put(tmp_path / "kh" / "models", weights_file)
    assert keras_cache_dir() == tmp_path / "kh" / "models"
    with pytest.raises(WeightsFileError) as err:
        resolve_weights("vgg19", "imagenet")
    assert str(target) in str(err.value)
    assert REAL_MD5 in str(err.value)


@pytest.fixture
def expect_written_md5(weights_file, monkeypatch):
    """Make the self-written file look like Keras's real one (patch the expected md5)."""
    md5 = _md5(weights_file)
    monkeypatch.setitem(models.KERAS_WEIGHTS, "vgg19", (FNAME, md5))
    return md5


def test_explicit_path_with_keras_md5_counts_as_imagenet(weights_file, expect_written_md5):
    src = resolve_weights("vgg19", str(weights_file))
    assert (src.kind, src.found_by, src.md5) == ("imagenet", "explicit path", expect_written_md5)


def test_env_dir_wins_over_keras_cache(weights_file, expect_written_md5, tmp_path, monkeypatch):
    env_file = _put(tmp_path / "weights_dir", weights_file)
    _put(tmp_path / "kh" / "models", weights_file)
    monkeypatch.setenv("NSTSTUDY_WEIGHTS_DIR", str(tmp_path / "weights_dir"))
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "kh"))
    src = resolve_weights("vgg19", "imagenet")
    assert src.found_by == "$NSTSTUDY_WEIGHTS_DIR"
    assert src.path == str(env_file.resolve())
    assert src.kind == "imagenet" and src.md5 == expect_written_md5
    assert src.label == "ImageNet weights"
    # and the file found that way is the one loaded
    bias = _conv(build_extractor("vgg19", ["block1_conv1"], src), "block1_conv1")[1]
    np.testing.assert_array_equal(bias[:3], BIAS_HEAD)


def test_keras_cache_when_only_the_cache_has_it(weights_file, expect_written_md5, tmp_path, monkeypatch):
    cache_file = _put(tmp_path / "kh" / "models", weights_file)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "kh"))
    src = resolve_weights("vgg19", "imagenet")
    assert (src.found_by, src.path, src.kind) == ("Keras cache", str(cache_file.resolve()), "imagenet")

    # $NSTSTUDY_WEIGHTS_DIR set but without the file: the cache is still found
    (tmp_path / "empty_dir").mkdir()
    monkeypatch.setenv("NSTSTUDY_WEIGHTS_DIR", str(tmp_path / "empty_dir"))
    assert resolve_weights("vgg19", "imagenet").found_by == "Keras cache"


def test_keras_cache_defaults_to_home_dot_keras(weights_file, expect_written_md5, tmp_path, monkeypatch):
    monkeypatch.delenv("KERAS_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    cache_file = _put(tmp_path / "home" / ".keras" / "models", weights_file)
    src = resolve_weights("vgg19", "imagenet")
    assert (src.found_by, src.path) == ("Keras cache", str(cache_file.resolve()))


def test_first_existing_file_wins_even_if_corrupt(weights_file, expect_written_md5, tmp_path, monkeypatch):
    """Documented order: the first place holding the file decides; a bad file there is an error,
    not silently skipped in favour of the cache."""
    bad = tmp_path / "weights_dir" / FNAME
    bad.parent.mkdir()
    bad.write_bytes(b"not the weights")
    _put(tmp_path / "kh" / "models", weights_file)
    monkeypatch.setenv("NSTSTUDY_WEIGHTS_DIR", str(bad.parent))
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "kh"))
    with pytest.raises(WeightsFileError, match="corrupt"):
        resolve_weights("vgg19", "imagenet")


def test_nothing_found_offline_says_where_it_looked_and_how_to_fix(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "kh"))
    with pytest.raises(WeightsNotFoundError) as err:
        resolve_weights("vgg19", "imagenet")
    assert isinstance(err.value, FileNotFoundError)
    msg = str(err.value)
    assert "$NSTSTUDY_WEIGHTS_DIR (not set)" in msg
    assert str(tmp_path / "kh" / "models" / FNAME) in msg
    assert "download skipped" in msg and "NSTSTUDY_OFFLINE" in msg
    assert FNAME in msg
    assert REAL_MD5 in msg
    assert "NSTSTUDY_WEIGHTS_DIR=" in msg  # the fix
    assert "weights='random'" in msg


def test_nothing_found_lists_the_env_dir_it_looked_in(tmp_path, monkeypatch):
    (tmp_path / "wd").mkdir()
    monkeypatch.setenv("NSTSTUDY_WEIGHTS_DIR", str(tmp_path / "wd"))
    with pytest.raises(WeightsNotFoundError) as err:
        resolve_weights("vgg19", "imagenet")
    assert str(tmp_path / "wd" / FNAME) in str(err.value)
    assert "(not set)" not in str(err.value)


def test_vgg16_names_its_own_file(tmp_path):
    with pytest.raises(WeightsNotFoundError) as err:
        resolve_weights("vgg16", "imagenet")
    assert "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5" in str(err.value)
    assert "6d6bbae143d832006294945121d1f1fc" in str(err.value)


def test_download_is_tried_when_online_and_its_failure_reported(monkeypatch):
    """Without NSTSTUDY_OFFLINE the Keras download is attempted; faked here (no network in tests)."""
    calls = []

    def failing_get_file(fname, origin, **kwargs):
        calls.append((fname, origin, kwargs))
        raise OSError("URL fetch failure: no network (faked by the test)")

    monkeypatch.delenv("NSTSTUDY_OFFLINE")
    monkeypatch.setattr(keras.utils, "get_file", failing_get_file)
    with pytest.raises(WeightsNotFoundError) as err:
        resolve_weights("vgg19", "imagenet")
    assert len(calls) == 1
    fname, origin, kwargs = calls[0]
    assert fname == FNAME and origin.endswith("/vgg19/" + FNAME)
    assert kwargs.get("file_hash") == REAL_MD5
    assert "failed" in str(err.value) and "no network" in str(err.value)


def test_download_success_is_recorded(weights_file, monkeypatch):
    monkeypatch.delenv("NSTSTUDY_OFFLINE")
    monkeypatch.setattr(keras.utils, "get_file", lambda fname, origin, **kw: str(weights_file))
    src = resolve_weights("vgg19", "imagenet")
    assert (src.found_by, src.path, src.md5) == ("Keras download", str(weights_file.resolve()), _md5(weights_file))


@pytest.mark.parametrize("offline", ["1", "true", "yes"])
def test_any_non_empty_offline_value_skips_the_download(offline, monkeypatch):
    monkeypatch.setenv("NSTSTUDY_OFFLINE", offline)
    monkeypatch.setattr(keras.utils, "get_file", lambda *a, **k: pytest.fail("download attempted"))
    with pytest.raises(WeightsNotFoundError, match="download skipped"):
        resolve_weights("vgg19", "imagenet")


def test_explicit_path_that_does_not_exist(tmp_path):
    missing = tmp_path / "nope" / FNAME
    with pytest.raises(WeightsNotFoundError) as err:
        resolve_weights("vgg19", str(missing))
    assert str(missing) in str(err.value)


def test_explicit_directory_is_not_a_file(tmp_path):
    with pytest.raises(WeightsNotFoundError):
        resolve_weights("vgg19", str(tmp_path))


def test_corrupt_explicit_file_fails_when_building(tmp_path):
    bad = tmp_path / "corrupt.h5"
    bad.write_bytes(np.random.default_rng(0).bytes(4096))
    src = resolve_weights("vgg19", str(bad))  # resolution only checks that the file exists
    assert src.kind == "file"
    with pytest.raises(WeightsFileError) as err:
        build_extractor("vgg19", ["block1_conv1"], src)
    assert str(bad.resolve()) in str(err.value)
    assert REAL_MD5 in str(err.value)
    assert not models._BASES  # a failed load is not cached


def test_weights_of_another_model_are_refused(tmp_path):
    vgg16 = keras.applications.VGG16(include_top=False, weights=None, input_shape=(None, None, 3))
    path = _save_legacy_h5(vgg16, tmp_path / "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5")
    with pytest.raises(WeightsFileError, match="vgg19"):
        build_extractor("vgg19", ["block1_conv1"], resolve_weights("vgg19", str(path)))


# ----------------------------------------------------------------------------- random weights

def test_random_source_is_labelled():
    src = resolve_weights("vgg19", "random", seed=3)
    assert (src.kind, src.seed, src.path, src.md5, src.found_by) == ("random", 3, None, None, "seeded random")
    assert src.is_random
    assert "RANDOM" in src.label and "3" in src.label
    assert src.to_dict()["label"] == src.label


def _random_conv_weights(seed):
    models._BASES.clear()  # really rebuild, not the per-process cache
    ext = build_extractor("vgg19", ["block2_conv1"], resolve_weights("vgg19", "random", seed=seed))
    return {n: _conv(ext, n) for n in ("block1_conv1", "block1_conv2", "block2_conv1")}


def test_random_weights_are_seeded():
    a, a_again, b = _random_conv_weights(0), _random_conv_weights(0), _random_conv_weights(1)
    for name in a:
        np.testing.assert_array_equal(a[name][0], a_again[name][0])
        assert not np.array_equal(a[name][0], b[name][0])
        assert not a[name][1].any()  # zero biases
    # He-normal: std sqrt(2 / fan_in); block1_conv1 has fan_in 3*3*3 = 27 and 1728 weights
    assert a["block1_conv1"][0].std() == pytest.approx(np.sqrt(2 / 27), rel=0.1)
    assert a["block2_conv1"][0].std() == pytest.approx(np.sqrt(2 / (9 * 64)), rel=0.05)


def test_build_extractor_needs_a_weights_source():
    """No silent random weights: a missing or None source is an error, not seeded random weights."""
    with pytest.raises(TypeError):
        build_extractor("vgg19", ["block1_conv1"])
    with pytest.raises(TypeError, match="WeightsSource"):
        build_extractor("vgg19", ["block1_conv1"], None)


# ----------------------------------------------------------------------------- the extractor

@pytest.fixture
def random_source():
    return resolve_weights("vgg19", "random", seed=0)


def _non_input_layers(model):
    return [l for l in model.layers if not isinstance(l, keras.layers.InputLayer)]


@pytest.mark.parametrize("model, layer", [("vgg19", "block2_conv1"), ("vgg19", "block4_conv4"),
                                          ("vgg16", "block3_conv3")])
def test_extractor_is_truncated_after_the_deepest_layer(model, layer):
    src = resolve_weights(model, "random", seed=0)
    ext = build_extractor(model, [layer], src)
    order = model_layers(model)
    names = [l.name for l in _non_input_layers(ext)]
    assert names == list(order[: order.index(layer) + 1])
    out = ext(np.zeros((1, 32, 32, 3), np.float32))
    assert isinstance(out, dict) and list(out) == [layer]


def test_extractor_accepts_paper_names_and_keys_by_keras_names(random_source):
    ext = build_extractor("vgg19", ["conv1_1", "relu2_1", "pool1"], random_source)
    out = ext(np.zeros((1, 32, 32, 3), np.float32))
    assert set(out) == {"block1_conv1", "block2_conv1", "block1_pool"}
    assert max(model_layers("vgg19").index(l.name) for l in _non_input_layers(ext)) == \
        model_layers("vgg19").index("block2_conv1")


def test_extractor_rejects_unknown_and_empty_layers(random_source):
    with pytest.raises(ValueError, match="valid names"):
        build_extractor("vgg19", ["conv6_1"], random_source)
    with pytest.raises(ValueError):
        build_extractor("vgg19", [], random_source)


ALL_DEPTHS = ["block1_conv1", "block2_conv1", "block3_conv1", "block4_conv1", "block5_conv1", "block5_pool"]


def test_output_shapes_halve_per_block(random_source):
    h, w = 48, 32
    ext = build_extractor("vgg19", ALL_DEPTHS, random_source)
    out = ext(np.random.default_rng(0).normal(0, 50, (1, h, w, 3)).astype(np.float32))
    channels = {"block1_conv1": 64, "block2_conv1": 128, "block3_conv1": 256, "block4_conv1": 512,
                "block5_conv1": 512}
    for k, (name, c) in enumerate(channels.items()):
        assert tuple(out[name].shape) == (1, h // 2 ** k, w // 2 ** k, c), name
    assert tuple(out["block5_pool"].shape) == (1, h // 32, w // 32, 512)


def test_average_pooling_swaps_only_the_pools(random_source):
    max_ext = build_extractor("vgg19", ALL_DEPTHS, random_source, pooling="max")
    avg_ext = build_extractor("vgg19", ALL_DEPTHS, random_source, pooling="avg")
    avg_layers = _non_input_layers(avg_ext)
    assert not any(isinstance(l, keras.layers.MaxPooling2D) for l in avg_layers)
    pools = [l for l in avg_layers if isinstance(l, keras.layers.AveragePooling2D)]
    assert [l.name for l in pools] == [f"block{b}_pool" for b in range(1, 6)]
    assert any(isinstance(l, keras.layers.MaxPooling2D) for l in _non_input_layers(max_ext))
    for layer in avg_layers:
        if isinstance(layer, keras.layers.Conv2D):
            for got, want in zip(layer.get_weights(), max_ext.get_layer(layer.name).get_weights()):
                np.testing.assert_array_equal(got, want)

    x = np.random.default_rng(1).normal(0, 50, (1, 48, 32, 3)).astype(np.float32)
    out_max, out_avg = max_ext(x), avg_ext(x)
    for name in ALL_DEPTHS:
        assert out_max[name].shape == out_avg[name].shape
    # same weights, so the first layer agrees; after the first pool the two differ
    np.testing.assert_allclose(out_max["block1_conv1"], out_avg["block1_conv1"], rtol=1e-6)
    assert not np.allclose(out_max["block2_conv1"], out_avg["block2_conv1"])
    # an average pool is the mean of each 2x2 window
    probe = build_extractor("vgg19", ["block1_conv2", "block1_pool"], random_source, pooling="avg")(x)
    f = np.asarray(probe["block1_conv2"])[0]
    want = f.reshape(24, 2, 16, 2, 64).mean(axis=(1, 3))
    np.testing.assert_allclose(np.asarray(probe["block1_pool"])[0], want, rtol=1e-5, atol=1e-5)


def test_base_is_cached_per_source(random_source):
    build_extractor("vgg19", ["block1_conv1"], random_source)
    build_extractor("vgg19", ["block3_conv1"], random_source, pooling="avg")
    assert len(models._BASES) == 1
    build_extractor("vgg19", ["block1_conv1"], resolve_weights("vgg19", "random", seed=5))
    assert len(models._BASES) == 2
