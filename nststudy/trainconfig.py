"""TrainConfig: every setting of a feed-forward training run in one frozen, flat, JSON-round-trippable dataclass.

The feed-forward counterpart of ``StyleConfig`` (Johnson et al. 2016; Ulyanov et al. 2016): the transform
network's shape, the photos and crops it learns from, the Gatys losses it is trained with, and the schedule.
Layer names accept the papers' and Keras's spellings, like StyleConfig, and are stored as Keras names.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, fields

from .config import MODELS, POOLINGS, ConfigRecord, _as_tuple, _number, keras_layer_name, param, parse_list

PADDINGS = ("reflect", "zero")  # as nststudy.transform.PADDINGS (not imported: keeps Keras out of config)


@dataclass(frozen=True)
class TrainConfig(ConfigRecord):
    """Settings of one training run of a transform network. See README "Real time" for the defaults' sources."""

    KIND = "training config"

    # the transform network
    width: float = param(0.5, "channel multiplier: 1 is Johnson et al.'s 32/64/128 channels; 0.5 and 0.25 are faster")
    residual_blocks: int = param(5, 'residual blocks at 1/4 resolution (Johnson et al.: 5)')
    padding: str = param("zero", '"zero" (the conv\'s own, fast) | "reflect" (mirror the border first; 1.1-1.3x slower)')
    init_model: str = param("", 'start from this network (.keras or run folder from nststudy train; same width, '
                                'residual_blocks, padding); "": fresh seeded weights')
    # the photos
    photos: str = param("", 'folder of photos, or a comma-separated list of images; "" = nststudy.train.DEFAULT_PHOTOS')
    held_out: int = param(1, 'photos kept out of training, stylised as previews (chosen by the seed)')
    crop_size: int = param(256, 'side of the square random crops trained on, in pixels (Johnson et al.: 256)')
    scale_jitter: float = param(0.5, 'crop windows of crop_size * 2**u source pixels, u uniform in [-j, j]; 0: none')
    flip: bool = param(True, 'mirror half the crops left-right')
    # the losses (nststudy.losses, on the loss network below)
    model: str = param("vgg19", 'loss network: "vgg19" | "vgg16"')
    weights: str = param("imagenet", '"imagenet" | "random" (seeded, labelled; tests) | path to an .h5 file')
    pooling: str = param("max", '"max" as Keras ships VGG | "avg" as Gatys et al.')
    content_layers: tuple = param(("block3_conv3",), 'relu3_3, the mid layer the issue takes from Johnson et al.')
    style_layers: tuple = param(("block1_conv1", "block2_conv1", "block3_conv1", "block4_conv1", "block5_conv1"), "Gatys et al.'s conv1_1 ... conv5_1, as StyleConfig")
    style_layer_weights: tuple = param((0.2, 0.2, 0.2, 0.2, 0.2), 'omega_l, one per style layer')
    style_size: int = param(0, 'longest side of the style image when its Grams are taken; 0: crop_size')
    content_weight: float = param(1.0, 'alpha, on the content loss summed over the layer, averaged over the batch')
    style_weight: float = param(10.0, 'beta, on the style loss (E_l normalised by 1/(4 N^2 M^2), as StyleConfig)')
    tv_weight: float = param(0.0, 'weight of the squared total variation of the output (0..255 scale)')
    noise_std: float = param(0.0, 'std of Gaussian input noise in pixels for the stability term; 0: off')
    stability_weight: float = param(0.0, 'lambda on mean (f(x) - f(x + noise))^2 (Gupta et al. 2017); needs noise_std')
    # the schedule
    batch_size: int = param(4, 'crops per step (Johnson et al.: 4)')
    steps: int = param(2000, 'training stops after this many steps ...')
    minutes: float = param(0.0, '... or after this much training time (summed over resumes); 0: no time limit')
    learning_rate: float = param(1e-3, "Adam's step size (Johnson et al.: 1e-3)")
    checkpoint_every: int = param(100, 'save weights, optimiser state and history every N steps (resume point)')
    preview_every: int = param(100, 'stylise the held-out photos every N steps into previews/ (0: only at the end)')
    preview_size: int = param(256, 'longest side of the previews in pixels')
    seed: int = param(0, "seeds the network's weights, the crops' order and positions, the noise")

    def __post_init__(self):
        for name, accepted in (("model", MODELS), ("pooling", POOLINGS), ("padding", PADDINGS)):
            value = getattr(self, name)
            value = value.strip().lower() if isinstance(value, str) else value
            if value not in accepted:
                raise ValueError(f"{name}={value!r} is not accepted; choose one of: {', '.join(accepted)}")
            object.__setattr__(self, name, value)
        for name in ("weights", "photos", "init_model"):
            if not isinstance(getattr(self, name), str):
                raise ValueError(f"{name}={getattr(self, name)!r}: expected a string")
        if not self.weights:
            raise ValueError("weights='': expected 'imagenet', 'random' or a path to an .h5 file")
        for name in ("content_layers", "style_layers"):
            layers = tuple(keras_layer_name(n, self.model) for n in _as_tuple(name, getattr(self, name)))
            if len(set(layers)) != len(layers):
                raise ValueError(f"{name}={list(layers)!r} names a layer twice")
            object.__setattr__(self, name, layers)
        if not self.content_layers or not self.style_layers:
            raise ValueError("content_layers and style_layers must each name at least one layer to train a "
                             "transform network")
        weights = tuple(_number("style_layer_weights", w) for w in _as_tuple("style_layer_weights",
                                                                                self.style_layer_weights))
        if len(weights) != len(self.style_layers) or any(w < 0 for w in weights):
            raise ValueError(f"style_layer_weights={list(weights)!r}: give one weight >= 0 per style layer "
                             f"({len(self.style_layers)} layers)")
        object.__setattr__(self, "style_layer_weights", weights)
        ranges = {"width": (0.0625, 4), "scale_jitter": (0, 2), "content_weight": (0, None),
                  "style_weight": (0, None), "tv_weight": (0, None), "noise_std": (0, 255),
                  "stability_weight": (0, None), "minutes": (0, None), "learning_rate": (1e-12, None)}
        for name, (low, high) in ranges.items():
            value = _number(name, getattr(self, name))
            if value < low or (high is not None and value > high):
                raise ValueError(f"{name}={value!r}: must be between {low} and {high if high is not None else 'inf'}")
            object.__setattr__(self, name, value)
        if (self.noise_std > 0) != (self.stability_weight > 0):
            raise ValueError(f"noise_std={self.noise_std} and stability_weight={self.stability_weight}: the "
                             f"stability term needs both > 0 (or both 0 to turn it off)")
        counts = {"residual_blocks": 0, "held_out": 1, "crop_size": 16, "style_size": 0, "batch_size": 1,
                  "steps": 1, "checkpoint_every": 1, "preview_every": 0, "preview_size": 16, "seed": 0}
        for name, low in counts.items():
            value = getattr(self, name)
            if isinstance(value, float) and value.is_integer():
                value = int(value)
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ValueError(f"{name}={getattr(self, name)!r}: expected a whole number >= {low}")
            object.__setattr__(self, name, value)
        if not isinstance(self.flip, bool):
            raise ValueError(f"flip={self.flip!r}: expected true or false")

    @classmethod
    def check_keys(cls, data) -> None:
        check_keys(data)


TRAIN_FIELDS = tuple(f.name for f in fields(TrainConfig))


def check_keys(data) -> None:
    """ValueError for the first key of ``data`` that is not a TrainConfig field, with the closest one."""
    for key in data:
        if key not in TRAIN_FIELDS:
            close = difflib.get_close_matches(str(key), TRAIN_FIELDS, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ValueError(f"unknown training config key {key!r}{hint}; accepted: {', '.join(TRAIN_FIELDS)}")


def parse_train_value(key: str, text: str):
    """Parse a ``--set key=value`` string into the type the TrainConfig field expects."""
    check_keys({key: None})
    default = TrainConfig.__dataclass_fields__[key].default
    text = text.strip()
    if isinstance(default, tuple):
        items = parse_list(key, text)  # the package's one list parser (JSON or comma-separated)
        if key == "style_layer_weights" and not text.startswith("["):
            try:
                return [float(v) for v in items]
            except ValueError:
                raise ValueError(f"{key}={text!r}: expected numbers, e.g. 0.2,0.2,0.2,0.2,0.2") from None
        return items
    if isinstance(default, bool):
        if text.lower() not in ("1", "true", "yes", "0", "false", "no"):
            raise ValueError(f"{key}={text!r}: expected true or false")
        return text.lower() in ("1", "true", "yes")
    if isinstance(default, (int, float)):
        try:
            value = float(text)
        except ValueError:
            raise ValueError(f"{key}={text!r}: expected a number") from None
        return int(value) if isinstance(default, int) and value.is_integer() else value
    return text


def config_from_namespace(namespace: dict, extra=()) -> TrainConfig:
    """TrainConfig from a notebook's parameter variables: fields are taken, ``extra`` names are skipped,
    any other plain-valued public name raises ValueError (a misspelt papermill ``-p``)."""
    values = {}
    for name, value in namespace.items():
        if name.startswith("_") or name in extra or not isinstance(value, (str, int, float, bool, list, tuple)):
            continue
        if name in ("In", "Out", "exit", "quit", "open"):
            continue
        check_keys({name: value})
        if isinstance(value, str) and isinstance(TrainConfig.__dataclass_fields__[name].default, tuple):
            value = parse_train_value(name, value)
        values[name] = value
    return TrainConfig(**values)


__all__ = ["TrainConfig", "TRAIN_FIELDS", "check_keys", "parse_train_value", "config_from_namespace"]
