"""Writes docs/gallery.png, the README's first picture: content, style and result of one run folder, side by side.

    python tools/make_gallery.py experiments/schedule/runs/<trial> [--out docs/gallery.png] [--height PX]

The run must have used ImageNet weights (its env.json says so): the gallery shows what the workbench does,
and a random-weights result would mislead a newcomer.
"""
import argparse
import json
import sys
from pathlib import Path

from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from nststudy.files import atomic_path  # noqa: E402  (outputs are written atomically)


def strip(images, height: int, gap: int = 8) -> Image.Image:
    """PIL images side by side, each scaled (Lanczos) to ``height``, with white ``gap``-pixel gaps."""
    tiles = [im.convert("RGB") for im in images]
    tiles = [t if t.height == height else t.resize((round(t.width * height / t.height), height), Image.LANCZOS)
             for t in tiles]
    sheet = Image.new("RGB", (sum(t.width for t in tiles) + gap * (len(tiles) - 1), height), "white")
    x = 0
    for t in tiles:
        sheet.paste(t, (x, 0))
        x += t.width + gap
    return sheet


def gallery(run: Path, height: int | None = None, gap: int = 8) -> Image.Image:
    """The three images at one height (by default the result's own, so the result is not resampled)."""
    if height is None:
        with Image.open(run / "image.png") as im:
            height = im.height
    images = []
    for name in ("content.png", "style.png", "image.png"):
        with Image.open(run / name) as im:
            images.append(im.convert("RGB"))
    return strip(images, height, gap)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path)
    parser.add_argument("--out", type=Path, default=Path("docs/gallery.png"))
    parser.add_argument("--height", type=int, default=None, help="default: the result's own height")
    args = parser.parse_args()
    kind = json.loads((args.run / "env.json").read_text())["weights"]["kind"]
    if kind != "imagenet":
        sys.exit(f"{args.run}: made with {kind} weights; the gallery needs an ImageNet-weights run")
    with atomic_path(args.out) as tmp:
        gallery(args.run, args.height).save(tmp, format="PNG", optimize=True)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
