"""Applying a trained transform network to images, folders of images and videos (frame by frame).

Every input is checked (readable image, readable video) before the first output is written, and each output
is written atomically, so bad input never costs an earlier result.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from .images import SAMPLES, ImageError, load_image, resize_longest, save_image
from .photos import PHOTO_SUFFIXES
from .transform import Stylizer, load_transform
from .video import FlickerMeter, VideoReader, is_video, write_video

IMAGE_SUFFIXES = PHOTO_SUFFIXES


@dataclass
class Job:
    kind: str  # "image" | "video"
    source: Path
    target: Path


def plan(inputs, output) -> list[Job]:
    """One job per input file (a folder stands for its images and videos, sorted by name; a bundled sample name
    such as ``tubingen`` for that image).

    With a single input file and an ``output`` ending like that file's kind (``.png``, ``.mp4``, ...),
    the output is that file; otherwise ``output`` is a folder and each result is ``<stem>.png`` or
    ``<stem>.mp4``. Raises ValueError naming a missing input, an unknown kind or two inputs with one name.
    """
    files, names = [], {}
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            found = sorted(p for p in path.iterdir()
                           if p.is_file() and (is_video(p) or p.suffix.lower() in IMAGE_SUFFIXES))
            if not found:
                raise ImageError(f"{path}: the folder holds no images ({', '.join(IMAGE_SUFFIXES)}) or videos")
            files += found
        elif not path.exists() and str(item) in SAMPLES:  # a bundled sample, e.g. tubingen
            files.append(path.with_suffix(".png"))
            names[files[-1]] = str(item)
        elif not path.exists():
            raise ImageError(f"{path}: no such file or folder; give images, folders, videos or a bundled sample "
                             f"({', '.join(SAMPLES)})")
        else:
            files.append(path)
    output = Path(output)
    kinds = ["video" if is_video(p) else "image" for p in files]
    single = len(files) == 1 and not output.is_dir() and (
        (kinds[0] == "video" and is_video(output)) or (kinds[0] == "image" and output.suffix.lower() in IMAGE_SUFFIXES))
    sources = [Path(names.get(p, p)) for p in files]  # a sample is read by its name
    if single:
        return [Job(kinds[0], sources[0], output)]
    jobs = [Job(k, s, output / f"{p.stem}{'.mp4' if k == 'video' else '.png'}")
            for k, s, p in zip(kinds, sources, files)]
    targets = [j.target for j in jobs]
    clash = next((t for t in targets if targets.count(t) > 1), None)
    if clash is not None:
        raise ValueError(f"two inputs would both be written to {clash}; rename one or apply them separately")
    return jobs


def check(jobs) -> None:
    """Read every input once (images fully, videos' header and first frame): bad input fails here."""
    for job in jobs:
        if job.kind == "video":
            VideoReader(job.source).close()
        else:
            load_image(job.source)


def apply_model(model, inputs, output, size: int | None = None, progress=True, precision: str = "auto") -> list[dict]:
    """Stylise ``inputs`` (image files, folders, videos) with ``model`` (a ``.keras`` file, a training run
    folder or a loaded model) into ``output``. ``size``: longest side in pixels (default: as the input).
    ``precision``: "float32", "bfloat16" or "auto" (bfloat16 where the CPU has it natively; transform.py).

    Returns one dict per input: source, target, kind, frames, fps, seconds, and for videos ``flicker``
    (nststudy.video: output frame change over input frame change).
    """
    net = load_transform(model) if isinstance(model, (str, Path)) else model
    jobs = plan(inputs, output)
    check(jobs)
    stylizer = Stylizer(net, precision)
    report = []
    for job in jobs:
        start = time.perf_counter()
        if job.kind == "image":
            image = _sized(load_image(job.source), size)
            save_image(stylizer(image), job.target)
            report.append({"kind": "image", "source": str(job.source), "target": str(job.target), "frames": 1,
                           "seconds": round(time.perf_counter() - start, 3), "precision": stylizer.precision})
            continue
        meter = FlickerMeter()
        with VideoReader(job.source) as video:
            fps = video.fps

            def frames():
                for frame in _bar(video, job.source.name, progress):
                    frame = _sized(frame, size)
                    out = stylizer(frame)
                    meter.update(frame, out)
                    yield out

            write_video(job.target, frames(), fps)
        report.append({"kind": "video", "source": str(job.source), "target": str(job.target),
                       "frames": meter.frames, "fps": fps, "flicker": round(meter.flicker, 4),
                       "input_change": round(meter.input_change, 4), "output_change": round(meter.output_change, 4),
                       "seconds": round(time.perf_counter() - start, 3), "precision": stylizer.precision})
    return report


def _sized(image, size):
    return resize_longest(image, size) if size and max(image.shape[:2]) != size else image


def _bar(iterable, desc, enabled):
    if not enabled:
        return iterable
    from tqdm.auto import tqdm

    return tqdm(iterable, desc=desc, unit="frame", leave=False)


__all__ = ["apply_model", "plan", "check", "Job"]
