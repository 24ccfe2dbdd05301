"""Real-time benchmark (issue 20): frames per second of the transform network, batch 1, at 256² and 512², for
widths 1, 1/2, 1/4, and where the time goes (ablations of one layer kind at a time).

    python benchmarks/realtime.py                  # the table and the breakdown (about 3-4 min on 2 cores)
    python benchmarks/realtime.py --quick          # a smoke run (seconds)
    python benchmarks/realtime.py --json out.json  # also write the numbers

`make bench` (run.py) runs this as its "realtime" section and keeps the record in results.json, from which
report.py writes RESULTS.md's "Real time" section and the README's real-time block; run alone, it only prints
(and writes --json). Weights are seeded random: speed does not depend on their values, and every line says
so. Each (width, size) is timed in interleaved rounds (one after the other, then again) and the median frame
time is reported, so the drift of a shared machine hits all of them alike. Goals (issue 20, report.TARGETS):
>= 24 fps at 256² and >= 6 fps at 512² for the recommended width and precision.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

import report  # noqa: E402

WIDTHS = (1.0, 0.5, 0.25)
SIZES = (256, 512)
RECOMMENDED_WIDTH = 0.5  # README "Real time"; keep in step with TrainConfig.width's default
PRECISIONS = ("float32", "bfloat16")
LABEL = "seeded random weights (speed only; it does not depend on their values)"


def recommended_precision() -> str:
    """What ``nststudy apply --precision auto`` computes in on this CPU: bfloat16 where it is native, else float32."""
    from nststudy.transform import native_bfloat16

    return "bfloat16" if native_bfloat16() else "float32"


def transform_flops(size: int, width: float, residual_blocks: int = 5) -> float:
    """FLOPs (2 per multiply-add) of the convolutions of one forward pass at size² (size a multiple of 4).

    Layers as nststudy.transform: 9x9 3->c1 at full size, 3x3 c1->c2 stride 2 (output at 1/2), 3x3 c2->c3
    stride 2 (at 1/4), 2 x residual_blocks 3x3 c3->c3 at 1/4, 3x3 c3->c2 at 1/2 and c2->c1 at full size
    (after each 2x resize), 9x9 c1->3 at full size. Norms, ReLUs, padding and resizes are not counted.
    """
    from nststudy.transform import channels

    c1, c2, c3 = channels(width)
    full, half, quarter = size * size, (size // 2) ** 2, (size // 4) ** 2
    macs = (full * 81 * 3 * c1 + half * 9 * c1 * c2 + quarter * 9 * c2 * c3
            + 2 * residual_blocks * quarter * 9 * c3 * c3 + half * 9 * c3 * c2 + full * 9 * c2 * c1
            + full * 81 * c1 * 3)
    return 2.0 * macs


def frame_times(stylizer, size: int, frames: int) -> list[float]:
    x = np.random.default_rng(0).uniform(0, 255, (1, size, size, 3)).astype(np.float32)
    times = []
    for _ in range(frames):
        t = time.perf_counter()
        stylizer.raw(x).numpy()
        times.append(time.perf_counter() - t)
    return times


def measure(widths=WIDTHS, sizes=SIZES, precisions=PRECISIONS, rounds: int = 3, frames: int = 8,
            residual_blocks: int = 5, padding: str = "zero") -> dict:
    """``{(width, precision, size): {"fps", "ms", "gflops"}}``: median over ``rounds`` x ``frames`` frames."""
    from nststudy.transform import Stylizer, build_transform

    stylizers = {(w, p): Stylizer(build_transform(w, residual_blocks, padding, seed=0), p)
                 for w in widths for p in precisions}
    times = {(w, p, s): [] for (w, p) in stylizers for s in sizes}
    for (w, p, s) in times:  # warm-up: trace and first run of each size
        frame_times(stylizers[(w, p)], s, 2)
    for _ in range(rounds):
        for (w, p, s) in times:
            times[(w, p, s)] += frame_times(stylizers[(w, p)], s, frames)
    out = {}
    for (w, p, s), t in times.items():
        median = statistics.median(t)
        out[(w, p, s)] = {"fps": 1.0 / median, "ms": 1000 * median,
                          "gflops": transform_flops(s, w, residual_blocks) / median / 1e9}
    return out


def breakdown(width: float = RECOMMENDED_WIDTH, size: int = 256, rounds: int = 3, frames: int = 8,
              precision: str = "bfloat16") -> dict:
    """Frame time (ms) of the recommended network (the first entry) and of variants that change one thing:
    where the time goes.

    "no instance norm" swaps the norm layers for the identity (the network computes something else; only
    its speed is of interest); "3 residual blocks" drops two of the five; "reflect padding" mirrors the
    border before each conv; the other precision computes in float32 instead of bfloat16 or the reverse.
    """
    import keras

    from nststudy import transform

    class Identity(keras.layers.Layer):
        def call(self, x):
            return x

    other = "float32" if precision == "bfloat16" else "bfloat16"
    variants = {f"recommended: zero padding, 5 blocks, {precision}": {}, other: {"precision": other},
                "reflect padding": {"padding": "reflect"}, "3 residual blocks": {"residual_blocks": 3},
                "no residual blocks": {"residual_blocks": 0}, "no instance norm": {"norm": False}}
    stylizers = {}
    for name, v in variants.items():
        original = transform.InstanceNormalization
        if v.get("norm") is False:
            transform.InstanceNormalization = lambda **kw: Identity(name=kw.get("name"))
        try:
            net = transform.build_transform(width, v.get("residual_blocks", 5), v.get("padding", "zero"), seed=0)
        finally:
            transform.InstanceNormalization = original
        stylizers[name] = transform.Stylizer(net, v.get("precision", precision))
    times = {name: [] for name in variants}
    for name in variants:
        frame_times(stylizers[name], size, 2)
    for _ in range(rounds):
        for name in variants:
            times[name] += frame_times(stylizers[name], size, frames)
    return {name: 1000 * statistics.median(t) for name, t in times.items()}


def layer_kind(layer, shape) -> str:
    """A group name for a layer of the transform network: what kind of work, at which resolution."""
    import keras

    from nststudy.transform import InstanceNormalization, SpaceToDepthConv

    name = type(layer).__name__
    if isinstance(layer, SpaceToDepthConv):
        return f"conv {layer.kernel_size}x{layer.kernel_size} {layer.kernel.shape[2]}->{layer.filters} (space-to-depth)"
    if isinstance(layer, keras.layers.Conv2D):
        k, s = layer.kernel_size[0], layer.strides[0]
        return f"conv {k}x{k}{' stride 2' if s > 1 else ''} {layer.kernel.shape[2]}->{layer.filters}"
    if isinstance(layer, InstanceNormalization):
        return "instance norm"
    kinds = {"ReLU": "relu", "UpSampling2D": "2x nearest resize", "Add": "residual add"}
    return kinds.get(name, "other (scale, pad, crop, tanh)")


def per_layer(width: float = RECOMMENDED_WIDTH, size: int = 256, precision: str = "bfloat16",
              reps: int = 10) -> dict:
    """Median time of each layer run alone on its real input (one compiled call per layer), summed by
    kind: where a frame's time goes. The sum is near the whole network's frame time, not equal to it
    (no overlap between layers here, and each call has its own small overhead)."""
    import keras
    import tensorflow as tf

    from nststudy.transform import Stylizer, build_transform

    net = Stylizer(build_transform(width, 5, "zero", seed=0), precision).model
    layers = [layer for layer in net.layers if not isinstance(layer, keras.layers.InputLayer)]
    x = tf.constant(np.random.default_rng(0).uniform(0, 255, (1, size, size, 3)).astype(np.float32))
    # every layer's input, from one pass: a model whose outputs are all intermediate tensors
    values = {id(net.input): x}
    for layer in layers:
        args = [values[id(t)] for t in (layer.input if isinstance(layer.input, list) else [layer.input])]
        values[id(layer.output)] = layer(args if isinstance(layer.input, list) else args[0])
    totals = {}
    for layer in layers:
        args = [values[id(t)] for t in (layer.input if isinstance(layer.input, list) else [layer.input])]
        single = not isinstance(layer.input, list)
        fn = tf.function(lambda *a, layer=layer, single=single: layer(a[0] if single else list(a)))
        fn(*args)
        times = []
        for _ in range(reps):
            t = time.perf_counter()
            out = fn(*args)
            _ = out.numpy()[0, 0, 0, 0]
            times.append(time.perf_counter() - t)
        kind = layer_kind(layer, args[0].shape)
        totals[kind] = totals.get(kind, 0.0) + 1000 * statistics.median(times)
    return dict(sorted(totals.items(), key=lambda kv: -kv[1]))


def main(argv=None) -> dict:
    """Measure, print the table, the goals and where the time goes, and return the record (run.py keeps it in
    results.json as "realtime"; report.py reads it)."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="one round of 2 frames, 64 and 128 px: a smoke run")
    p.add_argument("--json", help="write the numbers to this file")
    p.add_argument("--no-breakdown", action="store_true")
    args = p.parse_args(argv)
    import tensorflow as tf

    from nststudy.accel import cpu_model

    sizes, rounds, frames = ((64, 128), 1, 2) if args.quick else (SIZES, 3, 8)
    precision = recommended_precision()
    load_at_start = os.getloadavg()[0]
    print(f"realtime: {cpu_model()}, {os.cpu_count()} CPUs, TensorFlow {tf.__version__}; transform network, batch 1, "
          f"zero padding, 5 residual blocks, {LABEL}; load average {load_at_start:.1f}", flush=True)
    results = measure(sizes=sizes, rounds=rounds, frames=frames)
    parts = {} if args.no_breakdown else breakdown(size=sizes[0], rounds=rounds, frames=frames, precision=precision)
    layers = {} if args.no_breakdown else per_layer(size=sizes[0], precision=precision, reps=3 if args.quick else 10)
    record = {"date": time.strftime("%Y-%m-%d %H:%M"), "cpu": cpu_model(), "cpus": os.cpu_count(),
              "tensorflow": tf.__version__, "weights": LABEL, "quick": args.quick, "rounds": rounds,
              "frames": frames, "residual_blocks": 5, "padding": "zero",
              "load_average_at_start": load_at_start, "load_average_at_end": os.getloadavg()[0],
              "recommended": {"width": RECOMMENDED_WIDTH, "precision": precision},
              "fps": [{"width": w, "precision": p, "size": s, **v} for (w, p, s), v in results.items()],
              "breakdown_ms": parts, "per_layer_ms": layers, "breakdown_size": sizes[0],
              "breakdown_width": RECOMMENDED_WIDTH, "breakdown_precision": precision}
    for line in report.realtime_lines(record):
        print(line, flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(record, indent=2) + "\n")
    return record


if __name__ == "__main__":
    main()
