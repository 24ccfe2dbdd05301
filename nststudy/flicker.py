"""Flicker of several trained transform networks: each one on pan-and-zoom clips of the same photos
(``video.clip_flicker``), with the metric panel of the still photo where the network's style can be read."""

from __future__ import annotations

from pathlib import Path

from .compare import DEFAULT_PHOTOS, style_source, trained_model
from .images import load_image, resize, resize_longest


def flicker_table(models, photos=DEFAULT_PHOTOS, clips=((16, 128), (48, 256)), precision="float32",
                  metrics=True) -> list[dict]:
    """For each model (a ``.keras`` file or a training run folder) and photo: the flicker
    (``video.clip_flicker``) of each pan-and-zoom clip ``(frames, side)``, made from the photo downscaled to
    twice the clip's side (training's held-out clip: a 256 px photo, 16 frames of 128²); with ``metrics``, and
    for a run folder whose style can be read, the metric panel of the still photo at 256 px (training's)."""
    from .metrics import run_metrics
    from .models import resolve_weights
    from .transform import Stylizer, load_transform
    from .video import clip_flicker

    nets = {str(m): load_transform(m) for m in models}  # every model read before the first is measured
    images = {str(p): load_image(p) for p in photos}
    out = []
    for path, net in nets.items():
        stylizer = Stylizer(net, precision)
        folder = Path(path) if Path(path).is_dir() else Path(path).parent
        in_run = Path(path).is_dir() or Path(path).name == "model.keras"
        record = trained_model(folder) if in_run and (folder / "inputs.json").is_file() else None
        entry = {"model": path, "network": net.name, "precision": stylizer.precision,
                 "config": {k: v for k, v in record["config"].to_dict().items()
                            if k in ("init_model", "steps", "noise_std", "stability_weight", "learning_rate")}
                 if record else None, "steps_trained": record["result"].get("steps") if record else None,
                 "photos": []}
        for name, photo in images.items():
            row = {"photo": name, "flicker": {}}
            for frames, side in clips:
                row["flicker"][f"{frames}x{side}"] = clip_flicker(stylizer, resize_longest(photo, 2 * side)
                                                                  if max(photo.shape[:2]) > 2 * side else photo,
                                                                  frames=frames, size=(side, side))
            if metrics and record is not None:
                still = load_image(photo, max_size=256)
                style = load_image(style_source(record))
                row.update(run_metrics(stylizer(still), still, resize(style, *still.shape[:2]),
                                       resolve_weights(record["config"].model, record["config"].weights,
                                                       record["config"].seed)))
            entry["photos"].append(row)
        out.append(entry)
    return out


__all__ = ["flicker_table"]
