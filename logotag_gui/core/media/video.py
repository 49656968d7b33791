"""Open, sample and seek frames with PyAV, the decoder the GUI also displays with.

The frame index is computed from each decoded frame's presentation time and the stream's average
rate, the same way on both the sampling path and the seek path, so a box made on frame N is drawn
on the frame the viewer calls N.
"""

from __future__ import annotations

import dataclasses
import errno
import math
import re
import warnings
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np
from PIL import Image, UnidentifiedImageError

from logotag_gui.core.base.config import DEFAULT_FPS
from logotag_gui.core.base.errors import InputError
from logotag_gui.core.base.records import Frame, FrameRef
from logotag_gui.core.base.safe_io import symlink_loop_error
from logotag_gui.core.media.shots import CutDetector

VIDEO_SUFFIXES = {".mp4", ".m4v", ".mov", ".mkv", ".webm", ".avi"}
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"}
_FORCE_SEEK = 1 << 62
REENCODE_HINT = "re-encode it, e.g. `ffmpeg -i IN -c:v libx264 -pix_fmt yuv420p OUT.mp4`"


@dataclass(frozen=True, slots=True)
class SourceInfo:
    path: str
    kind: str  # "video" or "images"
    fps: float  # native frame rate; 1.0 for an image folder (one image a "second")
    frame_count: int
    duration_s: float
    width: int
    height: int


def distinct_names(paths: Iterable[str]) -> dict[str, str]:
    """A short name for each clip: its file name, or, where clips share one, as many of its folders as tell them
    apart ("day1/match.mp4", "day2/match.mp4")."""
    paths = list(dict.fromkeys(paths))
    parts = {p: Path(p).parts for p in paths}
    names: dict[str, str] = {}
    for p in paths:
        depth = 1
        while depth < len(parts[p]):
            tail = parts[p][-depth:]
            if not any(q != p and parts[q][-depth:] == tail for q in paths):
                break
            depth += 1
        names[p] = "/".join(parts[p][-depth:])
    return names


def natural_key(name: str) -> list[object]:
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", name)]


# Image types LogoTag does not read as frames: named as skipped, never ignored silently.
OTHER_IMAGE_SUFFIXES = {".gif", ".apng", ".avif", ".heic", ".heif", ".jxl", ".jp2", ".j2k", ".svg", ".ico",
                        ".psd", ".tga", ".pcx", ".ppm", ".pgm", ".pbm", ".dds", ".exr", ".hdr"}


def too_large_reason(name: str, exc: Exception) -> str:
    """Why an image over Pillow's pixel limit (its decompression-bomb guard) is skipped, the limit named."""
    found = re.search(r"\((\d+) pixels\)", str(exc))
    size = f" ({int(found.group(1)):,} pixels)" if found else ""
    return (f"Image '{name}' is too large{size}: LogoTag opens images of up to {Image.MAX_IMAGE_PIXELS:,} pixels "
            "(Pillow's decompression-bomb guard); scale it down, a frame needs no more than about 4K")


def describe_skipped(skipped: dict[str, str], *, shown: int = 10) -> str:
    """One line on an image folder's skipped files: each of the first `shown` with why, then how many more."""
    names = sorted(skipped, key=natural_key)
    listed = "; ".join(skipped[n] for n in names[:shown])
    rest = f"; and {len(names) - shown} more" if len(names) > shown else ""
    return (f"{len(names)} image(s) skipped: {listed}{rest}. Replace or convert them and run again to include "
            "them.")


class ImageFolderSource:
    """A folder of images: each image is one frame, named by its file name."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            entries = list(path.iterdir())
        except OSError as exc:
            raise InputError(f"Cannot read image folder '{path}': {exc.strerror or exc}; "
                             "check its permissions.") from exc
        images = (p for p in entries if p.suffix.lower() in IMAGE_SUFFIXES)
        self.files = sorted(images, key=lambda p: natural_key(p.name))
        if not self.files:
            raise InputError(
                f"Image folder '{path}' holds no images ({', '.join(sorted(IMAGE_SUFFIXES))}); "
                "point LogoTag at a video file or a folder of images."
            )
        # Unreadable images are skipped with a warning (the run records them), never the whole folder.
        self.skipped: dict[str, str] = {}
        first = None
        for index in range(len(self.files)):
            try:
                first = self._load(index)
                break
            except InputError as exc:
                self.skipped[self.files[index].name] = str(exc)
        if first is None:
            raise InputError(f"No image in '{path}' can be read ({len(self.files)} tried; the first: "
                             f"{next(iter(self.skipped.values()))}).")
        h, w = first.shape[:2]
        self.info = SourceInfo(str(path), "images", 1.0, len(self.files), float(len(self.files)), w, h)
        for p in sorted(entries, key=lambda p: natural_key(p.name)):
            if p.suffix.lower() in OTHER_IMAGE_SUFFIXES and not p.name.startswith("."):
                self.skipped[p.name] = (f"'{p.name}' is not a supported image type ({p.suffix}); convert it to "
                                        "PNG or JPEG")

    def _load(self, index: int) -> np.ndarray:
        file = self.files[index]
        try:
            with warnings.catch_warnings():  # between 1x and 2x Pillow's pixel limit it only warns
                warnings.simplefilter("error", Image.DecompressionBombWarning)
                with Image.open(file) as im:
                    return rgb8(im)
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise InputError(too_large_reason(file.name, exc)) from exc
        except (UnidentifiedImageError, OSError, ValueError) as exc:
            raise InputError(f"Cannot read image '{file.name}': {exc}. Remove or replace the file.") from exc

    def frame(self, index: int) -> Frame:
        if not 0 <= index < len(self.files):
            raise IndexError(index)
        image = self._load(index)
        h, w = image.shape[:2]
        return Frame(FrameRef(index, float(index), w, h, self.files[index].name), image)

    def sample(self, *, fps: float | None = None, start: int = 0, end: int | None = None,
               cuts: list[int] | None = None) -> Iterator[Frame]:
        """Every readable image is a frame (the others go to `skipped`); `fps` does not thin an image folder,
        and a folder of photos has no shots (`cuts` stays empty)."""
        stop = len(self.files) if end is None else min(end + 1, len(self.files))
        for index in range(start, stop):
            try:
                yield self.frame(index)
            except InputError as exc:
                self.skipped[self.files[index].name] = str(exc)

    def sampled_indices(self, *, fps: float | None = None, start: int = 0, end: int | None = None) -> list[int]:
        stop = len(self.files) if end is None else min(end + 1, len(self.files))
        return list(range(start, stop))

    def close(self) -> None:
        pass


class VideoSource:
    """A video file decoded with PyAV; sequential reads reuse the decoder, seeks go to keyframes."""

    def __init__(self, path: Path) -> None:
        self.path = path
        if path.stat().st_size == 0:
            raise InputError(f"Video '{path}' is empty (0 bytes); the copy or download probably failed.")
        try:
            self._container = av.open(str(path))
        except PermissionError as exc:  # PyAV's is also an FFmpegError: say what it is
            raise InputError(f"Cannot read video '{path}': permission denied; give your user read access.") from exc
        except av.FFmpegError as exc:
            raise InputError(f"Cannot open video '{path}': {_reason(exc)}. The file is corrupt, truncated or not a "
                             f"video; {REENCODE_HINT}.") from exc
        if not self._container.streams.video:
            self._container.close()
            raise InputError(f"'{path}' has no video stream (audio only?); choose a file with video.")
        self._stream = self._container.streams.video[0]
        self._stream.thread_type = "AUTO"
        rate = self._stream.average_rate or self._stream.guessed_rate or 25
        self._rate = float(rate)
        self._start_pts = self._stream.start_time or 0
        self._tb = float(self._stream.time_base)
        duration = self._duration_s()
        ctx = self._stream.codec_context
        if not ctx.width or not ctx.height:
            raise InputError(f"Video '{path}' reports no frame size; {REENCODE_HINT}.")
        frames = self._stream.frames or int(round(duration * self._rate))
        self.info = SourceInfo(str(path), "video", self._rate, frames, duration, ctx.width, ctx.height)
        self._iter: Iterator[av.VideoFrame] | None = None
        self._last_index = -1
        # Fail now, not in a worker minutes later, when no frame decodes at all.
        first = self._read_next()
        if first is None:
            raise InputError(f"Video '{path}' holds no decodable frames; {REENCODE_HINT}.")
        self._pending: Frame | None = first
        if (first.ref.width, first.ref.height) != (self.info.width, self.info.height):  # shown turned (_upright)
            self.info = dataclasses.replace(self.info, width=first.ref.width, height=first.ref.height)

    def _duration_s(self) -> float:
        if self._stream.duration:
            return float(self._stream.duration * self._stream.time_base)
        if self._container.duration:
            return self._container.duration / av.time_base
        return 0.0

    def _to_frame(self, vf: av.VideoFrame) -> Frame:
        pts = vf.pts if vf.pts is not None else 0
        t = max(0.0, (pts - self._start_pts) * self._tb)
        index = int(round(t * self._rate))
        image = _upright(vf, vf.to_ndarray(format="rgb24"))
        h, w = image.shape[:2]
        return Frame(FrameRef(index, round(t, 6), w, h), image)

    def _read_next(self) -> Frame | None:
        if self._iter is None:
            self._iter = self._container.decode(self._stream)
        try:
            vf = next(self._iter)
        except StopIteration:
            return None
        except av.FFmpegError as exc:
            raise InputError(
                f"Video '{self.path}' stops decoding after frame {self._last_index}: {_reason(exc)}. "
                f"The file is probably truncated; {REENCODE_HINT}."
            ) from exc
        frame = self._to_frame(vf)
        self._last_index = frame.index
        return frame

    def _next(self) -> Frame | None:
        if self._pending is not None:
            frame, self._pending = self._pending, None
            return frame
        return self._read_next()

    def _seek(self, index: int) -> None:
        target_pts = int(self._start_pts + (index / self._rate) / self._tb)
        self._container.seek(target_pts, stream=self._stream, backward=True, any_frame=False)
        self._iter = None
        self._pending = None
        self._last_index = -1

    def frame(self, index: int) -> Frame:
        """The frame with this index (or the closest one before it, where the stream skips frames)."""
        if not 0 <= index < self.info.frame_count:
            raise IndexError(f"frame {index} is outside '{self.path.name}' (0..{self.info.frame_count - 1})")
        # Stepping forward a little: keep decoding rather than seek back to a keyframe.
        ahead = index - self._last_index
        if not (0 < ahead <= max(2 * self._rate, 12)) or (self._pending is not None and self._pending.index > index):
            self._seek(index)
        best: Frame | None = None
        while True:
            frame = self._next()
            if frame is None:
                break
            if frame.index > index:
                # Keep it for the next sequential read.
                self._pending = frame
                break
            best = frame
            if frame.index == index:
                break
        if best is None:
            if self._pending is not None:
                return self._pending
            raise IndexError(f"frame {index} is past the end of '{self.path}'")
        return best

    def luma(self, *, start: int, end: int) -> Iterator[tuple[FrameRef, np.ndarray]]:
        """Every decoded frame from `start` to `end` (inclusive) as its luma plane (H x W uint8).

        For tracking: the Y plane of a YUV frame is the grey image, taken without a colour
        conversion (about twice as fast as decoding to RGB at 1280x720).
        """
        self._seek(max(0, start))
        self._last_index = _FORCE_SEEK  # the container moves under this loop: the next frame() must seek
        for vf in self._container.decode(self._stream):
            pts = vf.pts if vf.pts is not None else 0
            t = max(0.0, (pts - self._start_pts) * self._tb)
            index = int(round(t * self._rate))
            if index < start:
                continue
            if index > end:
                break
            luma = _upright(vf, _luma(vf))
            yield FrameRef(index, round(t, 6), luma.shape[1], luma.shape[0]), luma

    def sampled_indices(self, *, fps: float, start: int = 0, end: int | None = None) -> list[int]:
        """Indices `sample` will yield, computed without decoding (for progress totals)."""
        return sample_indices(frame_count=self.info.frame_count, native_fps=self._rate, fps=fps, start=start, end=end)

    def sample(self, *, fps: float, start: int = 0, end: int | None = None,
               cuts: list[int] | None = None) -> Iterator[Frame]:
        """Frames at `fps` (never more than the native rate), from frame `start` to `end` inclusive.

        Every frame is decoded (the codec needs them), but only the sampled ones are converted to RGB. Where
        `cuts` is a list, the shot cuts among the decoded frames are appended to it as they are found (the
        luma planes cost no conversion)."""
        wanted = iter(self.sampled_indices(fps=fps, start=start, end=end))
        target = next(wanted, None)
        if target is None:
            return
        self._seek(max(0, target))
        self._last_index = _FORCE_SEEK  # the container moves under this loop: the next frame() must seek
        detector = CutDetector() if cuts is not None else None
        last = -1
        try:
            for vf in self._container.decode(self._stream):
                pts = vf.pts if vf.pts is not None else 0
                index = last = int(round(max(0.0, (pts - self._start_pts) * self._tb) * self._rate))
                if detector is not None and detector(_luma(vf)) and cuts is not None:
                    cuts.append(index)
                if index < target:
                    continue
                yield self._to_frame(vf)
                while target is not None and target <= index:
                    target = next(wanted, None)
                if target is None:
                    return
        except av.FFmpegError as exc:
            raise InputError(
                f"Video '{self.path}' stops decoding after frame {last}: {_reason(exc)}. "
                f"The file is probably truncated; {REENCODE_HINT}."
            ) from exc

    def close(self) -> None:
        self._container.close()


Source = VideoSource | ImageFolderSource


def open_source(path: str | Path) -> Source:
    """Open a video file or an image folder, or raise InputError naming the file and the fix."""
    path = Path(path).expanduser()
    try:
        path.stat()
    except PermissionError as exc:
        raise InputError(f"Cannot reach '{path}': permission denied on a folder on its way; "
                         "check its permissions.") from exc
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise symlink_loop_error(path) from exc
        raise InputError(f"'{path}' does not exist; check the path.") from exc
    if path.is_dir():
        return ImageFolderSource(path)
    if path.suffix.lower() not in VIDEO_SUFFIXES:
        raise InputError(
            f"'{path.name}' is not a supported video ({', '.join(sorted(VIDEO_SUFFIXES))}); "
            f"convert it or point LogoTag at a folder of images."
        )
    return VideoSource(path)


def probe(path: str | Path) -> SourceInfo:
    source = open_source(path)
    try:
        return source.info
    finally:
        source.close()


_DEEP_GREY = ("I;16", "I;16L", "I;16B", "I;16N", "I")


def rgb8(im: Image.Image) -> np.ndarray:
    """An image's pixels as 8-bit RGB (H x W x 3 uint8).

    Pillow's convert("RGB") clips 16-bit (and 32-bit) greyscale at 255, so a 16-bit PNG became an all-white
    frame: those are scaled from 0..65535 to 0..255 instead (a 32-bit image whose values leave that range,
    and a float one, from its own lowest to highest value)."""
    if im.mode in _DEEP_GREY or im.mode == "F":
        grey = np.asarray(im).astype(np.float64)
        finite = grey[np.isfinite(grey)]
        low, high = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 0.0)
        if im.mode == "F" and low >= 0.0 and high <= 1.0:
            low, high = 0.0, 1.0  # a float image in the usual 0..1 range
        elif im.mode.startswith("I;16") or (im.mode == "I" and low >= 0.0 and high <= 65535.0):
            low, high = 0.0, 65535.0
        scaled = (np.nan_to_num(grey, nan=low) - low) * (255.0 / max(high - low, 1e-12))
        grey8 = np.clip(np.rint(scaled), 0, 255).astype(np.uint8)
        return np.repeat(grey8[:, :, None], 3, axis=2)
    return np.asarray(im.convert("RGB"))


def _upright(vf: av.VideoFrame, image: np.ndarray) -> np.ndarray:
    """The frame as a player shows it: a phone clip stores its frames sideways with a display matrix (the old
    `rotate=90` tag); its rotation (counter-clockwise degrees, PyAV 13 and later) is applied in quarter turns."""
    turns = round(getattr(vf, "rotation", 0) / 90) % 4
    return np.ascontiguousarray(np.rot90(image, k=turns)) if turns else image


def _luma(vf: av.VideoFrame) -> np.ndarray:
    if vf.format.name in ("yuv420p", "yuvj420p", "yuv422p", "yuvj422p", "yuv444p", "yuvj444p", "nv12", "gray"):
        plane = vf.planes[0]
        return np.frombuffer(plane, np.uint8).reshape(plane.height, plane.line_size)[:, :plane.width].copy()
    return vf.to_ndarray(format="gray")


def _reason(exc: Exception) -> str:
    text = getattr(exc, "strerror", None) or str(exc)
    return text.rstrip(".")


def sample_indices(*, frame_count: int, native_fps: float, fps: float, start: int = 0,
                   end: int | None = None) -> list[int]:
    """The frame indices sampled at `fps` (the same grid VideoSource.sample decodes).

    A rate that is not a positive number is an InputError: a negative one made the step negative and this
    loop endless (`--fps -1`). The step is at least one frame, so the loop ends within `frame_count` turns."""
    if not isinstance(fps, (int, float)) or not math.isfinite(fps) or fps <= 0:
        raise InputError(f"Frames per second must be a positive number, not {fps}; e.g. --fps {DEFAULT_FPS:g}.")
    if not isinstance(native_fps, (int, float)) or not math.isfinite(native_fps) or native_fps <= 0:
        raise InputError(f"The clip's frame rate is {native_fps}, not a positive number: it cannot be sampled; "
                         f"{REENCODE_HINT}.")
    start = max(0, start)
    last = frame_count - 1 if end is None else min(end, frame_count - 1)
    step = max(1.0, native_fps / fps)
    out: list[int] = []
    k = math.ceil(start / step - 1e-9)
    while True:
        index = int(math.floor(k * step + 1e-6))
        if index > last:
            return out
        out.append(index)
        k += 1
