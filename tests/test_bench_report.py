"""benchmarks/report.py: every published benchmark number (RESULTS.md and the README's speed-and-memory and
real-time blocks) is generated from benchmarks/results.json, and the committed README blocks are exactly what the
generator gives."""

import json
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "benchmarks"))

import report  # noqa: E402

GIB = 2**30


def fixture_results(stale: bool) -> dict:
    """A small results.json with round numbers, so every expected figure below is worked out by hand."""
    curve = [[1.0, 9.0, 1]]
    q = {"size": 64, "steps": 30, "target": 5.0, "complete": True, "methods": {
        "tutorial baseline (Adam 0.02)": {"curve": curve, "reached": True, "seconds": 200.0, "step": 30, "best": 5.0},
        "nststudy L-BFGS": {"curve": curve, "reached": True, "seconds": 50.0, "step": 12, "best": 4.9,
                            "path": "bfloat16"},
        "nststudy Adam + ExponentialDecay": {"curve": curve, "reached": False, "seconds": None, "step": None,
                                             "best": 5.5}}}
    if stale:
        q["stale"] = "measured before the L-BFGS rescaling"
    return {"weights": "RANDOM WEIGHTS (seed 0)", "command": "python benchmarks/run.py --quick",
            "machine": {"cpu": "Test CPU 9000", "cores": 2, "load_average_at_start": 0.25, "python": "3.11",
                        "tensorflow": "2.99", "keras": "3.99", "numpy": "2.0", "scipy": "1.17",
                        "date": "2026-11-29 10:00", "flags": ["avx512f", "avx512_bf16"]},
            "matmul_gflops": 100.0, "matmul_gflops_bf16": 250.0,
            # 100 GFLOP a step: baseline 2.0 s (50 GFLOP/s), nststudy 1.0 s -> 2.00x, 100 GFLOP/s = 100% of matmul
            "per_step": [{"size": 64, "baseline_s": 2.0, "nststudy_s": 1.0, "speedup": 2.0, "steps_timed": 8,
                          "flops": 100e9, "path": "bfloat16",
                          "candidates": {"tf.function": 1.5, "XLA": 1.75, "bfloat16": 1.0}}],
            "quality": q,
            "memory": [{"size": 64, "peak_bytes": 2 * GIB, "estimate_bytes": 2.5 * GIB},
                       {"size": 128, "peak_bytes": 4 * GIB, "estimate_bytes": 3.6 * GIB}]}


def test_results_md_holds_the_fixture_numbers_and_the_stale_mark():
    md = report.results_md(fixture_results(stale=True))
    assert "Test CPU 9000" in md and "avx512f yes, avx512_bf16 yes, amx_bf16 no, amx_tile no" in md
    assert "100.0 GFLOP/s float32, 250.0 GFLOP/s bfloat16" in md
    assert "| 2.00× | ≥ 1.7× | met |" in md and "path: bfloat16" in md
    assert "tf.function 1.500 s, XLA 1.750 s, bfloat16 1.000 s" in md
    # bounds: baseline at 50 GFLOP/s -> at most 100/50 = 2.00x (float32) or 250/50 = 5.00x (bfloat16)
    assert "at most 2.00× faster at the float32 matmul rate or 5.00× faster at the bfloat16 matmul rate" in md
    # time to quality: L-BFGS 50 s of the baseline's 200 s = 0.25, stale so no verdict
    assert "| 0.25 | ≤ 0.2 | — |" in md and "(STALE, see below)" in md
    assert "**Stale:** measured before the L-BFGS rescaling" in md
    assert "| nststudy L-BFGS (stale) | bfloat16 | yes | 12 | 50.0 | 0.25 |" in md
    # memory: 2.5/2 = 1.25, 3.6/4 = 0.90
    assert "| 64² | 2.00 | 2.50 | 1.25 |" in md and "| 128² | 4.00 | 3.60 | 0.90 |" in md


def test_fresh_quality_rows_get_a_verdict_and_no_stale_mark():
    md = report.results_md(fixture_results(stale=False))
    assert "stale" not in md.lower()
    assert "| 0.25 | ≤ 0.2 | **not met** |" in md


def test_a_section_measured_apart_says_when_and_on_which_cpu():
    r = fixture_results(stale=False)
    assert "apart from the other sections" not in report.results_md(r)
    r["quality"]["measured"] = {"date": "2026-11-30 02:00", "load_average_at_start": 0.5, "load_average_at_end": 1.25,
                                "cpu": "Test CPU 9000", "flags": ["avx512f", "avx512_bf16"], "cores": 2}
    note = ("Measured on 2026-11-30 02:00 (load average 0.5 at the start, 1.2 at the end; the same CPU model, flags "
            "and cores), apart from the other sections (2026-11-29 10:00)")
    assert note in report.results_md(r) and note in report.readme_block(r)
    r["quality"]["measured"]["flags"] = ["avx512f"]
    assert "Test CPU 9000, 2 cores (another CPU!)" in report.results_md(r)


def test_readme_block_holds_the_fixture_numbers():
    block = report.readme_block(fixture_results(stale=True))
    assert block.startswith(report.BEGIN) and block.endswith(report.END)
    assert "2.00× at 64² (bfloat16)" in block
    assert "as a fraction of the loop's 200 s: L-BFGS 0.25×." in block and "**Stale:**" in block
    # Adam's best 5.5 against the target 5.0
    assert "Not reached: Adam + ExponentialDecay ended 10.0% above it." in block
    assert "2.00 GiB at 64², 4.00 GiB at 128²" in block and "0.90–1.25×" in block


def test_replace_block_keeps_the_text_around_it_and_refuses_missing_markers():
    text = f"before\n{report.BEGIN}\nold 1.44 GiB\n{report.END}\nafter\n"
    assert report.replace_block(text, f"{report.BEGIN}\nnew\n{report.END}") == \
        f"before\n{report.BEGIN}\nnew\n{report.END}\nafter\n"
    with pytest.raises(ValueError, match="one"):
        report.replace_block("no markers here", "x")


def test_committed_readme_and_results_md_are_what_results_json_gives():
    """A hand edit of a number in the README's block or in RESULTS.md fails here: rerun benchmarks/report.py."""
    r = json.loads((REPO / "benchmarks" / "results.json").read_text())
    readme = (REPO / "README.md").read_text()
    assert readme == report.readme_text(readme, r)
    assert (REPO / "benchmarks" / "RESULTS.md").read_text() == report.results_md(r)


def precision_fixture(bf16_loss: float) -> dict:
    r = fixture_results(stale=False)
    r["precision"] = {"size": 64, "steps": 20, "optimizer": "adam", "float32_loss_at_90_percent": 110.0,
                      "pixel_rms_difference": 1.5,
                      "runs": {"float32": {"final_float32_loss": 100.0, "seconds": 10.0, "metric_ssim_content": 0.5},
                               "bfloat16": {"final_float32_loss": bf16_loss, "seconds": 6.0,
                                            "metric_ssim_content": 0.49}}}
    return r


def test_precision_study_is_judged_against_the_float32_runs_last_tenth():
    # float32 stood at 110 two steps (a tenth of 20) before its end at 100: bfloat16 at 101 is within that
    same = report.results_md(precision_fixture(101.0))
    assert "Verdict: **same result** (loss ratio 1.0100; pixel RMS difference 1.50" in same
    assert "| final loss, float32 | 100 | 101 |" in same and "| metric_ssim_content | 0.5000 | 0.4900 |" in same
    differs = report.results_md(precision_fixture(120.0))  # worse than float32 was 2 steps earlier
    assert "different result (bfloat16 must then not be chosen automatically)" in differs and "loss ratio 1.2000" in differs
    assert "1.2000× the float32 result's, beyond" in report.readme_block(precision_fixture(120.0))


def realtime_fixture() -> dict:
    """A realtime record with round frame times, so fps, shares and verdicts are worked out by hand: the
    recommended network (width 0.5, bfloat16) at 40 ms = 25.0 fps at 256² (goal 24: met) and 200 ms = 5.0 fps at
    512² (goal 6: not met)."""
    ms = {(1.0, "float32", 256): 250.0, (1.0, "float32", 512): 1000.0, (1.0, "bfloat16", 256): 125.0,
          (1.0, "bfloat16", 512): 500.0, (0.5, "float32", 256): 80.0, (0.5, "float32", 512): 320.0,
          (0.5, "bfloat16", 256): 40.0, (0.5, "bfloat16", 512): 200.0}
    return {"date": "2026-11-29 23:50", "cpu": "Test CPU 9000", "cpus": 2, "tensorflow": "2.99",
            "weights": "seeded random weights (speed only)", "quick": False, "rounds": 3, "frames": 8,
            "residual_blocks": 5, "padding": "zero", "load_average_at_start": 0.5, "load_average_at_end": 1.5,
            "recommended": {"width": 0.5, "precision": "bfloat16"},
            # gflops: a made-up 2 GFLOP a frame at 256² over the frame time, enough to see the column is carried
            "fps": [{"width": w, "precision": p, "size": s, "fps": 1000 / t, "ms": t, "gflops": 2.0 / (t / 1000)}
                    for (w, p, s), t in ms.items()],
            "breakdown_ms": {"recommended: zero padding, 5 blocks, bfloat16": 40.0, "float32": 80.0,
                             "no instance norm": 30.0},
            "per_layer_ms": {"conv 3x3 64->64": 15.0, "instance norm": 9.0, "relu": 6.0},  # sum 30 ms
            "breakdown_size": 256, "breakdown_width": 0.5, "breakdown_precision": "bfloat16"}


def test_realtime_section_table_and_goal_verdicts_come_from_the_record():
    r = fixture_results(stale=False)
    r["realtime"] = realtime_fixture()
    md = report.results_md(r)
    section = md.split("## Real time (feed-forward network)", 1)[1]
    # 1000 / 40 ms = 25.0 fps, 2 GFLOP / 0.04 s = 50 GFLOP/s; 1000 / 200 ms = 5.0 fps, 10 GFLOP/s
    assert "| **0.5 (recommended)** | **bfloat16** | **25.0 (40 ms, 50)** | **5.0 (200 ms, 10)** |" in section
    assert "| 1 | float32 | 4.0 (250 ms, 8) | 1.0 (1000 ms, 2) |" in section
    assert section.index("| 1 | float32") < section.index("| 1 | bfloat16") < section.index("| 0.5 | float32")
    assert "- ≥ 24 fps at 256² for the recommended network (width 0.5, bfloat16): 25.0 fps (40 ms a frame): met." in section
    assert "- ≥ 6 fps at 512² for the recommended network (width 0.5, bfloat16): 5.0 fps (200 ms a frame): **not met**." \
        in section
    # ablations as a share of the recommended 40 ms; per-layer sums as a share of their 30 ms
    assert "| float32 | 80.0 | 200 % |" in section and "| no instance norm | 30.0 | 75 % |" in section
    assert "30.0 ms in all; the whole network takes 40.0 ms a frame" in section
    assert "| conv 3x3 64->64 | 15.0 | 50 % |" in section and "| relu | 6.0 | 20 % |" in section
    assert "Test CPU 9000, 2 CPUs, TensorFlow 2.99; load average 0.5 at the start, 1.5 at the end." in section
    assert "seeded random weights (speed only)" in section
    # summary table rows with the same verdicts
    assert "| feed-forward network, frames per second at 256² (width 0.5, bfloat16, the recommended network; batch 1) " \
           "| 25.0 fps (40 ms) | ≥ 24 fps | met |" in md
    assert "| 5.0 fps (200 ms) | ≥ 6 fps | **not met** |" in md


def test_realtime_readme_block_replaced_between_its_own_markers():
    r = fixture_results(stale=False)
    r["realtime"] = realtime_fixture()
    text = (f"intro\n{report.BEGIN}\nold speed\n{report.END}\nmiddle\n{report.RT_BEGIN}\n| old | 25.3 |\n"
            f"{report.RT_END}\nend\n")
    new = report.readme_text(text, r)
    assert "old speed" not in new and "| old | 25.3 |" not in new
    assert new.startswith("intro\n") and "\nmiddle\n" in new and new.endswith("\nend\n")
    block = new.split(report.RT_BEGIN, 1)[1].split(report.RT_END, 1)[0]
    assert "| **0.5 (recommended)** | **bfloat16** | **25.0 (40 ms, 50)** | **5.0 (200 ms, 10)** |" in block
    assert "25.0 fps (40 ms a frame): met." in block and "5.0 fps (200 ms a frame): **not met**." in block
    assert "conv 3x3 64->64 50 %, instance norm 30 %, relu 20 %." in block
    assert "1.10×" not in block  # the engine's figures stay in their own block
    with pytest.raises(ValueError, match="real time"):
        report.readme_text(f"{report.BEGIN}\n{report.END}\n", r)  # no real-time markers


def test_a_record_without_realtime_says_not_measured():
    r = fixture_results(stale=False)
    md = report.results_md(r)
    assert "| feed-forward network, frames per second (the recommended network, batch 1) | not measured in this " \
           "record | ≥ 24 fps at 256², ≥ 6 fps at 512² | — |" in md
    assert "## Real time (feed-forward network)\n\nFrames per second of the transform network: not measured" in md
    assert "Frames per second: not measured in this record" in report.realtime_readme_block(r)


def test_a_quick_realtime_record_has_no_verdict_at_the_goals_sizes():
    r = fixture_results(stale=False)
    rt = realtime_fixture()
    rt.update(quick=True, fps=[dict(e, size=e["size"] // 4) for e in rt["fps"]], breakdown_size=64)
    r["realtime"] = rt
    md = report.results_md(r)
    assert "**Quick run**" in md and "| 64² fps (ms a frame, GFLOP/s) | 128² fps" in md
    assert "not measured at 256² in this record: —." in md
    assert "| feed-forward network, frames per second at 512² (width 0.5, bfloat16, the recommended network; batch 1) " \
           "| not measured in this record | ≥ 6 fps | — |" in md


def test_model_speed_table_comes_from_the_record():
    r = fixture_results(stale=False)
    assert "VGG16 against VGG19" not in report.results_md(r)
    r["models"] = [{"size": 64, "weights": "seeded random (seed 0)", "steps_timed": 8,
                    "seconds": {"vgg16": 0.5, "vgg19": 0.6}, "paths": {"vgg16": "bfloat16", "vgg19": "tf.function"},
                    "vgg19_over_vgg16": 1.2, "flops": {"vgg16": 10e9, "vgg19": 13e9}}]
    md = report.results_md(r)
    assert "VGG16 against VGG19" in md and "not available here" in md
    assert "| 64² | 0.500 (bfloat16) | 0.600 (tf.function) | 1.20× | 1.30× |" in md


def test_an_lbfgs_method_that_did_not_reach_the_target_says_why_it_ended():
    r = fixture_results(stale=False)
    r["quality"]["methods"]["nststudy L-BFGS"].update(reached=False, lbfgs={
        "lbfgs_iterations": 546, "lbfgs_restarts": 2, "lbfgs_float32_from_step": 468,
        "lbfgs_message": "ABNORMAL_TERMINATION_IN_LNSRCH"})
    assert ('nststudy L-BFGS ended after 546 iterations and 2 restarts, float32 from iteration 468: SciPy\'s last '
            'message "ABNORMAL_TERMINATION_IN_LNSRCH".') in report.results_md(r)
