"""What each VGG layer keeps: content and style reconstructions (Gatys et al. Fig. 1), feature inversion
(Mahendran & Vedaldi) and DeepDream (seeds 001 and 003). Same conventions as ``stylize``: both layer
naming schemes, a progress bar, a callback, and a StyleResult that ``save_run`` records.
"""

from __future__ import annotations

import json
import time

import numpy as np
import tensorflow as tf

from . import losses
from .config import StyleConfig, keras_layer_name
from .images import fit_size, load_image, preprocess, resize
from .models import build_extractor, features, resolve_weights
from .stylize import StyleResult, run_objective, set_seed, stylize, to_uint8

# Mahendran & Vedaldi's normalisation: B is the typical Euclidean norm of a mean-subtracted pixel
# (B = 80), V = B / 6.5 the typical size of a neighbour difference.
MV_B = 80.0
MV_V = MV_B / 6.5


def _noise_config(config: StyleConfig, **changes) -> StyleConfig:
    return config.replace(init="noise", **changes)


def reconstruct_content(image, layer, config: StyleConfig = StyleConfig(), callback=None, progress=True):
    """From seeded noise, match one layer's features of ``image`` only (no style term)."""
    cfg = _noise_config(config, content_layers=[layer], style_layers=[], style_layer_weights=[],
                        content_weight=1.0, style_weight=0.0)
    result = stylize(image, image, cfg, callback, progress)
    result.info.update(reconstruction_errors(result, cfg.content_layers, gram=False))
    return result


def reconstruct_style(image, layers, config: StyleConfig = StyleConfig(), callback=None, progress=True):
    """From seeded noise, match the Gram matrices of a layer set of ``image`` only (equal weights)."""
    layers = [layers] if isinstance(layers, str) else list(layers)
    cfg = _noise_config(config, content_layers=[], style_layers=layers,
                        style_layer_weights=[1.0 / len(layers)] * len(layers), content_weight=0.0,
                        style_weight=1.0)
    result = stylize(image, image, cfg, callback, progress)
    result.info.update(reconstruction_errors(result, cfg.style_layers, gram=True))
    return result


def reconstruction_errors(result: StyleResult, layers, gram: bool) -> dict:
    """Relative feature (or Gram) error ‖Φ(x) − Φ(x₀)‖ / ‖Φ(x₀)‖ averaged over ``layers``, and the pixel
    RMSE / 255 of the result against the original."""
    cfg = result.config
    extractor = build_extractor(cfg.model, layers, result.weights_source, cfg.pooling)
    got = extractor(preprocess(result.image[None].astype(np.float32)))
    want = extractor(preprocess(result.content[None].astype(np.float32)))
    errs = []
    for n in layers:
        a, b = (losses.gram_matrix(got[n]), losses.gram_matrix(want[n])) if gram else (got[n], want[n])
        errs.append(float(tf.norm(a - b) / (tf.norm(b) + 1e-12)))
    pixel = float(np.sqrt(np.mean((result.image.astype(np.float64) - result.content) ** 2)) / 255.0)
    return {"metric_feature_error": float(np.mean(errs)), "metric_pixel_error": pixel}


def default_lambda_tv(layer, model="vgg19") -> float:
    """Mahendran & Vedaldi (2016) raise the TV weight with depth (0.5 for conv1-2, 5 for conv3-4, 50 deeper);
    we keep their schedule scaled by 1/100 for our normalisation. Measured at conv3_1, 96 px, 150 L-BFGS
    iterations, ImageNet VGG19: λ_TV 0.5 washes the image out (feature error 0.62), 0.05 gives 0.27, 0.005 0.08."""
    block = int(keras_layer_name(layer, model)[5])
    return 0.005 if block <= 2 else 0.05 if block <= 4 else 0.5


def invert_features(image, layer, config: StyleConfig = StyleConfig(), alpha=6.0, beta=2.0, lambda_alpha=1e-5,
                    lambda_tv=None, callback=None, progress=True) -> StyleResult:
    """Mahendran–Vedaldi inversion from seeded noise, normalised as in their paper:

        ‖Φ(x) − Φ₀‖² / ‖Φ₀‖²  +  λ_α · Σ|x̄|^α / (H W B^α)  +  λ_TV · Σ[(Δx̄)² + (Δȳ)²]^{β/2} / (H W V^β)

    with x̄ the mean-subtracted image, B = 80 and V = B/6.5. Defaults: α = 6 and β = 2 (theirs);
    λ_TV by depth (``default_lambda_tv``: their 0.5 / 5 / 50 schedule scaled by 1/100); λ_α = 1e-5 (ours: a light range prior).
    History columns: ``content`` is the relative feature error, ``prior`` the α-norm term, ``tv`` the TV term.
    """
    cfg = _noise_config(config, content_layers=[layer], style_layers=[], style_layer_weights=[], style_weight=0.0)
    lambda_tv = default_lambda_tv(layer, cfg.model) if lambda_tv is None else float(lambda_tv)
    source = resolve_weights(cfg.model, cfg.weights, cfg.seed)
    original = load_image(image)
    original = resize(original, *fit_size(original.shape, cfg.image_size))
    set_seed(cfg.seed)
    name = cfg.content_layers[0]
    extractor = build_extractor(cfg.model, [name], source, cfg.pooling)
    target = tf.constant(extractor(preprocess(original[None].astype(np.float32)))[name])
    target_sq = tf.reduce_sum(tf.square(target))
    hw = float(original.shape[0] * original.shape[1])
    mean_rgb = tf.constant([123.68, 116.779, 103.939])

    def loss_fn(x):
        feats = features(extractor, preprocess(x))[name]
        data = tf.reduce_sum(tf.square(feats - target)) / target_sq
        centred = x - mean_rgb
        prior = lambda_alpha * losses.alpha_norm(centred, alpha) / (hw * MV_B ** alpha)
        tv = lambda_tv * losses.total_variation_loss(centred, beta) / (hw * MV_V ** beta)
        zero = tf.constant(0.0)
        return {"total": data + prior + tv, "content": data, "style": zero, "tv": tv, "prior": prior}

    x0 = np.random.default_rng(cfg.seed).uniform(0, 255, original.shape).astype(np.float32)[None]
    result = run_objective(loss_fn, x0, cfg, source, original, original, callback, progress,
                           desc=f"invert {name}")
    result.info.update({"alpha": alpha, "beta": beta, "lambda_alpha": lambda_alpha, "lambda_tv": lambda_tv})
    result.info.update(reconstruction_errors(result, [name], gram=False))
    return result


def deep_dream(image, layers=("block4_conv2",), steps=20, step_size=0.01, octaves=3, octave_scale=1.4,
               jitter=32, config: StyleConfig = StyleConfig(), callback=None, progress=True) -> StyleResult:
    """DeepDream: gradient ascent on the mean activation of ``layers``, from coarse to fine octaves.

    Each step moves the image by ``step_size`` × 255 × g / mean|g| (normalised gradient), after rolling
    it by a random shift of up to ``jitter`` pixels (rolled back after), so no tile seams appear. At each
    finer octave the detail lost by downscaling is put back. ``history`` rows: step, octave, objective
    (also in ``total``); ``config`` supplies model, weights, pooling, image_size and seed.
    """
    layers = [layers] if isinstance(layers, str) else list(layers)
    cfg = config.replace(content_layers=layers, style_layers=[], style_layer_weights=[], style_weight=0.0,
                         epochs=max(1, int(octaves)), steps_per_epoch=max(1, int(steps)))
    source = resolve_weights(cfg.model, cfg.weights, cfg.seed)
    original = load_image(image)
    original = resize(original, *fit_size(original.shape, cfg.image_size)).astype(np.float32)
    set_seed(cfg.seed)
    extractor = build_extractor(cfg.model, cfg.content_layers, source, cfg.pooling)
    names = cfg.content_layers
    rng = np.random.default_rng(cfg.seed)

    @tf.function(reduce_retracing=True)
    def ascend(x, shift):
        x = tf.roll(x, shift, axis=[1, 2])
        with tf.GradientTape() as tape:
            tape.watch(x)
            feats = extractor(preprocess(x))
            objective = tf.add_n([tf.reduce_mean(feats[n]) for n in names])
        g = tape.gradient(objective, x)
        g = g / (tf.reduce_mean(tf.abs(g)) + 1e-8)
        x = tf.clip_by_value(x + step_size * 255.0 * g, 0.0, 255.0)
        return tf.roll(x, -shift, axis=[1, 2]), objective

    h, w = original.shape[:2]
    shapes = [(max(16, round(h / octave_scale ** k)), max(16, round(w / octave_scale ** k)))
              for k in reversed(range(cfg.epochs))]
    history, start = [], time.perf_counter()
    from tqdm.auto import tqdm

    bar = tqdm(total=cfg.epochs * cfg.steps_per_epoch, desc=f"dream {'+'.join(names)}", disable=not progress)
    x = resize(to_uint8(original), *shapes[0]).astype(np.float32)
    stop = False
    for octave, shape in enumerate(shapes):
        if octave:  # upscale the dream and put back the detail that downscaling the original lost
            small = resize(to_uint8(original), *shapes[octave - 1]).astype(np.float32)
            lost = resize_float(original, shape) - resize_float(small, shape)
            x = resize_float(x, shape) + lost
        xt = tf.constant(x[None])
        for i in range(cfg.steps_per_epoch):
            shift = rng.integers(-jitter, jitter + 1, size=2).astype(np.int32)
            xt, objective = ascend(xt, tf.constant(shift))
            row = {"step": len(history) + 1, "total": float(objective), "content": 0.0, "style": 0.0, "tv": 0.0,
                   "objective": float(objective), "octave": octave, "seconds": round(time.perf_counter() - start, 4)}
            history.append(row)
            bar.update(1)
            if callback is not None and callback(_dream_iterate(row, xt)):
                stop = True
                break
        x = xt.numpy()[0]
        if stop:
            break
    bar.close()
    result = StyleResult(to_uint8(x), history, cfg, source, to_uint8(original), to_uint8(original),
                         "callback" if stop else "completed",
                         {"step_size": step_size, "octaves": octaves, "octave_scale": octave_scale, "jitter": jitter})
    return result


def resize_float(x, shape):
    """Bilinear resize of a float (H, W, 3) image to ``shape`` (no rounding, so detail survives)."""
    return tf.image.resize(np.asarray(x, np.float32)[None], shape, method="bilinear").numpy()[0]


def _dream_iterate(row, xt):
    from .stylize import Iterate

    return Iterate(row["step"], row["total"], 0.0, 0.0, 0.0, row["seconds"], lambda: xt.numpy())


TASKS = ("content", "style", "invert", "dream")


def reconstruct(task, image, layers, config: StyleConfig = StyleConfig(), progress=True, callback=None,
                **options) -> StyleResult:
    """One entry for the reconstruct notebook: ``task`` is content | style | invert | dream; ``options``
    go to ``invert_features`` (alpha, beta, lambda_alpha, lambda_tv) or ``deep_dream`` (steps, step_size,
    octaves, octave_scale, jitter)."""
    if isinstance(layers, str):  # papermill -p passes lists as strings: '["conv4_2"]' or 'conv1_1,conv2_1'
        layers = json.loads(layers) if layers.strip().startswith("[") else [v for v in layers.split(",") if v.strip()]
    layers = list(layers)
    if task not in TASKS:
        raise ValueError(f"task={task!r}; accepted: {', '.join(TASKS)}")
    if task in ("content", "invert") and len(layers) != 1:
        raise ValueError(f"task={task!r} reconstructs one layer; got layers={layers!r}")
    if task == "content":
        return reconstruct_content(image, layers[0], config, callback, progress)
    if task == "style":
        return reconstruct_style(image, layers, config, callback, progress)
    if task == "invert":
        keep = ("alpha", "beta", "lambda_alpha", "lambda_tv")
        return invert_features(image, layers[0], config, callback=callback, progress=progress,
                               **{k: v for k, v in options.items() if k in keep})
    keep = ("steps", "step_size", "octaves", "octave_scale", "jitter")
    return deep_dream(image, layers, config=config, callback=callback, progress=progress,
                      **{k: v for k, v in options.items() if k in keep})


__all__ = ["reconstruct", "TASKS", "reconstruct_content", "reconstruct_style", "invert_features", "deep_dream", "reconstruction_errors",
           "default_lambda_tv"]
