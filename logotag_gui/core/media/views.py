"""Views: the unit a reviewer looks at. A view is a stretch of one shot over which the picture stays the same,
so one look at its sharpest frame says which brands are on screen on all of its sampled frames.

A new view starts at every shot cut (shots.py) and wherever the camera has moved by more than `share` of the
frame since the view's first frame, measured by registration, not by time: phase correlation of small grey
thumbnails between consecutive sampled frames gives the camera's shift, which is summed from the view's start.
Where registration fails (a zoom, a whip pan, a new picture: the correlation peak is weak), a new view starts
too. An image folder is a set of photos: each image is a view of its own.

Pure functions of the source's pixels; the review session stores the views of a clip once (store/coverage.py).
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

import cv2
import numpy as np

# The camera moved by half the frame: what is on screen is no longer what was looked at. Chosen on the dev clips
# (docs/benchmarks.md): a quarter gave 16 and 36 views on the pan and broadcast-like clips, half 14 and 28, with
# the oracle's sweep exact (0% error) either way.
MOVE_SHARE = 0.5
MIN_RESPONSE = 0.0  # no phase-correlation peak at all: the picture changed (a zoom, a whip pan), not just moved
THUMB = (160, 90)  # registration size: a 1280x720 frame at an eighth
SHARP = (320, 180)  # where sharpness is measured (variance of the Laplacian)


@dataclass(frozen=True, slots=True)
class View:
    first: int  # its first and last sampled frame
    last: int
    key: int  # its sharpest sampled frame: what the sweep shows

    def contains(self, frame: int) -> bool:
        return self.first <= frame <= self.last

    def frames(self, sampled: Sequence[int]) -> list[int]:
        lo, hi = bisect.bisect_left(sampled, self.first), bisect.bisect_right(sampled, self.last)
        return list(sampled[lo:hi])

    def as_list(self) -> list[int]:
        return [self.first, self.last, self.key]


def sharpness(gray: np.ndarray) -> float:
    small = cv2.resize(gray, SHARP, interpolation=cv2.INTER_AREA)
    return float(cv2.Laplacian(small, cv2.CV_32F).var())


class ViewSplitter:
    """Feed the sampled frames' luma in order; says where a new view starts."""

    def __init__(self, *, share: float = MOVE_SHARE, min_response: float | None = None) -> None:
        self.share = share
        self.min_response = MIN_RESPONSE if min_response is None else min_response
        self._previous: np.ndarray | None = None
        self._window = cv2.createHanningWindow(THUMB, cv2.CV_32F)
        self._offset = np.zeros(2)  # the camera's shift since the view began, in thumbnail pixels

    def restart(self) -> None:
        """The shift counts from the last frame fed (a new group began there for another reason)."""
        self._offset[:] = 0

    def __call__(self, gray: np.ndarray, *, cut: bool = False) -> bool:
        thumb = cv2.resize(gray, THUMB, interpolation=cv2.INTER_AREA).astype(np.float32)
        previous, self._previous = self._previous, thumb
        if previous is None:
            return True
        if cut:
            self._offset[:] = 0
            return True
        (dx, dy), response = cv2.phaseCorrelate(previous, thumb, self._window)
        self._offset += (dx, dy)
        moved = abs(self._offset[0]) > self.share * THUMB[0] or abs(self._offset[1]) > self.share * THUMB[1]
        if moved or response < self.min_response:
            self._offset[:] = 0
            return True
        return False


def split_views(frames: Iterable[tuple[int, np.ndarray]], *, cuts: Sequence[int], share: float = MOVE_SHARE
                ) -> list[View]:
    """Views of sampled frames given as (index, luma) in order; `cuts`: the first frame of each shot after the
    first (a cut between two sampled frames starts a view)."""
    splitter = ViewSplitter(share=share)
    cut_list = sorted(cuts)
    runs: list[list[tuple[int, float]]] = []
    last: int | None = None
    for index, gray in frames:
        cut = last is not None and bisect.bisect_right(cut_list, last) != bisect.bisect_right(cut_list, index)
        if splitter(gray, cut=cut) or not runs:
            runs.append([])
        runs[-1].append((index, sharpness(gray)))
        last = index
    return [View(run[0][0], run[-1][0], max(run, key=lambda x: (x[1], -x[0]))[0]) for run in runs]


def sampled_luma(source, sampled: Sequence[int]) -> Iterator[tuple[int, np.ndarray]]:
    """The luma of each sampled frame, decoded in one pass (no colour conversion)."""
    wanted = set(sampled)
    if not sampled:
        return
    for ref, gray in source.luma(start=sampled[0], end=sampled[-1]):
        if ref.index in wanted:
            yield ref.index, gray


def find_views(source, *, sampled: Sequence[int], cuts: Sequence[int], share: float = MOVE_SHARE) -> list[View]:
    """The clip's views on its review grid. An image folder: one view per image."""
    if source.info.kind != "video":
        return [View(f, f, f) for f in sampled]
    return split_views(sampled_luma(source, sampled), cuts=cuts, share=share)


def view_of(views: Sequence[View], frame: int) -> View | None:
    """The view holding `frame` (views are in time order), or None."""
    i = bisect.bisect_right([v.first for v in views], frame) - 1
    return views[i] if i >= 0 and views[i].contains(frame) else None
