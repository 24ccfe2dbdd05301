"""Peak-memory estimate of a run, checked before it starts (neural-style users lose hours to OOM kills).

peak ≈ runtime + copies · weights + k · Σ_layers H_l·W_l·C_l·4 bytes (+ L-BFGS history 2·m·n·8 bytes)

where the sum runs over the layers the truncated extractor computes (float32 activations), and ``runtime`` is
what Python + TensorFlow + Keras (+ XLA) hold whatever the image size. k and runtime depend on how the run's
step executes (``nststudy.accel`` chooses by measurement, so the estimate takes the worst case of the ways the
run may go; ``run_kind``). Peak RSS (VmHWM) measured here in fresh processes, benchmarks/peak_memory.py (VGG19,
default layers, to block5_conv1; Adam, 3 steps; GB = 1e9 bytes; 2026-11-29, TF 2.21, AMD EPYC with avx512_bf16):

    path (forced by NSTSTUDY_XLA / NSTSTUDY_PRECISION)   256²    512²    1024²
    tf.function (float32)                                  1.02    1.46    -
    bfloat16 (no XLA)                                      1.04    1.45    -
    XLA (float32)                                          1.53    2.77    7.42 (make bench)
    bfloat16 + XLA                                         1.62    2.83    -
    a first run: every candidate path timed in-process     1.71    4.09    -   (then ran on tf.function)

- XLA, not bfloat16, is what costs memory: k ≈ 4.8 with XLA in either precision, ≈ 1.6-1.8 without. bfloat16
  does not halve anything that matters: the mixed_bfloat16 copy of the extractor (``models._copy_at``) holds
  its own float32 weights (a second copy), casts each kernel to bfloat16 per call, and casts the style and
  content layers' outputs back to float32, so Grams and losses see the same float32 tensors as on the float32
  path; measured, bfloat16 + XLA peaks above XLA at 256² and 512².
- Why the XLA path grew from the fit of 2026-11-25 (2.33 GB at 512², 5.24 GB at 1024², same TF): Adam's start
  image is now evaluated once by a plain tf.function before the XLA step (``optimize.run_gradient``: rows after
  the update); its TensorFlow/oneDNN buffers stay resident beside XLA's. With that evaluation also under XLA the
  512² peak was 2.53 GB instead of 2.77 (the rest of the rise is not explained).
- The worst case is the first run at a size: ``accel.measure`` traces and runs all candidate paths (four on
  a CPU with bfloat16) in one process, and their buffers add up (k ≈ 9.5). Later runs find the choice in the
  paths cache and peak like the chosen path; the estimate does not read the cache, so it stays on the safe side.
With the constants below the estimate is 1.0-1.03x the measured peak on the forced XLA paths (256² to 1024²),
1.0-1.05x without XLA, and 1.08-1.17x on a first run at 256²/512²; 1024² was measured only on the
XLA float32 path (make bench), so the first-run figure there (14 GB) is extrapolated, not measured.
The style image's forward pass (no gradient) is not counted. ``NSTSTUDY_MEMORY_CHECK=0`` turns the check off.
"""

from __future__ import annotations

import os

from .config import StyleConfig, keras_layer_name, model_layers

# (runtime bytes without the weights, k) per kind of run, from the table above: each line through the 512²
# figure of the path it covers (the larger one; with two copies of the weights where bfloat16 may run), checked at 256²/1024².
KINDS = {"plain": (0.815e9, 1.78),  # without XLA (tf.function 1.0x at 256² and 512², bfloat16 1.02x, 1.05x)
         "xla": (1.113e9, 4.8),  # XLA in either precision (bfloat16 + XLA: 1.0x; XLA float32 at 1024²: 1.03x)
         "measuring": (1.113e9, 9.5)}  # candidate paths timed in the run's process (first run: 1.17x, 1.08x)
LBFGS_MEMORY = 10  # maxcor pairs kept by L-BFGS-B
_CHANNELS = {1: 64, 2: 128, 3: 256, 4: 512, 5: 512}


def run_kind(config: StyleConfig, height: int, width: int, environ=None, flags=None) -> str:
    """How a run's step may execute, as far as memory goes, by ``accel.plan``'s rules: "measuring" when it may
    time several candidate paths in this process (the paths cache is not read: the worst case), else "xla" or
    "plain" (no XLA) for the one path it will take."""
    from .accel import MIN_PIXELS, MIN_STEPS, PATHS, candidates, cpu_flags, overrides

    over = overrides(environ)
    small = height * width < MIN_PIXELS or config.total_steps < MIN_STEPS
    if (over["xla"] is not None and over["precision"] is not None) or small:
        return "xla" if over["xla"] else "plain"
    names = candidates(cpu_flags() if flags is None else flags, over["xla"], over["precision"])
    if len(names) > 1:
        return "measuring"
    return "xla" if PATHS[names[0]][0] else "plain"


def weights_bytes(model: str, deepest: str) -> float:
    """float32 bytes of the conv kernels and biases up to ``deepest``."""
    total, cin = 0, 3
    for name in model_layers(model):
        if "conv" in name:
            cout = _CHANNELS[int(name[5])]
            total += (9 * cin + 1) * cout
            cin = cout
        if name == deepest:
            break
    return 4.0 * total


def activation_bytes(model: str, deepest: str, height: int, width: int) -> float:
    """float32 bytes of every layer output up to ``deepest`` for one (height, width) image."""
    total, h, w = 0.0, height, width
    for name in model_layers(model):
        if "pool" in name:
            h, w = h // 2, w // 2
        total += h * w * _CHANNELS[int(name[5])]
        if name == deepest:
            break
    return 4.0 * total


def estimate_peak_bytes(config: StyleConfig, height: int, width: int, environ=None, flags=None) -> float:
    """Peak bytes of a run of ``config`` at ``height`` x ``width`` (the module docstring), for the worst way
    its step may execute here (``run_kind``; ``environ`` and ``flags`` stand in for os.environ and the CPU's)."""
    layers = [keras_layer_name(n, config.model) for n in config.content_layers + config.style_layers]
    order = model_layers(config.model)
    deepest = max(layers, key=order.index)
    from .accel import overrides

    runtime, k = KINDS[run_kind(config, height, width, environ, flags)]
    copies = 1 if overrides(environ)["precision"] == "float32" else 2  # bfloat16: the extractor's copy (models._copy_at)
    peak = runtime + copies * weights_bytes(config.model, deepest)
    peak += k * activation_bytes(config.model, deepest, height, width)
    if config.optimizer == "lbfgs":
        peak += 2 * LBFGS_MEMORY * height * width * 3 * 8 + 6 * height * width * 3 * 8
    return peak


def available_bytes() -> float:
    """``NSTSTUDY_MEMORY_LIMIT`` (bytes, or e.g. "6G", "512M") when set: a cap on a shared machine;
    else MemAvailable from /proc/meminfo (Linux), else the physical memory, else infinity."""
    limit = os.environ.get("NSTSTUDY_MEMORY_LIMIT", "").strip()
    if limit:
        units = {"K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}
        try:
            if limit[-1].upper() in units:
                return float(limit[:-1]) * units[limit[-1].upper()]
            return float(limit)
        except ValueError:
            raise ValueError(f"NSTSTUDY_MEMORY_LIMIT={limit!r} is not a size; give bytes or a number with "
                             f"K, M, G or T, e.g. 6G") from None
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return float(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return float(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):
        return float("inf")


def check_fits(config: StyleConfig, height: int, width: int, available: float | None = None, layers=None,
               optimizer=None) -> float:
    """Raise MemoryError, with the estimate and the largest size that would fit, when a run cannot fit.

    ``layers`` and ``optimizer`` stand in for the config's when a loop uses others (DeepDream's layers)."""
    if layers is not None or optimizer is not None:
        config = config.replace(content_layers=list(layers or config.content_layers), style_layers=[],
                                style_layer_weights=[], optimizer=optimizer or config.optimizer)
    need = estimate_peak_bytes(config, height, width)
    if available is None:
        if os.environ.get("NSTSTUDY_MEMORY_CHECK", "1") == "0":
            return need
        available = available_bytes()
    if need <= available:
        return need
    longest, fits = max(height, width), 16
    for size in range(16, longest, 16):
        s = size / longest
        if estimate_peak_bytes(config, max(1, round(height * s)), max(1, round(width * s))) <= available:
            fits = size
    raise MemoryError(f"a {width}x{height} px {config.model} run with {config.optimizer} needs about "
                      f"{need / 2**30:.1f} GiB but {available / 2**30:.1f} GiB is available; the largest "
                      f"image_size that fits is about {fits} px (or use fewer or shallower layers)")


__all__ = ["estimate_peak_bytes", "run_kind", "KINDS", "check_fits", "available_bytes", "activation_bytes", "weights_bytes"]
