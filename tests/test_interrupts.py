"""Killing a sweep (SIGINT, SIGKILL) at a random moment: every record left parses, and a re-run completes
every trial exactly once."""

import json
import os
import random
import signal
import subprocess
import sys
import time

import pytest

from nststudy.runs import load_run
from nststudy.sweeps import expand, load_sweep, runs_folder, trial_status

from test_sweeps import make_sweep

ENV = {**os.environ, "NSTSTUDY_OFFLINE": "1"}


def _sweep(path):
    return subprocess.Popen([sys.executable, "-m", "nststudy", "sweep", str(path), "-q"], env=ENV,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGINT])
def test_killed_sweep_leaves_readable_records_and_resumes_exactly_once(tmp_path, sig):
    path = make_sweep(tmp_path, axes={"style_weight": [0.01, 0.1, 1.0]})
    proc = _sweep(path)
    time.sleep(random.Random(int(sig)).uniform(6.0, 16.0))  # somewhere inside the first trials
    os.killpg(proc.pid, sig)  # the whole group: the sweep and its kernels
    proc.wait(timeout=120)

    sweep = load_sweep(path)
    trials = expand(sweep)
    runs = runs_folder(sweep, None, trials)
    for t in trials:  # whatever was written is whole: complete trials load, others are just incomplete
        folder = runs / t.id
        if trial_status(folder) == "complete":
            load_run(folder)
            json.loads((folder / "result.json").read_text())
        for p in folder.glob("*.json") if folder.exists() else []:
            json.loads(p.read_text())
    finished_before = {t.id: (runs / t.id / "output.ipynb").stat().st_mtime for t in trials
                       if trial_status(runs / t.id) == "complete"}

    again = _sweep(path)
    out, err = again.communicate(timeout=600)
    assert again.returncode == 0, err.decode()[-2000:]
    assert f"{len(trials) - len(finished_before)} run now" in out.decode()
    assert all(trial_status(runs / t.id) == "complete" for t in trials)
    assert sorted(p.name for p in runs.iterdir() if not p.name.startswith(".")) == sorted(t.id for t in trials)  # each trial exactly once
    for tid, mtime in finished_before.items():  # finished trials were not run again
        assert (runs / tid / "output.ipynb").stat().st_mtime == mtime
    assert (runs.parent / "results.csv").read_text().count("complete") == len(trials)
