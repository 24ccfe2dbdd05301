"""Helpers that keep the notebooks thin: parameters -> StyleConfig (strict), live preview, comparisons."""

from __future__ import annotations

import difflib
import types

from .config import FIELD_NAMES, StyleConfig, parse_value
from .reconstruct import OPTIONS, RENAMED

NOTEBOOK_ONLY = ("content", "style", "output_dir", "show", "preview_every", "compare_with")
RECONSTRUCT_ONLY = ("task", "image", "layers", "output_dir", "show", *(n for names in OPTIONS.values() for n in names))
_IPYTHON_NAMES = {"In", "Out", "get_ipython", "exit", "quit", "open"}
_PLAIN = (str, int, float, bool, list, tuple, dict, type(None))  # what papermill can inject


def config_from_parameters(namespace: dict, extra=NOTEBOOK_ONLY) -> StyleConfig:
    """Build the StyleConfig from a notebook's parameter variables, strictly.

    Every public, plain-valued variable must be a StyleConfig field or one of ``extra``; a misspelt
    papermill ``-p`` (which papermill only warns about) raises ValueError naming the closest field.
    """
    accepted = set(FIELD_NAMES) | set(extra)
    values = {}
    for name, value in namespace.items():
        if name.startswith("_") or name in _IPYTHON_NAMES:
            continue
        if isinstance(value, (types.ModuleType, types.FunctionType, type)) or callable(value):
            continue
        if not isinstance(value, _PLAIN):
            continue  # made by a later cell (config, result, the run folder) when a cell is re-run by hand
        if name not in accepted and RENAMED.get(name) in accepted:
            raise ValueError(f"parameter {name!r} is now called {RENAMED[name]!r}; pass -p {RENAMED[name]} instead")
        if name not in accepted:
            close = difflib.get_close_matches(name, sorted(accepted), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ValueError(f"parameter {name!r} is not a notebook parameter{hint}; accepted: "
                             f"{', '.join(sorted(accepted))}")
        if name in FIELD_NAMES:
            if isinstance(value, str) and isinstance(StyleConfig.__dataclass_fields__[name].default, tuple):
                value = parse_value(name, value)  # papermill -p passes '["conv4_2"]' as a string
            values[name] = value
    return StyleConfig.from_dict(values)


class LivePreview:
    """A stylize callback that redraws the current image and the loss curve in place every ``every`` steps."""

    def __init__(self, every: int = 25, title: str = ""):
        from IPython.display import display

        self.every, self.title, self.history = max(1, int(every)), title, []
        self.handle = display(None, display_id=True)

    def __call__(self, it):
        self.history.append({"step": it.step, **it.terms})
        if it.step % self.every == 0 or it.step == 1:
            self.handle.update(self._figure(it))
        return False

    def _figure(self, it):
        import matplotlib.pyplot as plt

        from .plots import plot_losses

        fig, (a, b) = plt.subplots(1, 2, figsize=(10, 4))
        a.imshow(it.image)
        a.set_axis_off()
        a.set_title(f"{self.title} step {it.step}, loss {it.total:.4g}", fontsize=9)
        plot_losses(self.history, list(it.terms), ax=b)
        plt.close(fig)
        return fig


def compare_runs(*folders, titles=None):
    """Side-by-side figure of run folders: each run's image over its loss curve, config differences as titles."""
    import matplotlib.pyplot as plt
    from PIL import Image

    from .plots import plot_losses
    from .runs import load_run

    runs = [load_run(f) for f in folders]
    configs = [r["config"].to_dict() for r in runs]
    differ = [k for k in FIELD_NAMES if len({str(c[k]) for c in configs}) > 1]
    fig, axes = plt.subplots(2, len(runs), figsize=(4.5 * len(runs), 7), squeeze=False)
    for i, run in enumerate(runs):
        axes[0, i].imshow(Image.open(run["directory"] / "image.png"))
        axes[0, i].set_axis_off()
        label = titles[i] if titles else "\n".join(f"{k}={configs[i][k]}" for k in differ) or run["directory"].name
        axes[0, i].set_title(label, fontsize=8)
        plot_losses(run["history"], run["terms"], ax=axes[1, i])
    fig.tight_layout()
    return fig


__all__ = ["config_from_parameters", "LivePreview", "compare_runs"]
