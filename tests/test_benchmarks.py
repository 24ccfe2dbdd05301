"""The benchmark (benchmarks/): its baseline computes the TensorFlow tutorial's loss, which nststudy's
tutorial_config reproduces exactly; its FLOP count by hand; and a quick end-to-end run (slow)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "benchmarks"))

import baseline  # noqa: E402
import measure  # noqa: E402


def test_conv_flops_of_vgg16_by_hand():
    # VGG16 to conv5_1 at 32x32: blocks of 2, 2, 3, 3 convs and conv5_1; 2*h*w*9*cin*cout each, doubled (input grad)
    convs = [(32, 3, 64), (32, 64, 64), (16, 64, 128), (16, 128, 128), (8, 128, 256), (8, 256, 256), (8, 256, 256),
             (4, 256, 512), (4, 512, 512), (4, 512, 512), (2, 512, 512)]
    by_hand = 2 * sum(2 * s * s * 9 * cin * cout for s, cin, cout in convs)
    assert measure.conv_flops(32, 32, "block5_conv1", "vgg16") == by_hand
    assert measure.conv_flops(32, 32, "block5_conv1", "vgg19") > by_hand


def test_conv_flops_by_hand():
    # block1_conv1 at 4x4: 16 positions x 9 x 3 x 64 multiply-adds, forward + input gradient.
    assert measure.conv_flops(4, 4, "block1_conv1") == 2 * (2 * 16 * 9 * 3 * 64)
    # + block1_conv2 (64 -> 64), then block2_conv1 at 2x2 after the pool (64 -> 128).
    assert measure.conv_flops(4, 4, "block2_conv1") == 2 * 2 * (16 * 9 * 3 * 64 + 16 * 9 * 64 * 64 + 4 * 9 * 64 * 128)


def test_multiscale_methods_set_coarse_lengths_apart_from_the_final_size(monkeypatch):
    """Coarse lengths are given for 1000 baseline steps and scaled with the steps: with 4 steps, 500 -> 2 and
    250, 750 -> 1, 3 (4 x n / 1000); the final size may run all 4 steps; the callback's coarse count is their sum."""
    ran = {}
    monkeypatch.setattr(measure, "MULTISCALE", [((2,), (500,)), ((4, 2), (250, 750))])
    monkeypatch.setattr(measure, "_curve_until", lambda c, s, config, target, coarse, check: ran.update(
        {config.scales: (config.scale_steps, config.total_steps, coarse)}) or {"reached": False})
    monkeypatch.setattr(measure, "warm_paths", lambda c, s, sizes: None)
    done = {"curve": [], "reached": True, "seconds": 1.0, "step": 4, "best": 5.0}
    partial = {"size": 64, "steps": 4, "target": 5.0, "complete": False,
               "methods": {"tutorial baseline (Adam 0.02)": done}}
    result = measure.time_to_quality(None, 64, 4, partial)
    assert ran[(32,)] == ((2,), 4, 2) and ran[(16, 32)] == ((1, 3), 4, 4)
    assert "nststudy multiscale L-BFGS 16x1->32x3->64" in result["methods"]


def test_tune_stages_candidates_parsed_or_refused():
    import argparse

    import tune_stages

    assert tune_stages.parse_candidate("4,2:100,150") == ((4, 2), (100, 150))
    for bad in ("2", "2:100,150", "2,4:100,150", "1:100", "a:b"):
        with pytest.raises(argparse.ArgumentTypeError, match="DIVISORS:ITERATIONS|e.g. 4,2:100,150"):
            tune_stages.parse_candidate(bad)


def test_tutorial_loss_equals_nststudy_total_under_tutorial_config(content_image, style_image):
    """Two independent implementations of one loss: the tutorial's (means, Grams over locations, [0,1]
    input) and nststudy's (sums, 1/(4N²M²), 0..255 input) with α, β converted."""
    from nststudy.images import resize
    from nststudy.models import _vgg_base, build_extractor, resolve_weights
    from nststudy.objective import make_loss_fn

    source = resolve_weights("vgg19", "random", 0)
    content, style = resize(content_image, 48, 32), resize(style_image, 48, 32)
    loop = baseline.TutorialLoop(_vgg_base("vgg19", source), content, style)
    config = baseline.tutorial_config(48, 32, weights="random")
    extractor = build_extractor("vgg19", list(config.content_layers + config.style_layers), source)
    loss_fn = make_loss_fn(extractor, config, content, style)
    x = np.random.default_rng(1).uniform(0, 255, (48, 32, 3)).astype(np.float32)
    ours, theirs = float(loss_fn(x[None])["total"]), loop.loss_of(x)
    assert ours == pytest.approx(theirs, rel=1e-4)
    assert loop.step() == pytest.approx(float(loss_fn(content[None].astype(np.float32))["total"]), rel=1e-4)


@pytest.mark.slow
@pytest.mark.timeout(1200)
def test_quick_benchmark_prints_every_figure_and_writes_results(tmp_path):
    # no ImageNet file, and the paths chosen by measurement as in a real benchmark (conftest fixes them for tests)
    env = {k: v for k, v in os.environ.items() if k not in ("NSTSTUDY_WEIGHTS_DIR", "NSTSTUDY_XLA", "NSTSTUDY_PRECISION")}
    env.update(NSTSTUDY_OFFLINE="1", KERAS_HOME=str(tmp_path / "keras"))  # no ImageNet file: random weights
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "RESULTS.md").write_text("old\n<!-- notes -->\nA person's explanation.\n")
    readme_before = (REPO / "README.md").read_text()
    proc = subprocess.run([sys.executable, str(REPO / "benchmarks" / "run.py"), "--quick", "--out",
                           str(tmp_path / "out")], capture_output=True, text=True, timeout=1100, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = proc.stdout
    assert "RANDOM WEIGHTS" in out
    for figure in ("matmul:", "per step 64²:", "per step 96²:", "paths 96²: tf.function", "GFLOP/s 96²:",
                   "time to quality 64²: nststudy L-BFGS", "precision 64²", "peak memory 128²:", "sweep overhead 64²:",
                   "VGG16 vs VGG19 96²", "realtime: ", "| 64² fps (ms a frame, GFLOP/s) | 128² fps", "Goals (issue 20)"):
        assert figure in out, figure
    results = (tmp_path / "out" / "RESULTS.md").read_text()
    assert "RANDOM WEIGHTS" in results and "| speed-up per step at 96²" in results
    assert "A person's explanation" not in results  # every word of RESULTS.md comes from report.py
    assert (REPO / "README.md").read_text() == readme_before  # a run with --out elsewhere leaves the README
    assert (tmp_path / "out" / "loss_vs_time.png").stat().st_size > 1000
    data = json.loads((tmp_path / "out" / "results.json").read_text())
    assert data["quality"]["target"] > 0 and len(data["memory"]) == 3
    assert data["per_step"][1]["path"] in ("tf.function", "XLA", "bfloat16", "bfloat16 + XLA")
    assert set(data["precision"]["runs"]) == {"float32", "bfloat16"}
    assert data["realtime"]["quick"] and len(data["realtime"]["fps"]) == 3 * 2 * 2  # widths x precisions x sizes
    assert "## Real time (feed-forward network)" in results and "**Quick run**" in results
    assert [m["size"] for m in data["models"]] == [64, 96] and "VGG16 against VGG19" in results


def test_time_to_quality_resumes_only_the_missing_methods(monkeypatch):
    """An interrupted time-to-quality run keeps the methods it saved and runs only the rest."""
    ran = []
    done = {"curve": [], "reached": True, "seconds": 1.0, "step": 1, "path": "tf.function"}
    monkeypatch.setattr(measure, "_curve_until", lambda c, s, config, target, coarse, check: ran.append(config.scales)
                        or dict(done, best=target))
    monkeypatch.setattr(measure, "warm_paths", lambda c, s, sizes: None)
    monkeypatch.setattr(measure, "TutorialLoop", None)  # the baseline is saved: it must not be rerun
    base = {"curve": [(9.0, 5.0, 4)], "reached": True, "seconds": 9.0, "step": 4, "best": 5.0}
    lbfgs = dict(base, seconds=3.0)
    partial = {"size": 64, "steps": 4, "target": 5.0, "complete": False,
               "methods": {"tutorial baseline (Adam 0.02)": base, "nststudy L-BFGS": lbfgs}}
    saved = []
    result = measure.time_to_quality(None, 64, 4, partial, saved.append)
    assert result["complete"] and result["methods"]["nststudy L-BFGS"] is lbfgs
    assert sorted(ran, key=len) == [(), (32,), (16, 32)]  # Adam, the two multiscale starts
    assert len(saved) == 3 and list(result["methods"])[:2] == ["tutorial baseline (Adam 0.02)", "nststudy L-BFGS"]


def measured_sections() -> dict:
    """A results.json holding every engine section already (tiny, with no figures to print), as --reuse finds it."""
    run_f32 = {"final_float32_loss": 1.0, "seconds": 1.0}
    return {"machine": {"flags": []}, "matmul_gflops": 100.0, "matmul_gflops_bf16": 200.0, "per_step": [],
            "quality": {"complete": True, "size": 64, "methods": {}}, "memory": [], "overhead": {"error": "stub"},
            "precision": {"size": 64, "steps": 20, "optimizer": "adam", "pixel_rms_difference": 0.0,
                          "runs": {"float32": run_f32, "bfloat16": run_f32}}, "models": []}


@pytest.fixture
def run_module(monkeypatch, tmp_path):
    """benchmarks/run.py with the VGG build stubbed (every engine section is in the record, so none runs)."""
    import argparse

    import run

    import nststudy.models

    monkeypatch.setattr(nststudy.models, "_vgg_base", lambda *a, **k: None)
    monkeypatch.setattr(nststudy.models, "resolve_weights", lambda *a, **k: None)
    return run, argparse.Namespace(quick=True, quality_steps=None, out_dir=tmp_path)


def test_run_measures_the_realtime_section_with_quick_settings_and_saves_it(run_module, monkeypatch):
    run, args = run_module
    calls, saved = [], []
    record = {"recommended": {"width": 0.5, "precision": "bfloat16"}, "fps": []}
    monkeypatch.setattr(run.realtime, "main", lambda argv: calls.append(argv) or record)
    r = measured_sections()
    run.measure_all(args, r, lambda res: saved.append(dict(res)))
    assert calls == [["--quick"]] and r["realtime"] is record
    assert saved and saved[-1]["realtime"] is record  # saved right after the section
    args.quick = False
    del r["realtime"]
    run.measure_all(args, r, saved.append)
    assert calls[-1] == []  # the full settings: realtime.py's own defaults


def test_run_reuse_keeps_a_measured_realtime_section(run_module, monkeypatch, capsys):
    run, args = run_module

    def must_not_run(argv):
        raise AssertionError("realtime measured again although results.json holds it")

    monkeypatch.setattr(run.realtime, "main", must_not_run)
    r = measured_sections()
    # the recommended network at 40 ms = 25.0 fps at 256² (goal 24: met)
    r["realtime"] = {"date": "2026-11-29 23:50", "recommended": {"width": 0.5, "precision": "bfloat16"},
                     "fps": [{"width": 0.5, "precision": "bfloat16", "size": 256, "fps": 25.0, "ms": 40.0}]}
    run.measure_all(args, r, lambda res: None)
    out = capsys.readouterr().out
    assert "realtime: kept from results.json (measured 2026-11-29 23:50)" in out
    assert "realtime goal ≥ 24 fps at 256² for the recommended network (width 0.5, bfloat16): 25.0 fps (40 ms a " \
           "frame): met." in out
