"""A training run's resume point: checkpoint.npz (weights, optimiser state, step, training time) and
history.csv, each written atomically (the .npz last: it is what a resume trusts), and read back."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .files import atomic_path, write_text
from .runs import history_csv


def save_checkpoint(directory: Path, net, optimizer, step: int, seconds: float, history) -> None:
    """history.csv, then checkpoint.npz (weights, optimiser variables, step, seconds), each atomically;
    the .npz is written last: it is what a resume trusts."""
    write_text(directory / "history.csv", history_csv(history))
    weights = net.get_weights()
    state = [v.numpy() for v in optimizer.variables]
    with atomic_path(directory / "checkpoint.npz") as tmp:
        with open(tmp, "wb") as f:
            np.savez(f, step=step, seconds=seconds, n_weights=len(weights), n_optimizer=len(state),
                     **{f"w_{i}": w for i, w in enumerate(weights)}, **{f"opt_{i}": v for i, v in enumerate(state)})


def load_checkpoint(directory: Path) -> dict:
    """The last checkpoint of a run folder: step, seconds, weights, optimizer (lists of arrays)."""
    path = Path(directory) / "checkpoint.npz"
    if not path.is_file():
        raise FileNotFoundError(f"{directory}: no checkpoint.npz to resume from (the run was killed before its "
                                f"first checkpoint: start it again)")
    with np.load(path) as data:
        return {"step": int(data["step"]), "seconds": float(data["seconds"]),
                "weights": [data[f"w_{i}"] for i in range(int(data["n_weights"]))],
                "optimizer": [data[f"opt_{i}"] for i in range(int(data["n_optimizer"]))]}


def read_history(directory: Path, up_to: int) -> list[dict]:
    import csv

    path = Path(directory) / "history.csv"
    if not path.is_file():
        return []
    with open(path, newline="") as f:
        rows = [{k: (int(v) if k == "step" else float(v)) for k, v in row.items()} for row in csv.DictReader(f)]
    return [r for r in rows if r["step"] <= up_to]


__all__ = ["save_checkpoint", "load_checkpoint", "read_history"]
