"""nststudy: a Keras/TensorFlow workbench for neural style transfer (Gatys et al.).

    from nststudy import StyleConfig, stylize, save_run
    result = stylize("chelsea", "hubble_deep_field", StyleConfig(weights="random", epochs=1))
    save_run(result, "runs/first")
"""

import os as _os

_os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # keep TensorFlow's start-up chatter out of notebooks

from . import losses  # noqa: E402
from .config import FIELD_NAMES, StyleConfig, keras_layer_name, model_layers, paper_name  # noqa: E402
from .colour import deprocess, preprocess  # noqa: E402
from .images import ImageError, load_image, save_image  # noqa: E402
from .models import WeightsFileError, WeightsNotFoundError, WeightsSource, build_extractor, resolve_weights  # noqa: E402
from .reconstruct import deep_dream, invert_features, reconstruct_content, reconstruct_style  # noqa: E402
from .runs import load_run, save_run  # noqa: E402
from .runfolder import resume_run, stylize_into  # noqa: E402
from .loop import Iterate, StyleResult  # noqa: E402
from .stylize import stylize  # noqa: E402

__version__ = "0.1.0"

__all__ = ["StyleConfig", "FIELD_NAMES", "keras_layer_name", "model_layers", "paper_name", "losses",
           "preprocess", "deprocess", "load_image", "save_image", "ImageError", "resolve_weights",
           "build_extractor", "WeightsSource", "WeightsNotFoundError", "WeightsFileError", "stylize",
           "StyleResult", "Iterate", "save_run", "load_run", "stylize_into", "resume_run", "reconstruct_content",
           "reconstruct_style", "invert_features",
           "deep_dream", "__version__"]
