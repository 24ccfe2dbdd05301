"""Training a transform network on photos with the package's Gatys losses: the loop, resume after a kill
(from nststudy.checkpoint's resume point), previews and the run folder.

    style.png       the style image as its Grams were taken      config.json   TrainConfig (re-runnable)
    inputs.json     style source, photos trained on, held out     env.json      versions, weights and md5
    history.csv     per step: step, total, content, style, tv, stability, seconds
    loss.png        the terms against the step                   previews/     held-out photos every K steps
    checkpoint.npz  weights, Adam state, step, training time (the resume point, every N steps)
    model.keras     the trained network (nststudy.transform)      image.png     the first held-out preview
    content.png     the first held-out photo as the network saw it for image.png (a study grid's input tile)
    inputs.json     also the md5 of ``init_model``, the network a fine-tune started from (TrainConfig.init_model)
    result.json     how the run ended, final losses, time, metric_* of the first held-out photo (quality
                    panel of nststudy.metrics and the flicker of a pan-and-zoom clip); written last

Data order is a function of (seed, step) only, so a resumed run sees the same crops it would have seen.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

import numpy as np
import tensorflow as tf
from PIL import Image

from . import losses
from .checkpoint import load_checkpoint, read_history, save_checkpoint
from .colour import preprocess
from .files import save_figure, write_json, write_text
from .images import load_image, resize_longest, save_image
from .loop import history_row
from .models import build_extractor, file_md5, resolve_weights
from .objective import targets
from .photos import DEFAULT_PHOTOS, PHOTO_SUFFIXES, Crops, load_photo, photo_sources, split_photos  # noqa: F401 (re-exported)
from .runs import environment, history_csv, run_directory
from .trainconfig import TrainConfig
from .transform import Stylizer, build_transform, load_transform, save_transform

COLUMNS = ("step", "total", "content", "style", "tv", "stability", "seconds")


# ---------------------------------------------------------------------------------------------------------
# Losses and the step

def style_targets(extractor, config: TrainConfig, style: np.ndarray, source) -> list:
    """The style image's Grams per style layer (through the target cache), each rescaled from the style's
    M_l positions to a crop's (``losses.gram_rescale``: G = FFᵀ sums over positions; as
    objective.make_loss_fn does for a style of another size than the content)."""
    from .config import model_layers

    grams = targets(extractor, config, style, config.style_layers, "gram", source)
    order = model_layers(config.model)
    crop = (config.crop_size, config.crop_size)
    return [tf.constant(losses.gram_rescale(crop, style.shape, sum("pool" in m for m in order[: order.index(n) + 1]))
                        * grams[n]) for n in config.style_layers]


def make_loss_terms(net, extractor, content_extractor, style_grams, config: TrainConfig):
    """``terms(x, noise)`` -> dict of the weighted total and each raw term, averaged over the batch."""
    a, b, t, lam = config.content_weight, config.style_weight, config.tv_weight, config.stability_weight
    zero = tf.constant(0.0)

    def terms(x, noise):
        n = config.batch_size
        y = net(x, training=True)
        feats = extractor(preprocess(y))
        photo = content_extractor(preprocess(x))
        c = tf.add_n([losses.content_loss(feats[k], photo[k]) for k in config.content_layers]) / n
        s = tf.add_n([losses.style_loss([feats[k][i:i + 1] for k in config.style_layers], style_grams,
                                        config.style_layer_weights) for i in range(n)]) / n
        tv = tf.add_n([losses.total_variation_loss(y[i]) for i in range(n)]) / n if t else zero
        stab = losses.stability_loss(y, net(x + noise, training=True)) if lam else zero
        return {"total": a * c + b * s + t * tv + lam * stab, "content": c, "style": s, "tv": tv, "stability": stab}

    return terms


def make_step(net, optimizer, terms_fn, config: TrainConfig):
    """One compiled Adam step on a batch, fixed signature: ``step(x, noise) -> terms``."""
    spec = tf.TensorSpec([config.batch_size, config.crop_size, config.crop_size, 3], tf.float32)

    @tf.function(input_signature=[spec, spec])
    def step(x, noise):
        with tf.GradientTape() as tape:
            terms = terms_fn(x, noise)
        grads = tape.gradient(terms["total"], net.trainable_variables)
        optimizer.apply_gradients(zip(grads, net.trainable_variables))
        return terms

    return step


# ---------------------------------------------------------------------------------------------------------
# The run

def prepare(style, config: TrainConfig, photos=None):
    """Everything read before any output is written: the style image (resized), the photos (trained on and
    held out, loaded; ``photos`` gives the two name lists, else they come from the config) and the weights
    source. Bad input raises here, naming it."""
    style_image = resize_longest(load_image(style), config.style_size or config.crop_size)
    train_names, held_names = photos or split_photos(photo_sources(config.photos), config.held_out, config.seed)
    train_photos = [load_photo(s, config.crop_size) for s in train_names]
    held = [load_image(s, max_size=config.preview_size) for s in held_names]
    source = resolve_weights(config.model, config.weights, config.seed)
    return style_image, (list(train_names), train_photos), (list(held_names), held), source


def _model_file(path) -> Path:
    """The .keras file ``load_transform`` reads for ``path`` (a file, or a run folder's model.keras)."""
    path = Path(path)
    return path / "model.keras" if path.is_dir() else path


def initial_weights(config: TrainConfig) -> list | None:
    """The weights training starts from: None for fresh seeded ones; with ``config.init_model``, that network's
    (a ``.keras`` file or run folder from ``nststudy train``). Its architecture must be the one the config
    builds (same width, residual_blocks and padding: same name and weight shapes), else ValueError naming both."""
    if not config.init_model:
        return None
    model = load_transform(config.init_model)
    fresh = build_transform(config.width, config.residual_blocks, config.padding, config.seed)
    if model.name != fresh.name or [w.shape for w in model.weights] != [w.shape for w in fresh.weights]:
        raise ValueError(f"init_model={config.init_model}: its network is {model.name!r} but the config builds "
                         f"{fresh.name!r} (width={config.width:g}, residual_blocks={config.residual_blocks}, "
                         f"padding={config.padding}); set those to the model's, or leave init_model empty")
    return model.get_weights()


def train(style, config: TrainConfig = TrainConfig(), output_dir="runs/train", progress=True,
          callback=None) -> Path:
    """Train a transform network for ``style`` (path, sample name, PIL image or array) into a new run folder.

    Stops after ``config.steps`` steps or ``config.minutes`` of training, whichever comes first.
    ``callback(step, terms)`` runs after every step; returning True stops the run (recorded as such).
    Returns the run folder (``_random-weights`` is appended to its name with random loss-network weights).
    A folder that already holds a training run is refused (continue it with ``resume``).
    """
    if not isinstance(config, TrainConfig):
        raise TypeError(f"config must be a TrainConfig, got {type(config).__name__}")
    style_image, (train_names, photos), (held_names, held), source = prepare(style, config)
    init = initial_weights(config)
    directory = run_directory(output_dir, source)
    if (directory / "config.json").exists() or (directory / "result.json").exists():
        raise ValueError(f"{directory}: already holds a run; continue a training run with --resume "
                         f"{directory}, or choose another folder")
    directory.mkdir(parents=True, exist_ok=True)
    save_image(style_image, directory / "style.png")
    started = {"init_model_md5": file_md5(_model_file(config.init_model))} if init is not None else {}
    write_json(directory / "inputs.json", {"style": str(style) if isinstance(style, (str, Path)) else "(array)",
                                           "photos": train_names, "held_out": held_names, **started})
    write_json(directory / "config.json", config.to_dict())
    return _run(directory, config, style_image, photos, (held_names, held), source, None, progress, callback, init)


def resume(directory, steps: int | None = None, minutes: float | None = None, progress=True, callback=None) -> Path:
    """Continue the training run in ``directory`` from its last checkpoint: same config, style (its
    ``style.png``), photos, step count, Adam state and data order. ``steps``/``minutes`` extend or cut it."""
    directory = Path(directory)
    if not (directory / "config.json").is_file() or not (directory / "inputs.json").is_file():
        raise FileNotFoundError(f"{directory}: not a training run folder (no config.json and inputs.json)")
    config = TrainConfig.from_dict(json.loads((directory / "config.json").read_text()))
    changes = {k: v for k, v in (("steps", steps), ("minutes", minutes)) if v is not None}
    config = config.replace(**changes)
    inputs = json.loads((directory / "inputs.json").read_text())
    checkpoint = load_checkpoint(directory)
    if checkpoint["step"] >= config.steps:
        raise ValueError(f"{directory}: already trained {checkpoint['step']} of steps={config.steps}; "
                         f"pass more steps (--steps N) to continue")
    style_image, (_, photos), held, source = prepare(directory / "style.png", config,
                                                     (inputs["photos"], inputs["held_out"]))
    # all read: only now does the folder change (the new length, and incomplete again until it ends)
    write_json(directory / "config.json", config.to_dict())
    (directory / "result.json").unlink(missing_ok=True)
    return _run(directory, config, style_image, photos, held, source, checkpoint, progress, callback)


def _run(directory, config, style_image, photos, held, source, checkpoint, progress, callback, init=None) -> Path:
    import keras

    from .loop import set_seed

    write_json(directory / "env.json", environment(source, config.seed))
    set_seed(config.seed)
    net = build_transform(config.width, config.residual_blocks, config.padding, config.seed)
    if init is not None and checkpoint is None:  # a fine-tune: start from init_model's weights
        net.set_weights(init)
    extractor = build_extractor(config.model, config.content_layers + config.style_layers, source, config.pooling)
    content_extractor = build_extractor(config.model, config.content_layers, source, config.pooling)
    optimizer = keras.optimizers.Adam(config.learning_rate)
    optimizer.build(net.trainable_variables)
    terms_fn = make_loss_terms(net, extractor, content_extractor,
                               style_targets(extractor, config, style_image, source), config)
    step_fn = make_step(net, optimizer, terms_fn, config)
    done, offset, history = 0, 0.0, []
    if checkpoint is not None:
        net.set_weights(checkpoint["weights"])
        for variable, value in zip(optimizer.variables, checkpoint["optimizer"]):
            variable.assign(value)
        done, offset = checkpoint["step"], checkpoint["seconds"]
        history = read_history(directory, done)
    crops, stylizer = Crops(photos, config), Stylizer(net)
    bar = _progress(config.steps, done, f"train w={config.width:g} {source.label}", progress)
    start, stopped = time.perf_counter(), "steps"
    try:
        for step in range(done + 1, config.steps + 1):
            x, noise = crops.batch(step)
            terms = {k: float(v) for k, v in step_fn(tf.constant(x), tf.constant(noise)).items()}
            seconds = offset + time.perf_counter() - start
            history.append(history_row(step, {k: terms[k] for k in COLUMNS[1:-1]}, seconds))
            if bar is not None:
                bar.update(1)
                bar.set_postfix(loss=f"{terms['total']:.4g}", refresh=False)
            if not math.isfinite(terms["total"]):
                stopped = "diverged"
                break
            if step % config.checkpoint_every == 0:
                save_checkpoint(directory, net, optimizer, step, seconds, history)
            if config.preview_every and step % config.preview_every == 0:
                write_previews(directory, stylizer, *held, f"step_{step:06d}")
            if callback is not None and callback(step, terms):
                stopped = "callback"
                break
            if config.minutes and seconds >= 60 * config.minutes:
                stopped = "minutes"
                break
    finally:
        if bar is not None:
            bar.close()
    if history and stopped != "diverged" and history[-1]["step"] > done:
        save_checkpoint(directory, net, optimizer, history[-1]["step"], history[-1]["seconds"], history)
    finish(directory, net, stylizer, source, history, held, stopped, offset + time.perf_counter() - start,
           checkpoint["step"] if checkpoint else None)
    return directory


def write_previews(directory: Path, stylizer, names, images, tag: str) -> list[Path]:
    """Each held-out photo stylised, as ``previews/<tag>_<photo>.png``."""
    return [save_image(stylizer(image), directory / "previews" / f"{tag}_{Path(str(name)).stem}.png")
            for name, image in zip(names, images)]


def finish(directory, net, stylizer, source, history, held, stopped, seconds, resumed_from):
    """The end of a run: model, last previews, history, plot, then result.json (last)."""
    import matplotlib.pyplot as plt

    from .plots import plot_losses

    held_names = held[0]
    save_transform(net, directory / "model.keras")
    last = write_previews(directory, stylizer, *held, "final")
    save_image(np.asarray(Image.open(last[0])), directory / "image.png")
    save_image(held[1][0], directory / "content.png")
    write_text(directory / "history.csv", history_csv(history))
    if history:
        fig = plot_losses(history, COLUMNS[1:-1], title=f"{directory.name} — loss network {source.label}")
        save_figure(fig, directory / "loss.png")
        plt.close(fig)
    final = history[-1] if history else {}
    metrics = held_out_metrics(stylizer, held[1][0], np.asarray(Image.open(directory / "style.png")), source)
    write_json(directory / "result.json", {
        "status": "diverged" if stopped == "diverged" else "complete",
        "stopped": stopped,  # "steps" | "minutes" | "callback" | "diverged"
        "steps": final.get("step", 0),
        "final": {k: final.get(k) for k in COLUMNS[1:]},
        "wall_seconds": round(seconds, 2),
        "seconds_per_step": round(seconds / max(1, final.get("step", 0)), 4),
        "weights": source.label,
        "network": {"name": net.name, "parameters": int(net.count_params())},
        "held_out": [str(n) for n in held_names],
        **({"resumed_from_step": resumed_from} if resumed_from is not None else {}),
        **metrics,
    })


def held_out_metrics(stylizer, photo: np.ndarray, style: np.ndarray, source) -> dict:
    """Quality on a photo not trained on, as ``metric_*`` keys (the report's results.csv takes them):
    nststudy.metrics against the photo and the style (resized to the photo), and the flicker of a
    16-frame pan-and-zoom clip of the photo at 128 px (nststudy.video)."""
    from .images import resize
    from .metrics import run_metrics
    from .video import clip_flicker

    out = run_metrics(stylizer(photo), photo, resize(style, *photo.shape[:2]), source)
    out["metric_flicker"] = clip_flicker(stylizer, photo, frames=16, size=(128, 128))
    return out


def _progress(total, initial, desc, enabled):
    if not enabled:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, initial=initial, desc=desc, unit="step", leave=True)


__all__ = ["train", "resume", "TrainConfig", "Crops", "DEFAULT_PHOTOS", "photo_sources", "split_photos",
           "initial_weights", "make_loss_terms", "style_targets"]
