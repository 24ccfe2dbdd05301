"""VGG layer names in both schemes, Keras's (``block4_conv2``) and the papers' (``conv4_2``, also ``relu4_2`` and
``pool4``), for the two Keras VGG models."""

from __future__ import annotations

import re

# Convolutions per block of the two Keras VGG models (include_top=False).
_CONVS_PER_BLOCK = {"vgg16": (2, 2, 3, 3, 3), "vgg19": (2, 2, 4, 4, 4)}
MODELS = tuple(_CONVS_PER_BLOCK)


def model_layers(model: str) -> tuple[str, ...]:
    """Keras layer names of a VGG model's feature stack, input to output."""
    if model not in _CONVS_PER_BLOCK:
        raise ValueError(f"model {model!r} is not supported; accepted: {', '.join(MODELS)}")
    names = []
    for block, convs in enumerate(_CONVS_PER_BLOCK[model], start=1):
        names += [f"block{block}_conv{i}" for i in range(1, convs + 1)]
        names.append(f"block{block}_pool")
    return tuple(names)


def paper_name(keras_name: str) -> str:
    """``block4_conv2`` -> ``conv4_2``; ``block4_pool`` -> ``pool4``."""
    m = re.fullmatch(r"block(\d)_conv(\d)", keras_name)
    if m:
        return f"conv{m[1]}_{m[2]}"
    m = re.fullmatch(r"block(\d)_pool", keras_name)
    if m:
        return f"pool{m[1]}"
    return keras_name


def keras_layer_name(name: str, model: str = "vgg19") -> str:
    """Resolve a paper or Keras layer name to the Keras name, checking it exists in ``model``.

    Accepts ``block4_conv2``, ``conv4_2``, ``relu4_2`` (Keras's conv layers include the ReLU),
    ``block4_pool`` and ``pool4``. Raises ValueError listing the valid names otherwise.
    """
    valid = model_layers(model)
    key = str(name).strip().lower()
    m = re.fullmatch(r"(?:conv|relu)(\d)_(\d)", key)
    if m:
        key = f"block{m[1]}_conv{m[2]}"
    m = re.fullmatch(r"pool(\d)", key)
    if m:
        key = f"block{m[1]}_pool"
    if key not in valid:
        shown = ", ".join(f"{paper_name(v)}/{v}" for v in valid)
        raise ValueError(f"layer {name!r} is not a layer of {model}; valid names (paper/Keras): {shown}")
    return key


def layer_depth(name: str, model: str = "vgg19") -> int:
    """Position of a layer in the model's feature stack (0 = block1_conv1)."""
    return model_layers(model).index(keras_layer_name(name, model))
