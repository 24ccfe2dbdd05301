"""Sweeps: a ``sweep.yaml`` per study, expanded into trials, each run through papermill into its own
folder, resumable, locally parallel or on a Dask cluster. The figures and README come from ``report``.

A trial folder ``<root>/runs/<trial-id>/`` holds ``trial.json`` (its parameters), ``output.ipynb``
(the executed notebook) and the run record of ``nststudy.runs``. A trial is complete when both
``output.ipynb`` and ``result.json`` exist; a failed one has ``failed.json`` with the reason.
"""

from __future__ import annotations

import difflib
import hashlib
import itertools
import json
import os
import re
import shutil
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from .cache import ENV as TARGET_CACHE_ENV
from .config import FIELD_NAMES, StyleConfig, paper_name
from .files import SweepLock, write_json

NOTEBOOK_EXTRA = ("content", "style", "output_dir")
PRESETS = {
    # Tiny images, a few steps, seeded random weights: any sweep end to end in seconds per trial.
    "smoke": {"image_size": 32, "epochs": 1, "steps_per_epoch": 3, "weights": "random"},
}
REPO = Path(__file__).resolve().parent.parent


@dataclass
class Sweep:
    path: Path
    name: str
    question: str
    source: str
    notebook: Path
    base: dict
    axes: dict
    combine: str
    pairs: list  # [content, style] pairs, or [image] for single-image studies
    expected_runtime: str = ""
    presets: dict = field(default_factory=dict)
    notes: str = ""

    @property
    def folder(self) -> Path:
        return self.path.parent


@dataclass
class Trial:
    id: str
    params: dict  # notebook parameters (StyleConfig fields + content + style)
    axes: dict  # the swept values that make this trial, by axis name (plus "pair")


def load_sweep(path) -> Sweep:
    """Read and check a sweep.yaml; errors name the file and the key."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such sweep file")
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as e:
        raise ValueError(f"{path}: not valid YAML ({e})") from None
    known = {"name", "question", "source", "notebook", "base", "axes", "combine", "pairs", "images",
             "expected_runtime", "presets", "notes"}
    for key in data:
        if key not in known:
            raise ValueError(f"{path}: unknown key {key!r}; accepted: {', '.join(sorted(known))}")
    for key in ("question", "source", "axes"):
        if not data.get(key):
            raise ValueError(f"{path}: {key!r} is required")
    if bool(data.get("pairs")) == bool(data.get("images")):
        raise ValueError(f"{path}: give either 'pairs' ([content, style] lists, for the stylize notebook) or "
                         f"'images' (single images, for the reconstruct notebook)")
    combine = data.get("combine", "product")
    if combine not in ("product", "zip"):
        raise ValueError(f"{path}: combine={combine!r}; accepted: product, zip")
    axes = {k: list(v) if isinstance(v, (list, tuple)) else [v] for k, v in data["axes"].items()}
    if combine == "zip" and len({len(v) for v in axes.values()}) > 1:
        raise ValueError(f"{path}: combine=zip needs axes of equal length, got "
                         + ", ".join(f"{k}: {len(v)}" for k, v in axes.items()))
    if data.get("images"):
        pairs = [[str(image)] for image in data["images"]]
    else:
        pairs = [list(p) for p in data["pairs"]]
        if any(len(p) != 2 for p in pairs):
            raise ValueError(f"{path}: each entry of 'pairs' must be [content, style]")
    notebook = data.get("notebook", "notebooks/stylize.ipynb")
    nb_path = Path(notebook) if Path(notebook).is_absolute() else REPO / notebook
    return Sweep(path.resolve(), data.get("name", path.parent.name), str(data["question"]).strip(),
                 str(data["source"]).strip(), nb_path, dict(data.get("base") or {}), axes, combine, pairs,
                 str(data.get("expected_runtime", "")).strip(), dict(data.get("presets") or {}),
                 str(data.get("notes", "")).strip())


def format_value(value) -> str:
    """A short readable form of a swept value for trial ids and labels."""
    if isinstance(value, (list, tuple)):
        return "+".join(format_value(v) for v in value) if value else "none"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, str):
        return paper_name(value)
    return str(value)


def _stem(source) -> str:
    """Short name of an image source; a list of style images (a blend) joins its names with '&'."""
    if isinstance(source, (list, tuple)):
        return "&".join(_stem(s) for s in source)
    return Path(str(source)).stem


def trial_id(pair, values: dict) -> str:
    """Stable, readable id: ``<content>+<style>__<axis>=<value>...`` (filesystem-safe)."""
    parts = ["+".join(_stem(p) for p in pair)]
    parts += [f"{k}={format_value(v)}" for k, v in values.items()]
    text = re.sub(r"[^A-Za-z0-9_.=+-]", "-", "__".join(parts))
    # hashlib, not hash(): str hashes are salted per process, and the id must match on a resumed run
    return text if len(text) <= 150 else text[:140] + "-" + hashlib.sha1(text.encode()).hexdigest()[:8]


def expand(sweep: Sweep, preset: str | None = None) -> list[Trial]:
    """All trials of a sweep: pairs × (product or zip of the axes), with base and preset applied."""
    overrides = {}
    if preset:
        if preset not in PRESETS and preset not in sweep.presets:
            raise ValueError(f"unknown preset {preset!r}; available: {', '.join(sorted(set(PRESETS) | set(sweep.presets)))}")
        overrides = {**PRESETS.get(preset, {}), **sweep.presets.get(preset, {})}
    names = list(sweep.axes)
    combos = (zip(*sweep.axes.values()) if sweep.combine == "zip" else itertools.product(*sweep.axes.values()))
    trials = []
    for combo in combos:
        values = dict(zip(names, combo))
        for pair in sweep.pairs:
            images = {"content": pair[0], "style": pair[1]} if len(pair) == 2 else {"image": pair[0]}
            params = {**sweep.base, **values, **overrides, **images}
            label = " / ".join(" & ".join(map(str, p)) if isinstance(p, list) else str(p) for p in pair)
            trials.append(Trial(trial_id(pair, values), params, {"pair": label, **values}))
    ids = [t.id for t in trials]
    if len(set(ids)) != len(ids):
        raise ValueError(f"{sweep.path}: two trials share an id; make the axis values distinct")
    return trials


def check_trials(sweep: Sweep, trials: list[Trial]) -> None:
    """Before any compute: every parameter name must be one the notebook declares, every value valid."""
    import papermill

    declared = set(papermill.inspect_notebook(str(sweep.notebook)))
    for trial in trials:
        for key in trial.params:
            if key not in declared:
                close = difflib.get_close_matches(key, sorted(declared), n=1)
                hint = f"; did you mean {close[0]!r}?" if close else ""
                raise ValueError(f"{sweep.path}: parameter {key!r} is not a parameter of {sweep.notebook.name}{hint}")
        config = {k: v for k, v in trial.params.items() if k in FIELD_NAMES}
        try:
            StyleConfig.from_dict(config)
        except ValueError as e:
            raise ValueError(f"{sweep.path}: trial {trial.id}: {e}") from None


def runs_folder(sweep: Sweep, preset: str | None, trials) -> Path:
    """Real runs go to ``<study>/runs``; a preset's to ``<study>/<preset>``; random weights say so."""
    root = sweep.folder / (preset or "")
    random_w = any(t.params.get("weights") == "random" for t in trials)
    return root / ("runs_random-weights" if random_w else "runs")


def trial_status(folder: Path) -> str:
    if (folder / "failed.json").is_file() and (folder / "output.ipynb").is_file():
        return "failed"
    if (folder / "result.json").is_file() and (folder / "output.ipynb").is_file():
        status = json.loads((folder / "result.json").read_text()).get("status", "complete")
        return status if status in ("diverged", "stalled") else "complete"
    return "incomplete" if folder.exists() else "pending"


def run_trial(notebook: str, folder: str, params: dict, cwd: str | None = None, target_cache: str | None = None) -> dict:
    """Execute one trial's notebook into ``folder`` (importable, so Dask workers can run it).

    ``target_cache``: a folder for the on-disk cache of target features shared by a sweep's trials
    (``nststudy.cache``); the trial's kernel inherits it through the environment.
    """
    import papermill

    if target_cache:
        os.environ[TARGET_CACHE_ENV] = target_cache
    from papermill.exceptions import PapermillExecutionError

    folder = Path(folder)
    if folder.exists():
        shutil.rmtree(folder)  # an incomplete or failed earlier attempt: start it over
    folder.mkdir(parents=True)
    write_json(folder / "trial.json", params)
    partial = folder / ".output.partial.ipynb"
    start = time.perf_counter()
    reason = None
    try:
        papermill.execute_notebook(notebook, str(partial), parameters={**params, "output_dir": str(folder)},
                                   kernel_name="python3", progress_bar=False, cwd=cwd)
    except PapermillExecutionError as e:
        reason = f"{e.ename}: {e.evalue}".strip()
    except Exception as e:  # kernel died (e.g. out of memory), timeout, ...
        reason = f"{type(e).__name__}: {str(e).strip().splitlines()[0] if str(e).strip() else ''}"
    seconds = time.perf_counter() - start
    if partial.exists():
        os.replace(partial, folder / "output.ipynb")
    if reason is not None:
        write_json(folder / "failed.json", {"reason": reason, "seconds": round(seconds, 2)})
        return {"status": "failed", "reason": reason, "seconds": seconds}
    return {"status": trial_status(folder), "seconds": seconds}


@contextmanager
def _restored_env(name: str):
    """Put the environment variable ``name`` back as it was (run_trial sets it for its kernels)."""
    before = os.environ.get(name)
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = before


def run_sweep(path, preset=None, workers=1, scheduler=None, progress=True, report=True) -> dict:
    """Run every trial not yet complete, then write the study's records. Returns a summary dict."""
    from tqdm.auto import tqdm

    sweep = load_sweep(path)
    trials = expand(sweep, preset)
    check_trials(sweep, trials)
    runs = runs_folder(sweep, preset, trials)
    todo = [t for t in trials if trial_status(runs / t.id) not in ("complete", "diverged", "stalled")]
    started = time.perf_counter()
    outcomes = {}
    with SweepLock(runs.parent), _restored_env(TARGET_CACHE_ENV):
        runs.mkdir(parents=True, exist_ok=True)
        bar = tqdm(total=len(trials), initial=len(trials) - len(todo), desc=sweep.name, unit="trial",
                   disable=not progress)
        args = [(str(sweep.notebook), str(runs / t.id), t.params, str(REPO), str(runs / ".targets")) for t in todo]
        if scheduler:
            from dask.distributed import Client, as_completed as dask_completed

            with Client(scheduler) as client:
                futures = {client.submit(run_trial, *a, pure=False): t.id for a, t in zip(args, todo)}
                for fut in dask_completed(futures):
                    outcomes[futures[fut]] = fut.result()
                    bar.update(1)
        else:
            with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
                futures = {pool.submit(run_trial, *a): t.id for a, t in zip(args, todo)}
                for fut in as_completed(futures):
                    outcomes[futures[fut]] = fut.result()
                    bar.update(1)
        bar.close()
        summary = {"sweep": sweep.name, "trials": len(trials), "ran": len(todo),
                   "failed": sorted(k for k, v in outcomes.items() if v["status"] != "complete"),
                   "runs": str(runs)}
        write_json(runs.parent / "sweep.json", {"preset": preset, "trials": len(trials), "ran": len(todo),
                                                "failed": summary["failed"], "workers": workers,
                                                "scheduler": scheduler, "finished": time.strftime("%Y-%m-%d %H:%M"),
                                                "wall_seconds": round(time.perf_counter() - started, 1)})
        if report:
            from .report import write_report

            summary.update(write_report(sweep, trials, runs, preset))
    return summary


__all__ = ["Sweep", "Trial", "load_sweep", "expand", "check_trials", "run_sweep", "run_trial", "trial_id",
           "trial_status", "format_value", "PRESETS", "SweepLock"]
