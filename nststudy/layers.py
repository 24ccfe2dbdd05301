"""The custom Keras layers of the transform network: instance normalisation, reflection padding, padding to a
multiple of 4 and cropping back, and the exact space-to-depth form of a 9x9 convolution. Each is registered
as a Keras serializable (package ``nststudy``), so saved models load wherever this module is imported.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf


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
