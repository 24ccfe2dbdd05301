"""Sweeps: a ``sweep.yaml`` per study, expanded into trials, each run through papermill into its own
folder, resumable, locally parallel or on a Dask cluster. The figures and README come from ``report``.

A trial folder ``<root>/runs/<trial-id>/`` holds ``trial.json`` (its fingerprint: every resolved parameter,
the preset, the sha256 of each image it reads and the notebook's defaults for the parameters it does not
set), ``output.ipynb`` (the executed notebook) and the run record of ``nststudy.runs``. A trial has finished
when both ``output.ipynb`` and ``result.json`` exist; a failed one has ``failed.json`` with the reason. What
each status means is in ``nststudy.status``. A finished trial is reused only while its fingerprint is the
one the sweep would record now; otherwise it is rerun, and the sweep says what changed. A trial killed mid-run
after a snapshot (``snapshot_every``) continues from that snapshot when its fingerprint is unchanged
(``trials.resumable``).
"""

from __future__ import annotations

import difflib
import itertools
import json
import sys
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from . import status as st
from .config import FIELD_NAMES, StyleConfig
from .figurespec import check_figure
from .files import write_json
from .fingerprint import REPO, fingerprint, fingerprint_changes, image_hash, plan, recorded_fingerprint
from .lock import SweepLock
from .reconstruct import renamed
from .trials import Trial, _outcome, format_value, run_trial, trial_id, trial_state, trial_status

PRESETS = {
    # Tiny images, a few steps, seeded random weights: any sweep end to end in seconds per trial.
    "smoke": {"image_size": 32, "epochs": 1, "steps_per_epoch": 3, "weights": "random"},
}


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
    figure: dict = field(default_factory=dict)  # the metric figure's x, metrics, log_x, kind (nststudy.figurespec)
    claim: str = ""  # whether the seed's claim holds: the README's last finding

    @property
    def folder(self) -> Path:
        return self.path.parent


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
             "expected_runtime", "presets", "notes", "figure", "claim"}
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
    data["base"] = renamed(dict(data.get("base") or {}), f"{path}: base")
    axes = {k: list(v) if isinstance(v, (list, tuple)) else [v]
            for k, v in renamed(dict(data["axes"]), f"{path}: axes").items()}
    if combine == "zip" and len({len(v) for v in axes.values()}) > 1:
        raise ValueError(f"{path}: combine=zip needs axes of equal length, got "
                         + ", ".join(f"{k}: {len(v)}" for k, v in axes.items()))
    if data.get("images"):
        pairs = [[str(image)] for image in data["images"]]
    else:
        pairs = [list(p) for p in data["pairs"]]
        if any(len(p) != 2 for p in pairs):
            raise ValueError(f"{path}: each entry of 'pairs' must be [content, style]")
    figure = check_figure(data.get("figure"), axes, str(path))
    claim = data.get("claim") or ""
    if not isinstance(claim, str):
        raise ValueError(f"{path}: 'claim' must be text (a paragraph); got {type(claim).__name__}")
    notebook = data.get("notebook", "notebooks/stylize.ipynb")
    nb_path = Path(notebook) if Path(notebook).is_absolute() else REPO / notebook
    return Sweep(path.resolve(), data.get("name", path.parent.name), str(data["question"]).strip(),
                 str(data["source"]).strip(), nb_path, dict(data.get("base") or {}), axes, combine, pairs,
                 str(data.get("expected_runtime", "")).strip(), dict(data.get("presets") or {}),
                 str(data.get("notes", "")).strip(), figure, claim.strip())


def pair_label(pair: list) -> str:
    """A trial's image pair as its rows name it: "content / style" (a blend's styles joined by " & ")."""
    return " / ".join(" & ".join(map(str, p)) if isinstance(p, list) else str(p) for p in pair)


def _is_count(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def preset_overrides(sweep: Sweep, preset: str | None) -> tuple[dict, dict]:
    """A preset's settings for the keys the sweep does not vary, and ``{axis: {swept value: value run}}`` for
    the swept ones it would shrink.

    A preset shrinks sizes and step counts; it never overwrites a swept axis (that would make the trials of,
    say, an iteration-count sweep identical under different ids). A swept count the preset also sets
    (``epochs``, ``steps_per_epoch``, ``image_size``, ...) is scaled down proportionally instead: the smallest
    swept value becomes the preset's value, the others keep their ratio to it (rounded, at least 1; never
    scaled up). Any other swept key keeps its swept values. If rounding would make two values equal, the
    preset is refused.
    """
    if not preset:
        return {}, {}
    if preset not in PRESETS and preset not in sweep.presets:
        raise ValueError(f"unknown preset {preset!r}; available: {', '.join(sorted(set(PRESETS) | set(sweep.presets)))}")
    overrides = {**PRESETS.get(preset, {}), **sweep.presets.get(preset, {})}
    scaled = {}
    for key in [k for k in overrides if k in sweep.axes]:
        target, values = overrides.pop(key), sweep.axes[key]
        if not (_is_count(target) and all(_is_count(v) for v in values)):
            continue  # not a size or a count: the swept values stand
        factor = min(1.0, target / min(values))
        mapping = {v: max(1, round(v * factor)) for v in values}
        if len(set(mapping.values())) < len(set(values)):
            raise ValueError(
                f"{sweep.path}: preset {preset!r} sets {key}={target}, which the sweep varies ({values}); scaled "
                f"down in proportion they would become {[mapping[v] for v in values]}, and equal values would "
                f"make distinct trials identical. Give the sweep file a preset with a larger {key} "
                f"(presets: {{{preset}: {{{key}: ...}}}}) or run it without the preset")
        scaled[key] = mapping
    return overrides, scaled


def expand(sweep: Sweep, preset: str | None = None) -> list[Trial]:
    """All trials of a sweep: pairs × (product or zip of the axes), with base and preset applied.

    Trial ids come from the swept values as the sweep file gives them, so a trial keeps its id under any
    preset; ``Trial.axes`` and ``Trial.params`` hold the values that run (see ``preset_overrides``).
    """
    overrides, scaled = preset_overrides(sweep, preset)
    names = list(sweep.axes)
    combos = (zip(*sweep.axes.values()) if sweep.combine == "zip" else itertools.product(*sweep.axes.values()))
    trials = []
    for combo in combos:
        values = dict(zip(names, combo))
        run = {k: scaled[k][v] if k in scaled else v for k, v in values.items()}
        for pair in sweep.pairs:
            images = {"content": pair[0], "style": pair[1]} if len(pair) == 2 else {"image": pair[0]}
            params = {**sweep.base, **overrides, **run, **images}
            trials.append(Trial(trial_id(pair, values), params, {"pair": pair_label(pair), **run}))
    ids = [t.id for t in trials]
    if len(set(ids)) != len(ids):
        raise ValueError(f"{sweep.path}: two trials share an id; make the axis values distinct")
    seen = {}
    for t in trials:
        key = json.dumps(t.params, sort_keys=True, default=str)
        if key in seen:
            raise ValueError(f"{sweep.path}: trials {seen[key]} and {t.id} have the same parameters"
                             + (f" under preset {preset!r}" if preset else "") + "; make the axis values distinct")
        seen[key] = t.id
    return trials


def notebook_parameters(notebook) -> dict:
    """The notebook's declared parameters (``papermill.inspect_notebook``): name -> default, as written."""
    import papermill

    return {name: info.get("default") for name, info in papermill.inspect_notebook(str(notebook)).items()}


def notebook_config_defaults(declared: dict) -> dict:
    """The StyleConfig fields a notebook declares, with the defaults written in its parameters cell (parsed
    as Python literals). A default that is not a literal, or that StyleConfig refuses on its own (the training
    notebook's preset-only ``epochs = 0``: it builds a TrainConfig, not a StyleConfig), is left to StyleConfig's."""
    import ast

    out = {}
    for key, text in declared.items():
        if key in FIELD_NAMES:
            try:
                value = ast.literal_eval(str(text))
                StyleConfig.from_dict({key: value})
            except (ValueError, SyntaxError):
                continue
            out[key] = value
    return out


def check_trials(sweep: Sweep, trials: list[Trial], declared: dict | None = None) -> None:
    """Before any compute: every parameter name must be one the notebook declares, every value valid."""
    declared = notebook_parameters(sweep.notebook) if declared is None else declared
    defaults = notebook_config_defaults(declared)  # the config that runs: the notebook's defaults, then the trial's
    for trial in trials:
        for key in trial.params:
            if key not in declared:
                close = difflib.get_close_matches(key, sorted(declared), n=1)
                hint = f"; did you mean {close[0]!r}?" if close else ""
                raise ValueError(f"{sweep.path}: parameter {key!r} is not a parameter of {sweep.notebook.name}{hint}")
        config = {**defaults, **{k: v for k, v in trial.params.items() if k in FIELD_NAMES}}
        try:
            StyleConfig.from_dict(config)
        except ValueError as e:
            raise ValueError(f"{sweep.path}: trial {trial.id}: {e}") from None


def runs_folder(sweep: Sweep, preset: str | None, trials) -> Path:
    """Real runs go to ``<study>/runs``; a preset's to ``<study>/<preset>``; random weights say so."""
    root = sweep.folder / (preset or "")
    random_w = any(t.params.get("weights") == "random" for t in trials)
    return root / ("runs_random-weights" if random_w else "runs")


def run_sweep(path, preset=None, workers=1, scheduler=None, progress=True) -> dict:
    """Run every trial not yet finished with its current parameters and record the call in ``sweep.json``
    (kept as it is when the call runs nothing, so a report refresh does not overwrite the last run); the study's
    figures, table and README are the report's job (``nststudy.report.build_report``; the CLI calls both).

    Which trials to run is decided inside the study lock. Returns a summary dict: every trial's status,
    the ``failed`` (did not finish) and ``flagged`` ones, and the ``exit_code`` (``nststudy.status``), which
    depends only on the statuses, so an immediate rerun that runs nothing gives the same code.
    """
    from tqdm.auto import tqdm

    sweep = load_sweep(path)
    trials = expand(sweep, preset)
    declared = notebook_parameters(sweep.notebook)
    check_trials(sweep, trials, declared)
    runs = runs_folder(sweep, preset, trials)
    started = time.perf_counter()
    outcomes = {}
    with SweepLock(runs.parent):
        runs.mkdir(parents=True, exist_ok=True)
        hashes = {}
        records = {t.id: {"trial": t.id, "fingerprint": fingerprint(t, preset, declared, hashes)} for t in trials}
        todo, line, counted = plan(trials, runs, records)
        print(f"{sweep.name}: {line}", file=sys.stderr)
        bar = tqdm(total=len(trials), initial=len(trials) - len(todo), desc=sweep.name, unit="trial",
                   disable=not progress)
        args = [(str(sweep.notebook), str(runs / t.id), t.params, str(REPO), str(runs / ".targets"), records[t.id])
                for t in todo]
        if scheduler:
            from dask.distributed import Client, as_completed as dask_completed

            with Client(scheduler) as client:
                # retries: a trial whose worker was lost runs once more (run_trial starts its folder over, or
                # continues it from its last snapshot: trials.resumable)
                futures = {client.submit(run_trial, *a, pure=False, retries=1): t.id for a, t in zip(args, todo)}
                for fut in dask_completed(futures):
                    outcomes[futures[fut]] = _outcome(fut, runs / futures[fut])
                    bar.update(1)
        else:
            with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
                futures = {pool.submit(run_trial, *a): t.id for a, t in zip(args, todo)}
                for fut in as_completed(futures):
                    outcomes[futures[fut]] = _outcome(fut, runs / futures[fut])
                    bar.update(1)
        bar.close()
        statuses = {t.id: trial_status(runs / t.id) for t in trials}
        summary = {"sweep": sweep.name, "trials": len(trials), "ran": len(todo), **counted, "plan": line,
                   "statuses": statuses, "counts": st.counts(statuses.values()),
                   "failed": [k for k, v in statuses.items() if v in st.UNFINISHED],
                   "flagged": [k for k, v in statuses.items() if v in st.FLAGGED],
                   "exit_code": st.exit_code(statuses.values()), "runs": str(runs)}
        last = runs.parent / "sweep.json"
        if todo or not last.is_file():  # a call that runs nothing (a report refresh) keeps the last run's record
            write_json(last, {
                "preset": preset, "trials": len(trials), "ran": len(todo), **counted, "counts": summary["counts"],
                "failed": summary["failed"], "flagged": summary["flagged"], "exit_code": summary["exit_code"],
                "workers": workers, "scheduler": scheduler, "finished": time.strftime("%Y-%m-%d %H:%M"),
                "wall_seconds": round(time.perf_counter() - started, 1)})
    return summary


__all__ = ["Sweep", "Trial", "load_sweep", "expand", "pair_label", "preset_overrides", "check_trials", "notebook_parameters",
           "run_sweep", "run_trial", "trial_id", "trial_status", "trial_state", "fingerprint",
           "fingerprint_changes", "recorded_fingerprint", "image_hash", "plan", "format_value", "PRESETS",
           "SweepLock"]
