"""Fingerprints: what a trial's result depends on, recorded in its trial.json, and the reuse/rerun decision
on resume (``plan``): a finished trial is reused only while its fingerprint is the one the sweep would record
now; otherwise it is rerun, and the sweep says what changed.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from . import status as st
from .images import SAMPLES
from .reconstruct import RENAMED
from .trials import Trial, trial_status

NOTEBOOK_EXTRA = ("content", "style", "output_dir")
REPO = Path(__file__).resolve().parent.parent

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
