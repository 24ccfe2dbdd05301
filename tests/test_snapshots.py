"""Snapshots and resuming a killed run from its last snapshot (not from step zero), by hand, through
``stylize_into`` (the trial notebook's call) and in a sweep's trial folder; each snapshot measured."""

import csv
import json
import subprocess
import sys

import numpy as np
import pytest

from nststudy import StyleConfig, stylize
from nststudy.runfolder import resumable, stylize_into
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


def _inputs(tmp_path):
    save_image(make_content(), tmp_path / "c.png")
    save_image(make_style(), tmp_path / "s.png")
    return str(tmp_path / "c.png"), str(tmp_path / "s.png")


def _snapshot_table(run):
    with open(run / "snapshots.csv", newline="") as f:
        return list(csv.DictReader(f))


def test_stylize_into_measures_every_snapshot_as_the_result_is_measured(tmp_path):
    content, style = _inputs(tmp_path)
    cfg = StyleConfig(weights="random", image_size=32, epochs=1, steps_per_epoch=6, snapshot_every=3)
    run, result = stylize_into(tmp_path / "run_random", content, style, cfg, progress=False)
    rows = _snapshot_table(run)
    assert [int(r["step"]) for r in rows] == [3, 6]
    assert [float(r["total"]) for r in rows] == pytest.approx([result.history[2]["total"], result.history[5]["total"]])
    record = json.loads((run / "result.json").read_text())
    # The last snapshot is the final image: measured the same way, it gives result.json's numbers.
    for key in ("metric_ssim_content", "metric_style_ratio", "metric_colour_to_style", "metric_content_distance"):
        assert float(rows[-1][key]) == pytest.approx(record[key], rel=1e-6), key
    assert float(rows[0]["metric_ssim_content"]) != pytest.approx(record["metric_ssim_content"])


def test_stylize_into_without_snapshots_leaves_no_snapshot_files(tmp_path):
    content, style = _inputs(tmp_path)
    run = tmp_path / "run_random"
    (run / "snapshots").mkdir(parents=True)
    (run / "snapshots.csv").write_text("step\n3\n")  # another run's
    stylize_into(run, content, style, StyleConfig(weights="random", image_size=32, epochs=1, steps_per_epoch=2),
                 progress=False)
    assert not (run / "snapshots.csv").exists() and not (run / "snapshots").exists()


def _killed_at(run, content, style, cfg, step):
    snaps = Snapshots(run, cfg.snapshot_every, content, style, cfg)
    stylize(content, style, cfg, callback=lambda it: snaps(it) or it.step == step, progress=False)


def test_stylize_into_resume_continues_a_killed_run_of_the_same_config(tmp_path):
    content, style = _inputs(tmp_path)
    cfg = StyleConfig(weights="random", image_size=32, epochs=1, steps_per_epoch=6, snapshot_every=3)
    run = tmp_path / "run_random"
    _killed_at(run, content, style, cfg, 4)  # the last snapshot is at step 3
    assert resumable(run, content, style, cfg) is not None
    assert resumable(run, content, style, cfg.replace(style_weight=cfg.style_weight * 2)) is None
    assert resumable(run, style, content, cfg) is None  # other images
    _, result = stylize_into(run, content, style, cfg, resume=True, progress=False)
    record = json.loads((run / "result.json").read_text())
    assert record["resumed_from_step"] == 3 and record["steps"] == 6
    assert [h["step"] for h in result.history] == list(range(1, 7))
    assert [int(r["step"]) for r in _snapshot_table(run)] == [3, 6]


def test_stylize_into_resume_starts_afresh_under_another_config(tmp_path):
    content, style = _inputs(tmp_path)
    cfg = StyleConfig(weights="random", image_size=32, epochs=1, steps_per_epoch=6, snapshot_every=3)
    run = tmp_path / "run_random"
    _killed_at(run, content, style, cfg, 4)
    other = cfg.replace(style_weight=cfg.style_weight * 2)
    stylize_into(run, content, style, other, resume=True, progress=False)
    record = json.loads((run / "result.json").read_text())
    assert "resumed_from_step" not in record and record["steps"] == 6
    assert json.loads((run / "config.json").read_text())["style_weight"] == other.style_weight


def test_a_killed_trial_with_a_snapshot_keeps_its_folder_only_under_the_same_fingerprint(tmp_path):
    from nststudy.trials import resumable as trial_resumable, run_trial

    record = {"trial": "t", "fingerprint": {"params": {"style_weight": 1.0}}}
    folder = tmp_path / "t"
    folder.mkdir()
    (folder / "trial.json").write_text(json.dumps(record))
    (folder / "snapshot.npz").write_bytes(b"state")
    (folder / "failed.json").write_text("{}")
    assert trial_resumable(folder, record)
    assert not trial_resumable(folder, {**record, "fingerprint": {"params": {"style_weight": 2.0}}})
    assert not trial_resumable(folder, None)
    missing = str(tmp_path / "no_such_notebook.ipynb")  # the trial fails at once, after the folder decision
    assert run_trial(missing, str(folder), {}, record=record)["status"] == "failed"
    assert (folder / "snapshot.npz").read_bytes() == b"state"  # kept for the notebook to continue
    other = {**record, "fingerprint": {"params": {"style_weight": 2.0}}}
    assert run_trial(missing, str(folder), {}, record=other)["status"] == "failed"
    assert not (folder / "snapshot.npz").exists()  # another trial's snapshot: the folder was started over
    assert json.loads((folder / "trial.json").read_text()) == other
