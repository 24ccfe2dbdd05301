"""Colour spaces: the VGG input space (Keras's "caffe" mode: BGR minus the ImageNet means), luma and chroma
(YIQ) for colour preservation, histogram matching; the two constants every module takes from here.
"""

from __future__ import annotations

import numpy as np

from .images import to_rgb_array

# ImageNet channel means of the Keras VGG models, in BGR order (keras.applications.vgg19, "caffe" mode).
VGG_MEAN_BGR = np.array([103.939, 116.779, 123.68], dtype=np.float32)
VGG_MEAN_RGB = VGG_MEAN_BGR[::-1].copy()
# Luma Y = 0.299 R + 0.587 G + 0.114 B (ITU-R BT.601; the first row of the YIQ transform).
LUMA_WEIGHTS = (0.299, 0.587, 0.114)


def luma(image) -> np.ndarray:
    """Y of an RGB image (0..255 in, 0..255 out, float64), BT.601 weights."""
    return np.asarray(image, np.float64)[..., :3] @ np.array(LUMA_WEIGHTS)


def preprocess(images):
    """RGB in 0..255 (uint8 or float; HxWx3 or NxHxWx3) -> float32 BGR minus the ImageNet means.

    Works on NumPy arrays (returns NumPy) and on TensorFlow tensors (returns a tensor, differentiable).
    """
    if isinstance(images, np.ndarray) or not hasattr(images, "dtype") or isinstance(images, (list, tuple)):
        x = np.asarray(images, dtype=np.float32)
        _check_channels(x)
        return x[..., ::-1] - VGG_MEAN_BGR
    import tensorflow as tf

    x = tf.cast(images, tf.float32)
    _check_channels(x)
    return tf.reverse(x, axis=[-1]) - VGG_MEAN_BGR


def deprocess(x) -> np.ndarray:
    """The exact inverse of ``preprocess``: add the means, BGR -> RGB, clip to 0..255, round to uint8."""
    x = np.asarray(x, dtype=np.float32)
    _check_channels(x)
    rgb = (x + VGG_MEAN_BGR)[..., ::-1]
    return np.clip(np.rint(rgb), 0, 255).astype(np.uint8)


def _check_channels(x):
    if len(x.shape) not in (3, 4) or x.shape[-1] != 3:
        raise ValueError(f"expected images shaped HxWx3 or NxHxWx3, got {tuple(x.shape)}")


# Colour controls (Gatys et al. 2017, "Controlling perceptual factors in neural style transfer").
_RGB_TO_YIQ = np.array([LUMA_WEIGHTS, [0.595716, -0.274453, -0.321263], [0.211456, -0.522591, 0.311135]])
_YIQ_TO_RGB = np.linalg.inv(_RGB_TO_YIQ)


def rgb_to_yiq(image) -> np.ndarray:
    return np.asarray(image, np.float64) @ _RGB_TO_YIQ.T


def yiq_to_rgb(yiq) -> np.ndarray:
    return np.asarray(yiq, np.float64) @ _YIQ_TO_RGB.T


def luminance_image(image, like=None) -> np.ndarray:
    """The luma Y as a 3-channel uint8 image; with ``like``, Y's mean and std are matched to ``like``'s
    (Gatys et al. 2017 match the style's luminance statistics to the content's)."""
    y = rgb_to_yiq(image)[..., 0]
    if like is not None:
        ref = rgb_to_yiq(like)[..., 0]
        y = (y - y.mean()) * (ref.std() / (y.std() + 1e-8)) + ref.mean()
    return np.repeat(np.clip(np.rint(y), 0, 255).astype(np.uint8)[..., None], 3, axis=-1)


def with_chroma_of(luma_source, chroma_source) -> np.ndarray:
    """Luma (Y) of one image with the chroma (I, Q) of another, as float RGB (not yet clipped)."""
    yiq = rgb_to_yiq(chroma_source)
    yiq[..., 0] = rgb_to_yiq(luma_source)[..., 0]
    return yiq_to_rgb(yiq)


def match_colours(image, reference) -> np.ndarray:
    """Histogram-match each RGB channel of ``image`` to ``reference`` (scikit-image)."""
    from skimage.exposure import match_histograms

    return to_rgb_array(match_histograms(image, reference, channel_axis=-1))


__all__ = ["preprocess", "deprocess", "rgb_to_yiq", "yiq_to_rgb", "luma", "luminance_image", "with_chroma_of",
           "match_colours", "VGG_MEAN_BGR", "VGG_MEAN_RGB", "LUMA_WEIGHTS"]
