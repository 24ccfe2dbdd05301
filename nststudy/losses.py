"""Every formula of the package as a small, pure, differentiable TensorFlow function: the Gatys et al. losses
(seed 000), the Gram rescaling of ``style_scale`` (per layer, by its positions), Mahendran & Vedaldi's feature-inversion terms and the
DeepDream objective and step (seed 003). Each docstring gives its source.

Features are post-ReLU activations shaped (H, W, N) or (1, H, W, N): N filters, M = H·W positions.
Nothing here reads files, builds models or keeps state.
"""

from __future__ import annotations

import tensorflow as tf


def _as_matrix(features):
    """(H, W, N) or (1, H, W, N) -> (M, N) with M = H·W, float32."""
    features = tf.convert_to_tensor(features, dtype=tf.float32)
    if features.shape.rank == 4:
        if features.shape[0] not in (1, None):
            raise ValueError(f"features have batch size {features.shape[0]}; expected 1")
        features = features[0]
    if features.shape.rank != 3:
        raise ValueError(f"features must be (H, W, N) or (1, H, W, N), got shape {features.shape}")
    return tf.reshape(features, (-1, tf.shape(features)[-1]))


def content_loss(features, target):
    """L_content = ½ Σ (F − P)²  (seed 000, eq. 1)."""
    features = tf.convert_to_tensor(features, tf.float32)
    target = tf.convert_to_tensor(target, tf.float32)
    return 0.5 * tf.reduce_sum(tf.square(features - target))


def gram_matrix(features):
    """G = F Fᵀ with F the (N, M) matrix of a layer: G_ij = Σ_k F_ik F_jk (seed 000, eq. 3). → (N, N)."""
    f = _as_matrix(features)
    return tf.matmul(f, f, transpose_a=True)


def style_layer_loss(features, target_gram):
    """E_l = 1/(4 N² M²) Σ (G − A)²  (seed 000, eq. 4), G the Gram of ``features``."""
    f = _as_matrix(features)
    gram = tf.matmul(f, f, transpose_a=True)
    n = tf.cast(tf.shape(f)[1], tf.float32)
    m = tf.cast(tf.shape(f)[0], tf.float32)
    target_gram = tf.convert_to_tensor(target_gram, tf.float32)
    return tf.reduce_sum(tf.square(gram - target_gram)) / (4.0 * n * n * m * m)


def normalized_style_layer_loss(features, target_gram):
    """Ê_l = Σ (G − A)² / Σ A² = E_l / E_l|_{G=0}: the squared relative Gram error of a layer.

    E_l (Gatys et al. 2016 eq. 4; seed 000) divided by its own value for an all-zero feature map
    (G = 0), which is ‖A‖²_F / (4 N² M²); the 1/(4N²M²) factors cancel. Ê_l is 0 at a match and 1 for
    a black feature map, whatever the layer's activation scale: E_l grows with the 4th power of the
    activations, and in Keras's unscaled VGG19 the five style layers' E_l differ by orders of
    magnitude, so the deepest ones dominate L_style. Its square root is the per-layer relative Gram
    distance this package's metrics report (``metrics.feature_distances``). Dividing by the target alone
    (not by E_l at the start image, the other normalisation issue 18 names) keeps the objective a
    property of the style image: the same for every init, across a resume and at every scale of a
    multiscale run, and cacheable with the target. Not from a paper: Gatys et al. rescale the network's
    weights instead (mean activation 1 per filter, 2016 §2); crowsonkb/style-transfer-pytorch divides
    each MSE by its L1 norm for the same reason.
    """
    f = _as_matrix(features)
    gram = tf.matmul(f, f, transpose_a=True)
    target_gram = tf.convert_to_tensor(target_gram, tf.float32)
    return tf.reduce_sum(tf.square(gram - target_gram)) / tf.reduce_sum(tf.square(target_gram))


def style_loss(features, target_grams, layer_weights, normalized=False):
    """L_style = Σ_l ω_l E_l  (seed 000, eq. 5); with ``normalized``, Σ_l ω_l Ê_l
    (``normalized_style_layer_loss``).

    ``features`` and ``target_grams`` are sequences (or dicts keyed by layer name) in the same order
    as ``layer_weights``.
    """
    if isinstance(features, dict):
        names = list(features)
        features = [features[n] for n in names]
        target_grams = [target_grams[n] for n in names]
        if isinstance(layer_weights, dict):
            layer_weights = [layer_weights[n] for n in names]
    if not (len(features) == len(target_grams) == len(layer_weights)):
        raise ValueError(f"style_loss got {len(features)} feature maps, {len(target_grams)} Gram targets "
                         f"and {len(layer_weights)} weights; they must match one to one")
    layer_loss = normalized_style_layer_loss if normalized else style_layer_loss
    total = tf.constant(0.0)
    for f, a, w in zip(features, target_grams, layer_weights):
        total += float(w) * layer_loss(f, a)
    return total


def total_variation_loss(image, exponent=2.0):
    """R_TV = Σ_{i,j,c} [(x_{i,j+1} − x_{i,j})² + (x_{i+1,j} − x_{i,j})²]^{exponent/2}  (seed 003; Mahendran &
    Vedaldi's V^β regulariser with β = ``exponent``, pystiche's ``exponent``).

    ``image`` is (H, W, C) or (1, H, W, C); the sum runs over the (H−1)×(W−1) positions where both
    differences exist. ``exponent`` = 2 is the usual squared form. Below 2 a tiny ε = 1e-8 is added inside
    the power so the gradient stays finite where the image is flat.
    """
    x = tf.convert_to_tensor(image, tf.float32)
    if x.shape.rank == 4:
        x = x[0]
    dx = x[:-1, 1:, :] - x[:-1, :-1, :]
    dy = x[1:, :-1, :] - x[:-1, :-1, :]
    sq = tf.square(dx) + tf.square(dy)
    exponent = float(exponent)
    if exponent == 2.0:
        return tf.reduce_sum(sq)
    return tf.reduce_sum(tf.pow(sq + 1e-8, exponent / 2.0))


def feature_positions(height: int, width: int, poolings: int) -> int:
    """M_l = ⌊H / 2^p⌋ · ⌊W / 2^p⌋: the positions of a VGG layer reached through ``p`` poolings from an
    H×W image (seed 000: "M_l is the size of the feature map (height×width)"). VGG's 3×3 convolutions keep
    the size ('same' padding); each of Keras's 2×2, stride-2 'valid' poolings (max or average) halves a side
    and drops an odd last row or column, and ⌊⌊n/2⌋/2⌋ = ⌊n/4⌋, so p poolings floor n / 2^p once."""
    return (int(height) >> int(poolings)) * (int(width) >> int(poolings))


def gram_rescale(content_hw, style_hw, poolings: int) -> float:
    """M_l(x) / M_l(a): the factor that puts the Gram of a style image a, taken at another size than the
    image x being optimised, on x's scale at a layer reached through ``poolings`` poolings.

    G^l = F^l F^lᵀ sums over the M_l positions of layer l (seed 000, eq. 3), so it grows with M_l; scaled by
    M_l(x) / M_l(a) it describes the same per-position statistics with x's number of positions, which is
    what E_l's 1 / (4 N_l² M_l²) (eq. 4) assumes. M_l comes from ``feature_positions``, not from the pixel
    areas: flooring at each pooling makes them differ (5/21 instead of 1/4 at block5 for a 256×171 content
    and its 512×342 style, 4.8 % apart). ``content_hw`` and ``style_hw`` are (height, width) in pixels.
    """
    m_x = feature_positions(*content_hw[:2], poolings)
    m_a = feature_positions(*style_hw[:2], poolings)
    if not (m_x and m_a):
        raise ValueError(f"after {poolings} poolings a {content_hw[1]}x{content_hw[0]} image has {m_x} and a "
                         f"{style_hw[1]}x{style_hw[0]} style image {m_a} feature positions: no positions left "
                         f"for a Gram; use larger images or a shallower layer")
    return m_x / m_a


def equivalent_style_weight(style_weight: float, trained_hw, image_hw, poolings: int) -> float:
    """β' = β · M_c(image) / M_c(trained): the style weight that gives an image of ``image_hw`` the balance of
    content and style a weight β gave images of ``trained_hw`` (a network's training crops), M_c the positions
    of the content layer (``feature_positions``, reached through ``poolings`` poolings).

    L_content = ½ Σ (F − P)² (seed 000, eq. 1) sums over the M_c positions, so it grows in proportion to
    them for images of the same kind, while E_l = Σ (G − A)² / (4 N² M²) (eq. 4) does not grow with size
    (G sums over M positions; the 1/M² cancels it). Scaling β by the ratio of positions keeps α·L_content
    : β·L_style, hence the optimum's trade-off, as it was: a network trained at β = 10 on 128² crops matches
    the engine at β = 30 on a 256×192 photo (content at conv3_3, 2 poolings: 64·48 / 32² = 3).
    """
    m_image = feature_positions(*image_hw[:2], poolings)
    m_trained = feature_positions(*trained_hw[:2], poolings)
    if not (m_image and m_trained):
        raise ValueError(f"after {poolings} poolings {image_hw[:2]} has {m_image} and {trained_hw[:2]} has "
                         f"{m_trained} content positions: use larger images or a shallower content layer")
    return float(style_weight) * m_image / m_trained


def norm_prior(image, exponent=6.0):
    """‖x‖_p^p = Σ |x|^p with p = ``exponent``: Mahendran & Vedaldi's bounded-range prior (their α-norm,
    α = 6 in their papers)."""
    x = tf.convert_to_tensor(image, tf.float32)
    return tf.reduce_sum(tf.pow(tf.abs(x), float(exponent)))


# Mahendran & Vedaldi (2016, "Visualizing deep convolutional neural networks using natural pre-images",
# §3.3) normalise their regularisers by B, the typical Euclidean norm of a mean-subtracted pixel (B = 80),
# and V = B / 6.5, the typical size of a difference between neighbouring pixels.
MV_B = 80.0
MV_V = MV_B / 6.5


def inversion_terms(features, target, centred, norm_exponent=6.0, tv_exponent=2.0, lambda_norm=1e-5,
                    lambda_tv=0.005) -> dict:
    """Mahendran & Vedaldi's normalised inversion objective, term by term (2016, eqs. 2-5):

        data  = ‖Φ(x) − Φ₀‖² / ‖Φ₀‖²
        prior = λ_α · Σ|x̄|^α / (H W B^α)                  (α = ``norm_exponent``)
        tv    = λ_TV · Σ[(Δx̄)² + (Δȳ)²]^{β/2} / (H W V^β)   (β = ``tv_exponent``)

    ``features`` Φ(x) and ``target`` Φ₀ are one layer's features; ``centred`` x̄ is the (1, H, W, 3) image
    minus the ImageNet mean colour. Returns ``{"data", "prior", "tv"}``.
    """
    features = tf.convert_to_tensor(features, tf.float32)
    target = tf.convert_to_tensor(target, tf.float32)
    centred = tf.convert_to_tensor(centred, tf.float32)
    hw = tf.cast(tf.shape(centred)[-3] * tf.shape(centred)[-2], tf.float32)
    data = tf.reduce_sum(tf.square(features - target)) / tf.reduce_sum(tf.square(target))
    prior = lambda_norm * norm_prior(centred, norm_exponent) / (hw * MV_B ** float(norm_exponent))
    tv = lambda_tv * total_variation_loss(centred, tv_exponent) / (hw * MV_V ** float(tv_exponent))
    return {"data": data, "prior": prior, "tv": tv}


def dream_objective(features):
    """DeepDream's objective: the sum over the chosen layers of each layer's mean activation (Mordvintsev et
    al. 2015; the keras-io ``deep_dream`` example sums the layers' mean squared activations instead).
    ``features`` is a sequence of feature maps."""
    return tf.add_n([tf.reduce_mean(tf.convert_to_tensor(f, tf.float32)) for f in features])


def dream_step(image, gradient, step_size):
    """One DeepDream ascent step on a 0..255 image: x + step_size · 255 · g / mean|g|, clipped to 0..255
    (the gradient normalised by its mean absolute value, as in Mordvintsev et al.'s reference notebook and
    the keras-io example; ε = 1e-8 keeps a zero gradient finite)."""
    g = tf.convert_to_tensor(gradient, tf.float32)
    g = g / (tf.reduce_mean(tf.abs(g)) + 1e-8)
    return tf.clip_by_value(tf.convert_to_tensor(image, tf.float32) + step_size * 255.0 * g, 0.0, 255.0)


def stability_loss(output, noisy_output):
    """L_stab = 1/(N·H·W·C) Σ (f(x) − f(x + ε))²: how much a small input perturbation ε moves the output.

    Gupta et al. 2017 ("Characterizing and Improving Stability in Neural Style Transfer", §4) train the
    transform network f with this penalty, ε small Gaussian noise, so that nearly equal video frames give
    nearly equal outputs (less flicker). Averaged over every value, so its weight does not depend on size.
    """
    a = tf.convert_to_tensor(output, tf.float32)
    b = tf.convert_to_tensor(noisy_output, tf.float32)
    return tf.reduce_mean(tf.square(a - b))


__all__ = ["content_loss", "gram_matrix", "style_layer_loss", "normalized_style_layer_loss", "style_loss", "total_variation_loss",
           "norm_prior", "inversion_terms", "dream_objective", "dream_step", "MV_B", "MV_V",
           "feature_positions", "gram_rescale", "equivalent_style_weight", "stability_loss"]
