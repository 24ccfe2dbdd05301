"""Issue 20's flicker before and after: the flicker of several trained networks on pan-and-zoom clips made
from still photos (nothing downloaded), with the metric panel of each still, into one flicker.json.

    NSTSTUDY_WEIGHTS_DIR=/work/shared/weights nice -n 19 .venv/bin/python experiments/feedforward/flicker.py \\
        experiments/feedforward/starry_night_48min runs/ft_plain runs/ft_stable -o experiments/feedforward/flicker.json

Flicker = mean |s_{t+1} − s_t| of the stylised frames over the same for the input frames (nststudy.video).
Clips ``FRAMESxSIDE``: 16x128 is the clip every training run records as metric_flicker; 48x256 a longer,
larger one. About 10 s a model for two photos.
"""

from __future__ import annotations

import argparse
import sys

from nststudy.compare import DEFAULT_PHOTOS
from nststudy.flicker import flicker_table
from nststudy.files import write_json


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("models", nargs="+", help="training run folders or .keras files")
    parser.add_argument("--photos", default=",".join(DEFAULT_PHOTOS), help="comma-separated stills for the clips")
    parser.add_argument("--clips", default="16x128,48x256", help="comma-separated FRAMESxSIDE clips")
    parser.add_argument("--precision", default="float32", choices=("auto", "float32", "bfloat16"))
    parser.add_argument("--no-metrics", action="store_true", help="only the flicker (no VGG weights needed)")
    parser.add_argument("-o", "--output", default="experiments/feedforward/flicker.json")
    args = parser.parse_args(argv)
    try:
        clips = [tuple(int(v) for v in c.lower().split("x")) for c in args.clips.split(",") if c.strip()]
        if any(len(c) != 2 for c in clips):
            raise ValueError(f"--clips {args.clips!r}: expected FRAMESxSIDE items, e.g. 16x128,48x256")
        table = flicker_table(args.models, [p.strip() for p in args.photos.split(",") if p.strip()], clips,
                              args.precision, metrics=not args.no_metrics)
    except (ValueError, OSError) as e:
        print(f"flicker: error: {' '.join(str(e).split())}", file=sys.stderr)
        return 2
    write_json(args.output, {"clips": [f"{f}x{s}" for f, s in clips], "models": table})
    for entry in table:
        for row in entry["photos"]:
            shown = ", ".join(f"{k} {v:.3f}" for k, v in row["flicker"].items())
            style = f"; style distance {row['metric_style_distance']:.3f}" if "metric_style_distance" in row else ""
            print(f"{entry['model']} on {row['photo']}: flicker {shown}{style}")
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
