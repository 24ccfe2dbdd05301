"""The dependency floors in pyproject.toml hold: each is at least the first release with what the code uses.

Each floor's reason is a comment beside it in pyproject.toml; the ones checked here were wrong once.
"""

from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.version import Version

PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"


def _load():
    try:
        import tomllib
    except ImportError:  # Python 3.10
        tomllib = pytest.importorskip("tomli")
    return tomllib.loads(PYPROJECT.read_text())


def floors() -> dict:
    out = {}
    for line in _load()["project"]["dependencies"]:
        req = Requirement(line)
        lows = [Version(s.version) for s in req.specifier if s.operator in (">=", "==", "~=")]
        out[req.name.lower()] = max(lows) if lows else None
    return out


def test_every_dependency_has_a_floor():
    assert all(v is not None for v in floors().values()), floors()


def test_scipy_floor_has_intermediate_result_callbacks():
    """optimize.run_lbfgs passes minimize a callback(intermediate_result) and stops it by raising
    StopIteration: both arrived in SciPy 1.11.0 (its release notes). Under 1.10 the callback gets the bare
    x array and the L-BFGS loop fails; the floor said 1.10."""
    assert floors()["scipy"] >= Version("1.11")


def test_tensorflow_floor_brings_keras_3():
    """TensorFlow 2.16 is the first whose ``import keras`` is Keras 3, which nststudy is written for."""
    assert floors()["tensorflow"] >= Version("2.16") and floors()["keras"] >= Version("3.0")


def test_each_floor_says_why():
    """A floor is a claim about the code: each dependency line carries a comment with its reason."""
    lines = PYPROJECT.read_text().split("\ndependencies = [\n", 1)[1].split("\n]\n", 1)[0].splitlines()
    deps = [line for line in lines if line.strip().startswith('"')]
    assert len(deps) == len(floors())
    assert all("#" in line for line in deps), [line for line in deps if "#" not in line]
