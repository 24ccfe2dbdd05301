"""The command line, through real subprocesses (``python -m nststudy``), offline, with random weights.

Each process pays TensorFlow's import (~5 s), so the independent invocations are started together
from module-scoped fixtures, a few at a time, and the tests only read their results.

TensorFlow's C++ runtime writes a few log lines to stderr at import that no environment variable
silences (absl's "WARNING: All log messages before absl::InitializeLog() ..." and "I0000 ...
cudart_stub.cc ... Could not find cuda drivers"). They are not nststudy's output: ``ours()`` drops
them before the checks of what nststudy itself prints.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import make_content, make_style
from nststudy.config import StyleConfig
from nststudy.runs import is_complete, load_run

TIMEOUT = 300
PARALLEL = 3
TF_NOISE = re.compile(
    r"^(WARNING: All log messages before absl::InitializeLog\(\) is called are written to STDERR"
    r"|[IWEF]\d{4} [\d:.]+\s+\d+ [\w.]+:\d+\]"
    r"|To enable the following instructions:)")
TINY = ["--set", "weights=random", "--set", "image_size=32", "--set", "epochs=1", "--set", "steps_per_epoch=3", "-q"]


def ours(stderr: str) -> list[str]:
    """stderr without TensorFlow's own start-up log lines."""
    return [line for line in stderr.splitlines() if line.strip() and not TF_NOISE.match(line)]


def run_folder(stdout: str) -> Path:
    lines = [line for line in stdout.splitlines() if line.startswith("run folder: ")]
    assert len(lines) == 1, stdout
    return Path(lines[0][len("run folder: "):].split("/ (")[0])


@pytest.fixture(scope="module")
def work(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("cli")
    Image.fromarray(make_content()).save(d / "content.png")
    Image.fromarray(make_style()).save(d / "style.png")
    (d / "empty_keras_home").mkdir()
    return d


def cli_env(work: Path, **extra) -> dict:
    """Offline, no $NSTSTUDY_WEIGHTS_DIR (CI sets it), an empty Keras cache: no real weights reachable."""
    env = {k: v for k, v in os.environ.items() if k != "NSTSTUDY_WEIGHTS_DIR"}
    env.update(NSTSTUDY_OFFLINE="1", KERAS_HOME=str(work / "empty_keras_home"), TF_CPP_MIN_LOG_LEVEL="2")
    env.update(extra)
    return env


def nststudy(args, work: Path, **env) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "nststudy", *args], cwd=work, env=cli_env(work, **env),
                          capture_output=True, text=True, timeout=TIMEOUT)


def run_all(jobs: dict, work: Path) -> dict:
    with ThreadPoolExecutor(PARALLEL) as pool:
        futures = {name: pool.submit(nststudy, args, work) for name, args in jobs.items()}
        return {name: f.result() for name, f in futures.items()}


@pytest.fixture(scope="module")
def quick(work) -> dict:
    """Invocations that end before any optimisation: help texts and bad input."""
    return run_all({
        "help": ["--help"],
        "help_stylize": ["stylize", "--help"],
        "help_demo": ["demo", "--help"],
        "missing_content": ["stylize", "missing.png", "style.png", *TINY, "-o", "out_missing"],
        "unknown_key": ["stylize", "content.png", "style.png", *TINY, "--set", "style_weigth=10", "-o", "out_key"],
        "bad_value": ["stylize", "content.png", "style.png", *TINY, "--set", "optimizer=rmsprop", "-o", "out_val"],
        "no_weights": ["stylize", "content.png", "style.png", "--set", "weights=imagenet", "--set", "image_size=32",
                       "-q", "-o", "out_imagenet"],
    }, work)


@pytest.fixture(scope="module")
def runs(work) -> dict:
    """A stylize run and a demo run (the demo finds no ImageNet weights and falls back to random)."""
    return run_all({
        "stylize": ["stylize", "content.png", "style.png", *TINY, "-o", str(work / "first")],
        "demo": ["demo", "--set", "image_size=32", "--set", "epochs=1", "--set", "steps_per_epoch=2", "-q",
                 "-o", str(work / "demo")],
    }, work)


# ----------------------------------------------------------------------------- help

@pytest.mark.parametrize("name, words", [
    ("help", ["stylize", "demo"]),
    ("help_stylize", ["content", "style", "--output", "--set", "--config", "--quiet"]),
    ("help_demo", ["--output", "--content", "--style", "--set", "--config"]),
])
def test_help(quick, name, words):
    p = quick[name]
    assert p.returncode == 0, p.stderr
    assert p.stdout.startswith("usage: nststudy")
    for word in words:
        assert word in p.stdout
    assert "Traceback" not in p.stderr


# ----------------------------------------------------------------------------- bad input

def one_error_line(p) -> str:
    assert p.returncode == 2, (p.stdout, p.stderr)
    assert "Traceback" not in p.stderr
    lines = ours(p.stderr)
    assert len(lines) == 1, p.stderr
    assert lines[0].startswith("nststudy: error:")
    return lines[0]


def test_missing_content_file(quick, work):
    line = one_error_line(quick["missing_content"])
    assert "missing.png" in line and "no such file" in line
    assert not list(work.glob("out_missing*"))


def test_unknown_set_key_suggests_the_close_one(quick):
    line = one_error_line(quick["unknown_key"])
    assert "style_weigth" in line and "did you mean 'style_weight'" in line


def test_bad_value(quick):
    line = one_error_line(quick["bad_value"])
    assert "rmsprop" in line
    for choice in ("adam", "sgd", "lbfgs"):
        assert choice in line


def test_imagenet_weights_missing(quick, work):
    p = quick["no_weights"]
    assert p.returncode == 2, (p.stdout, p.stderr)
    assert "Traceback" not in p.stderr
    lines = ours(p.stderr)
    assert lines[0].startswith("nststudy: error: no ImageNet weights")
    assert sum(line.startswith("nststudy: error:") for line in lines) == 1
    text = "\n".join(lines)
    assert "$NSTSTUDY_WEIGHTS_DIR (not set)" in text
    assert str(work / "empty_keras_home" / "models") in text
    assert "253f8cb515780f3b799900260a226db6" in text
    assert "NSTSTUDY_WEIGHTS_DIR=" in text
    assert not list(work.glob("out_imagenet*"))


# ----------------------------------------------------------------------------- real runs

@pytest.mark.slow
def test_stylize_writes_a_random_weights_run_folder(runs, work):
    p = runs["stylize"]
    assert p.returncode == 0, p.stderr
    assert "Traceback" not in p.stderr
    out = run_folder(p.stdout)
    assert out == work / "first_random-weights"
    assert is_complete(out)
    assert "RANDOM WEIGHTS" in p.stdout
    run = load_run(out)
    assert run["config"] == StyleConfig(weights="random", image_size=32, epochs=1, steps_per_epoch=3)  # + defaults
    assert len(run["history"]) == 3
    with Image.open(out / "image.png") as im:
        assert im.size == (21, 32)  # content 32 wide x 48 high at longest side 32
    assert not list(work.glob("first")) and not [f for f in out.iterdir() if f.name.startswith(".")]


@pytest.mark.slow
def test_config_from_a_run_reproduces_it(runs, work):
    first = run_folder(runs["stylize"].stdout)
    p = nststudy(["stylize", "content.png", "style.png", "--config", str(first / "config.json"), "-q",
                  "-o", str(work / "again")], work)
    assert p.returncode == 0, p.stderr
    again = run_folder(p.stdout)
    assert again == work / "again_random-weights"
    assert json.loads((again / "config.json").read_text()) == json.loads((first / "config.json").read_text())
    a, b = load_run(first), load_run(again)
    drop = lambda h: [{k: v for k, v in row.items() if k != "seconds"} for row in h]  # noqa: E731
    assert drop(a["history"]) == drop(b["history"])
    with Image.open(first / "image.png") as i1, Image.open(again / "image.png") as i2:
        assert np.array_equal(np.asarray(i1), np.asarray(i2))


@pytest.mark.slow
def test_demo_falls_back_to_random_weights_loudly(runs, work):
    p = runs["demo"]
    assert p.returncode == 0, p.stderr
    assert "Traceback" not in p.stderr
    assert "WARNING: no ImageNet weights" in p.stderr
    assert "RANDOM WEIGHTS" in p.stderr and "!" * 78 in p.stderr
    out = run_folder(p.stdout)
    assert "random" in out.name and out == work / "demo_random-weights"
    assert is_complete(out)
    run = load_run(out)
    assert run["config"].weights == "random"
    assert (run["config"].image_size, run["config"].total_steps) == (32, 2)
    assert run["env"]["weights"]["kind"] == "random"


# ----------------------------------------------------------------------------- every error: one line, in process

def _main(argv, capsys, code=2) -> str:
    """cli.main in this process: no traceback escapes; the exit code and the one line of stderr."""
    from nststudy import cli

    got = cli.main(argv)
    err = capsys.readouterr().err
    assert got == code, err
    lines = ours(err)
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


@pytest.fixture
def images(tmp_path):
    Image.fromarray(make_content()).save(tmp_path / "content.png")
    Image.fromarray(make_style()).save(tmp_path / "style.png")
    return tmp_path


def _stylize_args(folder, *more):
    return ["stylize", str(folder / "content.png"), str(folder / "style.png"), "-o", str(folder / "out_random"),
            "--set", "weights=random", "--set", "image_size=32", "--set", "epochs=1", "--set", "steps_per_epoch=1",
            "-q", *more]


def test_the_memory_check_is_one_line_not_a_traceback(images, capsys, monkeypatch):
    """MemoryError from nststudy.memory.check_fits escaped main() (a traceback) before."""
    monkeypatch.setenv("NSTSTUDY_MEMORY_LIMIT", "1M")
    line = _main(_stylize_args(images), capsys)
    assert line.startswith("nststudy: error:") and "GiB" in line and "image_size that fits" in line
    assert not (images / "out_random").exists()


def _raising(exc):
    def stylize(*args, **kwargs):
        raise exc
    return stylize


@pytest.mark.parametrize("exc, words", [
    (__import__("nststudy").WeightsFileError("/w/vgg19.h5: md5 x does not match"), "/w/vgg19.h5"),
    (PermissionError("/runs/a: output folder is not writable"), "not writable"),
    (RuntimeError("/runs: another sweep process is running on this study"), "another sweep"),
    (OSError(28, "No space left on device"), "No space left on device"),
    (OSError(28, "No space left on device", "/runs/a/.image.png.x"), "/runs/a/.image.png.x"),
    (ValueError("first line\n  second line\nthird"), "first line second line third"),
    (MemoryError(), "MemoryError"),
])
def test_each_error_class_the_package_raises_is_one_line(images, capsys, monkeypatch, exc, words):
    monkeypatch.setattr(sys.modules["nststudy.stylize"], "stylize", _raising(exc))
    line = _main(_stylize_args(images), capsys)
    assert line.startswith("nststudy: error: ") and words in line, line
    assert "()" not in line  # no empty file name


def test_keyboard_interrupt_is_one_line_and_exit_130(images, capsys, monkeypatch):
    monkeypatch.setattr(sys.modules["nststudy.stylize"], "stylize", _raising(KeyboardInterrupt()))
    assert _main(_stylize_args(images), capsys, code=130) == "nststudy: interrupted"


def test_disk_full_while_saving_the_record_is_one_line(images, capsys, monkeypatch):
    from nststudy import runs

    def full(path, data):
        raise OSError(28, "No space left on device", str(path))

    monkeypatch.setattr(runs, "write_json", full)
    line = _main(_stylize_args(images), capsys)
    assert "No space left on device" in line and "config.json" in line


@pytest.mark.parametrize("argv, words", [
    (["stylize", "missing.png", "style.png", "-o", "x"], "missing.png"),  # ImageError
    (["stylize", "content.png"], "stylize needs CONTENT STYLE"),  # UsageError
    (["stylize", "content.png", "style.png", "-o", "x", "--set", "optimizer=rmsprop"], "rmsprop"),  # ValueError
    (["stylize", "--resume", "nothing_here"], "no snapshot"),  # FileNotFoundError
    (["sweep", "bad.yaml"], "not valid YAML"),  # ValueError with YAML's multi-line message
])
def test_bad_input_through_main_is_one_line(images, capsys, monkeypatch, argv, words):
    monkeypatch.chdir(images)
    (images / "nothing_here").mkdir()
    (images / "bad.yaml").write_text("question: [unclosed\nnotebook: x\n")
    line = _main(argv, capsys)
    assert line.startswith("nststudy: error:") and words in line, line


def test_a_worsened_run_exits_3_and_says_so(images, capsys):
    """Plain gradient descent at 5 px per unit gradient (Adam's rate, ~500x SGD's right step at 32 px: see
    test_stylize) raises the loss: the record says 'worsened' and the exit code is 3, as for a diverged run."""
    from nststudy.cli import main

    code = main(_stylize_args(images, "--set", "optimizer=sgd", "--set", "learning_rate=5", "--set",
                              "steps_per_epoch=3"))
    out = capsys.readouterr().out
    assert code == 3 and "worsened: the final loss is above the start image's" in out, out
    record = json.loads((images / "out_random" / "result.json").read_text())
    assert record["status"] == "worsened"
