"""The on-disk cache of target features (nststudy.cache): computed once per key, read back equal, keyed on
everything the numbers depend on, robust to a corrupt entry, and used by a sweep's trials."""

import numpy as np
import pytest

from nststudy import cache
from nststudy.config import StyleConfig
from nststudy.models import build_extractor, resolve_weights
from nststudy.objective import make_loss_fn, targets


@pytest.fixture
def cache_folder(tmp_path, monkeypatch):
    folder = tmp_path / "targets"
    monkeypatch.setenv(cache.ENV, str(folder))
    return folder


class Counting:
    """An extractor that counts its calls."""

    def __init__(self, extractor):
        self.extractor, self.calls = extractor, 0

    def __call__(self, x):
        self.calls += 1
        return self.extractor(x)


def test_targets_computed_once_and_read_back_equal(cache_folder, content_image, style_image):
    config = StyleConfig(weights="random", image_size=32)
    source = resolve_weights("vgg19", "random", 0)
    layers = list(dict.fromkeys(config.content_layers + config.style_layers))
    extractor = Counting(build_extractor("vgg19", layers, source))
    first = make_loss_fn(extractor, config, content_image, style_image, source=source)
    assert extractor.calls == 2  # content and style
    assert len(list(cache_folder.glob("*.npz"))) == 2
    second = make_loss_fn(extractor, config, content_image, style_image, source=source)
    assert extractor.calls == 2  # both read from disk
    x = np.random.default_rng(0).uniform(0, 255, (1, *content_image.shape)).astype(np.float32)
    a, b = first(x), second(x)
    assert float(a["total"]) == float(b["total"]) and float(a["style"]) > 0


def test_no_cache_without_the_variable(tmp_path, monkeypatch, content_image):
    monkeypatch.delenv(cache.ENV, raising=False)
    source = resolve_weights("vgg19", "random", 0)
    extractor = Counting(build_extractor("vgg19", ["block1_conv1"], source))
    config = StyleConfig(weights="random")
    targets(extractor, config, content_image, ["block1_conv1"], "gram", source)
    targets(extractor, config, content_image, ["block1_conv1"], "gram", source)
    assert extractor.calls == 2


def test_key_changes_with_everything_the_targets_depend_on(content_image):
    base = dict(model="vgg19", pooling="max", weights="md5x", layers=["block1_conv1"], kind="gram")
    key = cache.target_key(content_image, **base)
    assert key == cache.target_key(content_image.copy(), **base)  # same pixels, same key
    changed = content_image.copy()
    changed[0, 0, 0] ^= 1
    variants = [cache.target_key(changed, **base), cache.target_key(content_image[:-1], **base)]
    for field, value in [("model", "vgg16"), ("pooling", "avg"), ("weights", "random-0"),
                         ("layers", ["block1_conv2"]), ("kind", "features")]:
        variants.append(cache.target_key(content_image, **{**base, field: value}))
    assert len({key, *variants}) == len(variants) + 1


def test_weights_id_distinguishes_random_seeds_and_files(tmp_path):
    assert cache.weights_id(resolve_weights("vgg19", "random", 0)) == "random-0"
    assert cache.weights_id(resolve_weights("vgg19", "random", 1)) == "random-1"
    # Files are told apart by their content (md5), not their name or place: two files with different bytes
    # get different ids, a copy of one elsewhere gets the same id, and no file's id is a random seed's.
    import hashlib

    a, b, a_copy = tmp_path / "a.h5", tmp_path / "b.h5", tmp_path / "elsewhere" / "a.h5"
    a_copy.parent.mkdir()
    for path, data in ((a, b"weights one"), (b, b"weights two"), (a_copy, b"weights one")):
        path.write_bytes(data)
    ids = {name: cache.weights_id(resolve_weights("vgg19", str(path))) for name, path in
           (("a", a), ("b", b), ("a_copy", a_copy))}
    assert ids["a"] == hashlib.md5(b"weights one").hexdigest()
    assert ids["b"] == hashlib.md5(b"weights two").hexdigest() != ids["a"]
    assert ids["a_copy"] == ids["a"]
    assert not {"random-0", "random-1"} & set(ids.values())


def test_corrupt_entry_is_recomputed_and_replaced(cache_folder, content_image):
    source = resolve_weights("vgg19", "random", 0)
    extractor = Counting(build_extractor("vgg19", ["block1_conv1"], source))
    config = StyleConfig(weights="random")
    good = targets(extractor, config, content_image, ["block1_conv1"], "gram", source)
    (entry,) = cache_folder.glob("*.npz")
    entry.write_bytes(entry.read_bytes()[:40])  # truncated
    again = targets(extractor, config, content_image, ["block1_conv1"], "gram", source)
    assert extractor.calls == 2
    np.testing.assert_array_equal(good["block1_conv1"], again["block1_conv1"])
    with np.load(entry) as stored:  # replaced by a whole file
        np.testing.assert_array_equal(stored["block1_conv1"], good["block1_conv1"])
    assert not list(cache_folder.glob(".*"))  # no temporary files left
