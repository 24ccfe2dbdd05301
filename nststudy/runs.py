"""Run records: one folder per run that can be understood (and re-run) without the code.

    image.png     the result            content.png / style.png  the inputs as optimised against
    config.json   StyleConfig, re-runnable with ``nststudy stylize ... --config config.json``
    history.csv   per step: step, the objective's terms (total, content, style, tv), seconds, its own terms
    loss.png      total and each term against the step (log scale)
    env.json      versions, platform, weights source and md5, seed
    result.json   how the run ended, final value of every term, wall time, optimiser details

Every file is written atomically; ``result.json`` is removed first and written last, so its presence marks a
complete run (a save that fails half-way leaves a folder without one). Its ``status`` is one of ``STATUS``.
A fresh run in a folder first clears another run's snapshots (``begin_run``), and a resume refuses a snapshot
taken under another config than the folder's ``config.json``, so a snapshot is never continued under a
record it does not belong to.
"""

from __future__ import annotations

import csv
import io
import json
import os
import platform
import shutil
import sys
from datetime import datetime, timezone
from pathlib import Path

from . import status
from .config import StyleConfig
from .files import atomic_path, save_figure, write_json, write_text
from .images import save_image
from .loop import history_row

RANDOM_TAG = "random-weights"
# result.json's "status" for each way an optimisation ends (StyleResult.stopped):
# (the names and their meanings: ``nststudy.status``, the one table every reader uses)
STATUS = {
    "completed": status.COMPLETE,  # every step ran
    "callback": status.STOPPED,  # the callback asked to stop: fewer steps than the config says
    "diverged": status.DIVERGED,  # a non-finite loss (NaN/inf); the image is the last finite one
    "stalled": status.STALLED,  # L-BFGS's line search never lowered the loss: the image is its start
}
SNAPSHOT_TABLE = "snapshots.csv"  # per snapshot: step, seconds, total, the metric_* numbers of its image
SNAPSHOT_FILES = ("snapshot.npz", "snapshot_history.csv", "resume.json", SNAPSHOT_TABLE)


def environment(weights_source=None, seed=None, compute_path=None) -> dict:
    """Versions and machine facts a reader needs to trust or reproduce a number; ``compute_path`` is how the
    run's step executed (XLA or not, float32 or bfloat16) and the timings it was chosen by (nststudy.accel)."""
    import keras
    import numpy
    import tensorflow

    from . import __version__

    env = {
        "nststudy": __version__,
        "python": sys.version.split()[0],
        "tensorflow": tensorflow.__version__,
        "keras": keras.__version__,
        "numpy": numpy.__version__,
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu_count": os.cpu_count(),
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    if weights_source is not None:
        env["weights"] = weights_source.to_dict()
    if seed is not None:
        env["seed"] = seed
    if compute_path is not None:
        env["compute_path"] = compute_path
    return env


def history_csv(history) -> str:
    """The history as CSV, its columns in the order of the rows' keys (``loop.history_row``)."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(dict.fromkeys(k for row in history for k in row)),
                            lineterminator="\n")
    writer.writeheader()
    writer.writerows(history)
    return buf.getvalue()


def parse_history(text: str) -> list[dict]:
    """A history.csv's text (``history_csv``) read back: ``step`` an int, every other column a float."""
    return [{k: (int(v) if k == "step" else float(v)) for k, v in row.items()}
            for row in csv.DictReader(io.StringIO(text))]


def run_directory(directory, weights_source) -> Path:
    """The folder a run is saved in: random-weight runs carry ``random-weights`` in their path."""
    directory = Path(directory)
    if weights_source.is_random and "random" not in str(directory).lower():
        directory = directory.with_name(f"{directory.name}_{RANDOM_TAG}")
    return directory


def loss_worsened(result) -> bool:
    """True when the run's final total loss is above its loss at the start image (``info["initial_loss"]``, which
    the optimisers record; else the first row of the history): the optimiser made the image worse, e.g. with a
    step size too large."""
    if not result.history:
        return False
    start = result.info.get("initial_loss")
    start = result.history[0]["total"] if start is None else start
    if getattr(result, "ascends", False):  # an objective that is maximised (DeepDream) worsens when it falls
        return bool(result.final["total"] < start)
    return bool(result.final["total"] > start)


def run_status(result) -> str:
    """result.json's ``status``: how the optimisation ended (``STATUS``), except that a run that ran all its
    steps but ended with a higher loss than it started with is ``worsened`` (``nststudy.status``)."""
    value = STATUS[result.stopped]
    return status.WORSENED if value == status.COMPLETE and loss_worsened(result) else value


def save_run(result, directory, extra: dict | None = None) -> Path:
    """Write a StyleResult's record into ``directory`` (see module docstring); returns the folder used.

    With random weights the folder name gets the suffix ``_random-weights`` (unless its path says "random").
    """
    from .plots import plot_losses

    if result.stopped not in STATUS:
        raise ValueError(f"StyleResult.stopped={result.stopped!r}; accepted: {', '.join(STATUS)}")
    directory = run_directory(directory, result.weights_source)
    directory.mkdir(parents=True, exist_ok=True)
    if not os.access(directory, os.W_OK):
        raise PermissionError(f"{directory}: output folder is not writable")
    # From here until result.json is written again the folder mixes two runs: it must not look complete.
    (directory / "result.json").unlink(missing_ok=True)
    save_image(result.image, directory / "image.png")
    save_image(result.content, directory / "content.png")
    save_image(result.style, directory / "style.png")
    write_json(directory / "config.json", result.config.to_dict())
    write_text(directory / "history.csv", history_csv(result.history))
    write_json(directory / "env.json", environment(result.weights_source, result.config.seed,
                                                   result.info.get("compute_path")))
    fig = plot_losses(result.history, result.terms, title=f"{directory.name} — {result.weights_source.label}")
    save_figure(fig, directory / "loss.png")
    import matplotlib.pyplot as plt

    plt.close(fig)
    final = result.final
    record = {
        "status": run_status(result),
        "stopped": result.stopped,
        "steps": len(result.history),
        "final": {k: v for k, v in final.items() if k in result.terms or k == "seconds"},  # every term, by name
        "wall_seconds": final.get("seconds"),
        "weights": result.weights_source.label,
        "info": result.info,
        **{k: v for k, v in result.info.items() if k.startswith("metric_")},
        **(extra or {}),
    }
    write_json(directory / "result.json", record)
    return directory


def clear_snapshots(directory) -> None:
    """Remove the snapshots of an earlier run from ``directory`` (``snapshot.npz``, its history, ``resume.json``,
    ``snapshots.csv`` and ``snapshots/``), so that ``--resume`` cannot continue that run's state under another
    run's record."""
    directory = Path(directory)
    for name in SNAPSHOT_FILES:
        (directory / name).unlink(missing_ok=True)
    shutil.rmtree(directory / "snapshots", ignore_errors=True)


def begin_run(directory) -> None:
    """Take ``directory`` over for a fresh (not resumed) run that writes into it before it ends: an earlier
    run's ``result.json``, ``config.json`` and snapshots are removed, so the folder never pairs this run's
    files with another run's record, and a resume never pairs this run's snapshot with another run's config."""
    directory = Path(directory)
    for name in ("result.json", "config.json"):
        (directory / name).unlink(missing_ok=True)
    clear_snapshots(directory)


class Snapshots:
    """A stylize callback that saves, every ``every`` steps, the image (``snapshots/step_NNNNNN.png``) and
    the optimiser's position (``snapshot.npz``, ``snapshot_history.csv``), atomically,
    so ``nststudy stylize --resume DIR`` can continue from there. ``resume.json`` records the inputs.
    At its first step, a fresh run (no ``history``) takes the folder over (``begin_run``): nothing is touched
    before the run has started, so bad input costs no earlier record."""

    def __init__(self, directory, every, content, style, config, history=()):
        self.directory, self.every = Path(directory), int(every)
        self.history = list(history)
        self.offset = self.history[-1]["seconds"] if self.history else 0.0
        self.inputs = {"content": str(content), "style": str(style), "config": config.to_dict()}
        self.started = False

    def __call__(self, it):
        if not self.started:
            if not self.history:
                begin_run(self.directory)
            write_json(self.directory / "resume.json", self.inputs)
            self.started = True
        self.history.append(history_row(it.step, it.terms, it.seconds + self.offset))
        if self.every and it.step % self.every == 0 and it.state is not None:
            import numpy as np

            state = it.state
            save_image(it.image, self.directory / "snapshots" / f"step_{it.step:06d}.png")
            write_text(self.directory / "snapshot_history.csv", history_csv(self.history))
            # The .npz (with its step) is written last: it is what a resume trusts; the history before it
            # holds at least as many steps and is cut to that step when read.
            with atomic_path(self.directory / "snapshot.npz") as tmp:
                with open(tmp, "wb") as f:
                    np.savez(f, x=state["x"], step=state["step"], n_optimizer=len(state["optimizer"]),
                             **{f"opt_{i}": v for i, v in enumerate(state["optimizer"])})
        return False


def load_snapshot(directory) -> dict:
    """The last snapshot of a run folder: inputs, config, state (step, x, optimizer) and history so far.

    A snapshot whose config differs from the folder's ``config.json`` (another run's record) is refused."""
    import numpy as np

    directory = Path(directory)
    if not (directory / "snapshot.npz").is_file():
        raise FileNotFoundError(f"{directory}: no snapshot to resume from (run with snapshot_every > 0)")
    inputs = json.loads((directory / "resume.json").read_text())
    config = StyleConfig.from_dict(inputs["config"])
    if (directory / "config.json").is_file():
        recorded = StyleConfig.from_dict(json.loads((directory / "config.json").read_text()))
        if recorded != config:
            changed = ", ".join(f"{k} {v} -> {getattr(recorded, k)}" for k, v in config.to_dict().items()
                                if getattr(recorded, k) != getattr(config, k))
            raise ValueError(f"{directory}: its snapshot was taken under another config than its config.json "
                             f"(snapshot -> config.json: {changed}); it belongs to another run: rerun without "
                             f"--resume")
    with np.load(directory / "snapshot.npz") as data:
        state = {"step": int(data["step"]), "x": data["x"],
                 "optimizer": [data[f"opt_{i}"] for i in range(int(data["n_optimizer"]))]}
    history = parse_history((directory / "snapshot_history.csv").read_text())
    return {"content": inputs["content"], "style": inputs["style"], "config": config,
            "state": state, "history": [h for h in history if h["step"] <= state["step"]]}


def is_complete(directory) -> bool:
    """True when ``directory`` holds a finished run record (``result.json`` is written last)."""
    return (Path(directory) / "result.json").is_file()


def load_run(directory) -> dict:
    """Read a run folder back: config (StyleConfig, or TrainConfig for a training run), history (list of dicts),
    env and result dicts, and the run's ``terms`` (the keys of result.json's ``final`` but ``seconds``; empty for
    an unfinished run)."""
    directory = Path(directory)
    data = json.loads((directory / "config.json").read_text())
    if "width" in data:  # a feed-forward training run (nststudy.train): its TrainConfig
        from .trainconfig import TrainConfig

        config = TrainConfig.from_dict(data)
    else:
        config = StyleConfig.from_dict(data)
    history = parse_history((directory / "history.csv").read_text())
    out = {"directory": directory, "config": config, "history": history}
    for name in ("env", "result"):
        p = directory / f"{name}.json"
        out[name] = json.loads(p.read_text()) if p.is_file() else None
    out["terms"] = tuple(k for k in (out["result"] or {}).get("final", {}) if k != "seconds")
    return out


def input_image(folder: Path, name: str):
    """A run's input image (a study grid's input tile): ``<name>.png`` of its run folder; for the content of a
    feed-forward training run recorded before it wrote content.png, its first held-out photo (result.json) at image.png's
    size - the photo image.png shows stylised. None when neither exists."""
    from PIL import Image

    path = folder / f"{name}.png"
    if path.is_file():
        return Image.open(path)
    result, image = folder / "result.json", folder / "image.png"
    if name != "content" or not (result.is_file() and image.is_file()):
        return None
    held = json.loads(result.read_text()).get("held_out") or []
    if not held:
        return None
    from .images import load_image, resize

    size = Image.open(image).size  # (w, h)
    return resize(load_image(held[0]), size[1], size[0])


__all__ = ["input_image", "Snapshots", "load_snapshot", "clear_snapshots", "begin_run", "STATUS", "save_run", "run_status", "loss_worsened",
           "load_run", "is_complete", "environment", "history_csv", "parse_history", "run_directory"]
