"""Peak-memory estimate of a run, checked before it starts (neural-style users lose hours to OOM kills).

peak ≈ runtime + weights + k · Σ_layers H_l·W_l·C_l·4 bytes (+ L-BFGS history 2·m·n·8 bytes)

where the sum runs over the layers the truncated extractor computes (activations kept for the backward
pass), k covers gradients and temporaries, and ``runtime`` is what Python + TensorFlow + Keras + XLA
hold whatever the image size. Both were fitted to peak RSS measured here in fresh processes
(benchmarks/peak_memory.py, VGG19, default layers, XLA on): 0.99 GB at 64², 1.20 GB at 128², 1.44 GB at
256², 2.31 GB at 512², 5.24 GB at 1024² with Adam (L-BFGS +0.02/+0.06/+0.15 GB at 128²/256²/512²). With
runtime 1.25 GB and k = 3 the estimate is 0.99-1.35× the measured peak at every size from 64² to
1024² (tests/test_memory.py checks the ratio at 128²; `make bench` prints it at 256², 512² and 1024²).
The style image's forward pass (no gradient) is not counted. ``NSTSTUDY_MEMORY_CHECK=0`` turns the check off.
"""

from __future__ import annotations

import os

from .config import StyleConfig, keras_layer_name, model_layers

RUNTIME_BYTES = 1.25e9  # intercept of the fit above, less the weights (~0.05 GB for VGG19 to block5_conv1)
K_ACTIVATIONS = 3.0  # forward activations + their gradients + XLA/Eigen temporaries (fitted 2.9-3.9)
LBFGS_MEMORY = 10  # maxcor pairs kept by L-BFGS-B
_CHANNELS = {1: 64, 2: 128, 3: 256, 4: 512, 5: 512}


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


def estimate_peak_bytes(config: StyleConfig, height: int, width: int) -> float:
    layers = [keras_layer_name(n, config.model) for n in config.content_layers + config.style_layers]
    order = model_layers(config.model)
    deepest = max(layers, key=order.index)
    peak = RUNTIME_BYTES + weights_bytes(config.model, deepest)
    peak += K_ACTIVATIONS * activation_bytes(config.model, deepest, height, width)
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


__all__ = ["estimate_peak_bytes", "check_fits", "available_bytes", "activation_bytes", "weights_bytes"]
