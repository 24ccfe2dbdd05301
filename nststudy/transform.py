"""The feed-forward transform network of Johnson et al. (2016) as a Keras 3 model: build, save, load, run.

    9x9 conv -> two stride-2 3x3 convs -> residual blocks -> two (2x nearest resize, 3x3 conv) -> 9x9 conv out

Every conv but the last is followed by instance normalisation (Ulyanov et al. 2016) and a ReLU; the
upsampling is resize-then-convolve (Odena et al. 2016, no checkerboard) instead of transposed convolutions.
Channels are 32, 64, 128 times ``width``. The network is fully convolutional: RGB 0..255 in, RGB 0..255 out
(a scaled tanh, as Johnson et al.), same height and width as the input for any size (the input is
reflection-padded to a multiple of 4 and the output cropped back). Models are saved as ``.keras`` files.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from .files import atomic_path
from .layers import CropLike, InstanceNormalization, PadToMultiple, ReflectionPadding, SpaceToDepthConv

BASE_CHANNELS = (32, 64, 128)  # Johnson et al.'s widths; ``width`` scales all three
MODEL_PREFIX = "nststudy_transform"  # the name every model built here carries; load_transform checks it
PADDINGS = ("reflect", "zero")


class ModelFileError(ValueError):
    """A model file that is missing, unreadable or not a transform network written by nststudy."""


def channels(width: float) -> tuple[int, int, int]:
    """The three channel counts at ``width`` (at least 4 each): width 1 -> (32, 64, 128)."""
    return tuple(max(4, int(round(c * float(width)))) for c in BASE_CHANNELS)


def build_transform(width: float = 1.0, residual_blocks: int = 5, padding: str = "zero", seed: int = 0):
    """The transform network (see module docstring) with Glorot-uniform weights seeded by ``seed``.

    ``padding="zero"`` lets each convolution pad with zeros itself (as lengstrom/fast-style-transfer);
    ``"reflect"`` mirrors the border before each convolution (as pytorch/examples): no dark seams at the
    edges, but its separate pad ops make a frame 1.1-1.3x slower here (benchmarks/realtime.py).
    """
    if padding not in PADDINGS:
        raise ValueError(f"padding={padding!r} is not accepted; choose one of: {', '.join(PADDINGS)}")
    if not 0 < float(width) <= 4:
        raise ValueError(f"width={width!r}: expected a multiplier in (0, 4], e.g. 1, 0.5 or 0.25")
    if int(residual_blocks) < 0:
        raise ValueError(f"residual_blocks={residual_blocks!r}: must be >= 0")
    layers = keras.layers
    c1, c2, c3 = channels(width)
    counter = iter(range(1000))

    def conv(x, filters, size, stride=1, norm=True, relu=True):
        i = next(counter)
        init = keras.initializers.GlorotUniform(seed=seed * 1000 + i)
        if padding == "reflect" and size > 1:
            x = ReflectionPadding(size // 2, name=f"pad{i}")(x)
            x = layers.Conv2D(filters, size, stride, "valid", kernel_initializer=init, name=f"conv{i}")(x)
        elif size == 9:  # the two 9x9 convs at full size: exact, faster form (see SpaceToDepthConv)
            x = SpaceToDepthConv(filters, size, kernel_initializer=init, name=f"conv{i}")(x)
        else:
            x = layers.Conv2D(filters, size, stride, "same", kernel_initializer=init, name=f"conv{i}")(x)
        if norm:
            x = InstanceNormalization(name=f"norm{i}")(x)
        return layers.ReLU(name=f"relu{i}")(x) if relu else x

    image = keras.Input((None, None, 3), name="rgb")
    x = layers.Rescaling(1 / 127.5, offset=-1.0, name="to_unit")(image)
    x = PadToMultiple(4, name="pad_to_4")(x)
    x = conv(x, c1, 9)
    x = conv(x, c2, 3, 2)
    x = conv(x, c3, 3, 2)
    for b in range(int(residual_blocks)):
        y = conv(conv(x, c3, 3), c3, 3, relu=False)
        x = layers.Add(name=f"residual{b}")([x, y])
    for filters in (c2, c1):
        x = layers.UpSampling2D(2, interpolation="nearest", name=f"up{next(counter)}")(x)
        x = conv(x, filters, 3)
    x = conv(x, 3, 9, norm=False, relu=False)
    x = layers.Activation("tanh", dtype="float32", name="tanh")(x)
    x = layers.Rescaling(127.5, offset=127.5, dtype="float32", name="to_rgb")(x)
    out = CropLike(dtype="float32", name="crop")([x, image])
    name = f"{MODEL_PREFIX}_w{float(width):g}_r{int(residual_blocks)}_{padding}"
    return keras.Model(image, out, name=name)


def save_transform(model, path) -> Path:
    """Write ``model`` as a ``.keras`` file, atomically (a killed save leaves the old file or none)."""
    path = Path(path)
    if path.suffix != ".keras":
        raise ValueError(f"{path}: a transform network is saved as a .keras file")
    with atomic_path(path, suffix=".keras") as tmp:
        model.save(tmp)
    return path


def load_transform(path):
    """Read a transform network from a ``.keras`` file or a training run folder holding ``model.keras``.

    Raises ModelFileError naming the file when it is missing, not a Keras archive, or a Keras model of
    another kind.
    """
    path = Path(path)
    if path.is_dir():
        if not (path / "model.keras").is_file():
            raise ModelFileError(f"{path}: folder without model.keras; give a .keras file written by "
                                 f"'nststudy train' or its run folder")
        path = path / "model.keras"
    if not path.is_file():
        raise ModelFileError(f"{path}: no such model file; give a .keras file written by 'nststudy train'")
    if not zipfile.is_zipfile(path):
        raise ModelFileError(f"{path}: not a Keras .keras archive; give a model written by 'nststudy train'")
    try:
        model = keras.saving.load_model(path, compile=False)
    except Exception as e:
        first = str(e).strip().splitlines()[0][:200] if str(e).strip() else ""
        raise ModelFileError(f"{path}: cannot be loaded as a Keras model ({type(e).__name__}: {first}); "
                             f"give a model written by 'nststudy train'") from None
    if not str(getattr(model, "name", "")).startswith(MODEL_PREFIX):
        raise ModelFileError(f"{path}: a Keras model named {model.name!r}, not a transform network written "
                             f"by 'nststudy train' (their names start with {MODEL_PREFIX!r})")
    return model


PRECISIONS = ("float32", "bfloat16", "auto")
FLOAT32_LAYERS = ("tanh", "to_rgb", "crop")  # the output stays float32 under a bfloat16 policy


def native_bfloat16() -> bool:
    """True when the CPU computes bfloat16 dot products natively (x86 flags avx512_bf16 or amx_bf16)."""
    try:
        flags = next((line for line in open("/proc/cpuinfo") if line.startswith("flags")), "").split()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def with_precision(model, precision: str = "float32"):
    """``model`` itself for float32; for bfloat16 a twin computing in bfloat16 (keras's mixed_bfloat16:
    float32 weights, instance-norm statistics and output) with the same weights. ``auto`` picks bfloat16
    when the CPU has native bfloat16 (``native_bfloat16``), else float32."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision={precision!r} is not accepted; choose one of: {', '.join(PRECISIONS)}")
    if precision == "auto":
        precision = "bfloat16" if native_bfloat16() else "float32"
    if precision == "float32":
        return model

    def clone(layer):
        config = layer.get_config()
        if layer.name not in FLOAT32_LAYERS:
            config["dtype"] = "mixed_bfloat16"
        return layer.__class__.from_config(config)

    twin = keras.models.clone_model(model, clone_function=clone)
    twin.set_weights(model.get_weights())
    return twin


class Stylizer:
    """A model's inference as one compiled function with a fixed signature (no retracing per size).

    ``stylizer(frames)`` takes RGB uint8 or float 0..255 arrays, (H, W, 3) or (N, H, W, 3), and returns uint8.
    ``precision="bfloat16"`` computes in bfloat16 (``with_precision``): on this CPU 2-3x faster, outputs
    within about one grey level of float32 on average (README "Real time").
    """

    def __init__(self, model, precision: str = "float32"):
        self.model = with_precision(model, precision)
        self.precision = "float32" if self.model is model else "bfloat16"
        net = self.model
        self._fn = tf.function(lambda x: net(x, training=False),
                               input_signature=[tf.TensorSpec([None, None, None, 3], tf.float32)])

    def raw(self, batch) -> tf.Tensor:
        """The network's float output for a float32 (N, H, W, 3) batch in 0..255."""
        return self._fn(tf.convert_to_tensor(batch, tf.float32))

    def __call__(self, images) -> np.ndarray:
        x = np.asarray(images, np.float32)
        single = x.ndim == 3
        y = self.raw(x[None] if single else x).numpy()
        y = np.clip(np.rint(y), 0, 255).astype(np.uint8)
        return y[0] if single else y


__all__ = ["build_transform", "save_transform", "load_transform", "Stylizer", "with_precision", "native_bfloat16",
           "PRECISIONS", "InstanceNormalization",
           "ReflectionPadding", "PadToMultiple", "CropLike", "SpaceToDepthConv", "ModelFileError", "channels",
           "BASE_CHANNELS",
           "MODEL_PREFIX", "PADDINGS"]
