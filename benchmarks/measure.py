"""The measurements of `make bench`, each a function returning plain numbers (run.py prints and records them).

Speed is only compared side by side in one process (baseline and nststudy alternate, ABAB), because timings
on a shared 2-core machine drift by tens of percent over minutes.
"""

from __future__ import annotations

import json
import os
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import tensorflow as tf

from baseline import CONTENT_LAYERS, STYLE_LAYERS, TutorialLoop, tutorial_config
from nststudy.sweeps import run_trial  # imported up front: a run takes an hour, the tree may change meanwhile

REPO = Path(__file__).resolve().parent.parent
CONTENT, STYLE = "astronaut", "hubble_deep_field"  # astronaut is square: sizes below are exact n x n
BASELINE = "tutorial baseline (Adam 0.02)"
WEIGHTS = "imagenet"  # run.py sets "random" when no ImageNet file is found (and says so)


def images(size: int):
    from nststudy.images import load_image, resize

    return resize(load_image(CONTENT), size, size), resize(load_image(STYLE), size, size)


def matmul_gflops(n: int = 2048, reps: int = 10, dtype=tf.float32) -> float:
    """The machine's matmul rate in ``dtype`` (TensorFlow, all cores): 2n³ FLOPs over the median time."""
    a, b = tf.cast(tf.random.normal((n, n)), dtype), tf.cast(tf.random.normal((n, n)), dtype)
    f = tf.function(lambda: tf.linalg.matmul(a, b)[0, 0])
    f().numpy()
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        f().numpy()
        times.append(time.perf_counter() - t)
    return 2 * n**3 / statistics.median(times) / 1e9


def conv_flops(height: int, width: int, deepest: str = "block5_conv2", model: str = "vgg19") -> float:
    """FLOPs of one optimisation step's convolutions through ``model`` up to ``deepest``: forward, plus the
    gradient with respect to the input (same count; no weight gradients are needed). Pooling, ReLU and the losses
    are not counted."""
    from nststudy.config import model_layers

    h, w, cin, total = height, width, 3, 0.0
    for name in model_layers(model):
        if "pool" in name:
            h, w = h // 2, w // 2
        else:
            cout = {1: 64, 2: 128, 3: 256, 4: 512, 5: 512}[int(name[5])]
            total += 2 * h * w * 9 * cin * cout
            cin = cout
        if name == deepest:
            break
    return 2 * total


def baseline_step_times(vgg, content, style, steps: int, warmup: int = 3) -> list[float]:
    loop = TutorialLoop(vgg, content, style)
    for _ in range(warmup):  # the first call traces the tf.function
        loop.step()
    times = []
    for _ in range(steps):
        t = time.perf_counter()
        loop.step()  # returns the loss as a Python float: synchronises, as nststudy's progress does
        times.append(time.perf_counter() - t)
    return times


def nststudy_step_times(content, style, steps: int, warmup: int = 3, config=None) -> tuple[list[float], dict]:
    """``nststudy.stylize`` on the tutorial's loss (or on ``config``), a run of >= 50 steps (long enough for the path
    to be chosen by measurement, as in real runs) stopped by the callback after ``warmup + steps``; the times of the
    steps after the warm-up (the first holds the choice and compilation) and the path the run took (env.json's
    record)."""
    from nststudy import stylize

    h, w = content.shape[:2]
    config = (config or tutorial_config(h, w, epochs=1, weights=WEIGHTS)).replace(
        epochs=1, steps_per_epoch=max(50, warmup + steps))
    result = stylize(content, style, config, callback=lambda it: it.step >= warmup + steps, progress=False,
                     metrics=False)
    seconds = [0.0] + [row["seconds"] for row in result.history]
    return list(np.diff(seconds)[warmup:]), result.info["compute_path"]


def per_step(vgg, size: int, steps: int, rounds: int = 2) -> dict:
    """Median step of the tutorial's loop and of nststudy (on the path it chooses), alternating ABAB."""
    content, style = images(size)
    base, ours, paths = [], [], []
    for _ in range(rounds):  # ABAB: drift hits both
        base += baseline_step_times(vgg, content, style, steps)
        times, path = nststudy_step_times(content, style, steps)
        ours += times
        paths.append(path)
    b, o = statistics.median(base), statistics.median(ours)
    return {"size": size, "baseline_s": b, "nststudy_s": o, "speedup": b / o, "steps_timed": len(base),
            "flops": conv_flops(size, size), "path": " / ".join(dict.fromkeys(p["name"] for p in paths)),
            "how": paths[0]["how"], "candidates": paths[0]["timings"], "agreement": paths[0]["agreement"]}


def model_speed(size: int, steps: int, rounds: int = 2) -> dict:
    """Seed 000's "VGG19 is slower than VGG16": median seconds a step of ``nststudy.stylize`` with each network, on
    StyleConfig's default layers (both have conv1_1 ... conv5_1 and conv4_2), alternating ABAB in one process, each
    on the path it chooses. Seeded random weights: a step's time does not depend on the weights' values, and no
    VGG16 ImageNet file is available here (the quality half of the claim needs one)."""
    from nststudy import StyleConfig

    content, style = images(size)
    times, paths = {"vgg16": [], "vgg19": []}, {}
    for _ in range(rounds):
        for model in times:
            config = StyleConfig(model=model, weights="random", image_size=size)
            step_times, path = nststudy_step_times(content, style, steps, config=config)
            times[model] += step_times
            paths[model] = path["name"]
    median = {m: float(statistics.median(t)) for m, t in times.items()}
    return {"size": size, "date": time.strftime("%Y-%m-%d %H:%M"), "weights": "seeded random (seed 0)",
            "steps_timed": len(times["vgg19"]),
            "seconds": median, "paths": paths, "vgg19_over_vgg16": median["vgg19"] / median["vgg16"],
            "flops": {m: conv_flops(size, size, "block5_conv1", m) for m in times}}


def _curve_until(content, style, config, target: float, final_from_step: int = 0, check=None) -> dict:
    """Run ``stylize`` until the tutorial's loss of its image is <= target; the loss-vs-time curve and the path.

    A run's own total is the tutorial's loss computed on its path; a bfloat16 path's is about 0.1 % off, so a
    step whose total reaches the target is confirmed by ``check(image)`` (float32, the tutorial's code) and the
    check's time is counted."""
    from nststudy import stylize

    curve, reached = [], {}

    def callback(it):
        step, seconds = it.step, it.seconds
        curve.append((seconds, it.total, step))
        if it.step > final_from_step and it.total <= target and not reached:
            start = time.perf_counter()
            if check is None or check(np.asarray(it._image_fn())[0]) <= target:
                reached.update(seconds=seconds + time.perf_counter() - start, step=step)
                return True
        return False

    result = stylize(content, style, config, callback=callback, progress=False, metrics=False)
    path = result.info.get("compute_path", {}).get("name")  # of the last scale of a multiscale run
    lbfgs = {k: v for k, v in result.info.items() if k.startswith("lbfgs_")}  # of the last scale: why it ended
    return {"curve": curve, "reached": bool(reached), "seconds": reached.get("seconds"), "step": reached.get("step"),
            "best": min((c[1] for c in curve[final_from_step:]), default=None), "path": path,
            **({"lbfgs": lbfgs} if lbfgs else {})}


def warm_paths(content, style, sizes) -> None:
    """Have nststudy choose (and cache) its path for each size before anything is timed, as a user's second run
    would find it: the choice costs one measurement per machine, size and TensorFlow version."""
    from nststudy import stylize
    from nststudy.accel import MIN_STEPS

    for size in sizes:
        config = tutorial_config(size, size, epochs=1, steps_per_epoch=MIN_STEPS, weights=WEIGHTS)
        stylize(content, style, config, callback=lambda it: True, progress=False, metrics=False)


# The multiscale methods of time_to_quality: the coarse sizes (size // divisor, coarse to fine) and the L-BFGS
# iterations at each, given for the baseline's 1000 steps (scaled with ``steps``); the final size may run up to
# ``steps`` iterations, so its length never decides whether the target is reached. Measured on 2026-11-29 with the
# current L-BFGS on the bfloat16 path (loaded machine): 256² iterations to the target after 128² x 100: 359; after
# 64² x 100 -> 128² x 100: 250; after 64² x 250 -> 128² x 250: 191; after 64² x 500 -> 128² x 500 (which stopped
# at 322): 204; after 128² x 250: 229 (make bench, 0.22 of the baseline). A coarse iteration costs 1/16 or 1/4 of a
# full one. benchmarks/tune_stages.py times other coarse lengths (tune_stages.json: measured before L-BFGS ran with
# one BLAS thread, so its seconds are those of the slower loop; its iteration counts still hold). With one BLAS
# thread (2026-11-30, quiet machine): 128² x 250 -> 256² reached the target in 100.7 s and 64² x 250 -> 128² x 250 ->
# 256² in 99.5 s, 0.17 of the baseline's 589.8 s in the same run (results.json).
MULTISCALE = [((2,), (250,)), ((4, 2), (250, 250))]


def multiscale_method(size: int, steps: int, divisors, coarse) -> tuple[str, object, int]:
    """One multiscale L-BFGS method of time_to_quality: its name, config and the number of coarse iterations
    (the steps before the final size). ``coarse`` holds iterations per coarse size for 1000 baseline steps."""
    scales = tuple(size // d for d in divisors)
    lengths = tuple(max(1, round(n * steps / 1000)) for n in coarse)
    name = f"nststudy multiscale L-BFGS {'->'.join(f'{s}x{n}' for s, n in zip(scales, lengths))}->{size}"
    config = tutorial_config(size, size, optimizer="lbfgs", epochs=1, steps_per_epoch=steps, scales=scales,
                             scale_steps=lengths, weights=WEIGHTS)
    return name, config, sum(lengths)


def time_to_quality(vgg, size: int, steps: int, partial: dict | None = None, save=None) -> dict:
    """The baseline's loss after ``steps`` steps, and the wall time each method needs to reach it.

    ``partial`` is an unfinished result of the same size and steps (its methods are kept, the rest are run);
    ``save(result)`` is called after each method, so an interrupted run resumes where it stopped."""
    content, style = images(size)
    same = partial and partial.get("complete") is False and (partial["size"], partial["steps"]) == (size, steps)
    result = dict(partial) if same else {"size": size, "steps": steps, "methods": {}, "complete": False}
    methods = result["methods"]
    baseline = BASELINE
    loops = []

    def tutorial_loss(image):  # float32, the tutorial's own code: confirms a method reached the target
        if not loops:
            loops.append(TutorialLoop(vgg, content, style))
        return loops[0].loss_of(image)

    if baseline not in methods:
        loop = TutorialLoop(vgg, content, style)
        curve, start = [], time.perf_counter()
        for i in range(steps):
            loss = loop.step()
            curve.append((time.perf_counter() - start, loss, i + 1))
        result["target"] = loop.loss_of(loop.image.numpy()[0] * 255.0)
        methods[baseline] = {"curve": curve, "reached": True, "seconds": curve[-1][0], "step": steps,
                             "best": result["target"]}
        if save:
            save(result)
    target = result["target"]
    runs = [("nststudy Adam + ExponentialDecay", tutorial_config(size, size, epochs=1, steps_per_epoch=steps, weights=WEIGHTS), 0),
            ("nststudy L-BFGS", tutorial_config(size, size, optimizer="lbfgs", epochs=1, steps_per_epoch=steps, weights=WEIGHTS), 0)]
    runs += [multiscale_method(size, steps, divisors, coarse) for divisors, coarse in MULTISCALE]
    warm_paths(content, style, sorted({size, size // 2, size // 4}))
    for name, config, coarse_steps in runs:
        if name not in methods:
            methods[name] = _curve_until(content, style, config, target, coarse_steps, tutorial_loss)
            if save:
                save(result)
    result["complete"] = True
    return result


def precision_study(size: int, steps: int, optimizer: str = "adam", picture=None) -> dict:
    """Does bfloat16 change what a researcher sees? The same pair and settings (nststudy's defaults, the tutorial
    loop's pair) run twice without XLA, float32 then bfloat16 (NSTSTUDY_PRECISION), from the same start: both
    finished images' float32 loss, the metric panel, and the pixel difference; ``picture`` gets them side by side."""
    from nststudy import StyleConfig, stylize
    from nststudy.models import build_extractor, resolve_weights
    from nststudy.objective import make_loss_fn

    content, style = images(size)
    config = StyleConfig(image_size=size, optimizer=optimizer, epochs=1, steps_per_epoch=steps, weights=WEIGHTS)
    runs, saved = {}, {k: os.environ.get(k) for k in ("NSTSTUDY_PRECISION", "NSTSTUDY_XLA")}
    try:
        for precision in ("float32", "bfloat16"):
            os.environ.update(NSTSTUDY_PRECISION=precision, NSTSTUDY_XLA="0")
            start = time.perf_counter()
            runs[precision] = stylize(content, style, config, progress=False)
            runs[precision].info["seconds"] = time.perf_counter() - start
    finally:
        for k, v in saved.items():
            os.environ.pop(k) if v is None else os.environ.__setitem__(k, v)
    layers = list(dict.fromkeys(config.content_layers + config.style_layers))
    extractor = build_extractor(config.model, layers, resolve_weights(config.model, WEIGHTS, config.seed))
    loss_fn = make_loss_fn(extractor, config, runs["float32"].content, runs["float32"].style)  # float32 throughout
    out = {"size": size, "steps": steps, "optimizer": optimizer, "runs": {}}
    for precision, r in runs.items():
        out["runs"][precision] = {
            "final_float32_loss": float(loss_fn(r.image[None].astype(np.float32))["total"]),
            "own_final_loss": r.history[-1]["total"], "seconds": r.info["seconds"],
            **{k: v for k, v in r.info.items() if k.startswith("metric_") and isinstance(v, float)}}
    # yardstick: where the float32 run stood 10 % of its steps before the end
    out["float32_loss_at_90_percent"] = runs["float32"].history[int(0.9 * len(runs["float32"].history)) - 1]["total"]
    diff = np.abs(runs["float32"].image.astype(np.float64) - runs["bfloat16"].image)
    out["pixel_rms_difference"] = float(np.sqrt(np.mean(diff ** 2)))
    if picture is not None:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        from nststudy.files import save_figure

        fig, axes = plt.subplots(1, 3, figsize=(10, 3.6))
        for ax, (title, img) in zip(axes, [("float32", runs["float32"].image), ("bfloat16", runs["bfloat16"].image),
                                           ("|difference| x 4", np.clip(diff * 4, 0, 255).astype(np.uint8))]):
            ax.imshow(img)
            ax.set_title(title)
            ax.axis("off")
        fig.tight_layout()
        save_figure(fig, picture, dpi=90)
        plt.close(fig)
    return out


def sweep_overhead(size: int = 256, steps: int = 60) -> dict:
    """One papermill trial of notebooks/stylize.ipynb at ``size``: time outside the optimisation (kernel start,
    imports, weights, model, targets, records) against a default-length (1000-step) optimisation, projected
    from this trial's own median step."""
    import nbformat

    from nststudy import StyleConfig

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / f"trial_{WEIGHTS}-weights"  # a random-weight run saves into a folder saying so
        params = {"content": CONTENT, "style": STYLE, "image_size": size, "epochs": 1, "steps_per_epoch": steps,
                  "show": False, "weights": WEIGHTS}
        start = time.perf_counter()
        status = run_trial(str(REPO / "notebooks" / "stylize.ipynb"), str(folder), params, cwd=str(REPO))
        total = time.perf_counter() - start
        if status["status"] != "complete":
            return {"error": status.get("reason", status["status"])}
        result = json.loads((folder / "result.json").read_text())
        nb = nbformat.read(folder / "output.ipynb", as_version=4)
        cells = [(c.source.splitlines()[0][:60] if c.source else "", c.metadata.get("papermill", {}).get("duration"))
                 for c in nb.cells if c.cell_type == "code"]
        import csv

        with open(folder / "history.csv", newline="") as f:
            seconds = [float(r["seconds"]) for r in csv.DictReader(f)]
    optimisation = result["wall_seconds"]
    median_step = statistics.median(np.diff([0.0] + seconds)[3:])
    default_steps = StyleConfig().total_steps
    projected = median_step * default_steps
    overhead = total - optimisation
    return {"size": size, "trial_s": total, "optimisation_s": optimisation, "overhead_s": overhead,
            "median_step_s": median_step, "default_steps": default_steps, "projected_optimisation_s": projected,
            "overhead_fraction": overhead / (overhead + projected), "cells": cells}


__all__ = ["precision_study", "model_speed", "warm_paths", "multiscale_method", "MULTISCALE", "matmul_gflops", "conv_flops", "per_step", "time_to_quality", "sweep_overhead", "images",
           "CONTENT_LAYERS", "STYLE_LAYERS"]
