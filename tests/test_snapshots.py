"""Snapshots and resuming a killed run from its last snapshot (not from step zero)."""

import json
import subprocess
import sys

import numpy as np
import pytest

from nststudy import StyleConfig, stylize
from nststudy.runs import Snapshots, load_snapshot, save_image

from conftest import make_content, make_style


@pytest.mark.parametrize("optimizer", ["adam", "lbfgs"])
def test_resume_continues_the_loss_curve(tmp_path, optimizer):
    save_image(make_content(), tmp_path / "c.png")
    save_image(make_style(), tmp_path / "s.png")
    content, style = str(tmp_path / "c.png"), str(tmp_path / "s.png")
    cfg = StyleConfig(weights="random", image_size=32, epochs=2, steps_per_epoch=5, snapshot_every=3,
                      optimizer=optimizer)
    full = stylize(content, style, cfg, progress=False)

    run = tmp_path / "run_random"
    snaps = Snapshots(run, 3, content, style, cfg)
    # "Kill" the run at step 7: the last snapshot is at step 6.
    stylize(content, style, cfg, callback=lambda it: snaps(it) or it.step == 7, progress=False)
    assert sorted(p.name for p in (run / "snapshots").iterdir()) == ["step_000003.png", "step_000006.png"]
    snap = load_snapshot(run)
    assert snap["state"]["step"] == 6 and [h["step"] for h in snap["history"]] == list(range(1, 7))

    resumed = stylize(snap["content"], snap["style"], snap["config"], resume=snap["state"], progress=False)
    assert [h["step"] for h in resumed.history] == list(range(7, 11))
    got = [h["total"] for h in snap["history"] + resumed.history]
    want = [h["total"] for h in full.history]
    if optimizer == "adam":
        # Adam's moments and iteration count are restored: the curve continues exactly.
        np.testing.assert_allclose(got, want, rtol=1e-4)
    else:
        # L-BFGS restarts its curvature memory at the snapshot: the curve continues, still falling.
        np.testing.assert_allclose(got[:6], want[:6], rtol=1e-4)
        assert got[-1] < got[5]


def test_cli_resume_records_that_it_resumed(tmp_path):
    save_image(make_content(), tmp_path / "c.png")
    save_image(make_style(), tmp_path / "s.png")
    cfg = StyleConfig(weights="random", image_size=32, epochs=1, steps_per_epoch=6, snapshot_every=2)
    run = tmp_path / "run_random"
    snaps = Snapshots(run, 2, tmp_path / "c.png", tmp_path / "s.png", cfg)
    stylize(str(tmp_path / "c.png"), str(tmp_path / "s.png"), cfg, callback=lambda it: snaps(it) or it.step == 3,
            progress=False)
    proc = subprocess.run([sys.executable, "-m", "nststudy", "stylize", "--resume", str(run), "-q"],
                          capture_output=True, text=True, env={"NSTSTUDY_OFFLINE": "1", "PATH": "/usr/bin:/bin"})
    assert proc.returncode == 0, proc.stderr
    assert "resuming" in proc.stderr and "from step 2" in proc.stderr
    record = json.loads((run / "result.json").read_text())
    assert record["resumed_from_step"] == 2 and record["steps"] == 6
    assert (run / "history.csv").read_text().count("\n") == 7  # header + 6 steps
