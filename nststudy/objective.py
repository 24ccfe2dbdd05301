"""The objective of a style-transfer run: target features of the content and style images (computed once,
optionally cached on disk across a sweep's trials) and the loss function of the image being optimised."""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from . import cache, losses
from .colour import preprocess
from .config import StyleConfig, model_layers
from .models import features

# The terms the style-transfer objective reports, "total" (what is minimised) first. Every record follows
# ``loss_fn.terms``; another objective (feature inversion) declares these plus its own.
TERMS = ("total", "content", "style", "tv")


def targets(extractor, config: StyleConfig, image: np.ndarray, layers, kind: str, source=None) -> dict:
    """``{layer: array}``: the features (``kind="features"``) or Gram matrices (``"gram"``) of ``image``."""
    layers = list(layers)

    def compute():
        if not layers:
            return {}
        feats = extractor(preprocess(image[None].astype(np.float32)))
        return {n: (losses.gram_matrix(feats[n]) if kind == "gram" else feats[n]).numpy() for n in layers}

    if source is None:
        return compute()
    key = cache.target_key(image, model=config.model, pooling=config.pooling, weights=cache.weights_id(source),
                           layers=layers, kind=kind)
    return cache.cached(key, compute)


def make_loss_fn(extractor, config: StyleConfig, content, style, blend=None, source=None):
    """Targets computed once; returns ``loss_fn(x) -> terms`` for an RGB (1, H, W, 3) image in 0..255.

    ``style`` is one image or a list blended with ``blend`` weights. A style image of another size than
    the content (``style_scale``) has each layer's Gram rescaled by M_l(x) / M_l(style), the positions of
    that layer in each image (``losses.gram_rescale``), since G = FFᵀ sums over the M_l positions: the
    targets then describe the same per-position statistics at the result's size.
    ``loss_fn.terms`` names the terms it returns (``TERMS``).
    With ``source`` (the weights) given, targets go through the on-disk cache when one is set (cache.py).
    """
    content_feats = targets(extractor, config, content, config.content_layers, "features", source)
    content_targets = {n: tf.constant(content_feats[n]) for n in config.content_layers}
    styles = style if isinstance(style, list) else [style]
    blend = blend or [1.0 / len(styles)] * len(styles)
    style_targets = [tf.zeros(())] * len(config.style_layers)
    order = model_layers(config.model)
    poolings = {n: sum("pool" in m for m in order[: order.index(n) + 1]) for n in config.style_layers}
    for image, w in zip(styles, blend):
        grams = targets(extractor, config, image, config.style_layers, "gram", source)
        style_targets = [acc + w * losses.gram_rescale(content.shape, image.shape, poolings[n]) * grams[n]
                         for acc, n in zip(style_targets, config.style_layers)]
    style_targets = [tf.constant(g) for g in style_targets]
    a, b, t = config.content_weight, config.style_weight, config.tv_weight
    zero = tf.constant(0.0)

    def loss_fn(x):
        feats = features(extractor, preprocess(x))  # at the precision the run's step was traced with
        c = tf.add_n([losses.content_loss(feats[n], content_targets[n]) for n in config.content_layers]) \
            if config.content_layers else zero
        s = losses.style_loss([feats[n] for n in config.style_layers], style_targets, config.style_layer_weights,
                              normalized=config.style_normalization == "target") if config.style_layers else zero
        tv = losses.total_variation_loss(x) if t else zero
        return {"total": a * c + b * s + t * tv, "content": c, "style": s, "tv": tv}

    loss_fn.terms = TERMS
    return loss_fn


__all__ = ["make_loss_fn", "targets", "TERMS"]
