"""Video frame by frame: read and write with imageio and imageio-ffmpeg (its wheel ships ffmpeg), a test clip
made from a still photo (pan and zoom, nothing downloaded), and the flicker measure of a stylised clip.

Flicker (README "Real time") = mean |s_{t+1} − s_t| over consecutive stylised frames, divided by the same
mean over the input frames: 1 means the stylisation changes between frames as much as the video does.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from .files import atomic_path

VIDEO_SUFFIXES = (".mp4", ".m4v", ".mov", ".avi", ".mkv", ".webm")


class VideoError(ValueError):
    """A video that cannot be read or written; the message names the file and what is accepted."""


def is_video(path) -> bool:
    """True when ``path`` has a video file suffix (``VIDEO_SUFFIXES``)."""
    return Path(path).suffix.lower() in VIDEO_SUFFIXES


class VideoReader:
    """Frames of a video file as RGB uint8 arrays, with its frame rate: ``with VideoReader(p) as v: v.fps``.

    Opening reads the header and the first frame, so a file that is not a video fails here, with a
    VideoError naming it, before anything is written anywhere.
    """

    def __init__(self, path):
        import imageio.v2 as imageio

        self.path = Path(path)
        if not self.path.is_file():
            raise VideoError(f"{self.path}: no such video file")
        try:
            self._reader = imageio.get_reader(self.path, format="FFMPEG")
            meta = self._reader.get_meta_data()
            self.fps = float(meta["fps"])
            self._first = np.asarray(self._reader.get_data(0))
        except Exception as e:
            first = str(e).strip().splitlines()[0][:160] if str(e).strip() else type(e).__name__
            raise VideoError(f"{self.path}: not a video ffmpeg can read ({first}); give a video file "
                             f"({', '.join(VIDEO_SUFFIXES)})") from None
        if not self.fps > 0:
            raise VideoError(f"{self.path}: the video has no frame rate (fps={self.fps}); cannot keep its timing")
        self.size = self._first.shape[1], self._first.shape[0]  # (width, height)

    def __iter__(self):
        for frame in self._reader.iter_data():
            yield _rgb(frame)

    def close(self):
        self._reader.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _rgb(frame) -> np.ndarray:
    frame = np.asarray(frame)
    if frame.ndim == 2:
        frame = np.repeat(frame[..., None], 3, -1)
    return np.ascontiguousarray(frame[..., :3].astype(np.uint8))


def read_video(path) -> tuple[list[np.ndarray], float]:
    """All frames (RGB uint8) and the frame rate of a video file."""
    with VideoReader(path) as video:
        return list(video), video.fps


def write_video(path, frames, fps: float) -> Path:
    """Write RGB uint8 frames as an H.264 video at ``fps``, atomically (the file appears only when complete).

    Frames keep their size: even sizes use yuv420p (plays everywhere), odd ones yuv444p.
    Returns the path; raises VideoError if no frame was given.
    """
    import imageio.v2 as imageio

    path = Path(path)
    frames = iter(frames)
    first = next(frames, None)
    if first is None:
        raise VideoError(f"{path}: no frames to write")
    first = _rgb(first)
    h, w = first.shape[:2]
    pix_fmt = "yuv420p" if h % 2 == 0 and w % 2 == 0 else "yuv444p"
    with atomic_path(path, suffix=path.suffix) as tmp:
        writer = imageio.get_writer(tmp, format="FFMPEG", fps=fps, codec="libx264", quality=8,
                                    pixelformat=pix_fmt, macro_block_size=1)
        try:
            writer.append_data(first)
            for frame in frames:
                writer.append_data(_rgb(frame))
        finally:
            writer.close()
    return path


def pan_zoom_frames(image, frames: int = 24, size=(64, 64)) -> list[np.ndarray]:
    """A clip from a still photo: a window that pans left to right while zooming in from 90 % to 60 % of the
    photo's shorter side, each frame resized to ``size`` (height, width). Deterministic; no download."""
    image = np.asarray(image)
    h, w = image.shape[:2]
    out_h, out_w = size
    pil = Image.fromarray(image)
    clip = []
    for i in range(frames):
        t = i / max(1, frames - 1)
        side = min(h, w) * (0.9 - 0.3 * t)
        win_h, win_w = side, min(w, side * out_w / out_h)
        x0, y0 = (w - win_w) * t, (h - win_h) * 0.5
        box = (x0, y0, x0 + win_w, y0 + win_h)
        clip.append(np.asarray(pil.resize((out_w, out_h), Image.BILINEAR, box=box)))
    return clip


def mean_frame_change(frames) -> float:
    """mean over t and all values of |f_{t+1} − f_t| (0..255 scale); 0.0 for fewer than two frames."""
    total, count, previous = 0.0, 0, None
    for frame in frames:
        frame = np.asarray(frame, np.float64)
        if previous is not None:
            total += float(np.abs(frame - previous).sum())
            count += frame.size
        previous = frame
    return total / count if count else 0.0


class FlickerMeter:
    """Streams pairs (input frame, stylised frame) and gives ``flicker``: mean_frame_change(stylised) /
    mean_frame_change(inputs), without keeping the clip in memory."""

    def __init__(self):
        self._sums = np.zeros(2)
        self._count = 0
        self._previous = None
        self.frames = 0

    def update(self, frame, stylised) -> None:
        pair = np.asarray(frame, np.float64), np.asarray(stylised, np.float64)
        self.frames += 1
        if self._previous is not None:
            self._sums += [np.abs(a - b).sum() for a, b in zip(pair, self._previous)]
            self._count += pair[0].size
        self._previous = pair

    @property
    def input_change(self) -> float:
        return self._sums[0] / self._count if self._count else 0.0

    @property
    def output_change(self) -> float:
        return self._sums[1] / self._count if self._count else 0.0

    @property
    def flicker(self) -> float:
        """Output change over input change; nan when the input does not change (a still clip)."""
        return self.output_change / self.input_change if self.input_change > 0 else float("nan")


def flicker(stylised, inputs) -> float:
    """mean_frame_change(stylised) / mean_frame_change(inputs), the frames in the same order."""
    change = mean_frame_change(inputs)
    return mean_frame_change(stylised) / change if change > 0 else float("nan")


def clip_flicker(stylize, photo, frames: int = 16, size=(128, 128)) -> float:
    """``flicker`` of ``stylize`` (an RGB frame -> its stylised frame) on the pan-and-zoom clip of a still
    ``photo`` (``pan_zoom_frames``, ``frames`` frames of ``size`` (height, width)): every training run records
    it for its held-out photo at the defaults, so networks compare on the same clip."""
    clip = pan_zoom_frames(photo, frames=frames, size=size)
    return flicker([stylize(f) for f in clip], clip)


__all__ = ["clip_flicker", "VideoReader", "VideoError", "read_video", "write_video", "pan_zoom_frames", "mean_frame_change",
           "flicker", "FlickerMeter", "is_video", "VIDEO_SUFFIXES"]
