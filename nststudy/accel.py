"""Choose how a run's compiled step executes on this CPU — plain tf.function, XLA, bfloat16 compute — by timing
each candidate and checking that it agrees with float32; the choice is cached on disk per machine, model,
layers, image shape and TensorFlow version.

Which path is fastest is a property of the machine (issue 21): on a 2-core AMD EPYC with AVX-512 BF16, VGG19
value-and-gradient to block5_conv2 at 256² took 0.53 s plain, 0.67 s with XLA, 0.30 s in bfloat16 and 0.73 s
in bfloat16 under XLA; a machine without AVX-512 BF16 found bfloat16 slower and XLA faster. So before a run
long enough to pay for it (``MIN_PIXELS``, ``MIN_STEPS``), ``plan`` times a few value-and-gradient calls of
each candidate, interleaved so that a busy machine slows all of them alike, and keeps the fastest that
agrees with the float32 tf.function result (``agrees``). bfloat16 is a candidate only where the CPU has
AVX-512 BF16 or AMX (``/proc/cpuinfo``): elsewhere TensorFlow emulates it, slowly.

Overrides (environment): ``NSTSTUDY_XLA=0|1`` (never / always XLA) and ``NSTSTUDY_PRECISION=float32|bfloat16``;
with both set nothing is measured. ``NSTSTUDY_PATHS_CACHE`` names the cache file (default
``$XDG_CACHE_HOME/nststudy/paths.json`` or ``~/.cache/nststudy/paths.json``).

The selection itself (``candidates``, ``choose``, ``agrees``, ``cache_key``) is pure and tested on stub timings.
"""

from __future__ import annotations

import json
import os
import statistics
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

# name -> (XLA, precision). "tf.function" is also the reference the others must agree with.
PATHS = {"tf.function": (False, "float32"), "XLA": (True, "float32"), "bfloat16": (False, "bfloat16"),
         "bfloat16 + XLA": (True, "bfloat16")}
REFERENCE = "tf.function"
BF16_FLAGS = ("avx512_bf16", "amx_bf16")  # CPU flags with native bfloat16 arithmetic
# Runs smaller or shorter than this use the reference path unmeasured: timing and compiling would cost more
# than they can save (a 32 px test step takes milliseconds; XLA compiles for several seconds per size).
MIN_PIXELS, MIN_STEPS = 96 * 96, 50
# Agreement with float32 at the same points. bfloat16 keeps 8 significant bits (relative rounding 2^-9); through
# VGG19's 13 convolutions to block5 that gives, measured at 256² with ImageNet weights, losses 0.1-0.3 % and input
# gradients 9.5 % (relative L2; cosine 0.995) away from float32. The loss is what a researcher reads and what
# decides when a run has reached a quality, so it must agree to 1 %; the gradient only sets the direction of a
# step, and 20 % relative L2 still keeps the cosine above 0.98 (98 % of the float32 first-order decrease).
# The study in benchmarks/precision_study.py checks that the finished images and losses agree.
LOSS_RTOL, GRAD_RTOL = 1e-2, 0.2
TIMED_ROUNDS = 3


@dataclass(frozen=True)
class ComputePath:
    """How a run's step is compiled and at which precision its features are computed, and why."""

    name: str
    xla: bool
    precision: str  # "float32" | "bfloat16"
    how: str  # "measured" | "cached" | "override" | "small run" | "only candidate"
    timings: dict = field(default_factory=dict)  # candidate -> median seconds of one value-and-gradient
    agreement: dict = field(default_factory=dict)  # candidate -> {"loss": rel diff, "grad": rel diff, "ok": bool}

    def record(self) -> dict:
        """What env.json records."""
        return {**asdict(self), "tolerance": {"loss_rtol": LOSS_RTOL, "grad_rtol": GRAD_RTOL}}


def path_named(name: str, how: str, timings=None, agreement=None) -> ComputePath:
    xla, precision = PATHS[name]
    return ComputePath(name, xla, precision, how, dict(timings or {}), dict(agreement or {}))


def name_of(xla: bool, precision: str) -> str:
    return next(n for n, v in PATHS.items() if v == (xla, precision))


def overrides(environ=None) -> dict:
    """``{"xla": None|bool, "precision": None|str}`` from NSTSTUDY_XLA and NSTSTUDY_PRECISION."""
    environ = os.environ if environ is None else environ
    xla = environ.get("NSTSTUDY_XLA", "").strip()
    precision = environ.get("NSTSTUDY_PRECISION", "").strip().lower()
    if xla not in ("", "0", "1"):
        raise ValueError(f"NSTSTUDY_XLA={xla!r}: use 0 (never XLA), 1 (always XLA) or leave it unset (measure)")
    if precision not in ("", "float32", "bfloat16"):
        raise ValueError(f"NSTSTUDY_PRECISION={precision!r}: use float32, bfloat16 or leave it unset (measure)")
    return {"xla": None if xla == "" else xla == "1", "precision": precision or None}


def cpu_flags(cpuinfo="/proc/cpuinfo") -> set:
    """The CPU's feature flags (empty off Linux)."""
    try:
        with open(cpuinfo) as f:
            for line in f:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def cpu_model(cpuinfo="/proc/cpuinfo") -> str:
    import platform

    try:
        with open(cpuinfo) as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def candidates(flags, xla=None, precision=None) -> list[str]:
    """The paths worth timing on a CPU with ``flags``, within the overrides."""
    bf16 = any(f in flags for f in BF16_FLAGS)
    names = [n for n, (x, p) in PATHS.items()
             if (xla is None or x == xla) and (p == precision if precision else (p == "float32" or bf16))]
    return names


def agrees(loss, grad, ref_loss, ref_grad) -> dict:
    """Relative differences of a candidate's loss and gradient from float32's at the same point, and whether
    both are within tolerance. Non-finite values never agree."""
    loss, ref_loss = float(loss), float(ref_loss)
    grad, ref_grad = np.asarray(grad, np.float64).ravel(), np.asarray(ref_grad, np.float64).ravel()
    if not (np.isfinite(loss) and np.all(np.isfinite(grad))):
        return {"loss": float("inf"), "grad": float("inf"), "ok": False}
    dl = abs(loss - ref_loss) / max(abs(ref_loss), 1e-30)
    dg = float(np.linalg.norm(grad - ref_grad) / max(np.linalg.norm(ref_grad), 1e-30))
    return {"loss": dl, "grad": dg, "ok": bool(dl <= LOSS_RTOL and dg <= GRAD_RTOL)}


def choose(names, timings: dict, agreement: dict) -> str:
    """The fastest of ``names`` whose result agrees with float32 (the reference always agrees). When none
    agrees (only possible when overrides exclude the reference), the fastest float32 one, else the first."""
    ok = [n for n in names if n in timings and (n == REFERENCE or agreement.get(n, {}).get("ok"))]
    if ok:
        return min(ok, key=lambda n: timings[n])
    float32 = [n for n in names if PATHS[n][1] == "float32" and n in timings]
    return min(float32, key=lambda n: timings[n]) if float32 else names[0]


def cache_key(config, shape, flags=None) -> str:
    """One entry per machine (CPU model, cores, the flags that matter), software, model and layers, shape."""
    import keras
    import tensorflow as tf

    from .config import keras_layer_name

    flags = cpu_flags() if flags is None else flags
    layers = sorted({keras_layer_name(n, config.model) for n in (*config.content_layers, *config.style_layers)})
    key = {"cpu": cpu_model(), "cores": os.cpu_count(), "flags": sorted(f for f in flags if f.startswith(("avx", "amx"))),
           "tensorflow": tf.__version__, "keras": keras.__version__, "model": config.model, "pooling": config.pooling,
           "layers": layers, "shape": [int(s) for s in shape]}
    return json.dumps(key, sort_keys=True)


def cache_file(environ=None) -> Path:
    environ = os.environ if environ is None else environ
    if environ.get("NSTSTUDY_PATHS_CACHE"):
        return Path(environ["NSTSTUDY_PATHS_CACHE"]).expanduser()
    base = environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "nststudy" / "paths.json"


def read_cache(path) -> dict:
    try:
        data = json.loads(Path(path).read_text())
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):  # absent or unreadable: measure again
        return {}


def write_cache_entry(path, key: str, entry: dict) -> None:
    from .files import write_json

    data = read_cache(path)
    data[key] = entry
    try:
        write_json(path, data)
    except OSError:  # a read-only home only costs a new measurement next time
        pass


def measure(loss_fn, x0, names, rounds: int = TIMED_ROUNDS) -> tuple[dict, dict]:
    """Median seconds of one value-and-gradient per path, and each path's agreement with float32, at the start
    ``x0`` and at a nearby point (x0 plus seeded noise of 8 grey levels, so a content term is not zero)."""
    import tensorflow as tf

    x0 = np.asarray(x0, np.float32)
    noisy = np.clip(x0 + np.random.default_rng(0).normal(0, 8, x0.shape), 0, 255).astype(np.float32)
    points = [tf.constant(x0), tf.constant(noisy)]
    fns = {n: value_and_grad_fn(loss_fn, *PATHS[n]) for n in dict.fromkeys([REFERENCE, *names])}
    values = {n: [f(p) for p in points] for n, f in fns.items()}  # traces and compiles; the values to compare
    seconds = {n: [] for n in names}
    for i in range(rounds):  # interleaved: load from other processes slows every candidate alike
        for n in names:
            t = time.perf_counter()
            terms, _ = fns[n](points[i % 2])
            float(terms["total"])
            seconds[n].append(time.perf_counter() - t)
    ref = [(float(terms["total"]), grad.numpy()) for terms, grad in values[REFERENCE]]
    agreement = {}
    for n in names:
        checks = [agrees(terms["total"], grad.numpy(), *r) for (terms, grad), r in zip(values[n], ref)]
        agreement[n] = {"loss": max(c["loss"] for c in checks), "grad": max(c["grad"] for c in checks),
                        "ok": all(c["ok"] for c in checks)}
    return {n: statistics.median(s) for n, s in seconds.items()}, agreement


def value_and_grad_fn(loss_fn, xla: bool, precision: str, shape=None):
    """The compiled ``x -> (loss terms, d total / d x)`` of one path (for a fixed ``shape`` if given)."""
    import tensorflow as tf

    from .models import compute_precision

    signature = [tf.TensorSpec(shape, tf.float32)] if shape is not None else None

    @tf.function(input_signature=signature, jit_compile=xla)
    def f(x):
        with compute_precision(precision), tf.GradientTape() as tape:
            tape.watch(x)
            terms = loss_fn(x)
        return terms, tape.gradient(terms["total"], x)

    return f


def plan(loss_fn, x0, config, environ=None, measure_fn=None, flags=None) -> ComputePath:
    """The path a run of ``config`` from ``x0`` should take on this machine (see the module docstring)."""
    over = overrides(environ)
    flags = cpu_flags() if flags is None else flags
    shape = np.shape(x0)
    if over["xla"] is not None and over["precision"] is not None:
        return path_named(name_of(over["xla"], over["precision"]), "override")
    small = shape[1] * shape[2] < MIN_PIXELS or config.total_steps < MIN_STEPS
    if small:
        return path_named(name_of(bool(over["xla"]), over["precision"] or "float32"), "small run")
    names = candidates(flags, over["xla"], over["precision"])
    how = "override" if over["xla"] is not None or over["precision"] is not None else "measured"
    if len(names) == 1:
        return path_named(names[0], "only candidate" if how == "measured" else how)
    path = cache_file(environ)
    key = cache_key(config, shape, flags)
    entry = read_cache(path).get(key)
    if entry and all(n in entry.get("timings", {}) for n in names):
        timings, agreement = entry["timings"], entry["agreement"]
        how = "cached" if how == "measured" else how
    else:
        timings, agreement = (measure_fn or measure)(loss_fn, x0, names)
        write_cache_entry(path, key, {"timings": timings, "agreement": agreement,
                                      "measured": time.strftime("%Y-%m-%d %H:%M:%S")})
    return path_named(choose(names, timings, agreement), how, timings, agreement)


__all__ = ["ComputePath", "PATHS", "plan", "choose", "candidates", "agrees", "overrides", "cpu_flags", "cpu_model",
           "cache_key", "cache_file", "measure", "value_and_grad_fn", "LOSS_RTOL", "GRAD_RTOL"]
