"""Sweeps: a ``sweep.yaml`` per study, expanded into trials, each run through papermill into its own
folder, resumable, locally parallel or on a Dask cluster. The figures and README come from ``report``.

A trial folder ``<root>/runs/<trial-id>/`` holds ``trial.json`` (its fingerprint: every resolved parameter,
the preset, the sha256 of each image it reads and the notebook's defaults for the parameters it does not
set), ``output.ipynb`` (the executed notebook) and the run record of ``nststudy.runs``. A trial has finished
when both ``output.ipynb`` and ``result.json`` exist; a failed one has ``failed.json`` with the reason. What
each status means is in ``nststudy.status``. A finished trial is reused only while its fingerprint is the
one the sweep would record now; otherwise it is rerun, and the sweep says what changed.
"""

from __future__ import annotations

import difflib
import fcntl
import hashlib
import itertools
import json
import os
import re
import shutil
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from . import status as st
from .cache import ENV as TARGET_CACHE_ENV
from .config import FIELD_NAMES, StyleConfig, paper_name
from .figurespec import check_figure
from .files import write_json
from .images import SAMPLES
from .reconstruct import RENAMED, renamed

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
    figure: dict = field(default_factory=dict)  # the metric figure's x, metrics, log_x, kind (nststudy.figurespec)
    claim: str = ""  # whether the seed's claim holds: the README's last finding

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
            label = " / ".join(" & ".join(map(str, p)) if isinstance(p, list) else str(p) for p in pair)
            trials.append(Trial(trial_id(pair, values), params, {"pair": label, **run}))
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


class SweepLock:
    """One sweep process per study folder: a second one refuses with a clear message."""

    def __init__(self, folder: Path):
        self.path = Path(folder) / ".lock"

    def __enter__(self):
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(self.fd)
            raise RuntimeError(f"{self.path.parent}: another sweep process is running on this study "
                               f"(lock {self.path}); wait for it or stop it first") from None
        os.ftruncate(self.fd, 0)
        os.write(self.fd, f"{os.getpid()}\n".encode())
        return self

    def __exit__(self, *exc):
        fcntl.flock(self.fd, fcntl.LOCK_UN)
        os.close(self.fd)


# --------------------------------------------------------------------------------------------------------------
# Fingerprints: what a trial's result depends on, recorded in trial.json and compared on resume

IMAGE_PARAMS = ("content", "style", "image")  # notebook parameters that name images (a style may be a list)


def image_sources(params: dict) -> list[str]:
    sources = []
    for key in IMAGE_PARAMS:
        value = params.get(key)
        for source in value if isinstance(value, (list, tuple)) else [value]:
            if source is not None and str(source) not in sources:
                sources.append(str(source))
    return sources


def image_hash(source: str) -> str:
    """sha256 of an image file's bytes, or of a bundled sample's pixels (RGB uint8, C order), as the trial's
    kernel resolves it (relative paths from the repository, where papermill runs it); "missing" when absent."""
    path = Path(source) if Path(source).is_absolute() else REPO / source
    if source.startswith("sample:") or (source in SAMPLES and not path.exists()):
        import numpy as np

        from .images import load_sample

        return hashlib.sha256(np.ascontiguousarray(load_sample(source)).tobytes()).hexdigest()
    if not path.is_file():
        return "missing"
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def fingerprint(trial: Trial, preset: str | None, declared: dict, hashes: dict | None = None) -> dict:
    """Everything a trial's result depends on that the sweep controls: its resolved parameters (base, axes
    and preset), the preset's name, each image's sha256 and the notebook's defaults for every parameter the
    trial leaves to the notebook. JSON-normalised, so it compares equal to the copy read back from trial.json.
    ``hashes`` caches image hashes across the trials of one sweep."""
    hashes = {} if hashes is None else hashes
    images = {}
    for source in image_sources(trial.params):
        if source not in hashes:
            hashes[source] = image_hash(source)
        images[source] = hashes[source]
    defaults = {k: v for k, v in declared.items() if k not in trial.params and k not in NOTEBOOK_EXTRA}
    record = {"preset": preset, "params": trial.params, "images": images, "notebook_defaults": defaults}
    return json.loads(json.dumps(record, default=str))


def recorded_fingerprint(folder: Path) -> dict | None:
    """The fingerprint a trial folder's trial.json holds; None when there is none (written before them)."""
    try:
        data = json.loads((Path(folder) / "trial.json").read_text())
    except (OSError, ValueError):
        return None
    record = data.get("fingerprint") if isinstance(data, dict) else None
    if isinstance(record, dict):  # recorded before parameters were renamed: compare under the new names
        for part in ("params", "notebook_defaults"):
            if isinstance(record.get(part), dict):
                record[part] = {RENAMED.get(k, k): v for k, v in record[part].items()}
    return record


_UNSET = object()


def _show(value) -> str:
    if value is _UNSET:
        return "unset"
    return value if isinstance(value, str) else json.dumps(value)


def fingerprint_changes(old: dict | None, new: dict) -> list[str]:
    """What differs between a recorded fingerprint and the current one, one phrase per key:
    ``epochs 3 -> 10``, ``image tubingen.jpg changed``, ``notebook default tv_weight 0.0 -> 1.0``."""
    if not isinstance(old, dict):
        return ["no fingerprint recorded"]
    changes = []
    if old.get("preset") != new["preset"]:
        changes.append(f"preset {_show(old.get('preset'))} -> {_show(new['preset'])}")
    for section, prefix in (("params", ""), ("notebook_defaults", "notebook default ")):
        before, now = old.get(section) or {}, new[section]
        for key in dict.fromkeys([*now, *before]):
            a, b = before.get(key, _UNSET), now.get(key, _UNSET)
            if a != b:
                changes.append(f"{prefix}{key} {_show(a)} -> {_show(b)}")
    before = old.get("images") or {}
    changes += [f"image {Path(s).name} changed" for s, h in new["images"].items() if before.get(s) != h]
    return changes


# --------------------------------------------------------------------------------------------------------------
# Trial folders


def trial_state(folder: Path) -> tuple[str, str | None]:
    """A trial folder's status (``nststudy.status``) and, for a failed one, the reason."""
    folder = Path(folder)
    if (folder / "failed.json").is_file():  # also when it failed before papermill wrote output.ipynb
        try:
            return st.FAILED, json.loads((folder / "failed.json").read_text()).get("reason")
        except (OSError, ValueError) as e:
            return st.FAILED, f"failed.json unreadable ({e})"
    if (folder / "result.json").is_file() and (folder / "output.ipynb").is_file():
        try:
            record = json.loads((folder / "result.json").read_text())
        except (OSError, ValueError) as e:
            return st.FAILED, f"result.json unreadable ({e})"
        return st.from_result(record if isinstance(record, dict) else {"status": record})
    return (st.INCOMPLETE if folder.exists() else st.PENDING), None


def trial_status(folder: Path) -> str:
    return trial_state(folder)[0]


def _reason(error: BaseException) -> str:
    text = str(error).strip()
    return f"{type(error).__name__}: {text.splitlines()[0] if text else ''}".strip()


def record_failure(folder: Path, reason: str, seconds: float | None = None) -> None:
    """Write ``failed.json`` (making the folder if the trial never got as far)."""
    Path(folder).mkdir(parents=True, exist_ok=True)
    seconds = None if seconds is None else round(seconds, 2)
    write_json(Path(folder) / "failed.json", {"reason": reason, "seconds": seconds})


_ENV_LOCK = threading.Lock()
_ENV_USERS: dict = {}  # variable name -> [trials using it now, its value before the first of them]


@contextmanager
def _environment(name: str, value: str | None):
    """Set an environment variable for the trials running in this process, and put back the value it had
    before when the last of them ends (threads of one sweep share it; so do the tasks of a Dask worker)."""
    if value is None:
        yield
        return
    with _ENV_LOCK:
        users = _ENV_USERS.setdefault(name, [0, os.environ.get(name)])
        users[0] += 1
        os.environ[name] = value
    try:
        yield
    finally:
        with _ENV_LOCK:
            users[0] -= 1
            if users[0] == 0:
                del _ENV_USERS[name]
                if users[1] is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = users[1]


def run_trial(notebook: str, folder: str, params: dict, cwd: str | None = None, target_cache: str | None = None,
              record: dict | None = None) -> dict:
    """Execute one trial's notebook into ``folder`` (importable, so Dask workers can run it).

    ``target_cache``: a folder for the on-disk cache of target features shared by a sweep's trials
    (``nststudy.cache``); the trial's kernel inherits it through the environment, which is restored after.
    ``record``: what to write as trial.json (the sweep passes ``{"trial": id, "fingerprint": ...}``).
    Any exception, before papermill or in it, ends as ``failed.json`` with the reason.
    """
    folder = Path(folder)
    partial = folder / ".output.partial.ipynb"
    start = time.perf_counter()
    reason = None
    try:
        with _environment(TARGET_CACHE_ENV, target_cache):
            import papermill
            from papermill.exceptions import PapermillExecutionError

            if folder.exists():
                shutil.rmtree(folder)  # an incomplete, failed or changed earlier attempt: start it over
            folder.mkdir(parents=True)
            write_json(folder / "trial.json", {"trial": folder.name, "params": params} if record is None else record)
            try:
                papermill.execute_notebook(notebook, str(partial), parameters={**params, "output_dir": str(folder)},
                                           kernel_name="python3", progress_bar=False, cwd=cwd)
            except PapermillExecutionError as e:
                reason = f"{e.ename}: {e.evalue}".strip()
    except Exception as e:  # kernel died (e.g. out of memory), timeout, no papermill, unwritable folder, ...
        reason = _reason(e)
    seconds = time.perf_counter() - start
    if partial.exists():
        os.replace(partial, folder / "output.ipynb")
    if reason is not None:
        record_failure(folder, reason, seconds)
        return {"status": st.FAILED, "reason": reason, "seconds": seconds}
    return {"status": trial_status(folder), "seconds": seconds}


def plan(trials: list[Trial], runs: Path, records: dict) -> tuple[list[Trial], str, dict]:
    """Which trials to run: every one not finished, and every finished one whose recorded fingerprint differs
    from ``records[id]["fingerprint"]``. Returns them, the one-line account (``reusing 8, rerunning 2
    (changed: epochs 3 -> 10)``) and counts."""
    todo, changed, unfinished, reused = [], [], [], 0
    for t in trials:
        folder = runs / t.id
        status = trial_status(folder)
        if status in st.FINISHED:
            diff = fingerprint_changes(recorded_fingerprint(folder), records[t.id]["fingerprint"])
            if not diff:
                reused += 1
                continue
            changed += [d for d in diff if d not in changed]
            todo.append(t)
        else:
            unfinished.append(status)
            todo.append(t)
    stale = len(todo) - len(unfinished)
    parts = [f"reusing {reused}"]
    if stale:
        shown = "; ".join(changed[:6]) + (f"; and {len(changed) - 6} more" if len(changed) > 6 else "")
        parts.append(f"rerunning {stale} (changed: {shown})")
    if unfinished:
        waiting = ", ".join(f"{n} {s}" for s, n in st.counts(unfinished).items())
        parts.append(f"running {len(unfinished)} ({waiting})")
    return todo, ", ".join(parts), {"reused": reused, "changed": stale}


def _outcome(fut, folder: Path) -> dict:
    """A finished future's result; its exception (a lost worker, an error outside papermill) is recorded as
    the trial's failure instead of ending the sweep."""
    try:
        return fut.result()
    except Exception as e:
        reason = _reason(e)
        try:
            record_failure(folder, reason)
        except OSError as err:
            reason += f" (failed.json not written: {err})"
        return {"status": st.FAILED, "reason": reason}


def run_sweep(path, preset=None, workers=1, scheduler=None, progress=True) -> dict:
    """Run every trial not yet finished with its current parameters and record ``sweep.json``; the study's
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
                # retries: a trial whose worker was lost runs once more (run_trial starts its folder over)
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
        write_json(runs.parent / "sweep.json", {
            "preset": preset, "trials": len(trials), "ran": len(todo), **counted, "counts": summary["counts"],
            "failed": summary["failed"], "flagged": summary["flagged"], "exit_code": summary["exit_code"],
            "workers": workers, "scheduler": scheduler, "finished": time.strftime("%Y-%m-%d %H:%M"),
            "wall_seconds": round(time.perf_counter() - started, 1)})
    return summary


__all__ = ["Sweep", "Trial", "load_sweep", "expand", "preset_overrides", "check_trials", "notebook_parameters",
           "run_sweep", "run_trial", "trial_id", "trial_status", "trial_state", "fingerprint",
           "fingerprint_changes", "recorded_fingerprint", "image_hash", "plan", "format_value", "PRESETS",
           "SweepLock"]
