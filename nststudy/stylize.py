"""The one entry point: ``stylize(content, style, config, callback=None)``.

Data flows one way: images -> target features -> loss function -> optimiser -> StyleResult.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import tensorflow as tf

from . import losses
from .config import StyleConfig
from .images import fit_size, load_image, preprocess, resize
from .models import WeightsSource, build_extractor, resolve_weights
from .optimize import optimize


@dataclass
class Iterate:
    """What a callback sees after each step. ``image`` is computed only when read."""

    step: int
    total: float
    content: float
    style: float
    tv: float
    seconds: float
    _image_fn: object = field(repr=False, default=None)

    @property
    def image(self) -> np.ndarray:
        """The current image, RGB uint8 (H, W, 3)."""
        return to_uint8(self._image_fn())


@dataclass
class StyleResult:
    image: np.ndarray  # RGB uint8 (H, W, 3), the content image's aspect ratio
    history: list  # one dict per step: step, total, content, style, tv, seconds
    config: StyleConfig
    weights_source: WeightsSource
    content: np.ndarray  # the content image as optimised against (resized)
    style: np.ndarray  # the style image as its Grams were taken (resized to the content size)
    stopped: str = "completed"  # "completed" | "callback" | "diverged"
    info: dict = field(default_factory=dict)

    @property
    def final(self) -> dict:
        return self.history[-1] if self.history else {}


def to_uint8(x) -> np.ndarray:
    x = np.asarray(x, np.float32)
    if x.ndim == 4:
        x = x[0]
    return np.clip(np.rint(x), 0, 255).astype(np.uint8)


def set_seed(seed: int) -> None:
    """The one place runs are seeded: Python, NumPy and TensorFlow (via Keras)."""
    import keras

    keras.utils.set_random_seed(int(seed))


def prepare_images(content, style, config: StyleConfig):
    """Load both images; content to ``image_size`` on its longest side, style to the content's size."""
    content = load_image(content)
    style = load_image(style)
    h, w = fit_size(content.shape, config.image_size)
    return resize(content, h, w), resize(style, h, w)


def initial_image(content, style, config: StyleConfig) -> np.ndarray:
    if config.init == "content":
        x = content
    elif config.init == "style":
        x = style
    else:  # white noise, as Gatys et al.
        x = np.random.default_rng(config.seed).uniform(0, 255, content.shape)
    return np.asarray(x, np.float32)[None]


def make_loss_fn(extractor, config: StyleConfig, content, style):
    """Targets computed once; returns ``loss_fn(x) -> terms`` for an RGB (1, H, W, 3) image in 0..255."""
    content_feats = extractor(preprocess(content[None].astype(np.float32)))
    content_targets = {n: tf.constant(content_feats[n]) for n in config.content_layers}
    style_feats = extractor(preprocess(style[None].astype(np.float32)))
    style_targets = [tf.constant(losses.gram_matrix(style_feats[n])) for n in config.style_layers]
    a, b, t = config.content_weight, config.style_weight, config.tv_weight
    zero = tf.constant(0.0)

    def loss_fn(x):
        feats = extractor(preprocess(x))
        c = tf.add_n([losses.content_loss(feats[n], content_targets[n]) for n in config.content_layers]) \
            if config.content_layers else zero
        s = losses.style_loss([feats[n] for n in config.style_layers], style_targets,
                              config.style_layer_weights) if config.style_layers else zero
        tv = losses.total_variation_loss(x) if t else zero
        return {"total": a * c + b * s + t * tv, "content": c, "style": s, "tv": tv}

    return loss_fn


def stylize(content, style, config: StyleConfig = StyleConfig(), callback=None, progress=True) -> StyleResult:
    """Synthesise an image with the content of ``content`` and the style of ``style`` (Gatys et al.).

    ``content``/``style``: a path, a bundled sample name, a PIL image or an RGB array.
    ``callback(iterate)`` is called after every step; returning True stops the run early.
    ``progress`` shows a tqdm bar with the step and the loss.
    """
    if not isinstance(config, StyleConfig):
        raise TypeError(f"config must be a StyleConfig, got {type(config).__name__}")
    source = resolve_weights(config.model, config.weights, config.seed)
    content, style = prepare_images(content, style, config)
    set_seed(config.seed)
    layers = list(dict.fromkeys(config.content_layers + config.style_layers))
    extractor = build_extractor(config.model, layers, source, config.pooling)
    loss_fn = make_loss_fn(extractor, config, content, style)
    return run_objective(loss_fn, initial_image(content, style, config), config, source, content, style,
                         callback, progress)


def run_objective(loss_fn, x0, config, source, content, style, callback=None, progress=True,
                  desc=None) -> StyleResult:
    """Optimise ``loss_fn`` from ``x0`` with the config's optimiser, keeping the history."""
    history = []
    bar = _progress_bar(config.total_steps, desc or f"{config.optimizer} {source.label}", progress)
    start = time.perf_counter()

    def on_step(i, terms, image_fn):
        seconds = time.perf_counter() - start
        history.append({"step": i + 1, **terms, "seconds": round(seconds, 4)})
        if bar is not None:
            bar.update(1)
            bar.set_postfix(loss=f"{terms['total']:.4g}", refresh=False)
        if callback is not None:
            return bool(callback(Iterate(i + 1, *(terms[k] for k in ("total", "content", "style", "tv")),
                                         seconds, image_fn)))
        return False

    try:
        outcome = optimize(loss_fn, x0, config, on_step)
    finally:
        if bar is not None:
            bar.close()
    info = dict(outcome.info)
    if outcome.stopped == "diverged":
        info["diverged_at_step"] = history[-1]["step"] if history else 0
    return StyleResult(to_uint8(outcome.image), history, config, source, content, style, outcome.stopped, info)


def _progress_bar(total, desc, enabled):
    if not enabled:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit="step", leave=True)


__all__ = ["stylize", "StyleResult", "Iterate", "set_seed", "prepare_images", "make_loss_fn", "run_objective"]
