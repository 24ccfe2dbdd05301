"""Trained transform networks on photos they never saw: against the optimisation engine (the same objective,
the metric panel, a trade-off figure, the break-even count); their flicker is ``nststudy.flicker``'s.

The engine runs are matched to the network's training config (``engine_config``): the same loss network and
weights, content and style layers, layer weights, α, TV weight and Gatys et al.'s unnormalised E_l (what
``nststudy.train`` minimises), at the size the network is applied, with the style image as many pixels
across as it was in training (``style_scale``). Their β runs over ``factors`` times the equivalent of the
network's β at that size (``losses.equivalent_style_weight``), plus the network's own β, so the engine
draws a curve on which the network's point can be placed. Each engine run is a run folder
(``runs.save_run``); a finished one with the same config is reused, not rerun.

    compare.json   the metric panel (nststudy.metrics) and the objective's raw terms of every image, network
                   and engine times, and the break-even count (written last, atomically)
    tradeoff.png   style distance against SSIM to the photo: the engine's β as a curve per photo, the network
                   as stars
    strip.jpg      per photo: the photo, the network's image, the engine's at the matched β
"""

from __future__ import annotations

import json
import math
import os
import statistics
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from .comparefigures import MATCHED, figures
from .config import StyleConfig, model_layers
from .files import write_json
from .images import ImageError, load_image, resize, save_image
from .losses import equivalent_style_weight
from .trainconfig import TrainConfig

DEFAULT_PHOTOS = ("coffee", "tubingen")  # the committed network's held-out photo, and one never trained on
DEFAULT_FACTORS = (0.1, 1.0, 10.0)  # engine β = factor x the network's equivalent β (plus its own β)
ENGINE_STEPS = 500  # the engine's default length (StyleConfig: 5 x 100 Adam steps, experiments/defaults)


# ---------------------------------------------------------------------------------------------------------
# Pure parts: the matched config and the break-even count

def break_even(train_seconds: float, network_seconds: float, engine_seconds: float) -> int | None:
    """The smallest number of images N >= 1 with T + N·t_net <= N·t_eng, i.e. N = ⌈T / (t_eng − t_net)⌉: after
    N images, training the network once (T seconds) and applying it (t_net an image) cost no more than
    optimising each image with the engine (t_eng an image). None when the network is not faster per image."""
    margin = float(engine_seconds) - float(network_seconds)
    if margin <= 0:
        return None
    return max(1, math.ceil(float(train_seconds) / margin - 1e-12))


def _poolings(layer: str, model: str) -> int:
    order = model_layers(model)
    return sum("pool" in m for m in order[: order.index(layer) + 1])


def equivalent_beta(config: TrainConfig, image_hw) -> float:
    """The network's β (``config.style_weight``, on ``crop_size``² crops) carried to an image of ``image_hw``
    (``losses.equivalent_style_weight`` at the first content layer)."""
    crop = (config.crop_size, config.crop_size)
    return equivalent_style_weight(config.style_weight, crop, image_hw,
                                   _poolings(config.content_layers[0], config.model))


def engine_config(config: TrainConfig, style_weight: float, size: int, steps: int = ENGINE_STEPS) -> StyleConfig:
    """The engine's StyleConfig for the objective a network was trained with (see module docstring), at
    ``size`` px on the longest side, from the photo (init "content"), ``steps`` Adam steps at its default rate.
    ``style_scale`` puts the style's longest side at ``style_size`` (or ``crop_size``) pixels, as in training."""
    steps = int(steps)
    epochs, per_epoch = (steps // 100, 100) if steps >= 100 and steps % 100 == 0 else (1, steps)
    return StyleConfig(model=config.model, weights=config.weights, pooling=config.pooling,
                       content_layers=config.content_layers, style_layers=config.style_layers,
                       style_layer_weights=config.style_layer_weights, style_normalization="none",
                       content_weight=config.content_weight, style_weight=float(style_weight),
                       tv_weight=config.tv_weight, image_size=int(size),
                       style_scale=(config.style_size or config.crop_size) / int(size),
                       init="content", optimizer="adam", epochs=epochs, steps_per_epoch=per_epoch, seed=config.seed)


def engine_betas(config: TrainConfig, image_hw, factors=DEFAULT_FACTORS) -> list[tuple[str, float]]:
    """(label, β) of the engine runs for one photo: each factor times the equivalent β, then the network's own
    β (``"own"``) unless it is one of those already."""
    beta = equivalent_beta(config, image_hw)
    out = [(f"x{f:g}", beta * float(f)) for f in factors]
    if all(not math.isclose(b, config.style_weight, rel_tol=1e-9) for _, b in out):
        out.append(("own", float(config.style_weight)))
    return out


# ---------------------------------------------------------------------------------------------------------
# Reading a trained model's record

def trained_model(folder) -> dict:
    """A training run folder from ``nststudy train`` read back: ``config`` (TrainConfig), ``inputs`` (style,
    photos trained on, held out), ``result`` and ``model_path``. Raises ValueError naming what is missing."""
    folder = Path(folder)
    missing = [n for n in ("config.json", "inputs.json", "result.json", "model.keras") if not (folder / n).is_file()]
    if missing:
        raise ValueError(f"{folder}: not a finished training run folder (no {', '.join(missing)}); give the "
                         f"folder 'nststudy train' wrote")
    result = json.loads((folder / "result.json").read_text())
    return {"folder": folder, "model_path": folder / "model.keras",
            "config": TrainConfig.from_dict(json.loads((folder / "config.json").read_text())),
            "inputs": json.loads((folder / "inputs.json").read_text()), "result": result}


def style_source(record: dict):
    """The style a network was trained for: inputs.json's ``style`` (a bundled name or a path) when it can be
    read, else the run's ``style.png`` (the style as trained, resized). ImageError naming both otherwise."""
    named = record["inputs"].get("style", "")
    for candidate in (named, record["folder"] / "style.png"):
        try:
            load_image(candidate)
            return str(candidate)
        except ImageError:
            continue
    raise ImageError(f"{record['folder']}: cannot read its style image ({named!r} from inputs.json, nor style.png); "
                     f"run from the folder the training ran in, or copy the style image to style.png")


def check_held_out(photos, trained_on) -> None:
    """ImageError when one of ``photos`` (names or paths) was trained on (compared by file stem)."""
    stems = {Path(str(p)).stem for p in trained_on}
    seen = [p for p in photos if Path(str(p)).stem in stems]
    if seen:
        raise ImageError(f"{', '.join(map(str, seen))}: trained on by this network (its inputs.json photos: "
                         f"{', '.join(map(str, trained_on))}); compare on photos it never saw")


# ---------------------------------------------------------------------------------------------------------
# Measuring

def time_network(stylizer, image, repeats: int = 5) -> dict:
    """Seconds to stylise ``image``: the first call (tracing included) and the median of ``repeats`` more."""
    start = time.perf_counter()
    stylizer(image)
    first = time.perf_counter() - start
    times = []
    for _ in range(max(1, int(repeats))):
        start = time.perf_counter()
        stylizer(image)
        times.append(time.perf_counter() - start)
    return {"seconds": round(statistics.median(times), 5), "first_call_seconds": round(first, 4),
            "precision": stylizer.precision}


def objective_terms(loss_fn, image) -> dict:
    """The raw content and style terms of the matched objective at ``image`` (uint8 RGB)."""
    terms = loss_fn(np.asarray(image, np.float32)[None])
    return {"content": float(terms["content"]), "style": float(terms["style"])}


def engine_run(photo, style, config: StyleConfig, folder, progress=True) -> Path:
    """The engine's run of ``photo`` x ``style`` under ``config`` in ``folder`` (a run folder): reused when it
    holds a finished run of the same config, else run and saved (``call_seconds``: the whole stylize call)."""
    from .models import resolve_weights
    from .runs import is_complete, run_directory, save_run
    from .stylize import stylize

    folder = run_directory(folder, resolve_weights(config.model, config.weights, config.seed))
    if is_complete(folder) and (folder / "config.json").is_file():
        if json.loads((folder / "config.json").read_text()) == config.to_dict():
            return folder
    start = time.perf_counter()
    result = stylize(photo, style, config, progress=progress)
    return save_run(result, folder, extra={"call_seconds": round(time.perf_counter() - start, 3),
                                           "photo": str(photo), "style_source": str(style)})


def compare(model_dir, photos=DEFAULT_PHOTOS, output="experiments/feedforward/compare",
            runs="experiments/feedforward/runs/compare", size: int | None = None, steps: int = ENGINE_STEPS,
            factors=DEFAULT_FACTORS, precision: str = "auto", repeats: int = 5, progress=True) -> dict:
    """Compare the network in ``model_dir`` (a training run folder) with the engine on ``photos`` (see module
    docstring). ``size``: longest side (default: the size of the run's own held-out metrics, ``preview_size``).
    Images and metrics come from the network in float32 (as its result.json's); it is timed at ``precision``
    (and float32). Everything is read and checked before anything is written. Returns compare.json's dict."""
    from .metrics import reference_extractor, run_metrics
    from .models import build_extractor, resolve_weights
    from .objective import make_loss_fn
    from .stylize import prepare_images
    from .transform import Stylizer, load_transform

    record = trained_model(model_dir)
    config, photos = record["config"], list(photos)
    if not any(math.isclose(float(f), 1.0) for f in factors):
        raise ValueError(f"factors={list(factors)}: include 1 (the engine at the network's equivalent β, which the "
                         f"strip and the break-even count use)")
    check_held_out(photos, record["inputs"].get("photos", []))
    style = style_source(record)
    size = int(size or config.preview_size)
    net = load_transform(record["model_path"])
    source = resolve_weights(config.model, config.weights, config.seed)
    reference = reference_extractor(source)
    originals = {p: load_image(p) for p in photos}  # unreadable photos fail here, before any output
    style_image = load_image(style)
    output, runs = Path(output), Path(runs)
    float32, timed = Stylizer(net, "float32"), Stylizer(net, precision)
    extractor = build_extractor(config.model, list(dict.fromkeys(config.content_layers + config.style_layers)),
                                source, config.pooling)
    rows = []
    for name, photo in originals.items():
        base = engine_config(config, config.style_weight, size, steps)
        content, style_scaled = prepare_images(photo, style_image, base)
        loss_fn = make_loss_fn(extractor, base, content, [style_scaled], None, source)
        h, w = content.shape[:2]
        stem = Path(str(name)).stem
        network = time_network(float32, content, repeats)  # first: its first call includes the tracing
        image = float32(content)
        network["image"] = str(save_image(image, runs / "network" / f"{stem}.png"))
        if timed.precision != "float32":
            network[f"{timed.precision}_seconds"] = time_network(timed, content, repeats)["seconds"]
        network.update(run_metrics(image, content, resize(style_image, h, w), source, None, reference))
        network["objective"] = objective_terms(loss_fn, image)
        engine = []
        for label, beta in engine_betas(config, (h, w), factors):
            folder = engine_run(name, style, engine_config(config, beta, size, steps),
                                runs / f"{stem}_{label}_beta{beta:.4g}", progress)
            result = json.loads((folder / "result.json").read_text())
            engine.append({"label": label, "style_weight": beta, "run": str(folder), "status": result["status"],
                           "seconds": result["wall_seconds"], "call_seconds": result.get("call_seconds"),
                           **{k: v for k, v in result.items() if k.startswith("metric_")},
                           "objective": objective_terms(loss_fn, load_image(folder / "image.png"))})
        rows.append({"photo": str(name), "size": [h, w], "equivalent_style_weight": equivalent_beta(config, (h, w)),
                     "network": network, "engine": engine})
    out = {
        "model": str(record["model_path"]), "network": net.name, "trained_on": record["inputs"].get("photos"),
        "style": style, "size": size, "weights": source.label,
        "objective": {k: v for k, v in engine_config(config, config.style_weight, size, steps).to_dict().items()
                      if k != "style_weight"},
        "photos": rows, "break_even": break_even_record(record["result"], rows, timed.precision),
        "load_average": [round(v, 2) for v in os.getloadavg()],
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    figures(out, output)
    write_json(output / "compare.json", out)
    return out


def break_even_record(result: dict, rows, precision: str) -> dict:
    """The break-even counts from the training time (result.json's ``wall_seconds``), the network's seconds an
    image (at ``precision``, averaged over the photos) and the engine's at the matched β (its optimisation's
    ``wall_seconds``, without building the VGG network: the engine's cheaper side)."""
    key = "seconds" if precision == "float32" else f"{precision}_seconds"
    t_net = float(np.mean([r["network"][key] for r in rows]))
    t_eng = float(np.mean([e["seconds"] for r in rows for e in r["engine"] if e["label"] == MATCHED]))
    train_seconds = float(result.get("wall_seconds") or 0.0)
    return {"training_seconds": train_seconds, "training_steps": result.get("steps"),
            "network_seconds_per_image": t_net, "network_precision": precision,
            "engine_seconds_per_image": t_eng, "speedup": t_eng / t_net if t_net > 0 else None,
            "images": break_even(train_seconds, t_net, t_eng),
            "images_inference_only": break_even(0.0, t_net, t_eng),
            "meaning": "images: smallest N with training + N x network <= N x engine seconds; inference_only: "
                       "the same without the training time"}


__all__ = ["compare", "break_even", "equivalent_beta", "engine_config", "engine_betas", "trained_model",
           "style_source", "check_held_out", "engine_run", "DEFAULT_PHOTOS", "DEFAULT_FACTORS"]
