"""Keyframes: stage 1 on one sampled frame in k, the sharpest of each run of them, and following for the rest.

Detection costs about a second a frame on a laptop; following a box costs a few milliseconds a frame. So a
run may detect on keyframes only and follow every detection to the sampled frames between (forward and
back, until the shot cuts or the mark is lost: `follow.extend_tracks`). The sampled frames are taken in
groups of `k` that never span a shot cut (a cut starts a new group, so each shot's first frames are
searched), and each group's keyframe is its sharpest frame (the variance of the Laplacian of its small
luma image), so detection sees the clearest view and following carries it into the blurred ones.

With `move_share`, a group also ends where the camera has moved that share of the frame since the group began
(registration, as the review's views are cut: media/views.py), so what entered the frame is searched again
without waiting for `k` frames; a still camera keeps its group up to `k`.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Iterator, Sequence

import cv2
import numpy as np

from logotag_gui.core.base.records import Frame
from logotag_gui.core.media.views import ViewSplitter


def sharpness(frame: Frame) -> float:
    """The variance of the Laplacian of the frame's 320-pixel-wide grey image: high when in focus, low when
    blurred by motion or focus."""
    gray = cv2.cvtColor(frame.image, cv2.COLOR_RGB2GRAY)
    width = 320
    small = cv2.resize(gray, (width, max(1, gray.shape[0] * width // max(1, gray.shape[1]))),
                       interpolation=cv2.INTER_AREA)
    return float(cv2.Laplacian(small, cv2.CV_32F).var())


def groups(frames: Iterable[Frame], *, k: int, cuts: Sequence[int], move_share: float = 0.0
           ) -> Iterator[list[Frame]]:
    """Consecutive sampled frames in groups of at most `k`, a new group at every shot cut and, with
    `move_share`, where the camera has moved that share of the frame. `cuts` may grow while this runs (the
    decoder appends the cuts it passes, ahead of the frames it yields)."""
    moved = _MoveWatch(move_share) if move_share > 0 and k > 1 else None
    group: list[Frame] = []
    for frame in frames:
        cut = bool(group) and _cut_between(cuts, group[-1].index, frame.index)
        new_view = moved is not None and moved(frame, cut=cut)
        if group and (len(group) >= k or cut or new_view):
            yield group
            group = []
            if moved is not None and not new_view and not cut:
                moved.restart()  # the camera's shift counts from the new group's first frame
        group.append(frame)
    if group:
        yield group


class _MoveWatch:
    """Whether the camera has moved `share` of the frame since the current group began (media/views.py)."""

    def __init__(self, share: float) -> None:
        self.splitter = ViewSplitter(share=share)

    def __call__(self, frame: Frame, *, cut: bool) -> bool:
        gray = cv2.cvtColor(frame.image, cv2.COLOR_RGB2GRAY)
        return self.splitter(gray, cut=cut)

    def restart(self) -> None:
        self.splitter.restart()


def _cut_between(cuts: Sequence[int], before: int, after: int) -> bool:
    ordered = sorted(cuts)
    return bisect.bisect_right(ordered, before) != bisect.bisect_right(ordered, after)


def keyframe(group: Sequence[Frame]) -> Frame:
    """The group's sharpest frame (the first of equals)."""
    if len(group) == 1:
        return group[0]
    scores = [sharpness(f) for f in group]
    return group[int(np.argmax(scores))]
