"""Numbers beside every picture (seed 000 §4.1 had none): content fidelity, style fidelity, colour.

The reference network and layers are fixed, whatever a run optimised, so numbers from different runs
and sweeps compare: VGG19, content layer conv4_2, style layers conv1_1..conv5_1, with ImageNet weights
when they can be found and seeded random weights (labelled in ``metric_reference``) otherwise.
"""

from __future__ import annotations

import numpy as np

from .colour import luma as luminance  # ITU-R BT.601 luma of an RGB image, 0..255 (float64)

REFERENCE_MODEL = "vgg19"
REFERENCE_CONTENT = "block4_conv2"
REFERENCE_STYLE = ("block1_conv1", "block2_conv1", "block3_conv1", "block4_conv1", "block5_conv1")


def ssim_luminance(a, b) -> float:
    """Structural similarity of two RGB images on their luminance (scikit-image); 1 for identical images."""
    from skimage.metrics import structural_similarity

    la, lb = luminance(a), luminance(b)
    if la.shape != lb.shape:
        raise ValueError(f"SSIM needs images of one size, got {la.shape} and {lb.shape}")
    win = min(7, *(s if s % 2 else s - 1 for s in la.shape))
    return float(structural_similarity(la, lb, data_range=255.0, win_size=max(3, win)))


def _lab_stats(image):
    from skimage.color import rgb2lab

    lab = rgb2lab(np.asarray(image, np.uint8)).reshape(-1, 3)
    return lab.mean(0), np.cov(lab, rowvar=False)


def colour_distance(a, b) -> float:
    """Fréchet (2-Wasserstein) distance between Gaussians fitted to the CIELAB colours of two images:
    ‖μa − μb‖² + Tr(Σa + Σb − 2 (Σa^½ Σb Σa^½)^½), square-rooted. Symmetric, 0 for equal statistics."""
    from scipy.linalg import sqrtm

    (ma, ca), (mb, cb) = _lab_stats(a), _lab_stats(b)
    ra = sqrtm(ca)
    cross = sqrtm(ra @ cb @ ra)
    value = float(np.sum((ma - mb) ** 2) + np.trace(ca + cb - 2 * np.real(cross)))
    return float(np.sqrt(max(value, 0.0)))


def reference_extractor(weights_source=None):
    """The fixed metric network: VGG19 to conv5_1. Runs with random weights are measured with seeded random
    weights (seed 0); all others with ImageNet VGG19 when it can be found, else random (labelled)."""
    from .models import WeightsNotFoundError, build_extractor, resolve_weights

    source = resolve_weights(REFERENCE_MODEL, "random", 0)
    if weights_source is not None and not weights_source.is_random:
        try:
            source = resolve_weights(REFERENCE_MODEL, "imagenet")
        except (WeightsNotFoundError, ValueError):
            pass
    return build_extractor(REFERENCE_MODEL, (REFERENCE_CONTENT, *REFERENCE_STYLE), source, "max"), source


def feature_distances(result, content, style, extractor) -> dict:
    """Relative content-feature distance ‖F(x) − F(p)‖/‖F(p)‖ at conv4_2 and relative Gram distance
    Σ_l ‖G_l(x) − G_l(a)‖/‖G_l(a)‖ over conv1_1..conv5_1."""
    import tensorflow as tf

    from .colour import preprocess
    from .losses import gram_matrix

    def feats(img):
        return extractor(preprocess(np.asarray(img, np.float32)[None]))

    fx, fp, fa = feats(result), feats(content), feats(style)
    c = float(tf.norm(fx[REFERENCE_CONTENT] - fp[REFERENCE_CONTENT]) / (tf.norm(fp[REFERENCE_CONTENT]) + 1e-12))
    s = 0.0
    for name in REFERENCE_STYLE:
        ga, gx = gram_matrix(fa[name]), gram_matrix(fx[name])
        s += float(tf.norm(gx - ga) / (tf.norm(ga) + 1e-12))
    return {"metric_content_distance": c, "metric_style_distance": s}


def run_metrics(image, content, style, weights_source=None, extractor=None) -> dict:
    """All metrics of a result against its (resized) content and style images, as ``metric_*`` keys."""
    if extractor is None:
        extractor, weights_source = reference_extractor(weights_source)
    out = {"metric_ssim_content": ssim_luminance(image, content)}
    out.update(feature_distances(image, content, style, extractor))
    out["metric_colour_to_style"] = colour_distance(image, style)
    out["metric_colour_to_content"] = colour_distance(image, content)
    out["metric_reference"] = f"{REFERENCE_MODEL} conv4_2 / conv1_1-conv5_1, {weights_source.label}"
    return out


__all__ = ["ssim_luminance", "colour_distance", "feature_distances", "run_metrics", "reference_extractor",
           "luminance", "REFERENCE_MODEL", "REFERENCE_CONTENT", "REFERENCE_STYLE"]
