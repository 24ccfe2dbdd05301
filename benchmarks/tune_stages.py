"""Time candidate coarse-stage lengths of the multiscale L-BFGS to the recorded time-to-quality target (issue 21).

    python benchmarks/tune_stages.py                   # every candidate below at 256² (about 2-4 min each, quiet machine)
    python benchmarks/tune_stages.py --candidate 2:150 --candidate 4,2:100,150   # only these
    python benchmarks/tune_stages.py --quick           # a smoke run at 64²: its own 30-step baseline, lengths scaled

A candidate is the coarse sizes (the final size divided by each divisor, coarse to fine) and the L-BFGS iterations at
each, written for the baseline's 1000 steps as in ``measure.MULTISCALE``; the final size may run up to 1000
iterations, so only the coarse lengths decide. Each candidate runs until the tutorial's loss of its image reaches
the target of ``benchmarks/results.json`` (``quality``: the tutorial loop's loss after its 1000 steps), exactly as
``measure.time_to_quality`` runs its methods (same images, weights, path choice made first, float32 check). Prints
one line per candidate: the seconds to the target and their fraction of the recorded baseline's seconds (or of a
baseline timed in this process with ``--rebaseline``). The recorded baseline ran in another process at another
time: on a busy machine the fraction is off by the difference in load, so run this on a quiet one, or pass
``--rebaseline`` (10 more minutes). Rows are saved to ``--out`` after each candidate (JSON).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import measure  # noqa: E402
from baseline import TutorialLoop  # noqa: E402

# (divisors, iterations at each coarse size for 1000 baseline steps): at 256², 128² x 100/150/200/250 and
# 64² x 100 -> 128² x 100/150 (issue 21: the stage lengths were never tuned; make bench measured 128² x 250).
CANDIDATES = [((2,), (100,)), ((2,), (150,)), ((2,), (200,)), ((2,), (250,)), ((4, 2), (100, 100)),
              ((4, 2), (100, 150))]


def parse_candidate(text: str) -> tuple[tuple, tuple]:
    """``"4,2:100,150"`` -> ``((4, 2), (100, 150))``: divisors of the final size, then iterations at each."""
    try:
        divisors, lengths = (tuple(int(v) for v in part.split(",")) for part in text.split(":"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"candidate {text!r}: expected DIVISORS:ITERATIONS, e.g. 2:150 or "
                                         f"4,2:100,150") from None
    if len(divisors) != len(lengths) or list(divisors) != sorted(divisors, reverse=True) or min(divisors) < 2:
        raise argparse.ArgumentTypeError(f"candidate {text!r}: one iteration count per divisor, divisors >= 2 and "
                                         f"decreasing (coarse to fine), e.g. 4,2:100,150")
    return divisors, lengths


def baseline(vgg, content, style, steps: int) -> dict:
    """The tutorial loop's loss after ``steps`` steps and its wall time (as time_to_quality measures them)."""
    loop = TutorialLoop(vgg, content, style)
    start = time.perf_counter()
    for _ in range(steps):
        loop.step()
    seconds = time.perf_counter() - start
    return {"target": loop.loss_of(loop.image.numpy()[0] * 255.0), "seconds": seconds, "where": "timed here"}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--candidate", action="append", type=parse_candidate, default=None,
                   help="DIVISORS:ITERATIONS, e.g. 2:150 (128² x 150 before 256²); repeat; default: all of CANDIDATES")
    p.add_argument("--results", default=str(HERE / "results.json"), help="the record holding the target (quality)")
    p.add_argument("--rebaseline", action="store_true", help="time the tutorial loop here instead of the record's")
    p.add_argument("--quick", action="store_true", help="smoke run at 64² with a 30-step baseline timed here")
    p.add_argument("--out", default=None, help="JSON of the rows (default: benchmarks/tune_stages.json; --quick: "
                                               "$TMPDIR/nststudy-tune-stages.json)")
    args = p.parse_args(argv)
    from nststudy.files import write_text
    from nststudy.models import WeightsNotFoundError, _vgg_base, resolve_weights

    out = Path(args.out or (Path(tempfile.gettempdir()) / "nststudy-tune-stages.json" if args.quick
                            else HERE / "tune_stages.json"))
    try:
        label = resolve_weights("vgg19", "imagenet").label
    except WeightsNotFoundError:
        if not args.quick:
            raise
        measure.WEIGHTS, label = "random", "RANDOM WEIGHTS (smoke run)"
    if args.quick:
        size, steps = 64, 30
    else:
        record = json.loads(Path(args.results).read_text())
        if record.get("weights") != label:
            raise SystemExit(f"{args.results} was measured with {record.get('weights')}, here: {label}")
        quality = record["quality"]
        size, steps = quality["size"], quality["steps"]
    os.environ["NSTSTUDY_PATHS_CACHE"] = str(Path(tempfile.mkdtemp(prefix="nststudy-tune-")) / "paths.json")
    vgg = _vgg_base("vgg19", resolve_weights("vgg19", measure.WEIGHTS))
    content, style = measure.images(size)
    if args.quick or args.rebaseline:
        base = baseline(vgg, content, style, steps)
    else:
        base = {"target": quality["target"], "seconds": quality["methods"][measure.BASELINE]["seconds"],
                "where": f"recorded in {args.results} ({record['machine']['date']})"}
    print(f"weights: {label}; target: the tutorial loop's loss after {steps} steps at {size}², {base['target']:.4g}; "
          f"baseline {base['seconds']:.1f} s ({base['where']})", flush=True)
    loops = []

    def tutorial_loss(image):  # float32, the tutorial's own code: confirms a candidate reached the target
        if not loops:
            loops.append(TutorialLoop(vgg, content, style))
        return loops[0].loss_of(image)

    measure.warm_paths(content, style, sorted({size, size // 2, size // 4}))  # path choices made before timing
    rows = {"size": size, "steps": steps, "weights": label, "baseline": base, "load_average_at_start": os.getloadavg()[0],
            "date": time.strftime("%Y-%m-%d %H:%M"), "candidates": {}}
    for divisors, coarse in args.candidate or CANDIDATES:
        name, config, coarse_steps = measure.multiscale_method(size, steps, divisors, coarse)
        run = measure._curve_until(content, style, config, base["target"], coarse_steps, tutorial_loss)
        row = {"scales": list(config.scales), "scale_steps": list(config.scale_steps), "reached": run["reached"],
               "final_iterations": run["step"] - coarse_steps if run["reached"] else None, "seconds": run["seconds"],
               "fraction": run["seconds"] / base["seconds"] if run["reached"] else None, "best": run["best"],
               "path": run["path"], "load_average": os.getloadavg()[0]}
        rows["candidates"][name] = row
        write_text(out, json.dumps(rows, indent=1, default=float))
        if run["reached"]:
            print(f"{name}: {row['seconds']:.1f} s = {row['fraction']:.3f} of the baseline ({row['final_iterations']} "
                  f"iterations at {size}², path {row['path']}, load {row['load_average']:.1f})", flush=True)
        else:
            best = f"best {row['best']:.4g}" if row["best"] is not None else "no iteration at the final size"
            print(f"{name}: not reached ({best}; path {row['path']})", flush=True)
    print(f"wrote {out}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
