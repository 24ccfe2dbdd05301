"""`make bench`: nststudy against the TensorFlow tutorial's style-transfer loop, side by side in one process.

    python benchmarks/run.py                 # the full run (about 65-85 min on 2 cores)
    python benchmarks/run.py --quick         # a small smoke run into $TMPDIR/nststudy-bench-quick (a few minutes)

Prints one line per figure, saves results.json after each section and, at the end, has report.py write
RESULTS.md (machine, versions, table, targets, caveats) from it, plus the README's generated blocks when
--out is benchmarks/ itself; loss_vs_time.png goes into --out. With no ImageNet weights found, runs on seeded random weights (speed does
not depend on weight values) and says so in every line. The last section, "realtime", is benchmarks/realtime.py
(the feed-forward network's frames per second, always on seeded random weights, labelled so).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import measure  # noqa: E402
import peak_memory  # noqa: E402
import realtime  # noqa: E402
import report  # noqa: E402

from report import TARGETS  # noqa: E402


def machine() -> dict:
    import keras
    import numpy
    import scipy
    import tensorflow as tf

    from nststudy.accel import cpu_flags, cpu_model

    flags = sorted(f for f in cpu_flags() if f.startswith(("avx", "amx", "fma")))
    return {"cpu": cpu_model(), "flags": flags, "cores": os.cpu_count(), "load_average_at_start": os.getloadavg()[0],
            "python": platform.python_version(), "tensorflow": tf.__version__, "keras": keras.__version__,
            "numpy": numpy.__version__, "scipy": scipy.__version__, "date": time.strftime("%Y-%m-%d %H:%M")}


def plot(quality: dict, path: Path, label: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from nststudy.files import save_figure

    fig, ax = plt.subplots(figsize=(7, 4.2))
    for name, m in quality["methods"].items():
        t, loss = [c[0] for c in m["curve"]], [c[1] for c in m["curve"]]
        ax.plot(t, loss, label=name, lw=1.4)
    ax.axhline(quality["target"], color="k", ls=":", lw=1, label=f"baseline's loss after {quality['steps']} steps")
    ax.set(xlabel="wall time (s)", ylabel="tutorial loss (same function for all)", yscale="log",
           title=f"Loss vs wall time, {quality['size']}² px — {label}")
    ax.legend(fontsize=8)
    fig.tight_layout()
    save_figure(fig, path, dpi=110)
    plt.close(fig)


def measure_all(args, r: dict, save) -> None:
    """Run every section not already in ``r`` (``--reuse``), printing one line per figure, saving after each."""
    quick = args.quick
    sizes, timed, q_size = ((64, 96), 4, 64) if quick else ((256, 512), 8, 256)
    q_steps = args.quality_steps or (30 if quick else 1000)
    mem_sizes, o_size = ((64, 96, 128), 64) if quick else ((256, 512, 1024), 256)
    from nststudy.models import _vgg_base, resolve_weights

    vgg = _vgg_base("vgg19", resolve_weights("vgg19", measure.WEIGHTS))
    if "matmul_gflops" not in r:
        r["matmul_gflops"] = measure.matmul_gflops(512 if quick else 2048)
        save(r)
    if "matmul_gflops_bf16" not in r:
        import tensorflow as tf

        r["matmul_gflops_bf16"] = measure.matmul_gflops(512 if quick else 2048, dtype=tf.bfloat16)
        save(r)
    gflops = r["matmul_gflops"]
    print(f"matmul: {gflops:.1f} GFLOP/s float32, {r['matmul_gflops_bf16']:.1f} GFLOP/s bfloat16 (TensorFlow, "
          f"{os.cpu_count()} cores; CPU flags: {', '.join(r['machine'].get('flags', [])) or 'not recorded'})", flush=True)
    if "per_step" not in r:
        r["per_step"] = [measure.per_step(vgg, size, timed) for size in sizes]
        save(r)
    for s in r["per_step"]:
        achieved = s["flops"] / s["nststudy_s"] / 1e9
        print(f"per step {s['size']}²: baseline {s['baseline_s']:.3f} s, nststudy {s['nststudy_s']:.3f} s on "
              f"{s.get('path', '?')}, speedup {s['speedup']:.2f}x (target >= {TARGETS['speedup']}x)", flush=True)
        if s.get("candidates"):
            print(f"paths {s['size']}²: " + ", ".join(f"{n} {v:.3f} s" + ("" if s["agreement"][n]["ok"] else " (refused)")
                                                   for n, v in s["candidates"].items()), flush=True)
        print(f"GFLOP/s {s['size']}²: nststudy {achieved:.1f}, baseline {s['flops'] / s['baseline_s'] / 1e9:.1f}, "
              f"matmul {gflops:.1f} -> {achieved / gflops:.0%} of matmul (target >= 85%)", flush=True)
    if r.get("quality", {}).get("stale"):  # measured on older code: remeasure every method, the baseline too
        del r["quality"]
    if not r.get("quality", {}).get("complete", False):  # older records have no "complete": rerun them
        def save_quality(quality):
            r["quality"] = quality
            save(r)

        started = {"date": time.strftime("%Y-%m-%d %H:%M"), "load_average_at_start": os.getloadavg()[0]}
        r["quality"] = measure.time_to_quality(vgg, q_size, q_steps, r.get("quality"), save_quality)
        now = machine()  # a section measured after the others (--reuse) says when, and on which CPU
        r["quality"]["measured"] = {**started, "load_average_at_end": os.getloadavg()[0], "cpu": now["cpu"],
                                    "flags": now["flags"], "cores": now["cores"]}
        save(r)
    q = r["quality"]
    for name, m in q["methods"].items():
        state = f"{m['seconds']:.1f} s at step {m['step']}" if m["reached"] else f"not reached (best {m['best']:.4g})"
        frac = f" = {m['seconds'] / q['methods'][measure.BASELINE]['seconds']:.2f} of the loop's" if m["reached"] else ""
        print(f"time to quality {q['size']}²: {name}: {state}{frac} (path {m.get('path', '-')})", flush=True)
    if "precision" not in r:
        r["precision"] = measure.precision_study(q_size, 20 if quick else 300, picture=args.out_dir / "precision.png")
        save(r)
    pr = r["precision"]
    f32, b16 = pr["runs"]["float32"], pr["runs"]["bfloat16"]
    print(f"precision {pr['size']}², {pr['steps']} {pr['optimizer']} steps: final float32 loss {f32['final_float32_loss']:.4g} "
          f"(float32 run, {f32['seconds']:.0f} s) vs {b16['final_float32_loss']:.4g} (bfloat16 run, {b16['seconds']:.0f} s), "
          f"pixel RMS difference {pr['pixel_rms_difference']:.2f}", flush=True)
    if "memory" not in r:
        r["memory"] = [peak_memory.measure(s) for s in mem_sizes]
        save(r)
    for mem in r["memory"]:
        if "error" in mem:
            print(f"peak memory {mem['size']}²: failed ({mem['error']})", flush=True)
        else:
            print(f"peak memory {mem['size']}²: {mem['peak_bytes'] / 2**30:.2f} GiB, estimate "
                  f"{mem['estimate_bytes'] / 2**30:.2f} GiB (x{mem['estimate_bytes'] / mem['peak_bytes']:.2f})", flush=True)
    if "overhead" not in r:
        r["overhead"] = measure.sweep_overhead(o_size, 60)
        save(r)
    o = r["overhead"]
    if "error" in o:
        print(f"sweep overhead: trial failed ({o['error']})", flush=True)
    else:
        print(f"sweep overhead {o['size']}²: {o['overhead_s']:.1f} s outside the optimisation, against "
              f"{o['projected_optimisation_s']:.0f} s for {o['default_steps']} steps -> {o['overhead_fraction']:.1%} "
              f"(target <= 10%)", flush=True)
    if "models" not in r:
        r["models"] = [measure.model_speed(size, 4 if quick else 8) for size in sizes]
        save(r)
    for ms in r["models"]:
        print(f"VGG16 vs VGG19 {ms['size']}² ({ms['weights']} weights): " + ", ".join(
            f"{m} {v:.3f} s a step ({ms['paths'][m]})" for m, v in ms["seconds"].items())
            + f" -> VGG19 takes {ms['vgg19_over_vgg16']:.2f}x VGG16's time", flush=True)
    if "realtime" not in r:  # realtime.main prints its own lines
        r["realtime"] = realtime.main(["--quick"] if quick else [])
        save(r)
    else:
        print(f"realtime: kept from results.json (measured {r['realtime'].get('date', '?')})", flush=True)
        for line in report.realtime_goal_lines(r["realtime"]):
            print(f"realtime goal {line[2:]}", flush=True)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="tiny sizes and step counts: checks the benchmark runs")
    p.add_argument("--out", default=None, help="folder for RESULTS.md, loss_vs_time.png, results.json (default: "
                   "benchmarks/, which also rewrites the README's figures; with --quick, a temporary folder)")
    p.add_argument("--quality-steps", type=int, default=None, help="baseline steps for time to quality (1000)")
    p.add_argument("--reuse", action="store_true",
                   help="keep the sections already in --out/results.json (saved after each section) and run the rest")
    args = p.parse_args(argv)
    if args.out is None:  # quick numbers must never land in the committed record or the README
        args.out = str(Path(tempfile.gettempdir()) / "nststudy-bench-quick") if args.quick else str(HERE)
    args.out_dir = Path(args.out)
    from nststudy.files import write_text
    from nststudy.models import WeightsNotFoundError, resolve_weights

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    try:
        label = resolve_weights("vgg19", "imagenet").label
    except WeightsNotFoundError:
        measure.WEIGHTS = "random"
        label = "RANDOM WEIGHTS (no ImageNet file found; speed does not depend on them)"
    print(f"weights: {label}", flush=True)
    r = json.loads((out / "results.json").read_text()) if args.reuse and (out / "results.json").exists() else {}
    if r.get("weights") not in (None, label):
        raise SystemExit(f"{out / 'results.json'} was measured with {r['weights']}, not {label}; drop --reuse")
    r.update(weights=label, command="python benchmarks/run.py" + " ".join([""] + (argv or sys.argv[1:])))
    # nststudy chooses its path (XLA, bfloat16) by measurement: measure afresh in this run, not from a user's cache
    os.environ["NSTSTUDY_PATHS_CACHE"] = str(Path(tempfile.mkdtemp(prefix="nststudy-bench-")) / "paths.json")
    r.setdefault("machine", machine())

    def save(results):
        write_text(out / "results.json", json.dumps(results, indent=1, default=float))

    measure_all(args, r, save)
    save(r)
    if any(m["curve"] for m in r["quality"]["methods"].values()):
        plot(r["quality"], out / "loss_vs_time.png", label)
    readme = report.README if out.resolve() == HERE else None  # a --quick run elsewhere leaves the README alone
    report.write(out / "results.json", out / "RESULTS.md", readme)
    print(f"wrote {out / 'RESULTS.md'}" + (f" and the generated block of {readme}" if readme else ""), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
