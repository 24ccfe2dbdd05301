"""`make bench`: nststudy against the TensorFlow tutorial's style-transfer loop, side by side in one process.

    python benchmarks/run.py                 # the full run (about 40-60 min on 2 cores)
    python benchmarks/run.py --quick --out /tmp/bench    # a small smoke run (tests/test_benchmarks.py)

Prints one line per figure and writes RESULTS.md (machine, versions, table, targets) and loss_vs_time.png
into --out. Text after the line ``<!-- notes -->`` in an existing RESULTS.md is kept: that is where a person
explains what limits a figure. With no ImageNet weights found, runs on seeded random weights (speed does
not depend on weight values) and says so in every line.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import measure  # noqa: E402
import peak_memory  # noqa: E402

TARGETS = {"speedup": 1.7, "quality_time_fraction": 0.25, "flops_fraction": 0.85, "memory_gib": 24,
           "overhead_fraction": 0.10}
NOTES_MARK = "<!-- notes -->"


def machine() -> dict:
    import keras
    import numpy
    import scipy
    import tensorflow as tf

    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")),
               platform.processor()) if Path("/proc/cpuinfo").exists() else platform.processor()
    return {"cpu": cpu, "cores": os.cpu_count(), "load_average_at_start": os.getloadavg()[0],
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


def verdict(ok: bool | None) -> str:
    return "—" if ok is None else ("met" if ok else "**not met**")


def results_md(r: dict, notes: str) -> str:
    m, label = r["machine"], r["weights"]
    lines = [f"# Benchmark results ({m['date']})", "",
             f"Machine: {m['cpu']}, {m['cores']} cores, load average {m['load_average_at_start']:.1f} at start. "
             f"Python {m['python']}, TensorFlow {m['tensorflow']}, Keras {m['keras']}, NumPy {m['numpy']}, "
             f"SciPy {m['scipy']}. Weights: {label}. Command: `{r['command']}`."
             + (f" Part of this record was {r['transcribed']}." if r.get("transcribed") else ""), "",
             "| figure | measured | target | verdict |", "|---|---|---|---|"]
    for row in r["table"]:
        lines.append(f"| {row[0]} | {row[1]} | {row[2]} | {verdict(row[3])} |")
    q = r["quality"]
    drawn = any(mm["curve"] for mm in q["methods"].values())
    lines += ["", "![loss vs wall time](loss_vs_time.png)" if drawn else
              "(No loss-vs-time plot: this record's curves were not kept; see results.json's `transcribed`.)", "",
              f"Time to quality at {q['size']}²: the wall time each method needs to reach the baseline's loss after "
              f"{q['steps']} steps" + (f" ({q['target']:.4g})." if q.get("target") else "."), "",
              "| method | reached | steps | wall s | fraction of baseline |", "|---|---|---|---|---|"]
    base = q["methods"]["tutorial baseline (Adam 0.02)"]["seconds"]
    for name, mm in q["methods"].items():
        frac = f"{mm['seconds'] / base:.2f}" if mm["reached"] else "—"
        secs = f"{mm['seconds']:.1f}" if mm["reached"] else f"best {mm['best']:.4g}"
        lines.append(f"| {name} | {'yes' if mm['reached'] else 'no'} | {mm['step'] or '—'} | {secs} | {frac} |")
    o = r["overhead"]
    if "cells" in o:
        lines += ["", f"Sweep overhead: one papermill trial at {o['size']} px took {o['trial_s']:.1f} s, of which "
                      f"{o['optimisation_s']:.1f} s optimising; per notebook cell (s):", ""]
        lines += [f"- `{src}`: {dur:.1f}" for src, dur in o["cells"] if dur is not None]
    lines += ["", "Memory (peak RSS of a 3-step Adam run in a fresh process, VGG19, default layers, XLA on) against "
                  "`nststudy.memory`'s estimate:", "", "| size | peak GiB | estimate GiB | estimate / peak |",
              "|---|---|---|---|"]
    for mem in r["memory"]:
        if "error" in mem:
            lines.append(f"| {mem['size']}² | failed: {mem['error']} | | |")
        else:
            lines.append(f"| {mem['size']}² | {mem['peak_bytes'] / 2**30:.2f} | {mem['estimate_bytes'] / 2**30:.2f} | "
                         f"{mem['estimate_bytes'] / mem['peak_bytes']:.2f} |")
    return "\n".join(lines) + f"\n\n{NOTES_MARK}\n{notes}"


def table_of(r: dict) -> list[tuple]:
    """(figure, measured, target, met) rows from the measurements."""
    rows, gflops = [], r["matmul_gflops"]
    for s in r.get("per_step", []):
        achieved = s["flops"] / s["nststudy_s"] / 1e9
        rows.append((f"speed-up per step at {s['size']}² (median s: baseline {s['baseline_s']:.3f}, nststudy "
                     f"{s['nststudy_s']:.3f})", f"{s['speedup']:.2f}×", f"≥ {TARGETS['speedup']}×",
                     s["speedup"] >= TARGETS["speedup"]))
        rows.append((f"conv GFLOP/s at {s['size']}² ({s['flops'] / 1e9:.1f} GFLOP a step; baseline "
                     f"{s['flops'] / s['baseline_s'] / 1e9:.1f}) vs matmul {gflops:.1f}",
                     f"{achieved:.1f} ({achieved / gflops:.0%})", "≥ 85 %", achieved / gflops >= TARGETS["flops_fraction"]))
    if "quality" in r:
        q = r["quality"]
        base = q["methods"]["tutorial baseline (Adam 0.02)"]["seconds"]
        best_name, best = min(((n, m) for n, m in q["methods"].items() if m["reached"] and "baseline" not in n),
                              key=lambda nm: nm[1]["seconds"], default=(None, None))
        frac = best["seconds"] / base if best else None
        rows.append((f"time to the baseline's {q['steps']}-step loss, best method ({best_name}) / baseline",
                     f"{frac:.2f}" if frac else "not reached", f"≤ {TARGETS['quality_time_fraction']}",
                     frac is not None and frac <= TARGETS["quality_time_fraction"]))
    if r.get("memory"):
        big = r["memory"][-1]
        rows.append((f"peak memory at {big['size']}²", f"{big.get('peak_bytes', float('nan')) / 2**30:.2f} GiB",
                     "≤ 24 GiB", "error" not in big and big["peak_bytes"] <= TARGETS["memory_gib"] * 2**30))
    if "overhead" in r:
        o = r["overhead"]
        if "error" in o:
            rows.append(("sweep overhead", "trial failed", "≤ 10 %", False))
        else:
            rows.append((f"sweep overhead of a default trial ({o['default_steps']} steps at {o['size']}²)",
                         f"{o['overhead_fraction']:.1%} ({o['overhead_s']:.1f} s)", "≤ 10 %",
                         o["overhead_fraction"] <= TARGETS["overhead_fraction"]))
    return rows


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
    gflops = r["matmul_gflops"]
    print(f"matmul: {gflops:.1f} GFLOP/s (float32, TensorFlow, {os.cpu_count()} cores)", flush=True)
    if "per_step" not in r:
        r["per_step"] = [measure.per_step(vgg, size, timed) for size in sizes]
        save(r)
    for s in r["per_step"]:
        achieved = s["flops"] / s["nststudy_s"] / 1e9
        print(f"per step {s['size']}²: baseline {s['baseline_s']:.3f} s, nststudy {s['nststudy_s']:.3f} s, "
              f"speedup {s['speedup']:.2f}x (target >= {TARGETS['speedup']}x)", flush=True)
        print(f"GFLOP/s {s['size']}²: nststudy {achieved:.1f}, baseline {s['flops'] / s['baseline_s'] / 1e9:.1f}, "
              f"matmul {gflops:.1f} -> {achieved / gflops:.0%} of matmul (target >= 85%)", flush=True)
    if not r.get("quality", {}).get("complete", False):  # older records have no "complete": rerun them
        def save_quality(quality):
            r["quality"] = quality
            save(r)

        r["quality"] = measure.time_to_quality(vgg, q_size, q_steps, r.get("quality"), save_quality)
        save(r)
    q = r["quality"]
    for name, m in q["methods"].items():
        state = f"{m['seconds']:.1f} s at step {m['step']}" if m["reached"] else f"not reached (best {m['best']:.4g})"
        print(f"time to quality {q['size']}²: {name}: {state}", flush=True)
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


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="tiny sizes and step counts: checks the benchmark runs")
    p.add_argument("--out", default=str(HERE), help="folder for RESULTS.md, loss_vs_time.png, results.json")
    p.add_argument("--quality-steps", type=int, default=None, help="baseline steps for time to quality (1000)")
    p.add_argument("--reuse", action="store_true",
                   help="keep the sections already in --out/results.json (saved after each section) and run the rest")
    args = p.parse_args(argv)
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
    r.setdefault("machine", machine())

    def save(results):
        write_text(out / "results.json", json.dumps(results, indent=1, default=float))

    measure_all(args, r, save)
    r["table"] = table_of(r)
    save(r)
    if any(m["curve"] for m in r["quality"]["methods"].values()):
        plot(r["quality"], out / "loss_vs_time.png", label)
    old = (out / "RESULTS.md").read_text() if (out / "RESULTS.md").exists() else ""
    notes = old.split(NOTES_MARK, 1)[1].lstrip("\n") if NOTES_MARK in old else ""
    write_text(out / "RESULTS.md", results_md(r, notes))
    print(f"wrote {out / 'RESULTS.md'}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
