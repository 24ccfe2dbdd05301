"""Optimisation loops over the image pixels: Adam and plain gradient descent (Keras optimisers on an
ExponentialDecay schedule, one compiled step) and L-BFGS-B (SciPy, value and gradient from TF).

Each loop takes ``loss_fn(x) -> {term: value}`` (whatever terms the objective declares; "total" is the one
minimised) for a (1, H, W, 3) RGB image in 0..255, a start image, a StyleConfig and ``on_step(step, terms,
image_fn) -> bool`` (True stops the run). Every optimiser reports, for step i, the loss of the image after i
steps, so the last row is the loss of the image returned. Pixels stay in 0..255 (clipping for the gradient
methods, bounds for L-BFGS-B). A non-finite loss or gradient stops the run; the image returned is the last one
whose loss was finite. An L-BFGS run whose line search gives up mid-run restarts from its last accepted
iterate; one that gives up before
lowering the loss at all is reported as "stalled".
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import tensorflow as tf

from threadpoolctl import threadpool_limits

from .accel import ComputePath, overrides, plan, value_and_grad_fn
from .models import compute_precision

# L-BFGS-B works on the image divided by 255 (a variable in [0, 1]), on an objective rescaled so that its
# first step is about one grey level (see run_lbfgs).
PIXEL_SCALE = 255.0
# BLAS_THREADS_NOTE: SciPy's L-BFGS-B calls BLAS (OpenBLAS) between two evaluations of the loss; OpenBLAS's
# worker threads then keep spinning for work and take the cores TensorFlow's next evaluation needs. Measured on 2
# cores (AMD EPYC, 128², bfloat16 path): 0.122 s an evaluation inside L-BFGS with OpenBLAS's default threads,
# 0.087 s with one (the same evaluation timed alone: 0.081 s). So the L-BFGS loop runs with one BLAS thread.
# How the compiled step runs (plain tf.function, XLA, bfloat16) is chosen per run by measurement: nststudy.accel.


def use_xla(shape, steps) -> bool:
    """For compiled code that does not go through ``accel.plan`` (nothing measured there): XLA only when
    NSTSTUDY_XLA=1, since on some CPUs it is slower (issue 21)."""
    return overrides()["xla"] is True


@dataclass
class OptimizeOutcome:
    image: np.ndarray  # float32 (1, H, W, 3), RGB 0..255
    steps: int  # steps completed
    stopped: str  # "completed" | "callback" | "diverged" | "stalled" (L-BFGS ended without lowering the loss)
    info: dict = field(default_factory=dict)  # initial_loss (the start image's); optimiser-specific (L-BFGS iterations ...)


def _numpy_terms(terms) -> dict:
    return {k: float(v) for k, v in terms.items()}  # every term the loss_fn reports, by name


def make_schedule(config):
    import keras

    return keras.optimizers.schedules.ExponentialDecay(
        initial_learning_rate=config.step_size, decay_steps=config.decay_steps,
        decay_rate=config.decay_rate)


def run_gradient(loss_fn, x0, config, on_step, resume=None, path: ComputePath | None = None) -> OptimizeOutcome:
    """Adam (default) or plain gradient descent ("sgd") with tf.GradientTape, one compiled step.

    Each step applies the update, then evaluates the loss and gradient at the new image: the row reported
    for step i is the loss of the image after i updates (the image ``on_step`` and the outcome hold), as
    with L-BFGS. That costs one evaluation more than the steps (the start image's, for the first update).
    ``resume`` ({"step": n, "optimizer": [arrays]}) restores the optimiser's variables (iteration count,
    Adam's moments) and runs the remaining steps from ``x0``; ``on_step``'s 4th argument returns that state.
    ``path`` (default: ``accel.plan``) says whether the step uses XLA and at which precision features are computed.
    """
    import keras

    schedule = make_schedule(config)
    if config.optimizer == "adam":
        opt = keras.optimizers.Adam(learning_rate=schedule)
    else:
        opt = keras.optimizers.SGD(learning_rate=schedule, momentum=0.0)
    x = tf.Variable(np.asarray(x0, np.float32), name="image")
    last_finite = tf.Variable(x)  # the last image whose loss was finite: what a diverged run returns
    opt.build([x])
    start = 0
    if resume:
        start = int(resume["step"])
        for var, value in zip(opt.variables, resume.get("optimizer") or []):
            var.assign(value)

    def state():
        return {"step": int(opt.iterations.numpy()), "x": x.numpy(), "optimizer": [v.numpy() for v in opt.variables]}

    path = path or plan(loss_fn, x0, config)

    def value_and_grad():
        with compute_precision(path.precision), tf.GradientTape() as tape:
            terms = loss_fn(x)
        return terms, tape.gradient(terms["total"], x)

    @tf.function(jit_compile=path.xla)
    def step(grad):
        opt.apply_gradients([(grad, x)])
        x.assign(tf.clip_by_value(x, 0.0, 255.0))
        terms, grad = value_and_grad()
        finite = tf.logical_and(tf.math.is_finite(terms["total"]), tf.reduce_all(tf.math.is_finite(x)))
        last_finite.assign(tf.where(finite, x, last_finite))
        return terms, grad

    terms, grad = tf.function(value_and_grad)()  # at the start image (once: not worth compiling with XLA)
    # the loss of the start image (runs.run_status compares with it) and the measured compute path
    info = {"initial_loss": float(terms["total"]), "compute_path": path.record()}
    stopped, done = "completed", start
    if not np.isfinite(float(terms["total"])):
        on_step(start, _numpy_terms(terms), lambda: last_finite.numpy(), None)
        return OptimizeOutcome(last_finite.numpy(), done, "diverged", info)
    for i in range(start, config.total_steps):
        terms, grad = step(grad)
        terms = _numpy_terms(terms)
        if not np.isfinite(terms["total"]):
            stopped = "diverged"
            on_step(i, terms, lambda: last_finite.numpy(), None)
            break
        done = i + 1
        if on_step(i, terms, lambda: x.numpy(), state):
            stopped = "callback"
            break
    return OptimizeOutcome(last_finite.numpy(), done, stopped, info)


def run_lbfgs(loss_fn, x0, config, on_step, resume=None, path: ComputePath | None = None) -> OptimizeOutcome:
    """L-BFGS-B over all ``epochs × steps_per_epoch`` iterations in one SciPy call (the curvature memory
    is never thrown away between epochs; the call is restarted from the last accepted iterate only if its line search
    gives up early); every iteration is reported through ``on_step``. A resumed run
    continues from ``x0`` at ``resume["step"]``; SciPy's curvature memory starts afresh there."""
    from scipy.optimize import Bounds, minimize

    shape = np.shape(x0)
    size = int(np.prod(shape))

    path = path or plan(loss_fn, x0, config)

    precision, switched_at = path.precision, None
    value_and_grad = value_and_grad_fn(loss_fn, path.xla, precision, shape)

    last = {"x": None, "terms": None, "grad": None}
    # "accepted": the last iterate SciPy accepted (reported through its callback), in pixel units; the run
    # restarts from it and returns it. Not necessarily the lowest loss seen: L-BFGS-B does not keep that.
    state = {"step": int(resume["step"]) if resume else 0, "stopped": "completed",
             "accepted": np.asarray(x0, np.float32).ravel().astype(np.float64)}

    def evaluate(u):
        """The loss terms and the gradient with respect to u = image / 255 (cached for the last u)."""
        if last["x"] is None or not np.array_equal(last["x"], u):
            terms, grad = value_and_grad(tf.constant((u * PIXEL_SCALE).reshape(shape), tf.float32))
            last["x"], last["terms"] = u.copy(), _numpy_terms(terms)
            last["grad"] = grad.numpy().astype(np.float64).ravel() * PIXEL_SCALE
            state.setdefault("f0", last["terms"]["total"])
        return last["terms"], last["grad"]

    def fun(u):
        terms, grad = evaluate(u)
        if not (np.isfinite(terms["total"]) and np.all(np.isfinite(grad))):
            # Hand SciPy a huge value so the line search backs off; if it cannot find a finite point
            # again, the run ends and is recorded as diverged at this step.
            state.setdefault("nonfinite_at", state["step"] + 1)
            state["nonfinite_terms"] = terms
            return 1e30, np.zeros_like(grad)
        state.pop("nonfinite_at", None)
        return scale * terms["total"], scale * grad

    # With bounds on every variable, L-BFGS-B's first step is the raw gradient -g. Scaling the objective by
    # sqrt(n) / (255 |g0|) makes that step change each pixel by about one grey level (RMS), whatever the
    # loss's units: a tiny gradient (normalised feature inversion) no longer gives a step too small for
    # float32 to register, and a huge one (Gatys's loss, ~1e10) no longer throws the image onto its bounds.
    u0 = np.asarray(x0, np.float64).ravel() / PIXEL_SCALE
    _, g0 = evaluate(u0)
    g0_norm = float(np.linalg.norm(g0)) if np.all(np.isfinite(g0)) else 0.0
    scale = np.sqrt(size) / PIXEL_SCALE / g0_norm if g0_norm > 0 else 1.0

    def callback(intermediate_result):
        uk = intermediate_result.x
        terms, _ = evaluate(uk)
        xk, i = uk * PIXEL_SCALE, state["step"]
        image_fn = lambda: xk.reshape(shape).astype(np.float32)  # noqa: E731
        if not np.isfinite(terms["total"]):
            state["stopped"] = "diverged"
            on_step(i, terms, lambda: state["accepted"].reshape(shape).astype(np.float32), None)
            raise StopIteration
        state["accepted"], state["accepted_total"] = xk.copy(), terms["total"]
        state["step"] = i + 1
        if on_step(i, terms, image_fn, lambda: {"step": i + 1, "x": image_fn(), "optimizer": []}):
            state["stopped"] = "callback"
            raise StopIteration

    # SciPy's line search sometimes gives up mid-run ("ABNORMAL_TERMINATION_IN_LNSRCH": float32 noise in the
    # loss, ReLU kinks, a point on the bounds). While iterations remain and the last call made progress,
    # restart from the last accepted iterate with a fresh curvature memory, as a user re-running the cell would.
    calls, u = [], u0
    with threadpool_limits(limits=1, user_api="blas"):  # see BLAS_THREADS_NOTE
        while True:
            first = state["step"]
            iters = config.total_steps - first
            result = minimize(fun, u, jac=True, method="L-BFGS-B",
                              bounds=Bounds(np.zeros(size), np.ones(size)), callback=callback,
                              options={"maxiter": iters, "maxfun": max(15000, 3 * iters), "ftol": 0.0, "gtol": 0.0,
                                       "maxcor": 10})
            calls.append(result)
            gave_up = "ABNORMAL" in str(result.message)
            # With ftol = 0, SciPy's "RELATIVE REDUCTION OF F <= FACTR*EPSMCH" means a step that did not lower the
            # loss at all: in float32 the end, on bfloat16 features the loss rounding to the same value (measured:
            # 256² Tübingen x The Starry Night, from the photo, ended so after 546 of 1000 iterations, 2.6 % above the
            # tutorial's 1000-step loss, make bench 2026-11-30).
            flat = "REDUCTION" in str(result.message).upper() and precision != "float32"
            if (state["stopped"] != "completed" or state["step"] >= config.total_steps
                    or "nonfinite_at" in state or not (gave_up or flat)):
                break
            if flat or state["step"] == first:  # no decrease the bfloat16 loss can show, or no step at all
                if precision == "float32":
                    break
                # Near convergence bfloat16 features make the loss too coarse for the line search (measured: 256²
                # Tübingen x The Starry Night stopped 4.6 % above the tutorial's 1000-step loss after 468 of 1000
                # iterations): finish on the float32 path from the last accepted iterate.
                precision, last["x"] = "float32", None
                value_and_grad = value_and_grad_fn(loss_fn, path.xla, precision, shape)
                switched_at = state["step"]
            u = state["accepted"] / PIXEL_SCALE
    info = {"lbfgs_iterations": sum(int(r.nit) for r in calls),
            "lbfgs_function_evaluations": sum(int(r.nfev) for r in calls),
            "lbfgs_message": str(calls[-1].message), "lbfgs_restarts": len(calls) - 1,
            "lbfgs_objective_scale": float(scale), "initial_loss": state.get("f0"),
            "compute_path": path.record()}
    if switched_at is not None:
        info["lbfgs_float32_from_step"] = switched_at  # bfloat16 until then (see above)
    if state["stopped"] == "completed" and state["step"] < config.total_steps:
        info["lbfgs_ended_early"] = True  # SciPy converged, or its line search ended without progress
        if "nonfinite_at" in state:  # ... because every point it tried had a non-finite loss
            state["stopped"] = "diverged"
            on_step(state["step"], state["nonfinite_terms"], lambda: state["accepted"].reshape(shape).astype(np.float32),
                    None)
        elif "f0" in state and not state.get("accepted_total", state["f0"]) < state["f0"] * (1 - 1e-6):
            state["stopped"] = "stalled"  # ... without lowering the loss at all: the result is its start
    return OptimizeOutcome(state["accepted"].reshape(shape).astype(np.float32), state["step"], state["stopped"], info)


def optimize(loss_fn, x0, config, on_step, resume=None) -> OptimizeOutcome:
    """Run the optimiser ``config.optimizer`` names (optionally resuming from a recorded state)."""
    if config.optimizer == "lbfgs":
        return run_lbfgs(loss_fn, x0, config, on_step, resume)
    return run_gradient(loss_fn, x0, config, on_step, resume)


__all__ = ["optimize", "run_gradient", "run_lbfgs", "make_schedule", "OptimizeOutcome"]
