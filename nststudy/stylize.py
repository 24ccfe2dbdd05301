"""The style-transfer recipe: ``stylize(content, style, config, callback=None)`` (Gatys et al.).

Data flows one way: images -> target features -> loss function -> the shared loop (``loop``) -> StyleResult.
"""

from __future__ import annotations

import dataclasses
import warnings

import numpy as np
import tensorflow as tf

from .config import StyleConfig
from .colour import VGG_MEAN_RGB, luminance_image, match_colours, with_chroma_of
from .images import MIN_SIZE, fit_size, load_image, resize, resize_longest
from .loop import StyleResult, run_objective, set_seed, to_uint8
from .memory import check_fits
from .models import build_extractor, resolve_weights
from .objective import make_loss_fn


def prepare_images(content, style, config: StyleConfig):
    """Load both images; content to ``image_size`` on its longest side, style to the content's size times
    ``config.style_scale``. ``style`` may be a list of images (a blend); then a list comes back.

    A content image whose shortest side would fall under ``images.MIN_SIZE`` px is refused (ImageError).
    A source image whose longest side is more than ``DOWNSCALE_NOTICE`` times its target size is
    downscaled with a ``DownscaleWarning`` that names both sizes (a 10,000 px photo run at 256 px is
    more often a mistake than a wish).
    """
    source = load_image(content)
    content = _downscaled(source, fit_size(source.shape, config.image_size), "content")
    h, w = content.shape[:2]
    k = config.style_scale
    size = (max(MIN_SIZE, round(h * k)), max(MIN_SIZE, round(w * k)))
    if isinstance(style, (list, tuple)):
        return content, [_downscaled(load_image(s), size, "style") for s in style]
    return content, _downscaled(load_image(style), size, "style")


DOWNSCALE_NOTICE = 4


class DownscaleWarning(UserWarning):
    """An input image was much larger than the size it is run at."""


def _downscaled(image: np.ndarray, size, role: str) -> np.ndarray:
    h, w = image.shape[:2]
    if max(h, w) > DOWNSCALE_NOTICE * max(size) and min(size) >= MIN_SIZE:  # (too thin: refused below)
        warnings.warn(f"{role} image of {w}x{h} px downscaled to {size[1]}x{size[0]} px (image_size "
                      f"sets the longest side; raise it for more detail)", DownscaleWarning, stacklevel=4)
    if role == "content":
        return resize_longest(image, max(size))
    return resize(image, *size)


def style_sources(style, config: StyleConfig):
    """The style image(s) as a list, and the blend weight of each (normalised to sum to 1)."""
    styles = list(style) if isinstance(style, (list, tuple)) else [style]
    weights = config.style_blend_weights or (1.0,) * len(styles)
    if len(weights) != len(styles):
        raise ValueError(f"style_blend_weights has {len(weights)} values for {len(styles)} style images; "
                         f"give one weight per style image")
    total = float(sum(weights))
    return styles, [w / total for w in weights]


FAINT_NOISE_STD = 1.0  # grey levels; neural-style's -init random is randn * 0.001 around the mean


def initial_image(content, style, config: StyleConfig) -> np.ndarray:
    """The start image (1, H, W, 3) float32 in 0..255, by ``config.init``:

    - ``"noise"``: white noise, uniform over 0..255 and seeded (Gatys et al. 2016 start "from a white noise image").
    - ``"faint_noise"``: the ImageNet mean colour plus seeded Gaussian noise of std ``FAINT_NOISE_STD`` grey level,
      as jcjohnson/neural-style's ``-init random`` (``torch.randn(...):mul(0.001)`` in its mean-subtracted units).
      Measured (Tübingen x The Starry Night, 128 px, 200 L-BFGS iterations, "target" beta 4e12, ImageNet VGG19):
      from "noise" the result keeps visible pixel grain (colour ratio 1.66), from "faint_noise" it does not (0.25).
    - ``"content"`` / ``"style"``: the photo / the (first) painting.
    """
    if config.init == "content":
        x = content
    elif config.init == "style":
        x = style
    elif config.init == "faint_noise":
        rng = np.random.default_rng(config.seed)
        x = np.clip(VGG_MEAN_RGB + rng.normal(0.0, FAINT_NOISE_STD, content.shape), 0, 255)
    else:  # white noise, as Gatys et al.
        x = np.random.default_rng(config.seed).uniform(0, 255, content.shape)
    return np.asarray(x, np.float32)[None]


def stylize(content, style, config: StyleConfig = StyleConfig(), callback=None, progress=True,
            resume=None, metrics=True) -> StyleResult:
    """Synthesise an image with the content of ``content`` and the style of ``style`` (Gatys et al.).

    ``content``/``style``: a path, a bundled sample name, a PIL image or an RGB array.
    ``callback(iterate)`` is called after every step; returning True stops the run early.
    ``progress`` shows a tqdm bar with the step and the loss.
    With ``config.scales`` (e.g. ``(128,)``), the run goes coarse to fine: each coarse size runs its
    ``config.scale_steps`` entry (when given) or ``epochs × steps_per_epoch`` steps, the final size
    ``epochs × steps_per_epoch``, and each result, upsampled, starts the next; the history's ``scale``
    column says which size each step ran at.
    ``resume`` (a snapshot state: step, image, optimiser variables; see ``runs.load_snapshot``) continues
    an interrupted run from there instead of from step zero.
    ``metrics`` adds ``metric_*`` numbers to ``result.info`` (see ``nststudy.metrics``; against the original
    style image(s), before colour preservation), which ``save_run`` records in result.json and sweeps in
    results.csv, and ``result.measure(image)`` measures another image (a snapshot) the same way. Its network is
    built before the optimisation, so a weights error comes first.
    """
    if resume is not None and config.scales:
        raise ValueError("resuming a multiscale run (config.scales) is not supported; rerun it")
    if not isinstance(config, StyleConfig):
        raise TypeError(f"config must be a StyleConfig, got {type(config).__name__}")
    styles, blend = style_sources(style, config)
    content_src, style_src = load_image(content), [load_image(s) for s in styles]
    check_fits(config, *fit_size(content_src.shape, config.image_size))  # MemoryError before heavy work
    source = resolve_weights(config.model, config.weights, config.seed)
    reference = None
    if metrics:  # the metric network too, so that a missing or corrupt weights file stops the run now
        from .metrics import reference_extractor

        reference = reference_extractor(source)
    original_styles = style_src  # metrics compare with these, not with the recoloured or greyed ones
    colour_content = content_src
    if config.color_preservation == "histogram":  # the style takes the content's colours first
        style_src = [match_colours(s, content_src) for s in style_src]
    elif config.color_preservation == "luminance":  # transfer on luma only; the chroma comes back at the end
        style_src = [luminance_image(s, like=content_src) for s in style_src]
        content_src = luminance_image(content_src)
    set_seed(config.seed)
    layers = list(dict.fromkeys(config.content_layers + config.style_layers))
    extractor = build_extractor(config.model, layers, source, config.pooling)
    result, history = None, []
    for i, size in enumerate((*config.scales, config.image_size)):
        cfg = config.replace(image_size=size, scales=(), scale_steps=())
        if i < len(config.scale_steps):  # a coarse size with its own length
            cfg = cfg.replace(epochs=1, steps_per_epoch=config.scale_steps[i])
        content_s, styles_s = prepare_images(content_src, style_src, cfg)
        style_s = resize(styles_s[0], *content_s.shape[:2])  # shown and recorded as "the style"
        loss_fn = make_loss_fn(extractor, cfg, content_s, styles_s, blend, source)
        if resume is not None:
            x0 = np.asarray(resume["x"], np.float32).reshape((1, *content_s.shape))
        elif result is None:
            x0 = initial_image(content_s, style_s, cfg)
        else:
            x0 = tf.image.resize(result.image[None].astype(np.float32), content_s.shape[:2], "bicubic").numpy()
            x0 = np.clip(x0, 0, 255)
        offset = (history[-1]["step"], history[-1]["seconds"]) if history else (0, 0.0)
        result = run_objective(loss_fn, x0, cfg, source, content_s, style_s,
                               _shifted(callback, *offset) if callback else None, progress,
                               desc=f"{cfg.optimizer} {size}px {source.label}" if config.scales else None,
                               resume=resume)
        history += [{**h, "step": h["step"] + offset[0], "seconds": round(h["seconds"] + offset[1], 4),
                     **({"scale": size} if config.scales else {})} for h in result.history]
        if result.stopped != "completed":
            break
    result.history, result.config = history, config
    if config.color_preservation == "luminance":
        original = resize(colour_content, *result.image.shape[:2])
        result.image = to_uint8(with_chroma_of(result.image, original))
        result.content = original
    if metrics:
        from .metrics import run_metrics

        h, w = result.image.shape[:2]
        originals = [resize(s, h, w) for s in original_styles]
        result.measure = lambda image: run_metrics(image, result.content, originals, source, blend, reference)
        result.info.update(result.measure(result.image))
    return result


def _shifted(callback, steps, seconds):
    """A callback that sees steps and seconds counted across all scales of a multiscale run."""
    def inner(it):
        return callback(dataclasses.replace(it, step=it.step + steps, seconds=it.seconds + seconds))
    return inner


__all__ = ["stylize", "prepare_images", "style_sources", "initial_image", "DownscaleWarning"]
