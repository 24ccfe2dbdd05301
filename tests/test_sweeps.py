"""Sweeps: sweep.yaml parsing and expansion, trial ids, checks before compute, papermill trials end to end,
resume, failed trials, the study lock and a Dask cluster.

Trials that run execute notebooks/stylize.ipynb through papermill (kernel start + TensorFlow import, about
10 s each), so every executed sweep here is a tiny one written to tmp_path with two trials at most.
"""

import os

os.environ["NSTSTUDY_OFFLINE"] = "1"  # before nststudy (Keras) is imported: never touch the network

import csv  # noqa: E402
import json  # noqa: E402
import re  # noqa: E402
import shutil  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import threading  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import yaml  # noqa: E402
from PIL import Image  # noqa: E402

from nststudy.cli import sweep_and_report  # noqa: E402
from nststudy.config import StyleConfig  # noqa: E402
from nststudy.sweeps import (  # noqa: E402
    PRESETS, SweepLock, check_trials, expand, load_sweep, run_sweep, runs_folder, trial_id, trial_status,
)

REPO = Path(__file__).resolve().parent.parent
NOTEBOOK = REPO / "notebooks" / "stylize.ipynb"
SHIPPED = sorted((REPO / "experiments").glob("*/sweep.yaml"))
EXPECTED_TRIALS = {"alpha_beta": 45, "style_layers": 10, "optimizer": 9, "schedule": 6, "content_layer": 15,
                   "model": 4, "seed004_long": 1, "seed004_constant_lr": 1}
# From noise, so both trials' losses fall in their 2 steps: from the photo at style_weight 0.01 the start is
# nearly the optimum, Adam's first ~5 px steps raise the loss, and the trial is (rightly) recorded "worsened".
TINY_BASE = {"image_size": 32, "epochs": 1, "steps_per_epoch": 2, "weights": "random", "init": "noise"}
SAFE_ID = re.compile(r"[A-Za-z0-9_.=+-]+")
TRIAL_FILES = ("output.ipynb", "result.json", "image.png", "config.json", "trial.json")
PAPERMILL_TIMEOUT = 600  # seconds per test that executes notebooks (a hung kernel must not hang the suite)


def make_sweep(root: Path, name: str = "tiny", *, axes=None, pairs=None, base=None, combine="product",
               presets=None, extra=None) -> Path:
    """Write ``root/experiments/<name>/sweep.yaml`` shaped like the shipped ones; returns its path."""
    data = {
        "name": name,
        "question": f"Does the {name} study run end to end?",
        "source": "tests/test_sweeps.py",
        "notebook": str(NOTEBOOK),
        "base": dict(TINY_BASE) if base is None else base,
        "combine": combine,
        "axes": axes if axes is not None else {"style_weight": [0.01, 1.0]},
        "pairs": pairs if pairs is not None else [["chelsea", "hubble_deep_field"]],
        "expected_runtime": "two trials, a few seconds each",
    }
    if presets is not None:
        data["presets"] = presets
    data.update(extra or {})
    folder = root / "experiments" / name
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "sweep.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def read_csv(path: Path) -> list[dict]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def assert_png(path: Path):
    assert path.is_file(), path
    magic = b"\xff\xd8\xff" if path.suffix == ".jpg" else b"\x89PNG\r\n\x1a\n"
    assert path.read_bytes()[:len(magic)] == magic, f"{path} is not a {path.suffix[1:].upper()}"
    with Image.open(path) as im:
        im.verify()
    with Image.open(path) as im:
        assert im.width > 10 and im.height > 10


def runs_folders_under(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("runs*") if p.is_dir()]


# --------------------------------------------------------------------------------------------------------------
# The shipped sweep files


def test_every_study_has_a_sweep_file():
    assert set(EXPECTED_TRIALS) <= {p.parent.name for p in SHIPPED}


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.parent.name)
def test_shipped_sweep_parses_and_expands(path):
    sweep = load_sweep(path)
    assert sweep.name == path.parent.name
    assert sweep.question and sweep.source
    assert sweep.notebook.parent == NOTEBOOK.parent and sweep.notebook.is_file()
    trials = expand(sweep)
    if sweep.name in EXPECTED_TRIALS:
        assert len(trials) == EXPECTED_TRIALS[sweep.name]
        assert sweep.notebook == NOTEBOOK
    assert len(expand(sweep, "smoke")) == len(trials)
    images = ("content", "style") if len(sweep.pairs[0]) == 2 else ("image",)  # pairs, or single images
    for t in trials:
        assert all(t.params[k] for k in images)
        assert set(sweep.axes) | {"pair"} == set(t.axes)


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.parent.name)
def test_shipped_sweep_passes_checks_under_smoke_preset(path):
    sweep = load_sweep(path)
    trials = expand(sweep, "smoke")
    check_trials(sweep, trials)  # papermill.inspect_notebook only: no kernel
    smoke = {**PRESETS["smoke"], **sweep.presets.get("smoke", {})}
    for t in trials:
        for key, value in smoke.items():
            if key not in sweep.axes:  # a swept key keeps (a scaled form of) its swept values
                assert t.params[key] == value, (t.id, key)
    # without a preset too (the real runs); vgg16 trials are valid configs
    check_trials(sweep, expand(sweep))


def test_shipped_expansions_have_the_documented_shape():
    ab = expand(load_sweep(REPO / "experiments/alpha_beta/sweep.yaml"))
    weights = sorted({t.params["style_weight"] for t in ab})  # five decades, as Gatys et al. Fig. 3
    assert len(weights) == 5 and all(b / a == pytest.approx(10) for a, b in zip(weights, weights[1:]))

    sl = expand(load_sweep(REPO / "experiments/style_layers/sweep.yaml"))
    for t in sl:  # each layer set gets one weight per layer (listed, or empty: 1/L each)
        config = StyleConfig.from_dict({k: v for k, v in t.params.items() if k not in ("content", "style")})
        assert len(config.style_layer_weights) == len(t.params["style_layers"])

    opt = expand(load_sweep(REPO / "experiments/optimizer/sweep.yaml"))
    assert {(t.params["optimizer"], t.params["steps_per_epoch"]) for t in opt} == {
        (o, s) for o in ("sgd", "adam", "lbfgs") for s in (50, 80, 120)}

    sched = expand(load_sweep(REPO / "experiments/schedule/sweep.yaml"))
    assert {(t.params["learning_rate"], t.params["epochs"]) for t in sched} == {
        (lr, e) for lr in (1.0, 5.0, 20.0) for e in (2, 10)}

    model = expand(load_sweep(REPO / "experiments/model/sweep.yaml"))
    assert sorted(t.params["model"] for t in model) == ["vgg16", "vgg16", "vgg19", "vgg19"]
    for t in model:
        config = StyleConfig.from_dict({k: v for k, v in t.params.items() if k not in ("content", "style")})
        assert config.model == t.params["model"]


# --------------------------------------------------------------------------------------------------------------
# Trial ids


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.parent.name)
def test_trial_ids_stable_unique_and_filesystem_safe(path, tmp_path):
    sweep = load_sweep(path)
    first = [t.id for t in expand(sweep, "smoke")]
    assert first == [t.id for t in expand(load_sweep(path), "smoke")]  # stable
    assert first == [t.id for t in expand(sweep)]  # the preset does not change which trial is which
    assert len(set(first)) == len(first)  # unique
    for tid in first:
        assert SAFE_ID.fullmatch(tid), tid
        assert len(tid) <= 150 and not tid.startswith(".")
        (tmp_path / tid).mkdir()  # a real folder name
        assert "=" in tid and "__" in tid  # readable: <pair>__<axis>=<value>
    for t in expand(sweep):
        for axis in sweep.axes:
            assert f"{axis}=" in t.id


def test_trial_ids_are_readable(tmp_path):
    """Ids read as <pair>__<axis>=<value>: numbers in their short form (1.0 reads as 1), layer lists joined by +,
    zipped axes side by side (sweeps built here, shaped like the shipped studies, so rewriting a study's file
    does not change what this checks)."""
    def ids(name, **kw):
        return [t.id for t in expand(load_sweep(make_sweep(tmp_path, name, **kw)))]

    ab = ids("ab", axes={"style_weight": [0.01, 1.0, 10.0]}, pairs=[["chelsea", "starry_night"]])
    assert ab == ["chelsea+starry_night__style_weight=0.01", "chelsea+starry_night__style_weight=1",
                  "chelsea+starry_night__style_weight=10"]
    cl = ids("cl", axes={"content_layers": [["conv4_2"]]})
    assert cl == ["chelsea+hubble_deep_field__content_layers=conv4_2"]
    opt = ids("opt", combine="zip", axes={"optimizer": ["sgd", "lbfgs"], "steps_per_epoch": [80, 80]})
    assert opt[1] == "chelsea+hubble_deep_field__optimizer=lbfgs__steps_per_epoch=80"
    sl = ids("sl", combine="zip", axes={"style_layers": [["conv1_1"], ["conv1_1", "conv2_1"]],
                                        "style_layer_weights": [[1.0], [0.5, 0.5]]})
    assert sl[1] == "chelsea+hubble_deep_field__style_layers=conv1_1+conv2_1__style_layer_weights=0.5+0.5"


def test_keras_layer_names_appear_in_paper_form(tmp_path):
    path = make_sweep(tmp_path, axes={"content_layers": [["block4_conv2"], ["block5_conv2", "block3_pool"]]})
    ids = [t.id for t in expand(load_sweep(path))]
    assert ids == ["chelsea+hubble_deep_field__content_layers=conv4_2",
                   "chelsea+hubble_deep_field__content_layers=conv5_2+pool3"]


def test_trial_ids_from_paths_are_filesystem_safe(tmp_path):
    path = make_sweep(tmp_path, pairs=[["/some where/my photo (1).jpg", "../styles/Starry Night!.png"]],
                      axes={"style_weight": [0.5]})
    (tid,) = [t.id for t in expand(load_sweep(path))]
    assert SAFE_ID.fullmatch(tid), tid
    assert "/" not in tid and " " not in tid
    assert tid.startswith("my-photo--1-+Starry-Night-")
    (tmp_path / tid).mkdir()


def test_long_trial_ids_are_shortened_stably_across_processes(tmp_path):
    """Ids over 150 characters get a digest suffix; it must not depend on Python's per-process hash seed,
    or a resumed sweep would not find its finished trials."""
    values = {"style_layers": ["conv1_1", "conv2_1", "conv3_1", "conv4_1", "conv5_1"] * 3,
              "style_layer_weights": [0.0666667] * 15}
    here = trial_id(["chelsea", "hubble_deep_field"], values)
    assert len(here) <= 150 and SAFE_ID.fullmatch(here)
    other = trial_id(["chelsea", "hubble_deep_field"], {**values, "style_layer_weights": [0.0666668] * 15})
    assert other != here  # the shortened ids still tell the trials apart
    seed = "12345" if os.environ.get("PYTHONHASHSEED") != "12345" else "54321"
    code = ("import json, sys; from nststudy.sweeps import trial_id; "
            "print(trial_id(['chelsea', 'hubble_deep_field'], json.loads(sys.argv[1])))")
    out = subprocess.run([sys.executable, "-c", code, json.dumps(values)], capture_output=True, text=True,
                         env={**os.environ, "PYTHONHASHSEED": seed}, cwd=tmp_path, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == here


def test_values_that_format_alike_are_refused(tmp_path):
    path = make_sweep(tmp_path, axes={"style_weight": [1, 1.0]})
    with pytest.raises(ValueError, match="share an id"):
        expand(load_sweep(path))


# --------------------------------------------------------------------------------------------------------------
# Bad sweep files: refused with the file and the key named, before any compute


def test_zip_with_unequal_axes_names_the_file(tmp_path):
    path = make_sweep(tmp_path, combine="zip", axes={"style_layers": [["conv1_1"], ["conv1_1", "conv2_1"]],
                                                     "style_layer_weights": [[1.0]]})
    with pytest.raises(ValueError, match="zip") as e:
        load_sweep(path)
    assert str(path) in str(e.value)
    assert "style_layers: 2" in str(e.value) and "style_layer_weights: 1" in str(e.value)


def test_unknown_top_level_key(tmp_path):
    path = make_sweep(tmp_path, extra={"axis": {"style_weight": [1.0]}})
    with pytest.raises(ValueError, match="unknown key 'axis'") as e:
        load_sweep(path)
    assert str(path) in str(e.value)


@pytest.mark.parametrize("missing", ["question", "source", "axes", "pairs"])
def test_required_keys(tmp_path, missing):
    path = make_sweep(tmp_path)
    data = yaml.safe_load(path.read_text())
    del data[missing]
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(ValueError, match=f"'{missing}'") as e:
        load_sweep(path)
    assert str(path) in str(e.value)


def test_other_malformed_files(tmp_path):
    with pytest.raises(FileNotFoundError):
        load_sweep(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: [unclosed\n")
    with pytest.raises(ValueError, match="not valid YAML"):
        load_sweep(bad)
    path = make_sweep(tmp_path, combine="grid")
    with pytest.raises(ValueError, match="combine"):
        load_sweep(path)
    path = make_sweep(tmp_path, name="pairs3", pairs=[["chelsea", "brick", "grass"]])
    with pytest.raises(ValueError, match="pairs"):
        load_sweep(path)
    with pytest.raises(ValueError, match="unknown preset 'smokey'"):
        expand(load_sweep(make_sweep(tmp_path, name="ok")), "smokey")


@pytest.mark.parametrize("where", ["base", "axes"])
def test_misspelt_parameter_is_caught_before_any_trial_runs(tmp_path, where):
    if where == "base":
        path = make_sweep(tmp_path, base={**TINY_BASE, "style_wieght": 10.0}, axes={"content_weight": [1.0, 2.0]})
    else:
        path = make_sweep(tmp_path, axes={"style_wieght": [0.01, 1.0]})
    sweep = load_sweep(path)
    with pytest.raises(ValueError) as e:
        check_trials(sweep, expand(sweep, "smoke"))
    assert "style_wieght" in str(e.value) and "'style_weight'" in str(e.value)
    assert str(path) in str(e.value)
    with pytest.raises(ValueError, match=r"style_wieght.*did you mean 'style_weight'"):
        sweep_and_report(path, preset="smoke", progress=False)
    assert runs_folders_under(path.parent) == []
    assert sorted(p.name for p in path.parent.iterdir()) == ["sweep.yaml"]  # nothing written at all


@pytest.mark.parametrize("base, axes, word", [
    ({**TINY_BASE, "optimizer": "rmsprop"}, None, "rmsprop"),
    (None, {"optimizer": ["adam", "rmsprop"]}, "rmsprop"),
    (None, {"decay_steps": [100, 0]}, "decay_steps"),
    (None, {"init": ["blank"]}, "blank"),
    (None, {"content_layers": [["conv6_1"]]}, "conv6_1"),
    (None, {"style_layers": [["conv1_1", "conv2_1"]]}, "style_layer_weights"),
    ({**TINY_BASE, "content_weight": "lots"}, None, "content_weight"),
])
def test_ill_typed_value_is_caught_before_any_trial_runs(tmp_path, base, axes, word):
    path = make_sweep(tmp_path, base=base, axes=axes)
    sweep = load_sweep(path)
    with pytest.raises(ValueError, match=re.escape(word)):
        check_trials(sweep, expand(sweep, "smoke"))
    with pytest.raises(ValueError, match=re.escape(word)):
        sweep_and_report(path, preset="smoke", progress=False)
    assert runs_folders_under(path.parent) == []


def test_check_trials_validates_the_config_that_runs_with_the_notebooks_defaults(tmp_path):
    """A trial runs with the notebook's defaults for what it leaves unset, not StyleConfig's: a notebook whose
    image_size is 64 cannot run scales=[128] (which StyleConfig's 256 would allow)."""
    import nbformat

    nb = nbformat.read(NOTEBOOK, as_version=4)
    cell = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
    cell.source = cell.source.replace("image_size = 256", "image_size = 64")
    assert "image_size = 64" in cell.source
    small = tmp_path / "small.ipynb"
    nbformat.write(nb, small)
    path = make_sweep(tmp_path, base={"epochs": 1}, axes={"scales": [[128]]}, extra={"notebook": str(small)})
    sweep = load_sweep(path)
    StyleConfig(scales=[128])  # valid against StyleConfig's own defaults
    with pytest.raises(ValueError, match=r"scales=\[128\].*image_size=64"):
        check_trials(sweep, expand(sweep))


def test_old_parameter_names_in_a_sweep_file_are_read_with_a_warning(tmp_path):
    path = make_sweep(tmp_path, base={"task": "invert", "alpha": 6.0, "beta": 2.0}, axes={"lambda_tv": [0.5]},
                      pairs=[], extra={"images": ["chelsea"], "notebook": str(NOTEBOOK.parent / "reconstruct.ipynb")})
    with pytest.warns(FutureWarning, match="'alpha' is now called 'norm_exponent'"):
        sweep = load_sweep(path)
    assert sweep.base["norm_exponent"] == 6.0 and sweep.base["tv_exponent"] == 2.0 and "alpha" not in sweep.base
    check_trials(sweep, expand(sweep))

def test_notebook_extras_are_parameters_but_not_config(tmp_path):
    """content/style are notebook parameters (not StyleConfig fields) and must pass the checks."""
    sweep = load_sweep(make_sweep(tmp_path))
    trials = expand(sweep, "smoke")
    assert all({"content", "style"} <= set(t.params) for t in trials)
    check_trials(sweep, trials)


def test_sweep_presets_override_builtin(tmp_path):
    path = make_sweep(tmp_path, base={"image_size": 256, "epochs": 3}, presets={"smoke": {"steps_per_epoch": 2}})
    trials = expand(load_sweep(path), "smoke")
    assert all(t.params["steps_per_epoch"] == 2 for t in trials)  # the sweep's own preset wins
    assert all(t.params["image_size"] == 32 and t.params["weights"] == "random" for t in trials)
    sweep = load_sweep(path)
    assert runs_folder(sweep, "smoke", trials) == path.parent / "smoke" / "runs_random-weights"
    assert runs_folder(sweep, None, expand(sweep)) == path.parent / "runs"


# --------------------------------------------------------------------------------------------------------------
# End to end through papermill


@pytest.fixture(scope="module")
def completed(tmp_path_factory):
    """A two-trial sweep run to completion once (workers=1); tests that change it work on a copy."""
    root = tmp_path_factory.mktemp("e2e")
    path = make_sweep(root, "tiny_ab", presets={"smoke": {"steps_per_epoch": 2}})
    summary = sweep_and_report(path, preset="smoke", workers=1, progress=False)
    return path, summary


@pytest.mark.timeout(PAPERMILL_TIMEOUT)
def test_end_to_end_records(completed):
    path, summary = completed
    study = path.parent
    out = study / "smoke"
    runs = out / "runs_random-weights"
    assert summary["trials"] == 2 and summary["ran"] == 2 and summary["failed"] == []
    assert Path(summary["runs"]) == runs
    ids = ["chelsea+hubble_deep_field__style_weight=0.01", "chelsea+hubble_deep_field__style_weight=1"]
    assert sorted(p.name for p in runs.iterdir() if not p.name.startswith(".")) == ids
    # Both trials share one pair: its content features and style Grams were computed once, cached on disk.
    assert len(list((runs / ".targets").glob("*.npz"))) == 2
    assert "NSTSTUDY_TARGET_CACHE" not in os.environ  # the sweep put the environment back
    for tid, sw in zip(ids, (0.01, 1.0)):
        folder = runs / tid
        for name in TRIAL_FILES:
            assert (folder / name).is_file(), f"{tid}: {name} missing"
        assert not (folder / "failed.json").exists()
        assert not list(folder.glob(".output.partial*"))
        assert trial_status(folder) == "complete"
        config = json.loads((folder / "config.json").read_text())
        assert config["style_weight"] == sw and config["weights"] == "random"  # parameters reached the notebook
        assert config["image_size"] == 32 and config["epochs"] == 1 and config["steps_per_epoch"] == 2
        result = json.loads((folder / "result.json").read_text())
        assert result["status"] == "complete" and result["steps"] == 2
        assert "random" in result["weights"].lower()
        recorded = json.loads((folder / "trial.json").read_text())
        assert recorded["trial"] == tid and recorded["fingerprint"]["preset"] == "smoke"
        assert recorded["fingerprint"]["params"]["style_weight"] == sw
        assert set(recorded["fingerprint"]["images"]) == {"chelsea", "hubble_deep_field"}
        assert_png(folder / "image.png")

    rows = read_csv(out / "results.csv")
    assert [r["trial"] for r in rows] == ids
    assert [r["status"] for r in rows] == ["complete", "complete"]
    assert [float(r["style_weight"]) for r in rows] == [0.01, 1.0]
    assert all(float(r["total"]) > 0 and r["steps"] == "2" for r in rows)

    for name in ("grid.jpg", "losses.png", "metrics.png"):
        assert Path(summary[name.split(".")[0]]) == out / name
        assert_png(out / name)
    for tid in ids:
        assert_png(out / "trials" / f"{tid}.jpg")

    readme = (out / "README.md").read_text()
    assert "# tiny_ab" in readme
    assert "Does the tiny_ab study run end to end?" in readme
    assert "`nststudy sweep experiments/tiny_ab/sweep.yaml --preset smoke`" in readme
    assert "2/2 trials complete" in readme
    assert "random" in readme.lower()  # says the figures come from random weights

    index = (study.parent / "README.md").read_text()
    assert "[tiny_ab](./tiny_ab/sweep.yaml)" in index
    assert "Does the tiny_ab study run end to end?" in index
    assert not _locked(study / "smoke")  # released when the sweep ended


def _locked(folder: Path) -> bool:
    try:
        with SweepLock(folder):
            return False
    except RuntimeError:
        return True


@pytest.mark.timeout(PAPERMILL_TIMEOUT)
def test_resume_reruns_only_the_unfinished_trial(completed, tmp_path):
    src, _ = completed
    root = tmp_path / "copy"
    shutil.copytree(src.parent.parent, root / "experiments")
    path = root / "experiments" / src.parent.name / "sweep.yaml"
    runs = path.parent / "smoke" / "runs_random-weights"
    redo, keep = runs / "chelsea+hubble_deep_field__style_weight=0.01", runs / "chelsea+hubble_deep_field__style_weight=1"
    (redo / "result.json").unlink()  # a half-written trial: the notebook ran, the record did not finish
    (redo / "stray.tmp").write_text("left over")
    assert trial_status(redo) == "incomplete"
    kept = {p.name: p.stat().st_mtime_ns for p in keep.iterdir()}

    summary = sweep_and_report(path, preset="smoke", progress=False)
    assert summary["ran"] == 1 and summary["failed"] == [] and summary["trials"] == 2
    assert trial_status(redo) == "complete"
    assert not (redo / "stray.tmp").exists()  # the unfinished attempt was started over
    for name in TRIAL_FILES:
        assert (redo / name).is_file()
    assert {p.name: p.stat().st_mtime_ns for p in keep.iterdir()} == kept  # the finished trial was not touched
    rows = read_csv(path.parent / "smoke" / "results.csv")
    assert [r["status"] for r in rows] == ["complete", "complete"]

    again = sweep_and_report(path, preset="smoke", progress=False)
    assert again["ran"] == 0 and again["failed"] == [] and again["trials"] == 2
    assert {p.name: p.stat().st_mtime_ns for p in keep.iterdir()} == kept


def test_report_without_runs_keeps_the_committed_record(completed, tmp_path):
    """A fresh clone has the committed figures and results.csv but no runs: rebuilding the report (e.g.
    after editing the notes) rewrites README.md from the table and keeps the image figures byte for byte."""
    from nststudy.report import build_report

    src, _ = completed
    root = tmp_path / "clone"
    shutil.copytree(src.parent.parent, root / "experiments")
    path = root / "experiments" / src.parent.name / "sweep.yaml"
    out = path.parent / "smoke"
    shutil.rmtree(out / "runs_random-weights")
    kept = {name: (out / name).read_bytes() for name in ("grid.jpg", "losses.png", "results.csv")}
    kept.update({f"trials/{p.name}": p.read_bytes() for p in (out / "trials").iterdir()})
    data = yaml.safe_load(path.read_text())
    data["notes"] = "A note written after the run."
    path.write_text(yaml.safe_dump(data, sort_keys=False))

    rows = read_csv(out / "results.csv")
    assert all(r["metric_ssim_content"] and r["metric_style_distance"] for r in rows)
    (out / "tradeoff.png").unlink()

    paths = build_report(path, "smoke")
    assert paths["kept_figures"]
    assert {name: (out / name).read_bytes() for name in kept} == kept
    assert (out / "tradeoff.png").stat().st_size > 0  # the one figure the table's metric columns redraw
    readme = (out / "README.md").read_text()
    assert "2/2 trials complete" in readme and "random" in readme.lower()
    assert "| chelsea / hubble_deep_field | 0.01 | complete |" in readme  # the table, from results.csv
    assert "A note written after the run." not in readme  # a preset's README carries no notes
    assert "[tiny_ab](./tiny_ab/sweep.yaml)" in (root / "experiments" / "README.md").read_text()


@pytest.mark.timeout(PAPERMILL_TIMEOUT)
def test_snapshots_of_a_trial_reach_the_record_and_survive_a_fresh_clone(tmp_path):
    """A trial with snapshot_every: each snapshot measured (snapshots.csv), committed as a JPEG, drawn on
    snapshots.jpg and, with the ``snapshots`` figure kind, as metrics against the step; a rebuild without runs
    keeps them and still lists them in the README."""
    from nststudy.report import build_report

    base = {**TINY_BASE, "steps_per_epoch": 4, "snapshot_every": 2}
    path = make_sweep(tmp_path, "tiny_snap", base=base, axes={"init": ["noise"]},
                      extra={"figure": {"kind": "snapshots"}})
    summary = sweep_and_report(path, workers=1, progress=False)
    assert summary["failed"] == []
    out = path.parent
    tid = "chelsea+hubble_deep_field__init=noise"
    rows = read_csv(out / "snapshots.csv")
    assert [(r["trial"], r["step"]) for r in rows] == [(tid, "2"), (tid, "4")]
    assert all(0 < float(r["metric_style_ratio"]) and -1 <= float(r["metric_ssim_content"]) <= 1 for r in rows)
    for step in ("000002", "000004"):
        assert_png(out / "trials" / tid / f"step_{step}.jpg")
    for name in ("snapshots.jpg", "metrics.png"):
        assert_png(out / name)
    readme = (out / "README.md").read_text()
    assert "![snapshots](snapshots.jpg)" in readme and "### Snapshots" in readme
    assert "[jpg](trials/chelsea%2Bhubble_deep_field__init=noise/step_000004.jpg)" in readme

    shutil.rmtree(out / "runs_random-weights")
    kept = {p: p.read_bytes() for p in [out / "snapshots.csv", out / "snapshots.jpg", *(out / "trials").rglob("*.jpg")]}
    assert build_report(path)["kept_figures"]
    assert {p: p.read_bytes() for p in kept} == kept
    assert "[jpg](trials/chelsea%2Bhubble_deep_field__init=noise/step_000002.jpg)" in (out / "README.md").read_text()


@pytest.mark.timeout(PAPERMILL_TIMEOUT)
def test_a_trial_killed_after_a_snapshot_continues_from_it_on_the_next_sweep(tmp_path):
    """The session ends mid-trial: the folder keeps its snapshot but has no result.json. The next sweep keeps the
    folder (same fingerprint) and the trial notebook continues from the snapshot instead of from step zero."""
    base = {**TINY_BASE, "steps_per_epoch": 5, "snapshot_every": 2}
    path = make_sweep(tmp_path, "tiny_killed", base=base, axes={"init": ["noise"]})
    assert sweep_and_report(path, workers=1, progress=False)["failed"] == []
    folder = path.parent / "runs_random-weights" / "chelsea+hubble_deep_field__init=noise"
    for name in ("result.json", "output.ipynb"):  # what a kill after the step-4 snapshot leaves undone
        (folder / name).unlink()
    assert trial_status(folder) != "complete"
    summary = sweep_and_report(path, workers=1, progress=False)
    assert summary["ran"] == 1 and summary["failed"] == []
    record = json.loads((folder / "result.json").read_text())
    assert record["resumed_from_step"] == 4 and record["steps"] == 5 and record["status"] == "complete"
    assert [r["step"] for r in read_csv(folder / "snapshots.csv")] == ["2", "4"]


@pytest.mark.timeout(PAPERMILL_TIMEOUT)
def test_failing_trial_is_recorded_and_cli_exits_1(tmp_path):
    missing = tmp_path / "no_such_photo.png"
    path = make_sweep(tmp_path, "with_failure", axes={"style_weight": [1.0]},
                      pairs=[["chelsea", "hubble_deep_field"], [str(missing), "hubble_deep_field"]])
    ok_id, bad_id = "chelsea+hubble_deep_field__style_weight=1", "no_such_photo+hubble_deep_field__style_weight=1"
    assert [t.id for t in expand(load_sweep(path), "smoke")] == [ok_id, bad_id]

    proc = subprocess.run([sys.executable, "-m", "nststudy", "sweep", str(path), "--preset", "smoke", "-q",
                           "--workers", "2"], capture_output=True, text=True, timeout=PAPERMILL_TIMEOUT,
                          env={**os.environ, "NSTSTUDY_OFFLINE": "1"})
    assert proc.returncode == 1, proc.stdout + proc.stderr
    # the CLI prints no traceback of its own; a worker's Jupyter kernel shutting down may log one from pyzmq's
    # event loop ("non-socket"), which is not the CLI's (seen once in three fresh-clone runs)
    ours = [b for b in proc.stderr.split("Traceback (most recent call last):")[1:] if "zmq" not in b]
    assert not ours, proc.stderr
    assert f"1 failed: {bad_id}" in proc.stdout
    assert ok_id not in proc.stdout.split("failed")[-1].splitlines()[0]

    runs = path.parent / "smoke" / "runs_random-weights"
    bad, ok = runs / bad_id, runs / ok_id
    assert trial_status(bad) == "failed" and trial_status(ok) == "complete"
    reason = json.loads((bad / "failed.json").read_text())["reason"]
    assert "no_such_photo.png" in reason
    assert (bad / "output.ipynb").is_file()  # kept, to see where it stopped
    assert not (bad / "result.json").exists()
    assert (ok / "result.json").is_file() and (ok / "output.ipynb").is_file()

    rows = {r["trial"]: r for r in read_csv(path.parent / "smoke" / "results.csv")}
    assert rows[bad_id]["status"] == "failed" and "no_such_photo.png" in rows[bad_id]["reason"]
    assert rows[ok_id]["status"] == "complete"
    readme = (path.parent / "smoke" / "README.md").read_text()
    assert "1/2 trials complete" in readme and "Failed trials" in readme and bad_id in readme
    assert_png(path.parent / "smoke" / "grid.jpg")


def test_lock_refuses_a_second_sweep(tmp_path):
    path = make_sweep(tmp_path, "locked")
    study_out = path.parent / "smoke"  # where the smoke preset's records go
    with SweepLock(study_out):
        with pytest.raises(RuntimeError, match="another sweep process") as e:
            sweep_and_report(path, preset="smoke", progress=False)
        assert str(study_out) in str(e.value)
        with pytest.raises(RuntimeError, match="another sweep process"):
            with SweepLock(study_out):
                pass
    assert not (study_out / "runs_random-weights").exists()  # nothing ran
    with SweepLock(study_out):  # released: a later sweep may take it
        pass


def test_cli_reports_lock_without_traceback(tmp_path):
    path = make_sweep(tmp_path, "locked_cli")
    with SweepLock(path.parent / "smoke"):
        proc = subprocess.run([sys.executable, "-m", "nststudy", "sweep", str(path), "--preset", "smoke", "-q"],
                              capture_output=True, text=True, timeout=300,
                              env={**os.environ, "NSTSTUDY_OFFLINE": "1"})
    assert proc.returncode == 2
    assert "another sweep process" in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.slow  # about 45 s: a two-process cluster, and two kernels at once on two cores
@pytest.mark.timeout(PAPERMILL_TIMEOUT)
def test_dask_cluster_runs_the_trials(tmp_path):
    distributed = pytest.importorskip("dask.distributed")
    path = make_sweep(tmp_path, "on_dask", presets={"smoke": {"steps_per_epoch": 2}})
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                                  host="127.0.0.1") as cluster:
        summary = sweep_and_report(path, preset="smoke", scheduler=cluster.scheduler_address, progress=False)
    assert summary["ran"] == 2 and summary["failed"] == []
    runs = path.parent / "smoke" / "runs_random-weights"
    for t in expand(load_sweep(path), "smoke"):
        assert trial_status(runs / t.id) == "complete"
        for name in TRIAL_FILES:
            assert (runs / t.id / name).is_file()
    rows = read_csv(path.parent / "smoke" / "results.csv")
    assert [r["status"] for r in rows] == ["complete", "complete"]


def test_zip_grid_without_shared_columns_is_one_row_per_pair():
    """A zip of 4 layer sets under two style losses: grouping rows by loss would leave 8 of 16 cells empty
    (each set runs under one loss only), so the grid puts every trial in one row, in the sweep file's order."""
    from nststudy.contactsheet import _layout

    sweep = load_sweep(Path(__file__).parent.parent / "experiments" / "gatys_fig2" / "sweep.yaml")
    sweep.combine, sweep.pairs = "zip", [["tubingen", "starry_night"]]
    sweep.axes = {"style_normalization": ["none", "none", "target", "target"],
                  "style_layers": [["conv1_1"], ["conv1_1", "conv2_1"], ["conv3_1"], ["conv3_1", "conv4_1"]]}
    trials = expand(sweep)
    rows, cols = _layout(sweep, trials)
    assert len(rows) == 1 and len(cols) == 4
    assert [cell.id for cell in next(iter(rows.values())).values()] == [t.id for t in trials]
    assert cols[0] == "style_normalization=none, style_layers=conv1_1"

    # A zip whose rows do share columns keeps the two-way layout.
    sweep.axes = {"content_layers": [["conv4_2"], ["conv4_2"], ["conv5_2"], ["conv5_2"]],
                  "style_weight": [1.0, 10.0, 1.0, 10.0]}
    rows, cols = _layout(sweep, expand(sweep))
    assert len(rows) == 2 and cols == ["style_weight=1", "style_weight=10"]


# --------------------------------------------------------------------------------------------------------------
# Records you can trust (issue 17): stale trials, the lock, statuses, presets, Dask and threads
#
# Most of these replace run_trial by a stand-in that writes a finished trial's records at once: what is under
# test is which trials the sweep decides to run and what it records, not the notebook.


def fake_trial(statuses=None, ran=None):
    """A stand-in for run_trial: writes trial.json (the record the sweep passes), output.ipynb and a result.json
    with the status ``statuses[trial id]`` (default complete); appends the trial id to ``ran``."""
    def run(notebook, folder, params, cwd=None, target_cache=None, record=None):
        folder = Path(folder)
        if folder.exists():
            shutil.rmtree(folder)
        folder.mkdir(parents=True)
        (folder / "trial.json").write_text(json.dumps(record if record is not None else params))
        (folder / "output.ipynb").write_text("{}")
        status = (statuses or {}).get(folder.name, "complete")
        (folder / "result.json").write_text(json.dumps({"status": status}))
        if ran is not None:
            ran.append(folder.name)
        return {"status": status}
    return run


def test_changed_trials_are_rerun_and_the_change_is_named(tmp_path, monkeypatch, capsys):
    """A finished trial is reused only while base, axes, preset, image bytes and notebook defaults are what
    trial.json records; each change below must rerun the trial and say what changed."""
    import nststudy.sweeps as sweeps

    photo = tmp_path / "photo.png"
    Image.fromarray(np.full((20, 24, 3), 100, np.uint8)).save(photo)
    notebook = tmp_path / "stylize.ipynb"
    shutil.copy(NOTEBOOK, notebook)
    path = make_sweep(tmp_path, "stale", axes={"style_weight": [1.0]}, pairs=[[str(photo), "hubble_deep_field"]],
                      extra={"notebook": str(notebook)})
    ran = []
    monkeypatch.setattr(sweeps, "run_trial", fake_trial(ran=ran))
    (tid,) = [t.id for t in expand(load_sweep(path))]

    def rerun():
        ran.clear()
        summary = run_sweep(path, progress=False)
        return summary["plan"], list(ran)

    assert rerun() == ("reusing 0, running 1 (1 pending)", [tid])
    assert rerun() == ("reusing 1", [])  # nothing changed: reused
    photo.write_bytes(photo.read_bytes())  # touched, same bytes: still the same image
    assert rerun() == ("reusing 1", [])

    data = yaml.safe_load(path.read_text())
    data["base"]["epochs"] = 2  # TINY_BASE has 1
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    assert rerun() == ("reusing 0, rerunning 1 (changed: epochs 1 -> 2)", [tid])
    assert "stale: reusing 0, rerunning 1 (changed: epochs 1 -> 2)" in capsys.readouterr().err  # said, one line

    Image.fromarray(np.full((20, 24, 3), 101, np.uint8)).save(photo)  # the same name, other pixels
    assert rerun() == ("reusing 0, rerunning 1 (changed: image photo.png changed)", [tid])

    text = notebook.read_text()
    assert text.count("tv_weight = 0.0  #") == 1
    notebook.write_text(text.replace("tv_weight = 0.0  #", "tv_weight = 1.0  #"))
    assert rerun() == ("reusing 0, rerunning 1 (changed: notebook default tv_weight 0.0 -> 1.0)", [tid])

    runs = path.parent / "runs_random-weights"
    recorded = json.loads((runs / tid / "trial.json").read_text())
    (runs / tid / "trial.json").write_text(json.dumps(recorded["fingerprint"]["params"]))  # as written before
    assert rerun() == ("reusing 0, rerunning 1 (changed: no fingerprint recorded)", [tid])
    assert rerun() == ("reusing 1", [])


@pytest.mark.timeout(PAPERMILL_TIMEOUT)
def test_changed_preset_reruns_the_real_trial(completed, tmp_path):
    """End to end through papermill: the sweep file's smoke preset now asks for 2 epochs; the finished
    1-epoch trial must run again (2 epochs x 2 steps = 4 steps recorded), not come back as it was."""
    src, _ = completed
    root = tmp_path / "copy"
    shutil.copytree(src.parent.parent, root / "experiments")
    path = root / "experiments" / src.parent.name / "sweep.yaml"
    data = yaml.safe_load(path.read_text())
    data["axes"] = {"style_weight": [1.0]}  # one of the two finished trials, same id
    data["presets"]["smoke"]["epochs"] = 2
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    summary = run_sweep(path, preset="smoke", progress=False)
    assert summary["plan"] == "reusing 0, rerunning 1 (changed: epochs 1 -> 2)"
    assert summary["ran"] == 1 and summary["exit_code"] == 0
    folder = Path(summary["runs"]) / "chelsea+hubble_deep_field__style_weight=1"
    assert json.loads((folder / "result.json").read_text())["steps"] == 4
    assert json.loads((folder / "trial.json").read_text())["fingerprint"]["params"]["epochs"] == 2


def test_what_to_run_is_decided_inside_the_lock(tmp_path, monkeypatch):
    """A second sweep finishes the trials while this one waits for the lock: this one must find them
    finished once it holds the lock, and reuse them rather than delete and rerun them."""
    import nststudy.sweeps as sweeps

    path = make_sweep(tmp_path, "race")
    monkeypatch.setattr(sweeps, "run_trial", fake_trial())
    first = run_sweep(path, preset="smoke", progress=False)
    runs = Path(first["runs"])
    finished = runs.with_name("finished_elsewhere")
    runs.rename(finished)
    before = {p.relative_to(finished): p.stat().st_mtime_ns for p in finished.rglob("*")}

    class LockTakenAfterTheOtherSweep(SweepLock):
        def __enter__(self):
            finished.rename(runs)  # the other sweep, holding the lock until now, finished both trials
            return super().__enter__()

    ran = []
    monkeypatch.setattr(sweeps, "run_trial", fake_trial(ran=ran))
    monkeypatch.setattr(sweeps, "SweepLock", LockTakenAfterTheOtherSweep)
    summary = run_sweep(path, preset="smoke", progress=False)
    assert ran == [] and summary["ran"] == 0 and summary["plan"] == "reusing 2"
    assert {p.relative_to(runs): p.stat().st_mtime_ns for p in runs.rglob("*")} == before


def test_status_table_and_exit_codes():
    """One meaning per status (nststudy.status): finished findings are reused, the rest rerun; the exit code
    is 0 only when all are complete, 3 when all finished but some are flagged, 1 when any did not finish."""
    from nststudy import status

    assert set(status.MEANING) == {"complete", "stopped", "diverged", "stalled", "worsened", "failed",
                                   "incomplete", "pending"}
    assert set(status.FINISHED) == {"complete", "stopped", "diverged", "stalled", "worsened"}
    assert set(status.UNFINISHED) == {"failed", "incomplete", "pending"}
    assert status.exit_code(["complete", "complete"]) == 0
    for flagged in ("stopped", "diverged", "stalled", "worsened"):
        assert status.exit_code(["complete", flagged]) == 3
    for unfinished in ("failed", "incomplete", "pending"):
        assert status.exit_code(["diverged", unfinished]) == 1
    # Records written before these statuses existed, read by their closest meaning (status.py's docstring).
    assert status.from_result({}) == ("complete", None)
    assert status.from_result({"status": "complete", "stopped": "completed"}) == ("complete", None)
    assert status.from_result({"status": "complete", "stopped": "callback"}) == ("stopped", None)
    assert status.from_result({"status": "stalled", "stopped": "stalled"}) == ("stalled", None)
    kind, reason = status.from_result({"status": "exploded"})
    assert kind == "failed" and "'exploded'" in reason


def test_sweep_exit_code_is_the_same_on_an_immediate_rerun(tmp_path, monkeypatch, capsys):
    """A diverged trial is a finding: the run and a rerun that runs nothing both exit 3 (flagged); before,
    the run counted it as failed (1) and the rerun as fine (0)."""
    import nststudy.sweeps as sweeps
    from nststudy.cli import main

    path = make_sweep(tmp_path, "flagged")
    bad = "chelsea+hubble_deep_field__style_weight=0.01"
    ran = []
    monkeypatch.setattr(sweeps, "run_trial", fake_trial({bad: "diverged"}, ran))
    argv = ["sweep", str(path), "--preset", "smoke", "-q", "--no-report"]
    assert main(argv) == 3 and len(ran) == 2
    assert f"2 trials, 2 run now; 1 complete, 1 diverged: {bad}" in capsys.readouterr().out
    assert main(argv) == 3 and len(ran) == 2  # nothing rerun, same code
    record = json.loads((path.parent / "smoke" / "sweep.json").read_text())
    assert record["flagged"] == [bad] and record["ran"] == 2  # the rerun ran nothing: the run's record is kept


def test_trial_failing_before_its_notebook_is_failed_and_the_environment_restored(tmp_path, monkeypatch):
    from nststudy.cache import ENV
    from nststudy.sweeps import run_trial

    monkeypatch.delenv(ENV, raising=False)
    folder = tmp_path / "runs" / "t"
    out = run_trial(str(tmp_path / "no_such.ipynb"), str(folder), {"style_weight": 1.0},
                    target_cache=str(tmp_path / ".targets"))
    assert out["status"] == "failed" and "no_such.ipynb" in out["reason"]
    assert not (folder / "output.ipynb").exists()
    assert trial_status(folder) == "failed"  # not "incomplete": failed.json says why
    assert ENV not in os.environ  # a Dask worker's environment is as it was before the trial

    monkeypatch.setenv(ENV, "/elsewhere")
    run_trial(str(tmp_path / "no_such.ipynb"), str(folder), {}, target_cache=str(tmp_path / ".targets"))
    assert os.environ[ENV] == "/elsewhere"


def test_a_trial_raising_on_dask_is_recorded_and_the_sweep_goes_on(completed, tmp_path, monkeypatch):
    """fut.result() raising (a lost worker, no nststudy on the worker, ...) must not skip sweep.json or the
    report: the trial is recorded as failed with the reason. Each trial is submitted with retries=1."""
    import dask.distributed

    import nststudy.sweeps as sweeps

    src, _ = completed
    done = src.parent / "smoke" / "runs_random-weights" / "chelsea+hubble_deep_field__style_weight=1"
    submitted = []

    class Future:
        def __init__(self, fn, args):
            self.fn, self.args = fn, args

        def result(self):
            return self.fn(*self.args)

    class Client:
        def __init__(self, address):
            assert address == "tcp://cluster:8786"

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

        def submit(self, fn, *args, pure=True, retries=0):
            submitted.append(retries)
            return Future(fn, args)

    def trial(notebook, folder, *rest):
        if folder.endswith("=0.01"):
            raise RuntimeError("worker tcp://10.0.0.2:4000 lost")
        shutil.copytree(done, folder)
        return {"status": "complete"}

    monkeypatch.setattr(dask.distributed, "Client", Client)
    monkeypatch.setattr(dask.distributed, "as_completed", lambda futures: iter(list(futures)))
    monkeypatch.setattr(sweeps, "run_trial", trial)
    path = make_sweep(tmp_path, "on_dask")
    summary = sweep_and_report(path, preset="smoke", scheduler="tcp://cluster:8786", progress=False)
    bad = "chelsea+hubble_deep_field__style_weight=0.01"
    assert submitted == [1, 1]
    assert summary["failed"] == [bad] and summary["exit_code"] == 1
    out = path.parent / "smoke"
    assert json.loads((out / "sweep.json").read_text())["failed"] == [bad]
    reason = json.loads((out / "runs_random-weights" / bad / "failed.json").read_text())["reason"]
    assert reason == "RuntimeError: worker tcp://10.0.0.2:4000 lost"
    rows = {r["trial"]: r for r in read_csv(out / "results.csv")}
    assert rows[bad]["status"] == "failed" and rows[bad]["reason"] == reason
    assert rows["chelsea+hubble_deep_field__style_weight=1"]["status"] == "complete"
    assert "1/2 trials complete (1 failed)" in (out / "README.md").read_text()


def test_atomic_writes_in_threads_never_flip_the_umask(tmp_path, monkeypatch):
    """Reading the umask with os.umask sets it to 0 for a moment; a file another thread of a threaded sweep
    creates in that moment comes out world-writable (0o666). Every os.umask call below lets such a thread
    create a file at exactly that moment; with a umask of 0o022 every file must come out 0o644."""
    from concurrent.futures import ThreadPoolExecutor

    from nststudy.files import write_json

    real = os.umask
    others = []

    def umask_with_another_thread(mask):
        previous = real(mask)
        other = tmp_path / f"other_{len(others)}.txt"
        worker = threading.Thread(target=other.write_text, args=("x",))
        worker.start()
        worker.join()
        others.append(other)
        return previous

    old = real(0o022)
    try:
        monkeypatch.setattr(os, "umask", umask_with_another_thread)
        with ThreadPoolExecutor(4) as pool:
            list(pool.map(lambda i: write_json(tmp_path / f"record_{i}.json", {"i": i}), range(16)))
    finally:
        monkeypatch.undo()
        real(old)
    for p in tmp_path.iterdir():
        assert p.stat().st_mode & 0o777 == 0o644, p.name
    assert others == [] and len(list(tmp_path.glob("record_*.json"))) == 16


def test_presets_never_collapse_a_sweep():
    """Under --preset smoke the optimizer and schedule sweeps keep distinct trials: the swept step counts are
    scaled down in proportion (smallest -> the preset's value), never overwritten by it."""
    opt_sweep = load_sweep(REPO / "experiments/optimizer/sweep.yaml")
    opt = expand(opt_sweep, "smoke")
    assert len({json.dumps(t.params, sort_keys=True) for t in opt}) == len(opt) == 9
    # 50, 80, 120 x 3/50 = 3, 4.8, 7.2 -> 3, 5, 7
    assert {(t.params["optimizer"], t.params["steps_per_epoch"]) for t in opt} == {
        (o, s) for o in ("sgd", "adam", "lbfgs") for s in (3, 5, 7)}
    assert all(t.params["image_size"] == 32 and t.params["epochs"] == 1 for t in opt)
    assert [t.id for t in opt] == [t.id for t in expand(opt_sweep)]  # ids name the sweep's own values

    sched = expand(load_sweep(REPO / "experiments/schedule/sweep.yaml"), "smoke")
    assert len({json.dumps(t.params, sort_keys=True) for t in sched}) == len(sched) == 6
    # epochs 2, 10 x 1/2 = 1, 5; steps_per_epoch is not swept, so the preset's 3 applies
    assert {(t.params["learning_rate"], t.params["epochs"]) for t in sched} == {
        (lr, e) for lr in (1.0, 5.0, 20.0) for e in (1, 5)}
    assert all(t.params["steps_per_epoch"] == 3 for t in sched)


def test_a_preset_that_would_merge_trials_is_refused_and_other_swept_keys_stand(tmp_path):
    path = make_sweep(tmp_path, "close", axes={"epochs": [10, 11]})  # x 1/10 = 1, 1.1: both 1
    with pytest.raises(ValueError, match=r"preset 'smoke' sets epochs=1.*\[1, 1\]") as e:
        expand(load_sweep(path), "smoke")
    assert str(path) in str(e.value)
    assert [t.params["epochs"] for t in expand(load_sweep(path))] == [10, 11]

    path = make_sweep(tmp_path, "weights", axes={"weights": ["random", "/models/vgg19.h5"]})
    assert [t.params["weights"] for t in expand(load_sweep(path), "smoke")] == ["random", "/models/vgg19.h5"]
