"""Trials: one trial of a sweep (``Trial`` and its id), its folder's status and failure record, and running its
notebook into that folder through papermill (importable, so Dask workers can run it). What a trial folder holds
is in ``nststudy.sweeps``; what each status means in ``nststudy.status``.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from . import status as st
from .cache import ENV as TARGET_CACHE_ENV
from .config import paper_name
from .files import write_json


@dataclass
class Trial:
    id: str
    params: dict  # notebook parameters (StyleConfig fields + content + style)
    axes: dict  # the swept values that make this trial, by axis name (plus "pair")


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


def resumable(folder: Path, record: dict | None) -> bool:
    """Whether a trial folder holds a run killed after a snapshot (``snapshot_every``) under the fingerprint
    ``record`` the sweep would write now: then it is kept, and the trial notebook continues the run from that
    snapshot (``runfolder.stylize_into(..., resume=True)``, which checks images and config again) instead of
    starting it over."""
    if record is None or not (folder / "snapshot.npz").is_file():
        return False
    try:
        return json.loads((folder / "trial.json").read_text()) == json.loads(json.dumps(record))
    except (OSError, ValueError):
        return False


def run_trial(notebook: str, folder: str, params: dict, cwd: str | None = None, target_cache: str | None = None,
              record: dict | None = None) -> dict:
    """Execute one trial's notebook into ``folder`` (importable, so Dask workers can run it).

    ``target_cache``: a folder for the on-disk cache of target features shared by a sweep's trials
    (``nststudy.cache``); the trial's kernel inherits it through the environment, which is restored after.
    ``record``: what to write as trial.json (the sweep passes ``{"trial": id, "fingerprint": ...}``).
    Any exception, before papermill or in it, ends as ``failed.json`` with the reason. An earlier attempt's
    folder is removed first, unless it is ``resumable``.
    """
    folder = Path(folder)
    partial = folder / ".output.partial.ipynb"
    start = time.perf_counter()
    reason = None
    try:
        with _environment(TARGET_CACHE_ENV, target_cache):
            import papermill
            from papermill.exceptions import PapermillExecutionError

            if resumable(folder, record):  # killed mid-run: the notebook continues from its last snapshot
                for name in ("failed.json", "result.json", "output.ipynb"):
                    (folder / name).unlink(missing_ok=True)
            elif folder.exists():
                shutil.rmtree(folder)  # an incomplete, failed or changed earlier attempt: start it over
            folder.mkdir(parents=True, exist_ok=True)
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
