"""Shot cuts: where one shot ends and the next begins, from every decoded frame's small luma thumbnail.

A cut is a frame whose 64x36 luma thumbnail differs from the previous frame's by more than a floor, still does
with brightness and contrast taken out of both (a flash is not a cut), and either its luma histogram changes
too or the difference is many times both the shot's recent ones and the last one. Measured (mean absolute
thumbnail difference; L1 distance of 32-bin histograms of 160x90 frames): inside shots 0.3-8 and up to 0.09 on
the pan clip, 0.3-28.8 and up to 0.2 on the broadcast-like clips (fast pans over busy boards); at cuts 16-104 and
0.12-1.8; with brightness and contrast taken out (standardised thumbnails' mean absolute difference) at least
0.31 at every cut of the three bench clips. The histogram is what keeps a fast pan just after a cut (no history
yet to compare with) from passing as another cut. The last difference is what keeps a whip pan from passing as
one: a camera that starts to whip speeds up over a few frames (0.6, 3.4, 7.1, 10.3, 12.4 on the broadcast-like
clip) where a cut jumps at once; compared with the recent median alone, whip pans were cut (2 false cuts of 17
on the 2-minute broadcast-like clip, 11 of 74 on the 3.2-minute one; none now, every true cut kept:
bench/bench_cuts.py). Following a box stops at a cut; the review groups a brand's frames into exposures that
never span one; learning searches the other shots.
"""

from __future__ import annotations

from collections import deque

import cv2
import numpy as np

CUT_FLOOR = 12.0
CUT_RATIO = 6.0
HIST_CUT = 0.2  # a histogram change this large at a large difference: a cut, whatever the shot's motion
JUMP = 2.0  # a cut's difference is at least this many times the last frame's (2.4 at the least on the bench clips)
SHAPE_CUT = 0.25  # and the pictures differ this much with their brightness and contrast taken out (not a flash)


def thumbnail(gray: np.ndarray) -> np.ndarray:
    return cv2.resize(gray, (64, 36), interpolation=cv2.INTER_AREA).astype(np.int16)


def shape(thumb: np.ndarray) -> np.ndarray:
    """The thumbnail with its brightness and contrast taken out (zero mean, unit spread): a flash or a change of
    exposure leaves it as it was, a new picture does not."""
    values = thumb.astype(np.float32)
    return (values - values.mean()) / max(4.0, float(values.std()))


def histogram(gray: np.ndarray) -> np.ndarray:
    small = cv2.resize(gray, (160, 90), interpolation=cv2.INTER_AREA)
    h = cv2.calcHist([small], [0], None, [32], [0, 256]).ravel()
    return h / max(1.0, float(h.sum()))


class CutDetector:
    """Feed consecutive frames (luma); says when one starts a new shot."""

    def __init__(self, *, floor: float = CUT_FLOOR, ratio: float = CUT_RATIO) -> None:
        self.floor, self.ratio = floor, ratio
        self._previous: np.ndarray | None = None
        self._histogram: np.ndarray | None = None
        self._recent: deque[float] = deque(maxlen=10)
        self._last = 0.0  # the last frame's difference

    def __call__(self, gray: np.ndarray) -> bool:
        thumb, hist = thumbnail(gray), histogram(gray)
        previous, self._previous = self._previous, thumb
        before, self._histogram = self._histogram, hist
        if previous is None or before is None:
            return False
        difference = float(np.abs(previous - thumb).mean())
        changed = float(np.abs(hist - before).sum())
        reshaped = float(np.abs(shape(previous) - shape(thumb)).mean())
        # Many times the shot's usual motion and the last frame's both: a camera that starts to whip pan speeds up
        # over a few frames (0.6, 3.4, 7.1, 10.3, 12.4 on the broadcast-like clip), a cut jumps at once.
        usual = max(float(np.median(self._recent)), self._last) if self._recent else 0.0
        relative = len(self._recent) >= 2 and difference > self.ratio * usual
        jump = difference > JUMP * self._last  # motion blur that thickens as a whip speeds up changes the histogram
        cut = difference > self.floor and reshaped >= SHAPE_CUT and jump and (changed >= HIST_CUT or relative)
        self._last = difference
        if cut:
            self._recent.clear()  # a new shot: its own motion is what is usual now
        else:
            self._recent.append(difference)
        return cut


def shot_cuts(source, *, floor: float = CUT_FLOOR, ratio: float = CUT_RATIO) -> list[int]:
    """The first frame of each shot after the first (the frames where a cut lands); [] for an image folder."""
    if source.info.kind != "video":
        return []
    cut = CutDetector(floor=floor, ratio=ratio)
    return [ref.index for ref, gray in source.luma(start=0, end=source.info.frame_count - 1) if cut(gray)]
