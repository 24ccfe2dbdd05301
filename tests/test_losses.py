"""The Gatys et al. losses against numbers worked out by hand (or by independent NumPy loops).

No expected value here comes from running nststudy itself: each one is derived in a comment next to
the assertion, or computed by a plain-Python/NumPy loop written in this file.
"""

import numpy as np
import pytest
import tensorflow as tf

from nststudy import losses
from nststudy.losses import (norm_prior, content_loss, gram_matrix, normalized_style_layer_loss, style_layer_loss,
                             style_loss, total_variation_loss)


def _np(t):
    return np.asarray(t.numpy() if hasattr(t, "numpy") else t)


# A (1, H=1, W=2, N=2) feature map: two positions, two filters. As the (M, N) = (2, 2) matrix:
#     position 1: (1, 2)
#     position 2: (3, 4)
F_2x2 = np.array([[[[1.0, 2.0], [3.0, 4.0]]]], dtype=np.float32)
# Its Gram FᵀF, by hand:
#     G_00 = 1·1 + 3·3 = 10    G_01 = 1·2 + 3·4 = 14
#     G_10 = 2·1 + 4·3 = 14    G_11 = 2·2 + 4·4 = 20
G_2x2 = np.array([[10.0, 14.0], [14.0, 20.0]], dtype=np.float32)


def _gram_loops(features):
    """Independent reference: G_ij = Σ_positions F[p, i]·F[p, j] with explicit loops."""
    f = np.asarray(features, dtype=np.float64)
    if f.ndim == 4:
        f = f[0]
    h, w, n = f.shape
    g = np.zeros((n, n))
    for y in range(h):
        for x in range(w):
            for i in range(n):
                for j in range(n):
                    g[i, j] += f[y, x, i] * f[y, x, j]
    return g


# --------------------------------------------------------------------------------------------- content

def test_content_loss_hand_value():
    # F = [[1, 2], [3, 4]], P = [[0, 2], [5, 1]] as 1x2x2x1 tensors.
    # F − P = [1, 0, −2, 3]; squares 1 + 0 + 4 + 9 = 14; ½·14 = 7.
    f = np.array([1.0, 2.0, 3.0, 4.0], dtype=np.float32).reshape(1, 2, 2, 1)
    p = np.array([0.0, 2.0, 5.0, 1.0], dtype=np.float32).reshape(1, 2, 2, 1)
    assert float(content_loss(f, p)) == pytest.approx(7.0)
    # Symmetric in its arguments, and zero against itself.
    assert float(content_loss(p, f)) == pytest.approx(7.0)
    assert float(content_loss(f, f)) == 0.0


def test_content_loss_matches_numpy_loop():
    rng = np.random.default_rng(1)
    f = rng.normal(size=(3, 4, 5)).astype(np.float32)
    p = rng.normal(size=(3, 4, 5)).astype(np.float32)
    expected = 0.0
    for v in np.ndindex(f.shape):  # ½ Σ (F − P)², one element at a time, in float64
        expected += 0.5 * (float(f[v]) - float(p[v])) ** 2
    assert float(content_loss(f, p)) == pytest.approx(expected, rel=1e-5)


def test_content_loss_gradient_is_f_minus_p():
    # Seed 000 eq. 2: ∂L_content/∂F = F − P (all ReLU activations here are positive).
    f = tf.Variable([[[[1.0], [2.0]], [[3.0], [4.0]]]])
    p = tf.constant([[[[0.0], [2.0]], [[5.0], [1.0]]]])
    with tf.GradientTape() as tape:
        loss = content_loss(f, p)
    grad = tape.gradient(loss, f)
    # By hand: F − P = [[1, 0], [−2, 3]].
    np.testing.assert_allclose(_np(grad).reshape(2, 2), [[1.0, 0.0], [-2.0, 3.0]])


# ------------------------------------------------------------------------------------------------ Gram

def test_gram_matrix_hand_value_rank4_and_rank3():
    g4 = _np(gram_matrix(F_2x2))  # (1, H, W, N)
    g3 = _np(gram_matrix(F_2x2[0]))  # (H, W, N)
    assert g4.shape == (2, 2) and g3.shape == (2, 2)
    np.testing.assert_array_equal(g4, G_2x2)  # small integers: exact in float32
    np.testing.assert_array_equal(g3, G_2x2)


def test_gram_matrix_is_n_by_n_and_matches_loops():
    rng = np.random.default_rng(2)
    f = rng.normal(size=(1, 3, 5, 4)).astype(np.float32)  # M = 15 positions, N = 4 filters
    g = _np(gram_matrix(f))
    assert g.shape == (4, 4)
    np.testing.assert_allclose(g, _gram_loops(f), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(g, g.T, rtol=1e-6)  # a Gram matrix is symmetric


def test_gram_matrix_rejects_batches_and_bad_ranks():
    with pytest.raises(ValueError, match="batch size 2"):
        gram_matrix(np.zeros((2, 3, 3, 4), np.float32))
    with pytest.raises(ValueError, match="H, W, N"):
        gram_matrix(np.zeros((3, 4), np.float32))


# --------------------------------------------------------------------------------------- style (layer)

def test_style_layer_loss_hand_value():
    # F_2x2: N = 2 filters, M = H·W = 1·2 = 2 positions; 4·N²·M² = 4·4·4 = 64.
    # A = [[10, 12], [12, 20]] → G − A = [[0, 2], [2, 0]] → Σ(G − A)² = 8 → E = 8/64 = 0.125.
    a = np.array([[10.0, 12.0], [12.0, 20.0]], dtype=np.float32)
    assert float(style_layer_loss(F_2x2, a)) == pytest.approx(0.125)
    # A = I → G − A = [[9, 14], [14, 19]] → 81 + 196 + 196 + 361 = 834 → E = 834/64 = 13.03125.
    assert float(style_layer_loss(F_2x2, np.eye(2, dtype=np.float32))) == pytest.approx(13.03125)
    # Against its own Gram the loss is 0, for (H, W, N) input too.
    assert float(style_layer_loss(F_2x2[0], G_2x2)) == 0.0


def test_style_layer_loss_single_filter_single_position():
    # F = [[[3]]]: N = 1, M = 1, G = 9; A = 5 → (9 − 5)² / (4·1·1) = 16/4 = 4.
    assert float(style_layer_loss(np.full((1, 1, 1), 3.0, np.float32), [[5.0]])) == pytest.approx(4.0)


def test_style_layer_loss_matches_numpy_loop():
    rng = np.random.default_rng(3)
    f = np.abs(rng.normal(size=(2, 3, 4))).astype(np.float32)  # M = 6, N = 4
    a = _gram_loops(np.abs(rng.normal(size=(2, 3, 4))))
    g = _gram_loops(f)
    n, m = 4, 6
    expected = sum((g[i, j] - a[i, j]) ** 2 for i in range(n) for j in range(n)) / (4 * n * n * m * m)
    assert float(style_layer_loss(f, a.astype(np.float32))) == pytest.approx(expected, rel=1e-5)


def test_style_layer_loss_normalisation_is_invariant_to_spatial_tiling():
    # Tile an image's features 2x2 spatially: every position appears 4 times, so M' = 4M and the
    # Gram (a sum over positions) becomes G' = 4G (the Gram *per position*, G/M, is unchanged).
    # With a target that is also tiled (A' = 4A):
    #     Σ(G' − A')² = 16·Σ(G − A)²    and    4·N²·M'² = 16·(4·N²·M²)
    # so the factor between the two losses is 16/16 = 1: the 1/M² normalisation cancels exactly the
    # growth of the Gram with image size.
    rng = np.random.default_rng(4)
    f = np.abs(rng.normal(size=(1, 3, 2, 3))).astype(np.float32)  # H=3, W=2, N=3, M=6
    a = _gram_loops(np.abs(rng.normal(size=(3, 2, 3)))).astype(np.float32)
    tiled = np.tile(f, (1, 2, 2, 1))  # (1, 6, 4, 3): M' = 24 = 4·6
    assert tiled.shape == (1, 6, 4, 3)

    np.testing.assert_allclose(_np(gram_matrix(tiled)), 4.0 * _gram_loops(f), rtol=1e-5)
    e = float(style_layer_loss(f, a))
    e_tiled = float(style_layer_loss(tiled, 4.0 * a))
    assert e > 0
    assert e_tiled / e == pytest.approx(1.0, rel=1e-5)

    # Without the 1/M² the raw squared Gram difference would grow by 4² = 16.
    raw = np.sum((_gram_loops(f) - a) ** 2)
    raw_tiled = np.sum((_gram_loops(tiled) - 4.0 * a) ** 2)
    assert raw_tiled / raw == pytest.approx(16.0, rel=1e-9)


def test_style_layer_loss_gradient_matches_analytic_formula():
    # E = 1/(4N²M²) Σ(G − A)² with G = FᵀF, F the (M, N) matrix. dE/dG = 2(G − A)/(4N²M²) and,
    # as G − A is symmetric, dE/dF = F·(dE/dG + dE/dGᵀ) = 4·F(G − A)/(4N²M²) = F(G − A)/(N²M²).
    rng = np.random.default_rng(5)
    h, w, n = 2, 3, 4
    m = h * w
    f0 = np.abs(rng.normal(size=(h, w, n)))
    a = _gram_loops(np.abs(rng.normal(size=(h, w, n))))
    fm = f0.reshape(m, n)  # (M, N), row-major over (y, x) like the loss
    analytic = (fm @ (fm.T @ fm - a) / (n * n * m * m)).reshape(h, w, n)

    var = tf.Variable(f0.astype(np.float32))
    with tf.GradientTape() as tape:
        loss = style_layer_loss(var, a.astype(np.float32))
    grad = _np(tape.gradient(loss, var))
    assert grad.shape == (h, w, n)
    np.testing.assert_allclose(grad, analytic, rtol=1e-4, atol=1e-6)


def test_style_layer_loss_gradient_matches_finite_differences():
    # Central differences on the float64 NumPy formula (independent of TF), checked at every entry.
    rng = np.random.default_rng(6)
    h, w, n = 1, 2, 2
    m = h * w
    f0 = np.abs(rng.normal(size=(h, w, n)))
    a = _gram_loops(np.abs(rng.normal(size=(h, w, n))))

    def e(f):
        g = _gram_loops(f)
        return np.sum((g - a) ** 2) / (4 * n * n * m * m)

    eps = 1e-5
    numeric = np.zeros_like(f0)
    for idx in np.ndindex(f0.shape):
        up, down = f0.copy(), f0.copy()
        up[idx] += eps
        down[idx] -= eps
        numeric[idx] = (e(up) - e(down)) / (2 * eps)

    var = tf.Variable(f0.astype(np.float32))
    with tf.GradientTape() as tape:
        loss = style_layer_loss(var, a.astype(np.float32))
    np.testing.assert_allclose(_np(tape.gradient(loss, var)), numeric, rtol=1e-3, atol=1e-5)


# ----------------------------------------------------------------------------- style (layer, normalised)

def test_normalized_style_layer_loss_hand_value():
    # F_2x2 (G = [[10, 14], [14, 20]]) against A = [[10, 12], [12, 20]]: Σ(G − A)² = 2² + 2² = 8 and
    # ΣA² = 100 + 144 + 144 + 400 = 788, so Ê = 8/788 = 0.0101523...
    a = np.array([[10.0, 12.0], [12.0, 20.0]], dtype=np.float32)
    assert float(normalized_style_layer_loss(F_2x2, a)) == pytest.approx(8 / 788)
    # The same number as E_l / E_l(G = 0): E_l = 8/64 = 0.125 (test above), E_l(G = 0) = 788/64 = 12.3125.
    assert 0.125 / 12.3125 == pytest.approx(8 / 788)
    # A black feature map (G = 0) scores exactly 1, a match 0.
    assert float(normalized_style_layer_loss(np.zeros((1, 2, 2), np.float32), a)) == pytest.approx(1.0)
    assert float(normalized_style_layer_loss(F_2x2, G_2x2)) == 0.0


def test_normalized_style_layer_loss_ignores_the_activation_scale():
    # Features k times larger (a layer of larger activations) with the target taken from features k times
    # larger too: G and A grow by k², Σ(G − A)² and ΣA² both by k⁴, so Ê is unchanged, while E_l grows by
    # k⁴ = 1e4 for k = 10 (the scale gap between Keras's VGG19 layers that normalising removes).
    a = np.array([[10.0, 12.0], [12.0, 20.0]], dtype=np.float32)
    k = 10.0
    assert float(normalized_style_layer_loss(k * F_2x2, k * k * a)) == pytest.approx(8 / 788, rel=1e-6)
    assert float(style_layer_loss(k * F_2x2, k * k * a)) == pytest.approx(0.125 * k ** 4, rel=1e-6)


def test_style_loss_normalized_sums_weighted_layers():
    # Layer 1: F_2x2 vs A = [[10, 12], [12, 20]] → 8/788 (above). Layer 2: F = [[[3]]], G = 9, A = 5 →
    # (9 − 5)² / 5² = 16/25 = 0.64. With ω = (0.5, 2): 0.5·8/788 + 2·0.64 = 1.2850761...
    a1 = np.array([[10.0, 12.0], [12.0, 20.0]], dtype=np.float32)
    f2, a2 = np.full((1, 1, 1), 3.0, np.float32), np.array([[5.0]], np.float32)
    total = style_loss([F_2x2, f2], [a1, a2], [0.5, 2.0], normalized=True)
    assert float(total) == pytest.approx(0.5 * 8 / 788 + 2 * 0.64)
    # Without normalisation, the same inputs give Gatys's sum: 0.5·0.125 + 2·4 = 8.0625.
    assert float(style_loss([F_2x2, f2], [a1, a2], [0.5, 2.0])) == pytest.approx(8.0625)


# ---------------------------------------------------------------------------------------- style (sum)

F_ONE = np.full((1, 1, 1, 1), 3.0, np.float32)  # E = 4 against A = [[5]] (see single-filter test)
A_ONE = np.array([[5.0]], np.float32)
A_2x2 = np.array([[10.0, 12.0], [12.0, 20.0]], np.float32)  # E = 0.125 for F_2x2 (see hand-value test)


def test_style_loss_weighted_sum_of_two_layers():
    # L_style = ω₁E₁ + ω₂E₂ = 0.3·0.125 + 2·4 = 0.0375 + 8 = 8.0375.
    total = style_loss([F_2x2, F_ONE], [A_2x2, A_ONE], [0.3, 2.0])
    assert float(total) == pytest.approx(8.0375)
    # Zero weight drops a layer: 0·0.125 + 1·4 = 4.
    assert float(style_loss([F_2x2, F_ONE], [A_2x2, A_ONE], (0.0, 1.0))) == pytest.approx(4.0)


def test_style_loss_accepts_dicts():
    feats = {"block1_conv1": F_2x2, "block2_conv1": F_ONE}
    # Targets given in a different insertion order: matched by name, not position.
    grams = {"block2_conv1": A_ONE, "block1_conv1": A_2x2}
    weights = {"block2_conv1": 2.0, "block1_conv1": 0.3}
    assert float(style_loss(feats, grams, weights)) == pytest.approx(8.0375)  # same sum as above
    # Dict features with list weights: the weights follow the order of the features dict.
    assert float(style_loss(feats, grams, [0.3, 2.0])) == pytest.approx(8.0375)


def test_style_loss_mismatched_lengths_raise():
    with pytest.raises(ValueError, match="one to one"):
        style_loss([F_2x2, F_ONE], [A_2x2, A_ONE], [1.0])


def test_style_loss_is_differentiable():
    var = tf.Variable(F_2x2)
    with tf.GradientTape() as tape:
        loss = style_loss([var], [A_2x2], [0.5])
    grad = _np(tape.gradient(loss, var)).reshape(2, 2)
    # 0.5 · F(G − A)/(N²M²) with F = [[1, 2], [3, 4]], G − A = [[0, 2], [2, 0]], N²M² = 16:
    # F(G − A) = [[1·0 + 2·2, 1·2 + 2·0], [3·0 + 4·2, 3·2 + 4·0]] = [[4, 2], [8, 6]]
    # → 0.5/16 · that = [[0.125, 0.0625], [0.25, 0.1875]].
    np.testing.assert_allclose(grad, [[0.125, 0.0625], [0.25, 0.1875]], rtol=1e-6)


# ------------------------------------------------------------------------------------ total variation

CHECKER = np.indices((4, 4)).sum(axis=0) % 2  # 0/1 checkerboard, 4x4


def test_total_variation_checkerboard_exponent2():
    # Every horizontal and vertical neighbour differs by exactly 1, so at each of the
    # (H−1)(W−1) = 3·3 = 9 positions (dx)² + (dy)² = 1 + 1 = 2. β = 2: Σ 2 = 9·2 = 18.
    img = CHECKER[..., None].astype(np.float32)  # (4, 4, 1)
    assert float(total_variation_loss(img, exponent=2.0)) == pytest.approx(18.0)
    assert float(total_variation_loss(img[None])) == pytest.approx(18.0)  # (1, H, W, C), default β = 2


def test_total_variation_checkerboard_exponent1():
    # β = 1: Σ (2 + ε)^(1/2) over 9 positions = 9·√2 ≈ 12.7279 (ε = 1e-8 is far below the tolerance).
    img = CHECKER[..., None].astype(np.float32)
    assert float(total_variation_loss(img, exponent=1.0)) == pytest.approx(9 * np.sqrt(2.0), rel=1e-6)


def test_total_variation_constant_image_is_zero():
    img = np.full((5, 6, 3), 123.0, np.float32)
    assert float(total_variation_loss(img, exponent=2.0)) == 0.0
    # β < 2 adds ε = 1e-8 inside the power: 4·5 positions · 3 channels · (1e-8)^(1/2) = 60·1e-4 = 6e-3.
    assert float(total_variation_loss(img, exponent=1.0)) == pytest.approx(60 * 1e-4, rel=1e-3)


def test_total_variation_ramp_and_channels():
    # Horizontal ramp x[i, j] = j on a 3x3 image: dx = 1, dy = 0 at the 2·2 = 4 positions → β=2: 4.
    # A second channel of 2·j doubles the steps: (2)² = 4 per position → 16. Total 20.
    j = np.tile(np.arange(3, dtype=np.float32), (3, 1))
    img = np.stack([j, 2 * j], axis=-1)
    assert float(total_variation_loss(img)) == pytest.approx(20.0)


@pytest.mark.parametrize("exponent", [2.0, 1.5, 1.0])
def test_total_variation_matches_numpy_loop(exponent):
    rng = np.random.default_rng(7)
    x = rng.uniform(0, 255, size=(5, 4, 3))
    expected = 0.0
    for i in range(5 - 1):
        for jj in range(4 - 1):
            for c in range(3):
                sq = (x[i, jj + 1, c] - x[i, jj, c]) ** 2 + (x[i + 1, jj, c] - x[i, jj, c]) ** 2
                expected += sq if exponent == 2.0 else (sq + 1e-8) ** (exponent / 2)
    assert float(total_variation_loss(x.astype(np.float32), exponent=exponent)) == pytest.approx(expected, rel=1e-4)


def test_total_variation_gradient_finite_for_flat_image_with_exponent_below_2():
    var = tf.Variable(np.zeros((4, 4, 1), np.float32))
    with tf.GradientTape() as tape:
        loss = total_variation_loss(var, exponent=1.0)
    grad = _np(tape.gradient(loss, var))
    assert np.all(np.isfinite(grad))


# ---------------------------------------------------------------------------------------- norm prior

def test_norm_prior_hand_values():
    x = np.array([[-1.0, 2.0], [0.5, -3.0]], np.float32)
    # α = 6: 1 + 64 + 0.5⁶ + 729 = 1 + 64 + 0.015625 + 729 = 794.015625
    assert float(norm_prior(x)) == pytest.approx(794.015625)
    # α = 2: 1 + 4 + 0.25 + 9 = 14.25
    assert float(norm_prior(x, exponent=2)) == pytest.approx(14.25)
    # α = 1: 1 + 2 + 0.5 + 3 = 6.5
    assert float(norm_prior(x, exponent=1)) == pytest.approx(6.5)


def test_norm_prior_gradient():
    # d/dx |x|^α = α·|x|^(α−1)·sign(x); α = 2 → 2x: [−2, 4, 1, −6].
    var = tf.Variable([-1.0, 2.0, 0.5, -3.0])
    with tf.GradientTape() as tape:
        loss = norm_prior(var, exponent=2.0)
    np.testing.assert_allclose(_np(tape.gradient(loss, var)), [-2.0, 4.0, 1.0, -6.0], rtol=1e-6)


# ------------------------------------------------------------------------------- Grams across sizes

def test_feature_positions_floor_at_every_pooling():
    """Keras's 2x2, stride-2 'valid' pooling floors an odd side: 171 -> 85 -> 42 -> 21 -> 10."""
    assert losses.feature_positions(256, 171, 0) == 256 * 171
    assert losses.feature_positions(256, 171, 1) == 128 * 85
    assert losses.feature_positions(256, 171, 4) == 16 * 10  # not 256·171 / 16² = 171
    assert losses.feature_positions(16, 11, 2) == 4 * 2  # 16 -> 8 -> 4, 11 -> 5 -> 2


def test_gram_rescale_by_hand():
    """M_l(x) / M_l(a) from each layer's positions, not the pixel areas (which give 1/4 at every layer for a
    style image twice the content's size)."""
    # 16x11 content, 32x22 style, 2 poolings: 16 -> 8 -> 4, 11 -> 5 -> 2: 8 positions;
    # 32 -> 16 -> 8, 22 -> 11 -> 5: 40 positions. 8 / 40 = 0.2 (pixel areas: 176 / 704 = 0.25).
    assert losses.gram_rescale((16, 11), (32, 22), 2) == pytest.approx(0.2, rel=1e-12)
    # The case: a 256x171 content at style_scale 2 (style 512x342), block5 (4 poolings):
    # 256 -> 16, 171 -> 85 -> 42 -> 21 -> 10: 160 positions; 512 -> 32, 342 -> 171 -> 85 -> 42 -> 21: 672.
    # 160 / 672 = 5 / 21 = 0.238095..., 4.8 % below the pixel ratio 0.25.
    assert losses.gram_rescale((256, 171), (512, 342), 4) == pytest.approx(5 / 21, rel=1e-12)
    assert losses.gram_rescale((256, 171), (512, 342), 0) == pytest.approx(0.25, rel=1e-12)
    assert losses.gram_rescale((40, 40), (40, 40), 3) == 1.0  # same size: Grams taken as they are


def test_gram_rescale_refuses_a_layer_with_no_positions():
    # 16x11 through 4 poolings: 16 -> 1, 11 -> 5 -> 2 -> 1 -> 0: no positions left at block5.
    with pytest.raises(ValueError, match="no positions"):
        losses.gram_rescale((16, 11), (32, 22), 4)



# ----------------------------------------------------------------------- Mahendran-Vedaldi inversion terms

def test_inversion_terms_by_hand():
    # Φ = [1, 2], Φ₀ = [1, 0]: data = ((1−1)² + (2−0)²) / (1² + 0²) = 4.
    # x̄ a 2x2x1 image [[1, -2], [0.5, 3]], H W = 4; B = 80, V = 80/6.5.
    # prior with α = 2, λ = 3: 3 · (1 + 4 + 0.25 + 9) / (4 · 80²) = 42.75 / 25600.
    # tv with β = 2, λ = 5: one position (0,0): (−2 − 1)² + (0.5 − 1)² = 9.25 -> 5 · 9.25 / (4 · (80/6.5)²).
    x = np.array([[[[1.0], [-2.0]], [[0.5], [3.0]]]], np.float32)
    t = losses.inversion_terms([[1.0, 2.0]], [[1.0, 0.0]], x, norm_exponent=2.0, tv_exponent=2.0, lambda_norm=3.0,
                               lambda_tv=5.0)
    assert float(t["data"]) == pytest.approx(4.0)
    assert float(t["prior"]) == pytest.approx(42.75 / 25600.0, rel=1e-6)
    assert float(t["tv"]) == pytest.approx(5 * 9.25 / (4 * (80 / 6.5) ** 2), rel=1e-6)


def test_inversion_constants_are_mahendran_vedaldi():
    # Their paper (2016, §3.3): B = 80, V = B / 6.5.
    assert losses.MV_B == 80.0 and losses.MV_V == pytest.approx(12.3077, rel=1e-4)


# ------------------------------------------------------------------------------------------------ DeepDream

def test_dream_objective_is_the_sum_of_mean_activations():
    # layer a: mean of [1, 2, 3, 6] = 3; layer b: mean of [0, 10] = 5 -> 8.
    a = np.array([1.0, 2.0, 3.0, 6.0], np.float32).reshape(1, 2, 2, 1)
    b = np.array([0.0, 10.0], np.float32).reshape(1, 1, 1, 2)
    assert float(losses.dream_objective([a, b])) == pytest.approx(8.0)


def test_dream_step_by_hand():
    # g = [1, -3]: mean|g| = 2, g / 2 = [0.5, -1.5]; step 0.01 · 255 = 2.55 -> [+1.275, -3.825].
    # From [100, 2]: [101.275, -1.825] -> clipped to [101.275, 0].
    out = losses.dream_step([100.0, 2.0], [1.0, -3.0], 0.01)
    np.testing.assert_allclose(_np(out), [101.275, 0.0], rtol=1e-6)


def test_public_names():
    assert set(losses.__all__) == {"content_loss", "gram_matrix", "style_layer_loss", "normalized_style_layer_loss", "style_loss",
                                   "total_variation_loss", "norm_prior", "inversion_terms", "dream_objective",
                                   "dream_step", "MV_B", "MV_V", "feature_positions", "gram_rescale", "equivalent_style_weight",
                                   "stability_loss"}
