"""Numbers beside every picture (seed 000 §4.1 had none): content fidelity, style fidelity, colour.

The reference network and layers are fixed, whatever a run optimised, so numbers from different runs
and sweeps compare: VGG19, content layer conv4_2, style layers conv1_1..conv5_1, with ImageNet weights
for runs with real weights (an error if they cannot be found or loaded, never a silent swap) and seeded
random weights (seed 0) for runs with random weights. ``metric_reference`` says which, and which style:
always the original style image(s), before colour preservation recoloured or greyed them; for a blend,
the blend (Grams and colours weighted as the run's ``style_blend_weights``).
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


def _lab_stats(image, weights=None):
    """Mean and (population, maximum-likelihood) covariance of the CIELAB colours of an image, or of several
    pooled (each image weighing ``weights[i]`` in all, spread over its pixels): pooling 3 : 1 gives the
    statistics of one image made of the first image three times and the second once."""
    from skimage.color import rgb2lab

    images = image if isinstance(image, (list, tuple)) else [image]
    labs = [rgb2lab(np.asarray(im, np.uint8)).reshape(-1, 3) for im in images]
    if len(labs) == 1:
        return labs[0].mean(0), np.cov(labs[0], rowvar=False, bias=True)
    weights = [1.0] * len(labs) if weights is None else weights
    lab = np.concatenate(labs)
    w = np.concatenate([np.full(len(x), wi / len(x)) for x, wi in zip(labs, weights)])
    return np.average(lab, axis=0, weights=w), np.cov(lab, rowvar=False, aweights=w, bias=True)


def colour_distance(a, b, weights=None) -> float:
    """Fréchet (2-Wasserstein) distance between Gaussians fitted to the CIELAB colours of two images:
    ‖μa − μb‖² + Tr(Σa + Σb − 2 (Σa^½ Σb Σa^½)^½), square-rooted. Symmetric, 0 for equal statistics.
    ``b`` may be a list of images (a style blend) whose colours are pooled with ``weights``."""
    from scipy.linalg import sqrtm

    (ma, ca), (mb, cb) = _lab_stats(a), _lab_stats(b, weights)
    ra = sqrtm(ca)
    cross = sqrtm(ra @ cb @ ra)
    value = float(np.sum((ma - mb) ** 2) + np.trace(ca + cb - 2 * np.real(cross)))
    return float(np.sqrt(max(value, 0.0)))


def reference_source(weights_source):
    """The weights of the fixed metric network for a run with ``weights_source``: seeded random (seed 0) for
    a random-weights run; else ImageNet VGG19, the run's own file when it is that, else found as
    ``models.resolve_weights`` finds it. A missing or corrupt file raises (WeightsNotFoundError,
    WeightsFileError): metrics are never taken with random weights in place of real ones."""
    from .models import KERAS_WEIGHTS, WeightsSource, resolve_weights

    if not isinstance(weights_source, WeightsSource):
        raise TypeError(f"reference_source needs the run's WeightsSource, got {type(weights_source).__name__}")
    if weights_source.is_random:
        return resolve_weights(REFERENCE_MODEL, "random", 0)
    if weights_source.kind == "imagenet" and weights_source.md5 == KERAS_WEIGHTS[REFERENCE_MODEL][1]:
        return weights_source
    return resolve_weights(REFERENCE_MODEL, "imagenet")


def reference_extractor(weights_source):
    """The fixed metric network (VGG19 to conv5_1) for a run with ``weights_source`` (see
    ``reference_source``), and the weights it uses."""
    from .models import build_extractor

    source = reference_source(weights_source)
    return build_extractor(REFERENCE_MODEL, (REFERENCE_CONTENT, *REFERENCE_STYLE), source, "max"), source


def feature_distances(result, content, style, extractor, weights=None) -> dict:
    """Relative content-feature distance ‖F(x) − F(p)‖/‖F(p)‖ at conv4_2 and relative Gram distance
    Σ_l ‖G_l(x) − A_l‖/‖A_l‖ over conv1_1..conv5_1, with A_l = G_l(a) of the style image, or for a list of
    style images the blend Σ_i w_i G_l(a_i) (``weights`` normalised to sum to 1; equal if not given)."""
    import tensorflow as tf

    from .colour import preprocess
    from .losses import gram_matrix

    def feats(img):
        return extractor(preprocess(np.asarray(img, np.float32)[None]))

    styles = style if isinstance(style, (list, tuple)) else [style]
    weights = np.asarray([1.0] * len(styles) if weights is None else weights, np.float64)
    weights = weights / weights.sum()
    fx, fp, fa = feats(result), feats(content), [feats(s) for s in styles]
    c = float(tf.norm(fx[REFERENCE_CONTENT] - fp[REFERENCE_CONTENT]) / (tf.norm(fp[REFERENCE_CONTENT]) + 1e-12))
    s = 0.0
    for name in REFERENCE_STYLE:
        ga = tf.add_n([float(w) * gram_matrix(f[name]) for w, f in zip(weights, fa)])
        gx = gram_matrix(fx[name])
        s += float(tf.norm(gx - ga) / (tf.norm(ga) + 1e-12))
    return {"metric_content_distance": c, "metric_style_distance": s}


def photo_ratios(metrics: dict, content, styles, extractor, weights=None) -> dict:
    """A result's style and colour distances as fractions of the photo's own (issue 18's bar for the defaults:
    style ratio and colour ratio at most 0.4, SSIM to the photo at least 0.25).

    ``metric_style_ratio`` = the result's relative Gram distance to the style / the content image's;
    ``metric_color_ratio`` = the result's colour distance to the style / the content image's, both against the
    same style image(s) and blend ``weights`` as ``run_metrics``. Both are 1 for the photo itself and 0 for an
    image with the style's Grams and colours; None when the photo already has the style's statistics (a colour
    distance under 1e-3 CIELAB units is sqrtm's numerical noise). The photo's own distances are kept beside
    them (``metric_photo_*``)."""
    own_style = feature_distances(content, content, styles, extractor, weights)["metric_style_distance"]
    own_colour = colour_distance(content, styles, weights)
    return {"metric_style_ratio": metrics["metric_style_distance"] / own_style if own_style > 1e-9 else None,
            "metric_color_ratio": metrics["metric_colour_to_style"] / own_colour if own_colour > 1e-3 else None,
            "metric_photo_style_distance": own_style, "metric_photo_colour_to_style": own_colour}


def per_style_ratios(image, content, styles, extractor) -> dict:
    """For a blend of several style images: the result's style and colour ratios (``photo_ratios``) against each
    style image alone, as ``metric_style_ratio_<i>`` and ``metric_color_ratio_<i>``, i = 1, 2, ... in the order
    the styles were given. The blend's own ratios answer "how well was the blended target met"; these answer
    "which painting is the result closer to"."""
    out = {}
    for i, one in enumerate(styles, 1):
        single = {"metric_style_distance": feature_distances(image, content, [one], extractor)["metric_style_distance"],
                  "metric_colour_to_style": colour_distance(image, [one])}
        ratios = photo_ratios(single, content, [one], extractor)
        out[f"metric_style_ratio_{i}"] = ratios["metric_style_ratio"]
        out[f"metric_color_ratio_{i}"] = ratios["metric_color_ratio"]
    return out


def run_metrics(image, content, style, weights_source, weights=None, reference=None) -> dict:
    """All metrics of a result against its content and its original style image(s) (a list: a blend with
    ``weights``), all at the result's size, as ``metric_*`` keys. ``weights_source`` is the run's;
    ``reference`` an ``(extractor, source)`` pair from ``reference_extractor`` when already built."""
    extractor, source = reference if reference is not None else reference_extractor(weights_source)
    styles = list(style) if isinstance(style, (list, tuple)) else [style]
    weights = [1.0 / len(styles)] * len(styles) if weights is None else [w / sum(weights) for w in weights]
    out = {"metric_ssim_content": ssim_luminance(image, content)}
    out.update(feature_distances(image, content, styles, extractor, weights))
    out["metric_colour_to_style"] = colour_distance(image, styles, weights)
    out["metric_colour_to_content"] = colour_distance(image, content)
    out.update(photo_ratios(out, content, styles, extractor, weights))
    if len(styles) > 1:  # a blend: how close the result is to each painting alone (where between them it lies)
        out.update(per_style_ratios(image, content, styles, extractor))
    if len(styles) == 1:
        against = "style: the original style image"
    else:
        against = (f"style: blend of {len(styles)} original style images (weights "
                   f"{', '.join(f'{w:.4g}' for w in weights)})")
    out["metric_reference"] = f"{REFERENCE_MODEL} conv4_2 / conv1_1-conv5_1, {source.label}; {against}"
    return out


__all__ = ["ssim_luminance", "colour_distance", "feature_distances", "photo_ratios", "per_style_ratios", "run_metrics",
           "reference_extractor", "reference_source",
           "luminance", "REFERENCE_MODEL", "REFERENCE_CONTENT", "REFERENCE_STYLE"]
