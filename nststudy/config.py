"""StyleConfig: every setting of a run in one frozen, flat, JSON-round-trippable dataclass.

Layer names are plain strings. Both Keras's names (``block4_conv2``) and the papers' names
(``conv4_2``, also ``relu4_2`` and ``pool4``) are accepted; they are stored as Keras names.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
from dataclasses import dataclass, field, fields

from .values import _as_tuple, _number, parse_list
from .vgglayers import MODELS, keras_layer_name, layer_depth, model_layers, paper_name

OPTIMIZERS = ("adam", "sgd", "lbfgs")
INITS = ("content", "noise", "faint_noise", "style")
POOLINGS = ("max", "avg")
COLOR_PRESERVATION = ("none", "luminance", "histogram")
STYLE_NORMALIZATIONS = ("none", "target")  # see losses.normalized_style_layer_loss
# The learning rate an unset ``learning_rate`` (None) means, per optimiser, in pixel units (0..255 image).
# adam: seed 002's 5 px (Adam's step is scale-free: about lr pixels per step whatever the loss's units).
# sgd: plain gradient descent moves each pixel by lr x gradient, so its right step depends on the loss's
# scale (it shrinks as β grows); SGD_RATE was measured for the default objective ("target" normalisation,
# β 4e12 since 2d2eece), ImageNet VGG19, Tübingen x The Starry Night, loss after N steps / loss at step 1
# (rises = steps where the loss went up):
#   128 px, content init, 40 steps: 3e-8 0.56 (0 rises); 1e-7 0.30 (0); 3e-7 0.18 (0); 1e-6 0.19 (16);
#                                   3e-6 2520 (29); 1e-5 234 (35)     [Adam at 5 px: 0.11 (0)]
#   256 px, content init, 30 steps: 1e-7 0.63 (0); 3e-7 0.38 (0)
#   128 px, noise init, 40 steps:   3e-7 0.27 (0); 1e-6 0.18 (10)
# 3e-7 gives the lowest loss where the loss falls steadily, 3x below where it starts to oscillate. The old
# rate, 1e-5, was measured for the paper's E_l at β 1 (there 3e-6 0.61 (0); 1e-5 0.53 (0); 3e-5 0.50 (6) at
# 128 px): the new default objective (initial loss 94x larger here) oscillates there, ending 1281x above its
# start. Remeasure if the default β or style_normalization changes. (Script: a loop of stylize(...,
# StyleConfig(optimizer="sgd", learning_rate=lr, image_size=..., epochs=1, steps_per_epoch=N)) over the
# rates, comparing history[-1] with history[0].)
# lbfgs: ignored (its line search sets the step).
SGD_RATE = 3e-7
DEFAULT_LEARNING_RATES = {"adam": 5.0, "sgd": SGD_RATE}


def param(default, help: str, items=None):
    """A StyleConfig field with its help text (and, for lists, the type of their items)."""
    return field(default=default, metadata={"help": help, **({"items": items} if items else {})})


class ConfigRecord:
    """The JSON round trip shared by the flat, frozen config dataclasses (StyleConfig, TrainConfig): each
    names itself in ``KIND`` and checks keys in ``check_keys`` (unknown keys name the closest field)."""

    KIND = "config"

    def replace(self, **changes):
        """A copy with some fields changed (validated like the constructor)."""
        self.check_keys(changes)
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict:
        """Plain JSON-ready dict (tuples become lists)."""
        return {f.name: list(v) if isinstance(v, tuple) else v
                for f in fields(self) for v in [getattr(self, f.name)]}

    @classmethod
    def from_dict(cls, data: dict):
        """Inverse of ``to_dict``; unknown keys raise ValueError naming the closest field."""
        if not isinstance(data, dict):
            raise ValueError(f"a {cls.KIND} must be a JSON object (dict), got {type(data).__name__}")
        cls.check_keys(data)
        return cls(**data)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)

    @classmethod
    def from_json(cls, text: str):
        return cls.from_dict(json.loads(text))


@dataclass(frozen=True)
class StyleConfig(ConfigRecord):
    """Settings of one style-transfer run: the one list of parameters. Defaults follow Gatys et al. and the
    reports (README "Defaults and where they come from"). Each field's help text (``help_text``) is what
    the notebooks' parameters cells, ``nststudy stylize --help`` and the README's parameter table show:
    they are generated from here (``tools/make_notebooks.py``).
    """

    model: str = param("vgg19", 'feature network: "vgg19" | "vgg16" (seed 000 §4.4 settles on VGG19)')
    weights: str = param("imagenet", '"imagenet" (resolved from $NSTSTUDY_WEIGHTS_DIR or the Keras cache) | "random" '
                                     '(seeded, labelled) | path to an .h5 file')
    pooling: str = param("max", '"max" (as Keras ships VGG) | "avg" (as Gatys et al. recommend)')
    content_layers: tuple = param(("block4_conv2",), "content layers, paper (conv4_2) or Keras (block4_conv2) "
                                  "names; Gatys et al.: conv4_2 (seed 000 §4.5)", items=str)
    style_layers: tuple = param(("block1_conv1", "block2_conv1", "block3_conv1", "block4_conv1", "block5_conv1"),
                                "style layers; Gatys et al.: conv1_1 ... conv5_1 (seed 000 §4.5)", items=str)
    style_layer_weights: tuple = param((0.2, 0.2, 0.2, 0.2, 0.2), "ω_l, one weight per style layer (Gatys: 1/5 each; "
                                       "empty: 1/L each for the L style layers)", items=float)
    style_normalization: str = param("target", '"target" (each E_l divided by its value for a black feature map, the '
                                               'squared relative Gram error: losses.normalized_style_layer_loss; every '
                                               'layer counts, experiments/defaults) | "none" (E_l of Gatys et al. eq. 4)')
    content_weight: float = param(1.0, "α, weight of the content loss")
    style_weight: float = param(4e12, "β, weight of the style loss (α/β sets the trade-off; 4e12 with the "
                                      "\"target\" normalisation at 256 px, experiments/defaults; about 1e3 with \"none\")")
    tv_weight: float = param(0.0, "weight of the total-variation term Σ[(Δx)²+(Δy)²] on the 0..255 image (0: off, "
                                  "as Gatys et al.)")
    optimizer: str = param("adam", '"adam" | "sgd" (plain gradient descent) | "lbfgs" (SciPy L-BFGS-B)')
    learning_rate: float | None = param(None, "initial step for adam/sgd in pixel units (0..255 scale); None: the "
                                               "optimiser's own default (adam 5, sgd 3e-7: DEFAULT_LEARNING_RATES); "
                                               "unused by lbfgs")
    decay_steps: int = param(100, "ExponentialDecay: the learning rate is multiplied by decay_rate every decay_steps "
                                  "steps (smoothly)")
    decay_rate: float = param(0.96, "ExponentialDecay factor")
    epochs: int = param(5, "epochs × steps_per_epoch is the number of steps (seed 004: 10 × 100; 500 meet issue "
                               "18's bar, experiments/defaults)")
    steps_per_epoch: int = param(100, "steps (or L-BFGS iterations) per epoch")
    image_size: int = param(256, "longest side of the result in pixels (seed 004 used 400); the style image is "
                                 "resized to the content's size")
    color_preservation: str = param("none", '"none" | "luminance" (transfer luma, keep the content\'s colours) | '
                                            '"histogram" (the style takes the content\'s colours first)')
    style_scale: float = param(1.0, "the style image is resized by this factor, relative to the content, before "
                                    "its Grams are taken")
    style_blend_weights: tuple = param((), "with several style images (style given as a list): one weight each "
                                           "(empty: equal)", items=float)
    scales: tuple = param((), "multiscale: smaller longest sides run first, coarse to fine, e.g. [128] (empty: one "
                              "scale)", items=int)
    scale_steps: tuple = param((), "multiscale: steps (or L-BFGS iterations) at each size of scales, one per entry, "
                                   "e.g. [150] (empty: epochs × steps_per_epoch at each, as at the final size)",
                               items=int)
    init: str = param("content", 'start image: "content" | "noise" (uniform 0..255, Gatys et al.) | '
                                  '"faint_noise" (the ImageNet mean colour plus noise of std 1 grey level, '
                                  'as neural-style\'s -init random) | "style"')
    seed: int = param(0, "seeds the noise start, random weights and TensorFlow")
    snapshot_every: int = param(0, "every this many steps save the image and the optimiser's position in the run "
                                   "folder (0: never)")

    def __post_init__(self):
        self._check_choice("model", MODELS)
        self._check_choice("optimizer", OPTIMIZERS)
        self._check_choice("init", INITS)
        self._check_choice("pooling", POOLINGS)
        self._check_choice("color_preservation", COLOR_PRESERVATION)
        self._check_choice("style_normalization", STYLE_NORMALIZATIONS)
        blend = tuple(_number("style_blend_weights", w) for w in _as_tuple("style_blend_weights", self.style_blend_weights))
        if any(w < 0 for w in blend) or (blend and sum(blend) <= 0):
            raise ValueError(f"style_blend_weights={list(blend)!r}: weights must be >= 0 with a positive sum")
        object.__setattr__(self, "style_blend_weights", blend)
        scale = _number("style_scale", self.style_scale)
        if not 0.05 <= scale <= 8:
            raise ValueError(f"style_scale={scale!r}: must be between 0.05 and 8")
        object.__setattr__(self, "style_scale", scale)
        if not isinstance(self.weights, str) or not self.weights:
            raise ValueError(f"weights={self.weights!r}: expected 'imagenet', 'random' or a path to an .h5 file")
        for name in ("content_layers", "style_layers"):
            layers = _as_tuple(name, getattr(self, name))
            resolved = tuple(keras_layer_name(n, self.model) for n in layers)
            if len(set(resolved)) != len(resolved):
                raise ValueError(f"{name}={list(layers)!r} names a layer twice")
            object.__setattr__(self, name, resolved)
        if not self.content_layers and not self.style_layers:
            raise ValueError("content_layers and style_layers are both empty: nothing to optimise")
        weights = tuple(_number("style_layer_weights", w) for w in _as_tuple("style_layer_weights", self.style_layer_weights))
        if not weights:  # equal weights, whatever the number of layers (a sweep over layer sets need not list them)
            weights = (1.0 / len(self.style_layers),) * len(self.style_layers) if self.style_layers else ()
        if len(weights) != len(self.style_layers):
            raise ValueError(f"style_layer_weights has {len(weights)} values but style_layers has "
                             f"{len(self.style_layers)} layers; give one weight per style layer")
        if any(w < 0 for w in weights):
            raise ValueError(f"style_layer_weights={list(weights)!r}: weights must be >= 0")
        object.__setattr__(self, "style_layer_weights", weights)
        for name in ("content_weight", "style_weight", "tv_weight"):
            value = _number(name, getattr(self, name))
            if value < 0:
                raise ValueError(f"{name}={value!r}: must be >= 0")
            object.__setattr__(self, name, value)
        for name in ("learning_rate", "decay_rate"):
            if name == "learning_rate" and self.learning_rate is None:
                continue  # the optimiser's own default (step_size)
            value = _number(name, getattr(self, name))
            if value <= 0:
                raise ValueError(f"{name}={value!r}: must be > 0")
            object.__setattr__(self, name, value)
        scales = _as_tuple("scales", self.scales)
        if any(isinstance(v, bool) or not isinstance(v, (int, float)) or int(v) != v for v in scales):
            raise ValueError(f"scales={list(scales)!r}: expected whole numbers (pixels on the longest side)")
        scales = tuple(int(v) for v in scales)
        if list(scales) != sorted(set(scales)) or (scales and (scales[0] < 16 or scales[-1] >= self.image_size)):
            raise ValueError(f"scales={list(scales)!r}: expected increasing sizes from 16 px up to below "
                             f"image_size={self.image_size}, e.g. [{max(16, self.image_size // 2)}]")
        object.__setattr__(self, "scales", scales)
        scale_steps = _as_tuple("scale_steps", self.scale_steps)
        whole = [isinstance(v, int) and not isinstance(v, bool) or isinstance(v, float) and v.is_integer()
                 for v in scale_steps]
        if not all(whole) or any(v < 1 for v in scale_steps) or (scale_steps and len(scale_steps) != len(scales)):
            raise ValueError(f"scale_steps={list(scale_steps)!r}: expected one whole number >= 1 per size of "
                             f"scales={list(scales)!r} (the steps at that size), or empty for epochs × "
                             f"steps_per_epoch at each")
        object.__setattr__(self, "scale_steps", tuple(int(v) for v in scale_steps))
        for name, low in (("decay_steps", 1), ("epochs", 1), ("steps_per_epoch", 1), ("image_size", 16), ("seed", 0),
                          ("snapshot_every", 0)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int):
                if isinstance(value, float) and value.is_integer():
                    value = int(value)
                else:
                    raise ValueError(f"{name}={value!r}: expected a whole number >= {low}")
            if value < low:
                raise ValueError(f"{name}={value!r}: must be >= {low}")
            object.__setattr__(self, name, value)

    def _check_choice(self, name, accepted):
        value = getattr(self, name)
        if isinstance(value, str):
            value = value.strip().lower()
        if value not in accepted:
            raise ValueError(f"{name}={value!r} is not accepted; choose one of: {', '.join(accepted)}")
        object.__setattr__(self, name, value)

    @property
    def total_steps(self) -> int:
        return self.epochs * self.steps_per_epoch

    @property
    def step_size(self) -> float:
        """The initial learning rate the optimiser uses: ``learning_rate``, or when it is None the
        optimiser's default from ``DEFAULT_LEARNING_RATES`` (L-BFGS, which ignores it: Adam's)."""
        if self.learning_rate is not None:
            return self.learning_rate
        return DEFAULT_LEARNING_RATES.get(self.optimizer, DEFAULT_LEARNING_RATES["adam"])

    @classmethod
    def check_keys(cls, data) -> None:
        _check_keys(data)


FIELD_NAMES = tuple(f.name for f in fields(StyleConfig))


def _check_keys(data):
    for key in data:
        if key not in FIELD_NAMES:
            close = difflib.get_close_matches(str(key), FIELD_NAMES, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ValueError(f"unknown config key {key!r}{hint}; accepted keys: {', '.join(FIELD_NAMES)}")


def help_text(name: str, cls=None) -> str:
    """The help text of a field of ``cls`` (a config dataclass; StyleConfig when not given)."""
    return (cls or StyleConfig).__dataclass_fields__[name].metadata["help"]


def parse_value(key: str, text: str):
    """Parse a ``--set key=value`` string into the type the field expects."""
    if key not in FIELD_NAMES:
        _check_keys({key: None})
    default = StyleConfig.__dataclass_fields__[key].default
    text = text.strip()
    if default is None:  # an optional number (learning_rate): "none" or empty unsets it
        if text.lower() in ("", "none", "null", "default"):
            return None
        default = 0.0
    if isinstance(default, tuple):
        items = parse_list(key, text)
        if text.startswith("["):
            return items
        kind = StyleConfig.__dataclass_fields__[key].metadata.get("items", str)
        try:
            return [kind(v) for v in items]
        except ValueError as e:  # a non-number weight: name the key, like the other branches
            raise ValueError(f"{key}={text!r}: expected a comma-separated or JSON list ({e})") from None
    if isinstance(default, bool):
        return text.lower() in ("1", "true", "yes")
    if isinstance(default, int):
        try:
            return int(float(text)) if float(text).is_integer() else float(text)
        except ValueError:
            raise ValueError(f"{key}={text!r}: expected a whole number") from None
    if isinstance(default, float):
        try:
            return float(text)
        except ValueError:
            raise ValueError(f"{key}={text!r}: expected a number") from None
    return text


__all__ = ["StyleConfig", "FIELD_NAMES", "MODELS", "OPTIMIZERS", "INITS", "POOLINGS", "STYLE_NORMALIZATIONS",
           "DEFAULT_LEARNING_RATES", "model_layers", "keras_layer_name", "paper_name", "layer_depth", "parse_value",
           "parse_list", "help_text", "param", "ConfigRecord"]
