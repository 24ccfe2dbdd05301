"""Command line: the ``nststudy`` parser (also ``python -m nststudy``), one-line errors and exit codes.

The subcommands' handlers are in ``nststudy.commands``.

Bad input (and every error nststudy raises on purpose: see ``main``) ends with exit code 2 and a one-line
reason on stderr, never a traceback; a run that diverged, stalled (L-BFGS gave up without lowering the loss)
or worsened (its loss ended above its start) ends with exit code 3 after saving its record.
``nststudy sweep`` ends with 0 when every trial is complete, 3 when every trial finished but some are flagged
(stopped, diverged, stalled, worsened) and 1 when any failed (``nststudy.status``).
"""

from __future__ import annotations

import argparse
import json
import sys

# The handlers; DEMO_SETTINGS, config_from_args and sweep_and_report stay importable from here.
from .commands import (DEMO_CONTENT, DEMO_SETTINGS, DEMO_STYLE, UsageError, _cli_apply, _cli_sweep,  # noqa: F401
                       _cli_train, _demo, _stylize, config_from_args, sweep_and_report)
from .config import StyleConfig


def parameters_help(cls=StyleConfig) -> str:
    """Every field of a config dataclass (StyleConfig, TrainConfig) with its default and help text (the
    ``--set`` keys), from the dataclass."""
    import textwrap
    from dataclasses import fields

    from .config import help_text

    lines = ["parameters (--set KEY=VALUE; lists comma-separated or JSON):"]
    for f in fields(cls):
        default = list(f.default) if isinstance(f.default, tuple) else f.default
        lines += textwrap.wrap(f"{f.name} (default {json.dumps(default)}): {help_text(f.name, cls)}", 100,
                               initial_indent="  ", subsequent_indent="      ")
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="nststudy", description="Neural style transfer workbench (Gatys et al.)")
    sub = p.add_subparsers(dest="command", required=True)

    def common(sp):
        sp.add_argument("--set", action="append", metavar="KEY=VALUE", default=[],
                        help="override a StyleConfig field, e.g. --set style_weight=1e4 "
                             "--set content_layers=conv4_2 (lists: comma-separated or JSON); every key below")
        sp.add_argument("--config", metavar="JSON", help="start from a config.json (e.g. a run's record)")
        sp.add_argument("-q", "--quiet", action="store_true", help="no progress bar")

    s = sub.add_parser("stylize", help="stylise CONTENT with STYLE and write a run folder", epilog=parameters_help(),
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    s.add_argument("content", nargs="?", help="content image: path or bundled sample (tubingen, astronaut, chelsea, coffee, rocket)")
    s.add_argument("style", nargs="?", help="style image: path or bundled sample (starry_night, the_scream, shipwreck, great_wave, udnie; "
                                           "textures hubble_deep_field, brick, gravel, grass)")
    s.add_argument("-o", "--output", help="run folder to write")
    s.add_argument("--resume", metavar="DIR", help="continue a killed run from its last snapshot (needs snapshot_every > 0)")
    common(s)
    s.set_defaults(func=_stylize)

    d = sub.add_parser("demo", help="stylise the bundled Tübingen photo with The Starry Night (no downloads)",
                       epilog=parameters_help(), formatter_class=argparse.RawDescriptionHelpFormatter)
    d.add_argument("-o", "--output", default="runs/demo", help="run folder (default: runs/demo)")
    d.add_argument("--content", default=DEMO_CONTENT, help=f"default: {DEMO_CONTENT}")
    d.add_argument("--style", default=DEMO_STYLE, help=f"default: {DEMO_STYLE}")
    common(d)
    d.set_defaults(func=_demo)

    _add_sweep_cli(sub)
    _add_realtime_cli(sub)
    return p


def _add_sweep_cli(subparsers) -> None:
    from .sweeps import PRESETS

    s = subparsers.add_parser("sweep", help="run a study's sweep.yaml through papermill, resumably")
    s.add_argument("sweep", help="experiments/<study>/sweep.yaml")
    s.add_argument("--preset", help=f"parameter preset, e.g. smoke ({PRESETS['smoke']})")
    s.add_argument("--workers", type=int, default=1, help="trials run at once in local processes")
    s.add_argument("--scheduler", help="address of a Dask distributed scheduler, e.g. tcp://host:8786")
    s.add_argument("--no-report", action="store_true", help="run the trials only")
    s.add_argument("-q", "--quiet", action="store_true")
    s.set_defaults(func=_cli_sweep)


def one_line(e: BaseException) -> str:
    """An exception as one line: its message's lines joined (YAML's errors span several), or its class name
    when it has no message; an OSError with its file name when it has one."""
    if isinstance(e, OSError) and e.strerror:
        text = f"{e.strerror} ({e.filename})" if e.filename else e.strerror
    else:
        text = str(e)
    return " ".join(line.strip() for line in text.splitlines() if line.strip()) or type(e).__name__


# --- Real time (issue 20): ``nststudy train`` and ``nststudy apply`` -----------------------------------------

def _add_realtime_cli(subparsers) -> None:
    from .trainconfig import TrainConfig

    t = subparsers.add_parser("train", help="train a feed-forward transform network for STYLE on a photo folder",
                              epilog=parameters_help(TrainConfig), formatter_class=argparse.RawDescriptionHelpFormatter)
    t.add_argument("style", nargs="?", help="style image: path or bundled sample")
    t.add_argument("--photos", help="folder of training photos (default: the bundled sample photos)")
    t.add_argument("-o", "--output", help="run folder to write (model.keras, previews/, loss.png, ...)")
    t.add_argument("--steps", type=int, help="stop after this many steps (TrainConfig.steps)")
    t.add_argument("--minutes", type=float, help="stop after this much training time (TrainConfig.minutes)")
    t.add_argument("--resume", metavar="DIR", help="continue a killed or finished run from its last checkpoint "
                                                   "(--steps/--minutes may extend it)")
    t.add_argument("--set", action="append", metavar="KEY=VALUE", default=[],
                   help="override a TrainConfig field, e.g. --set width=0.25 --set crop_size=128")
    t.add_argument("--config", metavar="JSON", help="start from a training run's config.json")
    t.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    t.set_defaults(func=_cli_train)

    a = subparsers.add_parser("apply", help="stylise images, folders and videos with a trained network")
    a.add_argument("model", help="model.keras written by 'nststudy train', or its run folder")
    a.add_argument("inputs", nargs="+", metavar="INPUT", help="image files, folders of images, videos (.mp4, ...)")
    a.add_argument("-o", "--output", required=True, help="output folder, or a file name for a single input")
    a.add_argument("--size", type=int, help="longest side in pixels (default: as the input)")
    a.add_argument("--precision", choices=("auto", "float32", "bfloat16"), default="auto",
                   help="bfloat16 is 2-3x faster on CPUs with native bfloat16 (auto: use it there)")
    a.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    a.set_defaults(func=_cli_apply)


def main(argv=None) -> int:
    """Run a command. Every error nststudy raises on purpose ends as ``nststudy: error: <one line>`` on
    stderr and exit code 2 (``WeightsNotFoundError`` adds the places it looked at on the lines below);
    Ctrl-C as ``nststudy: interrupted`` and exit code 130. Anything else is a bug and keeps its traceback."""
    args = build_parser().parse_args(argv)
    from .images import ImageError
    from .models import WeightsFileError, WeightsNotFoundError

    try:
        return args.func(args)
    except WeightsNotFoundError as e:  # its message lists the places looked at and the fix: keep the lines
        print(f"nststudy: error: {e}", file=sys.stderr)
    except (UsageError, ImageError, WeightsFileError, ValueError, MemoryError, RuntimeError, OSError) as e:
        # OSError covers FileNotFoundError, PermissionError and a full disk (errno 28); MemoryError is the
        # memory check's refusal (nststudy.memory.check_fits) or a real allocation failure.
        print(f"nststudy: error: {one_line(e)}", file=sys.stderr)
    except KeyboardInterrupt:
        print("nststudy: interrupted", file=sys.stderr)
        return 130
    return 2


if __name__ == "__main__":
    sys.exit(main())
