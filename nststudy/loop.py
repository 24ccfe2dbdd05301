"""The loop every entry point shares: memory check, progress bar, one history row per step, the callback's
Iterate and the StyleResult that ``save_run`` records. ``stylize`` and ``reconstruct`` both build on it.

Terms travel by name: an objective declares the terms it reports (``loss_fn.terms``; the style-transfer
objective's are ``objective.TERMS``), and the history, the records, the plots and the callbacks follow
whatever it declares.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from .config import StyleConfig
from .memory import check_fits
from .models import WeightsSource
from .objective import TERMS
from .optimize import optimize


@dataclass
class Iterate:
    """What a callback sees after each step: ``step``, ``seconds``, the objective's ``terms`` by name (also
    as attributes: ``it.total``, ``it.style``, ``it.prior``), and ``image`` and ``state``, each computed
    the first time it is read and then kept."""

    step: int
    terms: dict
    seconds: float
    _image_fn: object = field(repr=False, default=None)
    _state_fn: object = field(repr=False, default=None)

    def __getattr__(self, name):
        terms = self.__dict__.get("terms") or {}
        if name in terms:
            return terms[name]
        raise AttributeError(f"Iterate has no attribute {name!r}; its terms are {', '.join(terms) or 'none'}")

    @cached_property
    def state(self):
        """The optimiser's position (step, image as float, optimiser variables), for snapshots; None when the
        run has diverged."""
        return self._state_fn() if self._state_fn is not None else None

    @cached_property
    def image(self) -> np.ndarray:
        """The current image, RGB uint8 (H, W, 3)."""
        return to_uint8(self._image_fn())


@dataclass
class StyleResult:
    image: np.ndarray  # RGB uint8 (H, W, 3), the content image's aspect ratio
    history: list  # one dict per step: step, the terms, seconds (see history_row)
    config: StyleConfig
    weights_source: WeightsSource
    content: np.ndarray  # the content image as optimised against (resized)
    style: np.ndarray  # the style image as its Grams were taken (resized to the content size)
    stopped: str = "completed"  # "completed" | "callback" | "diverged" | "stalled"
    info: dict = field(default_factory=dict)
    terms: tuple = TERMS  # the loss terms the objective declared, "total" first
    ascends: bool = False  # True when "total" is maximised (DeepDream): a run worsens when it falls
    # ``measure(image) -> {metric_*: ...}``: another image (a snapshot) measured as ``info``'s metrics were
    # (same network, content and style images); set by ``stylize`` when it measures, else None
    measure: object = field(default=None, repr=False, compare=False)

    @property
    def final(self) -> dict:
        return self.history[-1] if self.history else {}


def history_row(step: int, terms: dict, seconds: float) -> dict:
    """One row of history.csv: ``step``, the terms every objective reports (``objective.TERMS``), ``seconds``,
    then the terms particular to this objective (feature inversion's ``prior``), so the shared columns of
    every study's records line up."""
    return {"step": step, **{k: v for k, v in terms.items() if k in TERMS}, "seconds": round(seconds, 4),
            **{k: v for k, v in terms.items() if k not in TERMS}}


def to_uint8(x) -> np.ndarray:
    x = np.asarray(x, np.float32)
    if x.ndim == 4:
        x = x[0]
    return np.clip(np.rint(x), 0, 255).astype(np.uint8)


def set_seed(seed: int) -> None:
    """The one place runs are seeded: Python, NumPy and TensorFlow (via Keras)."""
    import keras

    keras.utils.set_random_seed(int(seed))


class Progress:
    """A loop's bookkeeping: the progress bar, the history and the callback (returning True stops the run)."""

    def __init__(self, total: int, desc: str, enabled=True, callback=None, initial: int = 0):
        self.history, self.callback, self.start = [], callback, time.perf_counter()
        self.bar = None
        if enabled:
            from tqdm.auto import tqdm

            self.bar = tqdm(total=total, initial=initial, desc=desc, unit="step", leave=True)

    def step(self, step: int, terms: dict, image_fn, state_fn=None, **columns) -> bool:
        """Record step ``step`` (counted from 1) with its terms (and any other ``columns``, e.g. DeepDream's
        octave); True when the callback asks to stop."""
        seconds = time.perf_counter() - self.start
        self.history.append({**history_row(step, terms, seconds), **columns})
        if self.bar is not None:
            self.bar.update(1)
            self.bar.set_postfix(loss=f"{terms['total']:.4g}", refresh=False)
        if self.callback is not None:
            return bool(self.callback(Iterate(step, dict(terms), seconds, image_fn, state_fn)))
        return False

    def close(self):
        if self.bar is not None:
            self.bar.close()


def run_objective(loss_fn, x0, config, source, content, style, callback=None, progress=True,
                  desc=None, resume=None) -> StyleResult:
    """Optimise ``loss_fn`` from ``x0`` with the config's optimiser, keeping the history.

    ``loss_fn.terms`` names the terms it reports ("total" first); without it, the terms of its first step.
    """
    check_fits(config, x0.shape[1], x0.shape[2])
    bar = Progress(config.total_steps, desc or f"{config.optimizer} {source.label}", progress, callback,
                   initial=int(resume["step"]) if resume else 0)
    try:
        outcome = optimize(loss_fn, x0, config, lambda i, terms, image_fn, state_fn=None:
                           bar.step(i + 1, terms, image_fn, state_fn), resume)
    finally:
        bar.close()
    history = bar.history
    terms = tuple(getattr(loss_fn, "terms", None) or
                  [k for k in (history[0] if history else TERMS) if k not in ("step", "seconds")])
    info = dict(outcome.info)
    if outcome.stopped == "diverged":
        info["diverged_at_step"] = history[-1]["step"] if history else 0
    return StyleResult(to_uint8(outcome.image), history, config, source, content, style, outcome.stopped, info,
                       terms)


__all__ = ["Iterate", "StyleResult", "Progress", "run_objective", "history_row", "set_seed", "to_uint8"]
