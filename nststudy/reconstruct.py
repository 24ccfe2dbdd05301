"""What each VGG layer keeps: content and style reconstructions (Gatys et al. Fig. 1), feature inversion
(Mahendran & Vedaldi) and DeepDream (seeds 001 and 003), on the loop ``stylize`` uses (``loop``): both layer
naming schemes, a progress bar, a callback, a memory check and a StyleResult that ``save_run`` records.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from . import losses
from .colour import VGG_MEAN_RGB, preprocess
from .config import StyleConfig, keras_layer_name, parse_list
from .images import MIN_SIZE, fit_size, load_image, resize
from .loop import Progress, StyleResult, run_objective, set_seed, to_uint8
from .memory import check_fits
from .models import build_extractor, features, resolve_weights
from .objective import TERMS
from .stylize import stylize

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


def invert_features(image, layer, config: StyleConfig = StyleConfig(), norm_exponent=6.0, tv_exponent=2.0,
                    lambda_norm=1e-5, lambda_tv=None, callback=None, progress=True) -> StyleResult:
    """Mahendran–Vedaldi inversion from seeded noise, normalised as in their paper (``losses.inversion_terms``):

        ‖Φ(x) − Φ₀‖² / ‖Φ₀‖²  +  λ_α · Σ|x̄|^α / (H W B^α)  +  λ_TV · Σ[(Δx̄)² + (Δȳ)²]^{β/2} / (H W V^β)

    with x̄ the mean-subtracted image, B = 80, V = B/6.5, α = ``norm_exponent`` and β = ``tv_exponent``.
    Defaults: α = 6 and β = 2 (theirs); λ_TV by depth (``default_lambda_tv``: their 0.5 / 5 / 50 schedule
    scaled by 1/100); λ_α = ``lambda_norm`` = 1e-5 (ours: a light range prior). History columns: ``content``
    is the relative feature error, ``prior`` the norm prior, ``tv`` the TV term.
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

    def loss_fn(x):
        t = losses.inversion_terms(features(extractor, preprocess(x))[name], target, x - VGG_MEAN_RGB, norm_exponent,
                                   tv_exponent, lambda_norm, lambda_tv)
        return {"total": t["data"] + t["prior"] + t["tv"], "content": t["data"], "style": tf.constant(0.0),
                "tv": t["tv"], "prior": t["prior"]}

    loss_fn.terms = (*TERMS, "prior")
    x0 = np.random.default_rng(cfg.seed).uniform(0, 255, original.shape).astype(np.float32)[None]
    result = run_objective(loss_fn, x0, cfg, source, original, original, callback, progress,
                           desc=f"invert {name}")
    result.info.update({"norm_exponent": norm_exponent, "tv_exponent": tv_exponent, "lambda_norm": lambda_norm,
                        "lambda_tv": lambda_tv})
    result.info.update(reconstruction_errors(result, [name], gram=False))
    return result


DREAM_TERMS = (*TERMS, "objective")  # content, style and tv stay 0: the columns every record shares


def deep_dream(image, layers=("block4_conv2",), steps=20, step_size=0.01, octaves=3, octave_scale=1.4,
               jitter=32, config: StyleConfig = StyleConfig(), callback=None, progress=True) -> StyleResult:
    """DeepDream: gradient ascent on the mean activation of ``layers`` (``losses.dream_objective``), ``steps``
    steps at each of ``octaves`` scales, coarse to fine.

    Each step moves the image along the normalised gradient (``losses.dream_step``), after rolling it by a
    random shift of up to ``jitter`` pixels (rolled back after), so no tile seams appear. At each finer
    octave the detail lost by downscaling is put back. ``history`` rows: step, objective (also in
    ``total``), octave. ``config`` supplies model, weights, pooling, image_size and seed only; the dream's
    own settings (``dream_layers``, ``steps``, ``octaves``, ...) are recorded in ``result.info``.
    """
    layers = parse_list("layers", layers)
    names = [keras_layer_name(n, config.model) for n in layers]
    octaves, steps = max(1, int(octaves)), max(1, int(steps))
    source = resolve_weights(config.model, config.weights, config.seed)
    original = load_image(image)
    original = resize(original, *fit_size(original.shape, config.image_size)).astype(np.float32)
    check_fits(config, *original.shape[:2], layers=names, optimizer="adam")
    set_seed(config.seed)
    extractor = build_extractor(config.model, names, source, config.pooling)
    rng = np.random.default_rng(config.seed)

    @tf.function(reduce_retracing=True)
    def ascend(x, shift):
        x = tf.roll(x, shift, axis=[1, 2])
        with tf.GradientTape() as tape:
            tape.watch(x)
            feats = extractor(preprocess(x))
            objective = losses.dream_objective([feats[n] for n in names])
        x = losses.dream_step(x, tape.gradient(objective, x), step_size)
        return tf.roll(x, -shift, axis=[1, 2]), objective

    h, w = original.shape[:2]
    shapes = [(max(MIN_SIZE, round(h / octave_scale ** k)), max(MIN_SIZE, round(w / octave_scale ** k)))
              for k in reversed(range(octaves))]
    bar = Progress(octaves * steps, f"dream {'+'.join(names)}", progress, callback)
    x = resize(to_uint8(original), *shapes[0]).astype(np.float32)
    stop = False
    try:
        for octave, shape in enumerate(shapes):
            if octave:  # upscale the dream and put back the detail that downscaling the original lost
                small = resize(to_uint8(original), *shapes[octave - 1]).astype(np.float32)
                lost = resize_float(original, shape) - resize_float(small, shape)
                x = resize_float(x, shape) + lost
            xt = tf.constant(x[None])
            for _ in range(steps):
                shift = rng.integers(-jitter, jitter + 1, size=2).astype(np.int32)
                xt, objective = ascend(xt, tf.constant(shift))
                value = float(objective)
                terms = {"total": value, "content": 0.0, "style": 0.0, "tv": 0.0, "objective": value}
                if bar.step(len(bar.history) + 1, terms, lambda xt=xt: xt.numpy(), octave=octave):
                    stop = True
                    break
            x = xt.numpy()[0]
            if stop:
                break
    finally:
        bar.close()
    info = {"dream_layers": list(names), "steps": steps, "step_size": step_size, "octaves": octaves,
            "octave_scale": octave_scale, "jitter": jitter}
    return StyleResult(to_uint8(x), bar.history, config, source, to_uint8(original), to_uint8(original),
                       "callback" if stop else "completed", info, DREAM_TERMS, ascends=True)


def resize_float(x, shape):
    """Bilinear resize of a float (H, W, 3) image to ``shape`` (no rounding, so detail survives)."""
    return tf.image.resize(np.asarray(x, np.float32)[None], shape, method="bilinear").numpy()[0]


TASKS = ("content", "style", "invert", "dream")
OPTIONS = {"invert": ("norm_exponent", "tv_exponent", "lambda_norm", "lambda_tv"),
           "dream": ("steps", "step_size", "octaves", "octave_scale", "jitter")}
# Names the reconstruct notebook and sweeps used before they were named for what they are; still read,
# with a warning (``renamed``).
RENAMED = {"alpha": "norm_exponent", "beta": "tv_exponent", "lambda_alpha": "lambda_norm"}


def renamed(options: dict, where: str = "options") -> dict:
    """``options`` with old parameter names (``RENAMED``) replaced by the new ones, warning once for each."""
    import warnings

    out = {}
    for key, value in options.items():
        if key in RENAMED:
            if RENAMED[key] in options:
                raise ValueError(f"{where}: both {key!r} and its new name {RENAMED[key]!r} are given; keep "
                                 f"{RENAMED[key]!r}")
            warnings.warn(f"{where}: {key!r} is now called {RENAMED[key]!r} (read as such)", FutureWarning,
                          stacklevel=3)
        out[RENAMED.get(key, key)] = value
    return out


def reconstruct(task, image, layers, config: StyleConfig = StyleConfig(), progress=True, callback=None,
                **options) -> StyleResult:
    """One entry for the reconstruct notebook: ``task`` is content | style | invert | dream; ``options``
    go to ``invert_features`` (norm_exponent, tv_exponent, lambda_norm, lambda_tv) or ``deep_dream`` (steps,
    step_size, octaves, octave_scale, jitter). An option no task knows is refused; an option of another
    task than ``task`` is accepted only at its default (the notebook passes them all), so a value that
    would be ignored is refused."""
    layers = parse_list("layers", layers)  # papermill -p passes lists as strings: '["conv4_2"]' or 'conv1_1,conv2_1'
    if task not in TASKS:
        raise ValueError(f"task={task!r}; accepted: {', '.join(TASKS)}")
    options = renamed(options)
    known = {k for names in OPTIONS.values() for k in names}
    for key, value in options.items():
        if key not in known:
            raise ValueError(f"reconstruct got an unknown option {key!r}; accepted: {', '.join(sorted(known))}")
        if key not in OPTIONS.get(task, ()) and value != _option_defaults()[key]:
            owner = next(t for t, names in OPTIONS.items() if key in names)
            raise ValueError(f"{key}={value!r} is an option of task={owner!r} and does nothing for task={task!r}; "
                             f"leave it at {_option_defaults()[key]!r}")
    if task in ("content", "invert") and len(layers) != 1:
        raise ValueError(f"task={task!r} reconstructs one layer; got layers={layers!r}")
    mine = {k: v for k, v in options.items() if k in OPTIONS.get(task, ())}
    if task == "content":
        return reconstruct_content(image, layers[0], config, callback, progress)
    if task == "style":
        return reconstruct_style(image, layers, config, callback, progress)
    if task == "invert":
        return invert_features(image, layers[0], config, callback=callback, progress=progress, **mine)
    return deep_dream(image, layers, config=config, callback=callback, progress=progress, **mine)


def _option_defaults() -> dict:
    """The default of every task option, read from the signatures of ``invert_features`` and ``deep_dream``."""
    import inspect

    out = {}
    for task, fn in (("invert", invert_features), ("dream", deep_dream)):
        params = inspect.signature(fn).parameters
        out.update({k: params[k].default for k in OPTIONS[task]})
    return out


__all__ = ["reconstruct", "TASKS", "OPTIONS", "RENAMED", "reconstruct_content", "reconstruct_style", "invert_features",
           "deep_dream", "reconstruction_errors", "default_lambda_tv"]
