"""VGG16/VGG19 feature extractors from keras.applications, and where their weights come from.

ImageNet weights are resolved in this order (the first that exists wins):
  1. ``weights`` is a path to an .h5 file                       -> that file
  2. ``$NSTSTUDY_WEIGHTS_DIR/<Keras file name>``                   -> that file
  3. the Keras cache, ``$KERAS_HOME/models/`` or ``~/.keras/models/`` -> that file
  4. Keras's own download (``keras.utils.get_file``), unless ``NSTSTUDY_OFFLINE=1``
If none works, ``WeightsNotFoundError`` lists the places looked at, the file name, its md5 and the fix.
``weights="random"`` builds seeded He-normal weights instead; the run records say so everywhere.
"""

from __future__ import annotations

import hashlib
import os
import weakref
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .config import keras_layer_name, model_layers

# Keras's own file names, md5s and download addresses for the notop ImageNet weights.
KERAS_WEIGHTS = {
    "vgg19": ("vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5", "253f8cb515780f3b799900260a226db6"),
    "vgg16": ("vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5", "6d6bbae143d832006294945121d1f1fc"),
}
_URL = "https://storage.googleapis.com/tensorflow/keras-applications/{model}/{file}"
ENV_DIR = "NSTSTUDY_WEIGHTS_DIR"
ENV_OFFLINE = "NSTSTUDY_OFFLINE"


class WeightsNotFoundError(FileNotFoundError):
    """No ImageNet weights file could be found or downloaded; the message says how to fix it."""


class WeightsFileError(ValueError):
    """A weights file exists but is corrupt or belongs to another model."""


@dataclass(frozen=True)
class WeightsSource:
    """Where a model's weights came from: recorded in env.json and in every label of a run."""

    kind: str  # "imagenet" | "file" | "random"
    path: str | None = None
    md5: str | None = None
    found_by: str = ""  # "explicit path" | "$NSTSTUDY_WEIGHTS_DIR" | "Keras cache" | "Keras download" | "seeded random"
    seed: int | None = None

    @property
    def label(self) -> str:
        if self.kind == "random":
            return f"RANDOM WEIGHTS (seed {self.seed})"
        return "ImageNet weights" if self.kind == "imagenet" else f"weights {Path(self.path).name}"

    @property
    def is_random(self) -> bool:
        return self.kind == "random"

    def to_dict(self) -> dict:
        return {"kind": self.kind, "path": self.path, "md5": self.md5, "found_by": self.found_by,
                "seed": self.seed, "label": self.label}


def file_md5(path) -> str:
    h = hashlib.md5()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def keras_cache_dir() -> Path:
    return Path(os.environ.get("KERAS_HOME") or Path.home() / ".keras") / "models"


def resolve_weights(model: str = "vgg19", weights: str = "imagenet", seed: int = 0) -> WeightsSource:
    """Find the weights file for ``model`` in the documented order; see the module docstring."""
    if weights == "random":
        return WeightsSource("random", found_by="seeded random", seed=seed)
    fname, md5 = KERAS_WEIGHTS[model]
    if weights != "imagenet":
        path = Path(weights).expanduser()
        if not path.is_file():
            raise WeightsNotFoundError(f"weights file {weights!r} does not exist; pass 'imagenet', 'random' "
                                       f"or the path of a Keras .h5 file such as {fname}")
        found = file_md5(path)
        kind = "imagenet" if found == md5 else "file"
        return WeightsSource(kind, str(path.resolve()), found, "explicit path")
    looked = []
    candidates = []
    if os.environ.get(ENV_DIR):
        candidates.append((Path(os.environ[ENV_DIR]).expanduser() / fname, f"${ENV_DIR}"))
    else:
        looked.append(f"${ENV_DIR} (not set)")
    candidates.append((keras_cache_dir() / fname, "Keras cache"))
    for path, how in candidates:
        looked.append(str(path))
        if path.is_file():
            found = file_md5(path)
            if found != md5:
                raise WeightsFileError(f"{path}: md5 {found} does not match Keras's {md5} for {fname}; "
                                       f"the file is corrupt or of another model: replace it")
            return WeightsSource("imagenet", str(path.resolve()), found, how)
    url = _URL.format(model=model, file=fname)
    if os.environ.get(ENV_OFFLINE, "") not in ("", "0"):
        looked.append(f"Keras download skipped (${ENV_OFFLINE} is set)")
    else:
        try:
            import keras

            got = keras.utils.get_file(fname, url, cache_subdir="models", file_hash=md5)
            return WeightsSource("imagenet", str(Path(got).resolve()), file_md5(got), "Keras download")
        except Exception as e:  # no network here: say so below
            looked.append(f"Keras download from {url} failed: {type(e).__name__}: {str(e).splitlines()[0][:200]}")
    raise WeightsNotFoundError(
        f"no ImageNet weights for {model}. Looked at:\n  - " + "\n  - ".join(looked) +
        f"\nExpected file: {fname} (md5 {md5}).\nFix: put that file in a folder and set "
        f"{ENV_DIR}=/that/folder, or copy it to {keras_cache_dir()}/, or pass its path as "
        f"weights=..., or use weights='random' (labelled as such) for tests.")


_BASES: dict = {}


def _vgg_base(model: str, source: WeightsSource):
    """The full keras.applications VGG feature stack with weights loaded (cached per process)."""
    key = (model, source.path, source.md5, source.seed)
    if key in _BASES:
        return _BASES[key]
    import keras

    app = {"vgg19": keras.applications.VGG19, "vgg16": keras.applications.VGG16}[model]
    base = app(include_top=False, weights=None, input_shape=(None, None, 3))
    if source.is_random:
        rng = np.random.default_rng(source.seed)
        for layer in base.layers:
            if isinstance(layer, keras.layers.Conv2D):
                kernel, bias = layer.get_weights()
                fan_in = np.prod(kernel.shape[:3])
                layer.set_weights([rng.normal(0, np.sqrt(2.0 / fan_in), kernel.shape).astype(np.float32),
                                   np.zeros_like(bias)])
    else:
        try:
            base.load_weights(source.path)
        except Exception as e:
            fname, md5 = KERAS_WEIGHTS[model]
            raise WeightsFileError(f"{source.path}: cannot load as {model} notop weights ({type(e).__name__}: "
                                   f"{str(e).splitlines()[0][:200]}); expected Keras's {fname} (md5 {md5})") from None
    _BASES[key] = base
    return base


def build_extractor(model: str, layers, source: WeightsSource, pooling: str = "max"):
    """A Keras model mapping a preprocessed (1, H, W, 3) batch to ``{layer name: features}``.

    ``source`` (from ``resolve_weights``) is required: there is no default, so no model is ever built
    with random weights unless they were asked for (``resolve_weights(model, "random", seed)``).
    The model is truncated after the deepest requested layer, so nothing deeper is computed.
    ``pooling="avg"`` swaps VGG's max pooling for average pooling (Gatys et al.), same weights.
    """
    import keras

    if not isinstance(source, WeightsSource):
        raise TypeError(f"build_extractor needs a WeightsSource (from resolve_weights), got {source!r}; "
                        f"for random weights say so: resolve_weights({model!r}, 'random', seed)")
    names = [keras_layer_name(n, model) for n in layers]
    if not names:
        raise ValueError("build_extractor needs at least one layer")
    order = model_layers(model)
    deepest = max(order.index(n) for n in names)
    base = _vgg_base(model, source)
    inputs = keras.Input((None, None, 3), name="bgr_centred")
    x, outputs = inputs, {}
    for name in order[: deepest + 1]:
        layer = base.get_layer(name)
        if pooling == "avg" and isinstance(layer, keras.layers.MaxPooling2D):
            layer = keras.layers.AveragePooling2D(2, 2, name=name)
        x = layer(x)
        if name in names:
            outputs[name] = x
    return keras.Model(inputs, outputs, name=f"{model}_{pooling}_to_{order[deepest]}")


# The precision ``features`` computes at; set by ``compute_precision`` around the tracing of a compiled step
# (nststudy.accel chooses it per run). Targets, metrics and everything outside such a block stay float32.
_PRECISION: ContextVar = ContextVar("nststudy_precision", default="float32")
_COPIES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


@contextmanager
def compute_precision(precision: str):
    """Within this block (e.g. while a tf.function traces), ``features`` computes at ``precision``."""
    if precision not in ("float32", "bfloat16"):
        raise ValueError(f"precision {precision!r}: use 'float32' or 'bfloat16'")
    token = _PRECISION.set(precision)
    try:
        yield
    finally:
        _PRECISION.reset(token)


def features(extractor, x):
    """``extractor(x)`` at the current compute precision. For bfloat16, a copy of the extractor whose layers
    compute in bfloat16 from float32 weights (Keras's ``mixed_bfloat16`` policy; made once per extractor) and
    whose outputs are cast back to float32, so Grams, losses, the image and the optimiser stay float32."""
    if _PRECISION.get() == "float32":
        return extractor(x)
    if extractor not in _COPIES:
        import tensorflow as tf

        with tf.init_scope():  # usually first reached while a step traces: build the copy eagerly
            _COPIES[extractor] = _copy_at(extractor, "mixed_bfloat16")
    return _COPIES[extractor](x)


def _copy_at(extractor, policy: str):
    """A copy of a ``build_extractor`` model (a chain of layers) under dtype ``policy``, same weights."""
    import keras

    inputs = keras.Input((None, None, 3), name="bgr_centred")
    x, tensors = inputs, {}
    for layer in extractor.layers[1:]:
        copy = layer.__class__.from_config({**layer.get_config(), "dtype": policy})
        x = copy(x)
        if layer.weights:
            copy.set_weights(layer.get_weights())
        tensors[layer.name] = x
    outputs = {n: keras.layers.Activation("linear", dtype="float32", name=f"{n}_float32")(tensors[n])
               for n in extractor.output}
    return keras.Model(inputs, outputs, name=f"{extractor.name}_{policy}")


__all__ = ["resolve_weights", "build_extractor", "features", "compute_precision", "WeightsSource",
           "WeightsNotFoundError", "WeightsFileError", "KERAS_WEIGHTS", "file_md5", "keras_cache_dir", "ENV_DIR", "ENV_OFFLINE"]
