"""A setting's value from its text: the one list parser (the forms ``--set``, papermill ``-p`` and sweep files
pass) and the finite-number check, shared by the config dataclasses."""

from __future__ import annotations

import json
import math
import re


def parse_list(name: str, value) -> list:
    """The one list parser: a list or tuple as it is; a string as a JSON list (``'["conv4_2"]'``) or as
    comma- or space-separated items (``conv1_1,conv2_1``), the forms ``--set``, papermill ``-p`` and sweep
    files pass. Items of a separated string stay strings."""
    if isinstance(value, str):
        text = value.strip()
        if not text.startswith("["):
            return [v for v in re.split(r"[,\s]+", text) if v]
        try:
            value = json.loads(text)
        except json.JSONDecodeError as e:
            raise ValueError(f"{name}={text!r}: not a valid JSON list ({e}); or give comma-separated items") from None
    if isinstance(value, (dict, bytes)):
        raise ValueError(f"{name}={value!r}: expected a list")
    try:
        return list(value)
    except TypeError:
        raise ValueError(f"{name}={value!r}: expected a list") from None


def _as_tuple(name, value):
    return tuple(parse_list(name, value))


def _number(name, value) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{name}={value!r}: expected a number")
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{name}={value!r}: must be finite")
    return value
