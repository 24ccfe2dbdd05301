"""The subcommands' handlers: what ``nststudy stylize``, ``demo``, ``sweep``, ``train`` and ``apply`` do with their
parsed arguments (``nststudy.cli`` builds the parser, dispatches here and turns errors into one line).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from .config import FIELD_NAMES, StyleConfig, parse_value

DEMO_CONTENT = "tubingen"  # Gatys et al. 2016 Fig. 2: the Tübingen photo (Andreas Praefcke, CC BY 3.0) ...
DEMO_STYLE = "starry_night"  # ... in the style of The Starry Night
# The demo runs StyleConfig's defaults, unchanged: it shows what `stylize(photo, painting)` gives.
DEMO_SETTINGS = {}


class UsageError(Exception):
    pass


def config_from_args(config_path, sets, base=None) -> StyleConfig:
    """StyleConfig from an optional JSON file then ``key=value`` overrides (validated, typed)."""
    data = dict(base or {})
    if config_path:
        path = Path(config_path)
        if not path.is_file():
            raise UsageError(f"--config {config_path}: no such file")
        try:
            loaded = json.loads(path.read_text())
        except json.JSONDecodeError as e:
            raise UsageError(f"--config {config_path}: not valid JSON ({e})") from None
        data.update(loaded)
    for item in sets or []:
        if "=" not in item:
            raise UsageError(f"--set {item!r}: expected key=value, keys: {', '.join(FIELD_NAMES)}")
        key, value = item.split("=", 1)
        data[key.strip()] = parse_value(key.strip(), value)
    return StyleConfig.from_dict(data)


def _stylize(args) -> int:
    from .runfolder import continue_snapshot, stylize_into
    from .runs import load_snapshot

    if args.resume:
        if args.content or args.style or args.set or args.config:
            raise UsageError("--resume DIR takes its images and config from DIR; give nothing else")
        snap = load_snapshot(args.resume)
        print(f"resuming {args.resume} from step {snap['state']['step']} of {snap['config'].total_steps}",
              file=sys.stderr)
        out, result = continue_snapshot(Path(args.resume), snap, progress=not args.quiet)
    else:
        if not (args.content and args.style and args.output):
            raise UsageError("stylize needs CONTENT STYLE -o DIR (or --resume DIR)")
        config = config_from_args(args.config, args.set)
        out, result = stylize_into(args.output, args.content, args.style, config, progress=not args.quiet)
    _report(result, out)
    from .runs import run_status
    from .status import EXIT_FLAGGED, FLAGGED

    return EXIT_FLAGGED if run_status(result) in FLAGGED else 0


def _demo(args) -> int:
    from .models import WeightsNotFoundError, resolve_weights
    from .runs import save_run
    from .stylize import stylize

    config = config_from_args(args.config, args.set, base=DEMO_SETTINGS)
    if config.weights == "imagenet":
        try:
            resolve_weights(config.model, "imagenet")
        except WeightsNotFoundError as e:
            banner = "!" * 78
            print(f"{banner}\nWARNING: {e}\n\nThe demo goes on with RANDOM WEIGHTS: the result shows the machinery,"
                  f" not real style transfer.\nEvery output of this run is labelled 'random-weights'.\n{banner}",
                  file=sys.stderr)
            config = config.replace(weights="random")
    print(f"demo: {args.content} in the style of {args.style}, {config.image_size} px, "
          f"{config.total_steps} {config.optimizer} steps", file=sys.stderr)
    result = stylize(args.content, args.style, config, progress=not args.quiet)
    out = save_run(result, args.output)
    _report(result, out)
    return 0


def _report(result, out):
    final = result.final
    src = result.weights_source
    print(f"weights: {src.label} ({src.found_by}{', ' + src.path if src.path else ''})")
    print(f"{result.stopped} after {len(result.history)} steps in {final.get('seconds', 0):.1f} s; "
          f"final loss {final.get('total', float('nan')):.4g} (content {final.get('content', 0):.4g}, "
          f"style {final.get('style', 0):.4g})")
    from .runs import loss_worsened

    if result.stopped == "completed" and loss_worsened(result):
        print(f"worsened: the final loss is above the start image's ({result.info.get('initial_loss', 0):.4g}); "
              f"a smaller learning_rate may help")
    print(f"run folder: {out}/ (image.png, loss.png, history.csv, config.json, env.json, result.json)")


def sweep_and_report(path, preset=None, workers=1, scheduler=None, progress=True, report=True) -> dict:
    """``nststudy sweep``: run the sweep's trials (``sweeps``), then write its records (``report``)."""
    from .report import build_report
    from .sweeps import run_sweep

    summary = run_sweep(path, preset, workers, scheduler, progress=progress)
    if report:
        summary.update(build_report(path, preset))
    return summary


def _cli_sweep(args) -> int:
    summary = sweep_and_report(args.sweep, args.preset, args.workers, args.scheduler, progress=not args.quiet,
                               report=not args.no_report)
    by_status = {}
    for tid, status in summary["statuses"].items():
        by_status.setdefault(status, []).append(tid)
    counts = ", ".join(f"{n} {s}" + ("" if s == "complete" else ": " + ", ".join(by_status[s]))
                       for s, n in summary["counts"].items())
    print(f"{summary['sweep']}: {summary['trials']} trials, {summary['ran']} run now; {counts}")
    for key in ("results", "grid", "losses", "readme"):
        if key in summary:
            print(f"  {key}: {summary[key]}")
    return summary["exit_code"]  # 0 all complete, 3 all finished but some flagged, 1 some failed (nststudy.status)


def _cli_train(args) -> int:
    from . import train as training
    from .trainconfig import TrainConfig, parse_train_value

    if args.resume:
        if args.style or args.photos or args.output or args.set or args.config:
            raise UsageError("--resume DIR takes its style, photos and config from DIR; give only --steps/--minutes")
        out = training.resume(args.resume, args.steps, args.minutes, progress=not args.quiet)
    else:
        if not (args.style and args.output):
            raise UsageError("train needs STYLE -o DIR (or --resume DIR)")
        data = {}
        if args.config:
            try:
                data.update(json.loads(Path(args.config).read_text()))
            except (OSError, json.JSONDecodeError) as e:
                raise UsageError(f"--config {args.config}: cannot read a JSON config ({e})") from None
        for item in args.set:
            key, sep, value = item.partition("=")
            if not sep:
                raise UsageError(f"--set {item!r}: expected key=value")
            data[key.strip()] = parse_train_value(key.strip(), value)
        data.update({k: v for k, v in (("photos", args.photos), ("steps", args.steps), ("minutes", args.minutes))
                     if v is not None})
        out = training.train(args.style, TrainConfig.from_dict(data), args.output, progress=not args.quiet)
    result = json.loads((Path(out) / "result.json").read_text())
    print(f"{result['status']} ({result['stopped']}) after {result['steps']} steps, {result['wall_seconds']:.0f} s "
          f"of training; final loss {result['final']['total']:.4g}; loss network {result['weights']}")
    print(f"run folder: {out}/ (model.keras, previews/, loss.png, history.csv, config.json, result.json)")
    return 3 if result["status"] == "diverged" else 0


def _cli_apply(args) -> int:
    from .apply import apply_model

    for item in apply_model(args.model, args.inputs, args.output, args.size, not args.quiet, args.precision):
        line = f"{item['source']} -> {item['target']} ({item['precision']}"
        if item["kind"] == "video":
            line += (f", {item['frames']} frames at {item['fps']:g} fps, stylised at "
                     f"{item['frames'] / item['seconds']:.1f} frames/s with decoding and encoding; "
                     f"flicker {item['flicker']:.3f}")
        print(line + ")")
    return 0
