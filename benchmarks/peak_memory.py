"""Peak resident memory of one short run, measured in a fresh process, against nststudy.memory's estimate.

    python benchmarks/peak_memory.py 256 adam                        # prints one JSON line
    python benchmarks/peak_memory.py 256 adam 3 vgg19 "bfloat16 + XLA"  # another path; "measured": a first run

Each measurement runs in its own process (peak RSS only grows within a process). The step is forced to one
compute path through NSTSTUDY_XLA and NSTSTUDY_PRECISION (default XLA in float32, as make bench records), even
for the few steps measured; "measured" instead lets the run time every candidate path first, from an empty
paths cache, as a first run at a size does (the largest peak: nststudy.memory's docstring has the table).

The peak is VmHWM from /proc/self/status, not getrusage's ru_maxrss: Linux carries ru_maxrss across
fork and exec, so a child started by a large parent (the benchmark, 2.5 GiB by then) reports the
parent's size. VmHWM belongs to the new address space that exec creates.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys


def measure(size: int, optimizer: str = "adam", steps: int = 3, model: str = "vgg19", timeout=1800,
            path: str = "XLA") -> dict:
    """Run the child in a new interpreter; returns {size, optimizer, peak_bytes, estimate_bytes, ...}.

    ``path``: a name of ``nststudy.accel.PATHS`` forced by the overrides, or "measured": the choice a first run
    makes (every candidate timed, from an empty paths cache) before its steps."""
    out = subprocess.run([sys.executable, __file__, str(size), optimizer, str(steps), model, path],
                         capture_output=True, text=True, timeout=timeout)
    lines = [line for line in out.stdout.splitlines() if line.startswith("{")]
    if out.returncode != 0 or not lines:
        return {"size": size, "optimizer": optimizer, "error": (out.stderr.strip().splitlines() or ["?"])[-1]}
    return json.loads(lines[-1])


def peak_rss_bytes() -> float:
    """This process's peak resident set size (VmHWM), falling back to ru_maxrss off Linux."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return float(line.split()[1]) * 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024.0


def _child(size: int, optimizer: str, steps: int, model: str, path: str = "XLA") -> None:
    import tempfile

    import numpy as np

    from nststudy import StyleConfig, stylize
    from nststudy.accel import MIN_STEPS, PATHS
    from nststudy.memory import estimate_peak_bytes

    for key in ("NSTSTUDY_XLA", "NSTSTUDY_PRECISION"):
        os.environ.pop(key, None)
    if path != "measured":
        xla, precision = PATHS[path]
        os.environ["NSTSTUDY_XLA"], os.environ["NSTSTUDY_PRECISION"] = str(int(xla)), precision
    os.environ["NSTSTUDY_PATHS_CACHE"] = os.path.join(tempfile.mkdtemp(), "paths.json")  # nothing cached
    idle = peak_rss_bytes()
    rng = np.random.default_rng(0)
    content = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
    style = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
    config = StyleConfig(model=model, image_size=size, optimizer=optimizer, epochs=1,
                         steps_per_epoch=max(steps, MIN_STEPS), weights="random")  # long enough to be measured
    result = stylize(content, style, config, progress=False, metrics=False, callback=lambda it: it.step >= steps)
    peak = peak_rss_bytes()
    print(json.dumps({"size": size, "optimizer": optimizer, "model": model, "idle_bytes": idle,
                      "peak_bytes": peak, "estimate_bytes": estimate_peak_bytes(config, size, size),
                      "path": result.info["compute_path"]["name"], "forced": path != "measured"}))


if __name__ == "__main__":
    _child(int(sys.argv[1]), sys.argv[2], int(sys.argv[3]) if len(sys.argv) > 3 else 3,
           sys.argv[4] if len(sys.argv) > 4 else "vgg19", sys.argv[5] if len(sys.argv) > 5 else "XLA")
