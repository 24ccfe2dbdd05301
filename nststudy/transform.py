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

BASE_CHANNELS = (32, 64, 128)  # Johnson et al.'s widths; ``width`` scales all three
MODEL_PREFIX = "nststudy_transform"  # the name every model built here carries; load_transform checks it
PADDINGS = ("reflect", "zero")


class ModelFileError(ValueError):
    """A model file that is missing, unreadable or not a transform network written by nststudy."""


@keras.saving.register_keras_serializable(package="nststudy")
class InstanceNormalization(keras.layers.Layer):
    """Per image and channel, (x − μ) / √(σ² + ε) · γ + β over the spatial positions (Ulyanov et al. 2016).

    Computed by TensorFlow's fused batch norm in training mode on the batch laid side by side as channels,
    (N, H, W, C) -> (1, H, W, N·C): its per-channel statistics over H, W are then exactly the per-image ones
    (biased variance, as instance norm). One fused kernel, also for bfloat16 inputs (float32 statistics),
    instead of separate mean, variance and normalise passes: 1.5x faster a frame at width 0.5, 256².
    """

    def __init__(self, epsilon: float = 1e-5, **kwargs):
        super().__init__(**kwargs)
        self.epsilon = float(epsilon)

    def build(self, input_shape):
        channels = input_shape[-1]
        self.gamma = self.add_weight(shape=(channels,), initializer="ones", name="gamma")
        self.beta = self.add_weight(shape=(channels,), initializer="zeros", name="beta")

    def call(self, x):
        shape = tf.shape(x)
        n, h, w, c = shape[0], shape[1], shape[2], shape[3]
        side_by_side = tf.reshape(tf.transpose(x, [1, 2, 0, 3]), [1, h, w, n * c])
        gamma = tf.tile(tf.cast(self.gamma, tf.float32), [n])
        beta = tf.tile(tf.cast(self.beta, tf.float32), [n])
        y, _, _ = tf.compat.v1.nn.fused_batch_norm(side_by_side, gamma, beta, epsilon=self.epsilon, is_training=True)
        return tf.transpose(tf.reshape(y, [h, w, n, c]), [2, 0, 1, 3])

    def get_config(self):
        return {**super().get_config(), "epsilon": self.epsilon}


@keras.saving.register_keras_serializable(package="nststudy")
class ReflectionPadding(keras.layers.Layer):
    """Pad height and width by ``pad`` on each side, mirroring the border (no dark frame at the edges)."""

    def __init__(self, pad: int, **kwargs):
        super().__init__(**kwargs)
        self.pad = int(pad)

    def call(self, x):
        p = self.pad
        return tf.pad(x, [[0, 0], [p, p], [p, p], [0, 0]], mode="REFLECT")

    def get_config(self):
        return {**super().get_config(), "pad": self.pad}


@keras.saving.register_keras_serializable(package="nststudy")
class PadToMultiple(keras.layers.Layer):
    """Reflection-pad the bottom and right so height and width are multiples of ``multiple``."""

    def __init__(self, multiple: int = 4, **kwargs):
        super().__init__(**kwargs)
        self.multiple = int(multiple)

    def call(self, x):
        shape = tf.shape(x)
        ph, pw = (-shape[1]) % self.multiple, (-shape[2]) % self.multiple
        return tf.pad(x, [[0, 0], [0, ph], [0, pw], [0, 0]], mode="REFLECT")

    def get_config(self):
        return {**super().get_config(), "multiple": self.multiple}


@keras.saving.register_keras_serializable(package="nststudy")
class CropLike(keras.layers.Layer):
    """Crop the first input to the height and width of the second (undoes ``PadToMultiple``)."""

    def call(self, inputs):
        x, reference = inputs
        shape = tf.shape(reference)
        return x[:, : shape[1], : shape[2], :]


@keras.saving.register_keras_serializable(package="nststudy")
class SpaceToDepthConv(keras.layers.Layer):
    """A stride-1, zero-padded ("same") k×k convolution with k odd, computed exactly as a smaller
    convolution on the input's 2×2 space-to-depth blocks, followed by depth-to-space.

    With X[p, q, (r, s, c)] = x[2p + r, 2q + s, c] and y[2p + u, 2q + v] = Y[p, q, (u, v, o)], the output is
    Y = conv(X, K') with K'[m, n, (r, s, c), (u, v, o)] = K[2m + r − u + k//2, 2n + s − v + k//2, c, o] (zero
    outside K), m, n from −⌈k/4⌉ to ⌈k/4⌉: 5×5 for k = 9. Same weights (a k×k kernel and a bias) and the
    same numbers as ``Conv2D(filters, k, padding="same")``; 1.2× its FLOPs, but the few-channel convolutions
    at the network's ends run 4-9× faster this way here (9×9, 16 -> 3 channels at 256²: 87 -> 9 ms float32,
    24 -> 5 ms bfloat16). Height and width must be even (the network pads its input to a multiple of 4).
    """

    def __init__(self, filters: int, kernel_size: int = 9, kernel_initializer="glorot_uniform", **kwargs):
        super().__init__(**kwargs)
        if kernel_size % 2 != 1:
            raise ValueError(f"kernel_size={kernel_size}: SpaceToDepthConv needs an odd kernel")
        self.filters, self.kernel_size = int(filters), int(kernel_size)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        half = self.kernel_size // 2
        self._m = np.arange((-half) // 2, (half + 1) // 2 + 1)  # block offsets m (and n)
        # index into K padded by 1 on each side: 2m + r − u + half + 1, always within 0 .. k + 1
        self._index = (2 * self._m[:, None, None] + np.arange(2)[None, :, None] - np.arange(2)[None, None, :]
                       + half + 1).reshape(-1).astype(np.int32)

    def build(self, input_shape):
        self.kernel = self.add_weight(shape=(self.kernel_size, self.kernel_size, input_shape[-1], self.filters),
                                      initializer=self.kernel_initializer, name="kernel")
        self.bias = self.add_weight(shape=(self.filters,), initializer="zeros", name="bias")

    def blocked_kernel(self):
        """K' of the class docstring, shape (M, M, 4C, 4O), from the k×k kernel (differentiable)."""
        k = tf.pad(tf.cast(self.kernel, self.compute_dtype), [[1, 1], [1, 1], [0, 0], [0, 0]])
        size, c, o = len(self._m), tf.shape(k)[2], self.filters
        rows = tf.reshape(tf.gather(k, self._index, axis=0), [size, 2, 2, self.kernel_size + 2, c, o])
        both = tf.reshape(tf.gather(rows, self._index, axis=3), [size, 2, 2, size, 2, 2, c, o])  # m r u n s v c o
        both = tf.transpose(both, [0, 3, 1, 4, 6, 2, 5, 7])  # m n r s c u v o
        return tf.reshape(both, [size, size, 4 * c, 4 * o])

    def call(self, x):
        y = tf.nn.conv2d(tf.nn.space_to_depth(x, 2), self.blocked_kernel(), 1, "SAME")
        y = tf.nn.depth_to_space(y + tf.tile(tf.cast(self.bias, y.dtype), [4]), 2)
        return y

    def get_config(self):
        return {**super().get_config(), "filters": self.filters, "kernel_size": self.kernel_size,
                "kernel_initializer": keras.initializers.serialize(self.kernel_initializer)}


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
