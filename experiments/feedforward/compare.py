"""Issue 20's quality comparison: a trained transform network against the optimisation engine on photos it
never saw (the metric panel, the trade-off figure, the strip of images, the break-even count).

    NSTSTUDY_WEIGHTS_DIR=/work/shared/weights nice -n 19 .venv/bin/python experiments/feedforward/compare.py \\
        experiments/feedforward/starry_night_48min -o experiments/feedforward/compare

Writes compare.json, tradeoff.png and strip.jpg into -o; the engine's run folders go to --runs (not committed)
and a finished one is reused when the script is run again (a killed comparison continues where it stopped).
Runtime: one engine run per photo and β, about 3 minutes each at 256 px and 500 Adam steps on this 2-core CPU
(the script prints its estimate); the network's part takes seconds. See nststudy/compare.py for the method.
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings

from nststudy.compare import DEFAULT_FACTORS, DEFAULT_PHOTOS, ENGINE_STEPS, compare
from nststudy.stylize import DownscaleWarning

MINUTES_PER_RUN = 3.0 / 500  # minutes an engine step takes at 256 px here (measured: ~3 min for 500 steps)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model", nargs="?", default="experiments/feedforward/starry_night_48min",
                        help="training run folder written by 'nststudy train'")
    parser.add_argument("--photos", default=",".join(DEFAULT_PHOTOS), help="comma-separated photos it never saw")
    parser.add_argument("-o", "--output", default="experiments/feedforward/compare", help="folder for the records")
    parser.add_argument("--runs", default="experiments/feedforward/runs/compare", help="folder for engine runs")
    parser.add_argument("--size", type=int, help="longest side in px (default: the run's preview_size)")
    parser.add_argument("--steps", type=int, default=ENGINE_STEPS, help="engine Adam steps a run")
    parser.add_argument("--factors", default=",".join(f"{f:g}" for f in DEFAULT_FACTORS),
                        help="engine β as multiples of the network's equivalent β (must include 1)")
    parser.add_argument("--precision", default="auto", choices=("auto", "float32", "bfloat16"),
                        help="precision the network is timed at for the break-even count")
    parser.add_argument("--repeats", type=int, default=5, help="timed network calls per photo (median)")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    args = parser.parse_args(argv)
    photos = [p.strip() for p in args.photos.split(",") if p.strip()]
    try:
        factors = [float(f) for f in args.factors.split(",") if f.strip()]
    except ValueError:
        parser.error(f"--factors {args.factors!r}: expected comma-separated numbers, e.g. 0.1,1,10")
    runs = len(photos) * (len(factors) + 1)
    size = args.size or 256
    print(f"{runs} engine runs at most ({len(photos)} photos x {len(factors)} factors + the network's own β), "
          f"about {runs * args.steps * MINUTES_PER_RUN * (size / 256) ** 2:.0f} min at {size} px on 2 idle cores; "
          f"finished runs in {args.runs} are reused", flush=True)
    try:
        with warnings.catch_warnings():  # the style runs at its training size (128 px of a 1024 px painting): meant
            warnings.simplefilter("ignore", DownscaleWarning)
            out = compare(args.model, photos, args.output, args.runs, args.size, args.steps, factors, args.precision,
                          args.repeats, progress=not args.quiet)
    except (ValueError, OSError) as e:  # ImageError, ModelFileError, a bad config: one line
        print(f"compare: error: {' '.join(str(e).split())}", file=sys.stderr)
        return 2
    for row in out["photos"]:
        n = row["network"]
        print(f"{row['photo']}: network style {n['metric_style_distance']:.3f} SSIM {n['metric_ssim_content']:.3f} "
              f"({1000 * n['seconds']:.0f} ms); engine " + "; ".join(
                  f"β={e['style_weight']:.3g} style {e['metric_style_distance']:.3f} SSIM "
                  f"{e['metric_ssim_content']:.3f} ({e['seconds']:.0f} s)" for e in row["engine"]))
    print("break-even:", json.dumps({k: v for k, v in out["break_even"].items() if k != "meaning"}))
    print(f"wrote {args.output}/compare.json, tradeoff.png, strip.jpg")
    return 0


if __name__ == "__main__":
    sys.exit(main())
