"""Writes docs/gatys_fig2.jpg, the README's Gatys et al. Fig. 2 panel, from a study's committed record.

    python tools/make_fig2_panel.py [experiments/gatys_fig2] [--out docs/gatys_fig2.jpg] [--tile PX]

The photo, then each complete trial's result (``trials/<trial>.jpg``, as the study committed it) with its painting
inset in the lower left corner, as in the paper's figure. Only complete trials run with ImageNet weights are
shown (results.csv says which); the painting is the bundled sample the trial's pair names.
"""
from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from nststudy.files import atomic_path  # noqa: E402  (outputs are written atomically)
from nststudy.images import load_image  # noqa: E402

sys.path.insert(0, str(ROOT / "tools"))
from make_gallery import strip  # noqa: E402


def panel_rows(study: Path) -> list[dict]:
    """The trials the panel shows: complete, ImageNet weights, with their committed JPEG; in results.csv order."""
    with open(study / "results.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    shown = [r for r in rows if r.get("status") == "complete" and r.get("weights") == "ImageNet weights"
             and (study / "trials" / f"{r['trial']}.jpg").is_file()]
    if not shown:
        raise SystemExit(f"{study}: no complete ImageNet-weights trial with a committed trials/<trial>.jpg")
    contents = {r["pair"].split(" / ")[0] for r in shown}
    if len(contents) != 1:
        raise SystemExit(f"{study}: the panel shows one photo; these trials have {sorted(contents)}")
    return shown


def with_inset(result: Image.Image, painting: Image.Image, fraction: float = 0.3, border: int = 3) -> Image.Image:
    """``result`` with ``painting`` scaled to ``fraction`` of its width in the lower left corner, white-bordered."""
    out = result.convert("RGB").copy()
    w = round(out.width * fraction)
    inset = painting.convert("RGB").resize((w, round(painting.height * w / painting.width)), Image.LANCZOS)
    frame = Image.new("RGB", (inset.width + 2 * border, inset.height + 2 * border), "white")
    frame.paste(inset, (border, border))
    out.paste(frame, (0, out.height - frame.height))
    return out


def panel(study: Path, tile: int = 384) -> Image.Image:
    """Photo, then each result with its painting inset, in one strip ``tile`` pixels high."""
    rows = panel_rows(study)
    photo = Image.fromarray(load_image(rows[0]["pair"].split(" / ")[0]))
    tiles = [photo]
    for r in rows:
        with Image.open(study / "trials" / f"{r['trial']}.jpg") as im:
            result = im.convert("RGB")
        painting = Image.fromarray(load_image(r["pair"].split(" / ")[1]))
        tiles.append(with_inset(result, painting))
    return strip(tiles, tile)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("study", type=Path, nargs="?", default=ROOT / "experiments" / "gatys_fig2")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "gatys_fig2.jpg")
    parser.add_argument("--tile", type=int, default=384, help="height of each picture in pixels")
    args = parser.parse_args(argv)
    with atomic_path(args.out) as tmp:
        panel(args.study, args.tile).save(tmp, format="JPEG", quality=88, subsampling=0)  # full colour, as the trials
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
