"""Follow one box through a clip: forward and backward from its frame, through every decoded frame.

A box (drawn by a reviewer, or a confident detection) becomes a proposed track with a box on each
sampled frame where the mark stays in view. Between sampled frames, pyramidal Lucas-Kanade optical
flow (OpenCV) carries feature points of the box from frame to frame, and a similarity transform
fitted to them with RANSAC moves and scales the box; points whose forward-backward error is large
are dropped. At each sampled frame the box is re-anchored by matching the seed crop's SIFT
keypoints (as the keypoint backend does) in a window around it; where too few keypoints match, the
crop's normalised cross-correlation must still say the mark is there. Following stops at a shot cut
(the luma thumbnails of two consecutive frames differ too much), when the mark leaves the frame (less than a
quarter of its box in view: till then each box keeps the mark's whole extent past the frame's edge, and the
project's counting rule decides whether the share in view counts),
or when the match fails. `bench/bench_tracking.py` measures this against OpenCV's MIL, KCF and CSRT
trackers on clips with per-frame truth (speed and IoU), which is how the flow tracker was chosen.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Protocol

import cv2
import numpy as np

from logotag_gui.core.base.records import TRACKED, BBox, Candidate, FrameRef, VerdictState
from logotag_gui.core.media.shots import CUT_FLOOR, CUT_RATIO, CutDetector

ProgressFn = Callable[[int, int], None]


@dataclass(frozen=True, slots=True)
class FollowSettings:
    work_width: int = 640  # optical flow runs on luma frames scaled to this width
    max_points: int = 80
    min_points: int = 6
    fb_error_px: float = 1.0  # forward-backward flow error allowed, in work pixels
    # The mark has left when less of its box than this is in the frame. Low: a followed box keeps the mark's whole
    # extent past the frame's edge (stored so, not clipped), and the project's counting rule decides whether the
    # share in view counts (base/counting.py's min_visible), so changing the rule recounts without a new run.
    min_visible: float = 0.25
    # A shot cut (media/shots.py): consecutive thumbnails differ by more than the floor and the ratio.
    cut_floor: float = CUT_FLOOR
    cut_ratio: float = CUT_RATIO
    min_similarity: float = 0.3  # the crop's cross-correlation when keypoints alone cannot re-anchor
    min_inliers: int = 8
    min_search_similarity: float = 0.75  # the cross-correlation a lost box must find its last look again at
    max_seconds: float | None = None  # how far to follow each way (None: until something stops it)
    chunk_frames: int = 64  # backward, frames are decoded forward in chunks of this many and reversed


@dataclass(frozen=True, slots=True)
class FollowedBox:
    frame: FrameRef
    bbox: BBox  # the mark's whole extent: past the frame's edge where the mark leaves it (not clipped)
    score: float  # keypoint inlier share where re-anchored, else the crop's cross-correlation
    anchored: bool

    @property
    def visible(self) -> float:
        """The share of the mark in the frame (1.0 wholly inside): what a counting rule's in-view bar reads."""
        return visible_share(self.bbox, self.frame.width, self.frame.height)


class StopReason(str, Enum):
    """Why following stopped in one direction: callers act on it (a cancel ends a pass), people read `Stop`."""

    NOT_A_CLIP = "images are not a clip"
    NOT_DECODABLE = "seed frame not decodable"
    NO_TEXTURE = "too little texture in the box to follow"
    CANCELLED = "cancelled"
    CUT = "shot cut"
    LOST = "lost"
    TOO_SMALL = "too small"
    LEFT_FRAME = "left the frame"
    NO_MATCH = "no longer matches"
    CLIP_END = "end of clip"


@dataclass(frozen=True, slots=True)
class Stop:
    reason: StopReason
    frame: int | None = None  # where, when it stopped on a frame
    detail: str = ""
    backward: bool = False

    def __str__(self) -> str:
        if self.reason is StopReason.CLIP_END:
            return "start of clip" if self.backward else "end of clip"
        if self.reason is StopReason.CUT:
            return f"shot cut {'after' if self.backward else 'at'} frame {self.frame}"
        where = f" at frame {self.frame}" if self.frame is not None else ""
        return f"{self.reason.value}{where}{f' ({self.detail})' if self.detail else ''}"


@dataclass(slots=True)
class FollowResult:
    boxes: list[FollowedBox] = field(default_factory=list)  # on sampled frames, the seed's frame left out
    stops: dict[str, Stop] = field(default_factory=dict)  # "forward"/"backward" -> why it stopped there
    frames_tracked: int = 0


# ---- trackers: one box from frame to frame ----------------------------------------------------------
class Tracker(Protocol):
    """What following needs of a tracker: start on a box, then say where it went on each next frame."""

    def start(self, gray: np.ndarray, box: BBox) -> bool: ...

    def update(self, gray: np.ndarray) -> BBox | None: ...


class FlowTracker:
    """Lucas-Kanade feature flow with a RANSAC similarity fit: follows translation and scale (zoom).

    Where the flow fails (a semi-transparent mark over a scene moving another way, motion blur), the box's
    last good look is searched for by normalised cross-correlation around where it was, at its size.
    """

    name = "flow"

    def __init__(self, settings: FollowSettings = FollowSettings()) -> None:
        self.s = settings
        self.prev: np.ndarray | None = None
        self.points = np.empty((0, 1, 2), np.float32)
        self.box = BBox(0, 0, 0, 0)
        self.look: np.ndarray | None = None  # the box's content on the last frame it was followed on
        self.searched = 0  # frames in a row found by search alone: the flow must come back soon
        self.velocity = (0.0, 0.0)  # the box's last move by the flow, in work pixels a frame

    def start(self, gray: np.ndarray, box: BBox) -> bool:
        self.prev, self.box = gray, box
        self.points = self._features(gray, box)
        self.look = _crop(gray, box)
        return len(self.points) >= self.s.min_points or self.look is not None

    def _features(self, gray: np.ndarray, box: BBox) -> np.ndarray:
        # The inner part of the box: its rim is mostly background, which may move differently.
        inner = box.expanded(0.85).clipped(gray.shape[1], gray.shape[0])
        x1, y1, x2, y2 = inner.as_int_xyxy()
        mask = np.zeros_like(gray)
        mask[y1:y2, x1:x2] = 255
        # Not on the frame's rim: a point there is about to leave the frame (a mark partly past the edge keeps
        # being followed on what is still in view), and the flow's window is cut short there.
        rim = EDGE_RIM_PX
        mask[:rim, :], mask[-rim:, :], mask[:, :rim], mask[:, -rim:] = 0, 0, 0, 0
        found = cv2.goodFeaturesToTrack(gray, self.s.max_points, 0.01, 3, mask=mask, blockSize=5)
        return found.astype(np.float32) if found is not None else np.empty((0, 1, 2), np.float32)

    def update(self, gray: np.ndarray) -> BBox | None:
        if self.prev is None:
            return None
        moved = self._flow(gray) if len(self.points) >= self.s.min_points else None
        if moved is None:
            self.searched += 1
            moved = self._search(gray) if self.searched <= 3 else None
            if moved is None and self.searched <= 3:
                moved = self._coast(gray)
            if moved is None:
                return None
            self.points = self._features(gray, moved)
        else:
            self.searched = 0
            (ox, oy), (nx, ny) = self.box.center, moved.center
            self.velocity = (nx - ox, ny - oy)
        self.box, self.prev = moved, gray
        look = _crop(gray, moved)
        self.look = look if look is not None else self.look
        return self.box

    def _flow(self, gray: np.ndarray) -> BBox | None:
        lk = {"winSize": (15, 15), "maxLevel": 3,
              "criteria": (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 20, 0.03)}
        ahead, ok1, _ = cv2.calcOpticalFlowPyrLK(self.prev, gray, self.points, None, **lk)
        back, ok2, _ = cv2.calcOpticalFlowPyrLK(gray, self.prev, ahead, None, **lk)
        error = np.linalg.norm((self.points - back).reshape(-1, 2), axis=1)
        good = (ok1.ravel() == 1) & (ok2.ravel() == 1) & (error < self.s.fb_error_px)
        x, y = ahead[:, 0, 0], ahead[:, 0, 1]
        h, w = gray.shape[:2]
        good &= (x >= EDGE_RIM_PX) & (x < w - EDGE_RIM_PX) & (y >= EDGE_RIM_PX) & (y < h - EDGE_RIM_PX)
        if good.sum() < self.s.min_points:
            return None
        src, dst = self.points[good].reshape(-1, 2), ahead[good].reshape(-1, 2)
        m, inliers = cv2.estimateAffinePartial2D(src, dst, method=cv2.RANSAC, ransacReprojThreshold=1.5)
        if m is None or inliers is None or inliers.sum() < self.s.min_points:
            return None
        scale = math.hypot(m[0, 0], m[1, 0])
        if not 0.9 <= scale <= 1.1:  # a zoom is gradual: a jump in scale is a bad fit, not the mark
            return None
        cx, cy = self.box.center
        nx, ny = m @ np.array([cx, cy, 1.0])
        w, h = self.box.w * scale, self.box.h * scale
        kept = dst[inliers.ravel() == 1].reshape(-1, 1, 2).astype(np.float32)
        box = BBox(float(nx - w / 2), float(ny - h / 2), float(w), float(h))
        # Points are lost to occlusion and drift: top them up inside the box as it is now.
        self.points = kept if len(kept) >= self.s.max_points // 2 else self._features(gray, box)
        return box

    def _coast(self, gray: np.ndarray) -> BBox | None:
        """A mark going out past the frame's edge takes its flow points with it: the box carries on at its last
        move for a few frames (what is still in view is checked against the seed crop on each sampled frame)."""
        if visible_share(self.box, gray.shape[1], gray.shape[0]) >= 1.0:
            return None
        dx, dy = self.velocity
        return BBox(self.box.x + dx, self.box.y + dy, self.box.w, self.box.h)

    def _search(self, gray: np.ndarray) -> BBox | None:
        if self.look is None or min(self.look.shape) < 4 or self.look.std() < 1e-3:
            return None
        x1, y1, x2, y2 = self.box.expanded(2.0).clipped(gray.shape[1], gray.shape[0]).as_int_xyxy()
        window = gray[y1:y2, x1:x2]
        if window.shape[0] < self.look.shape[0] or window.shape[1] < self.look.shape[1]:
            return None
        scores = cv2.matchTemplate(window, self.look, cv2.TM_CCOEFF_NORMED)
        _, best, _, (bx, by) = cv2.minMaxLoc(scores)
        if best < self.s.min_search_similarity:
            return None
        return BBox(float(x1 + bx), float(y1 + by), self.box.w, self.box.h)


def _crop(gray: np.ndarray, box: BBox) -> np.ndarray | None:
    x1, y1, x2, y2 = box.clipped(gray.shape[1], gray.shape[0]).as_int_xyxy()
    if x2 - x1 < 4 or y2 - y1 < 4 or (x2 - x1) * (y2 - y1) < 0.8 * box.area:
        return None  # too small, or partly out of view: not a reliable look
    return gray[y1:y2, x1:x2].copy()


TrackerFactory = Callable[[FollowSettings], Tracker]
EDGE_RIM_PX = 8  # flow points this near the frame's edge (work pixels) are dropped: they are leaving it
TRACKERS: dict[str, TrackerFactory] = {"flow": FlowTracker}  # bench/bench_tracking.py compares others


# ---- what stops a track ------------------------------------------------------------------------------
def visible_share(box: BBox, width: int, height: int) -> float:
    """The share of `box` inside a frame of `width` x `height` (the clipped area over the whole)."""
    return box.clipped(width, height).area / box.area if box.area > 0 else 0.0


# ---- re-anchoring with the seed crop ------------------------------------------------------------------
_SIFT = None


def _sift():
    global _SIFT
    if _SIFT is None:
        _SIFT = cv2.SIFT_create(nfeatures=1500, contrastThreshold=0.015)
    return _SIFT


@dataclass(slots=True)
class Template:
    """The mark as first seen: its luma crop, and SIFT keypoints found with its long side at `SIDE` pixels.

    Matching happens at that one scale (the window around the box is resized to match), which keeps
    SIFT's work to a few hundred pixels square whatever the mark's size on screen.
    """

    SIDE = 128
    crop: np.ndarray
    points: np.ndarray  # in crop pixels
    descriptors: np.ndarray | None
    factor: float  # the crop was resized by this much to find them

    @classmethod
    def from_frame(cls, gray: np.ndarray, box: BBox) -> Template:
        x1, y1, x2, y2 = box.clipped(gray.shape[1], gray.shape[0]).as_int_xyxy()
        crop = gray[y1:max(y2, y1 + 1), x1:max(x2, x1 + 1)]
        f = cls.SIDE / max(crop.shape)
        kps, desc = _sift().detectAndCompute(_resized(crop, f), None)
        pts = np.array([k.pt for k in kps], dtype=np.float32) / f if kps else np.empty((0, 2), np.float32)
        return cls(crop, pts, desc, f)


def correlation(template: Template, gray: np.ndarray, box: BBox) -> float:
    """Best normalised cross-correlation of the template, resized to the box, near the box.

    Only the part of the box inside the frame is compared: a mark half out of view is still itself.
    """
    w, h = int(round(box.w)), int(round(box.h))
    if w < 4 or h < 4:
        return 0.0
    resized = cv2.resize(template.crop, (w, h), interpolation=cv2.INTER_AREA)
    # The visible part of the box, in box pixels.
    x0, y0 = int(round(box.x)), int(round(box.y))
    vx1, vy1 = max(0, -x0), max(0, -y0)
    vx2, vy2 = min(w, gray.shape[1] - x0), min(h, gray.shape[0] - y0)
    if vx2 - vx1 < 4 or vy2 - vy1 < 4:
        return 0.0
    part = resized[vy1:vy2, vx1:vx2]
    if part.std() < 1e-3:
        return 0.0
    pad_x, pad_y = max(2, w // 7), max(2, h // 7)  # a little slack for the flow's error
    wx1, wy1 = max(0, x0 + vx1 - pad_x), max(0, y0 + vy1 - pad_y)
    wx2, wy2 = min(gray.shape[1], x0 + vx2 + pad_x), min(gray.shape[0], y0 + vy2 + pad_y)
    window = gray[wy1:wy2, wx1:wx2]
    if window.shape[0] < part.shape[0] or window.shape[1] < part.shape[1]:
        return 0.0
    return float(cv2.matchTemplate(window, part, cv2.TM_CCOEFF_NORMED).max())


def anchor(template: Template, gray: np.ndarray, box: BBox, *, min_inliers: int) -> tuple[BBox, float] | None:
    """Where the template's keypoints put the mark in a window around `box`, or None."""
    if template.descriptors is None or len(template.points) < min_inliers:
        return None
    x1, y1, x2, y2 = box.expanded(2.0).clipped(gray.shape[1], gray.shape[0]).as_int_xyxy()
    window = gray[y1:y2, x1:x2]
    # Bring the window to the scale the template's keypoints were found at.
    scale = min(4.0, max(0.05, template.factor * template.crop.shape[1] / max(1.0, box.w)))
    window = _resized(window, scale)
    kps, desc = _sift().detectAndCompute(window, None)
    if desc is None or len(kps) < min_inliers:
        return None
    matcher = cv2.BFMatcher(cv2.NORM_L2)
    pairs = matcher.knnMatch(template.descriptors, desc, k=2)
    good = [(m.queryIdx, m.trainIdx) for m, *rest in pairs if rest and m.distance < 0.75 * rest[0].distance]
    if len(good) < min_inliers:
        return None
    src = template.points[[q for q, _ in good]]
    dst = np.array([kps[t].pt for _, t in good], dtype=np.float32) / scale + np.array([x1, y1], dtype=np.float32)
    m, inliers = cv2.estimateAffinePartial2D(src, dst, method=cv2.RANSAC, ransacReprojThreshold=3.0)
    if m is None or inliers is None or inliers.sum() < min_inliers:
        return None
    th, tw = template.crop.shape
    corners = np.array([[0, 0], [tw, 0], [tw, th], [0, th]], dtype=np.float32)
    moved = corners @ m[:, :2].T + m[:, 2]
    (ax1, ay1), (ax2, ay2) = moved.min(axis=0), moved.max(axis=0)
    found = BBox(float(ax1), float(ay1), float(ax2 - ax1), float(ay2 - ay1))
    if found.iou(box) < 0.3:  # a fit far from where the flow put it is more likely a look-alike
        return None
    return found, min(1.0, int(inliers.sum()) / 40)


# ---- following ---------------------------------------------------------------------------------------
def _frames(source, *, start: int, stop: int, step: int, chunk: int) -> Iterator[tuple[FrameRef, np.ndarray]]:
    """Luma frames from `start` towards `stop` (inclusive), forward (step 1) or backward (step -1)."""
    if step > 0:
        yield from source.luma(start=start, end=stop)
        return
    high = start
    while high >= stop:
        low = max(stop, high - chunk + 1)
        block = list(source.luma(start=low, end=high))
        yield from reversed(block)
        high = low - 1


def _resized(gray: np.ndarray, factor: float) -> np.ndarray:
    if factor == 1.0:
        return gray
    size = (max(1, int(round(gray.shape[1] * factor))), max(1, int(round(gray.shape[0] * factor))))
    return cv2.resize(gray, size, interpolation=cv2.INTER_CUBIC if factor > 1 else cv2.INTER_AREA)


def follow_box(source, *, frame_index: int, bbox: BBox, sampled: Sequence[int],
               settings: FollowSettings = FollowSettings(), tracker: str | TrackerFactory = "flow",
               on_progress: ProgressFn | None = None, cancel: Callable[[], bool] | None = None) -> FollowResult:
    """Follow `bbox` (source pixels on frame `frame_index`) forward and backward through the clip.

    Returns a box on each frame of `sampled` that the mark reaches, and why each direction stopped.
    An image folder holds no motion to follow: nothing is returned.
    """
    result = FollowResult()
    info = source.info
    if info.kind != "video":
        result.stops = {"forward": Stop(StopReason.NOT_A_CLIP), "backward": Stop(StopReason.NOT_A_CLIP, backward=True)}
        return result
    span = None if settings.max_seconds is None else int(settings.max_seconds * info.fps)
    last = info.frame_count - 1 if span is None else min(info.frame_count - 1, frame_index + span)
    first = 0 if span is None else max(0, frame_index - span)
    following = _Following(source, result, frame_index=frame_index, bbox=bbox, wanted=set(sampled),
                           settings=settings, tracker=tracker, on_progress=on_progress, cancel=cancel,
                           total=max(1, last - first))
    for name, step, stop in (("forward", 1, last), ("backward", -1, first)):
        result.stops[name] = following.one_way(step, stop)
    result.boxes.sort(key=lambda b: b.frame.index)
    return result


@dataclass
class _Following:
    """One box followed both ways from its frame: what the two directions share."""

    source: Any
    result: FollowResult  # both directions add their boxes and frame counts here
    frame_index: int
    bbox: BBox
    wanted: set[int]  # the sampled frames: a box is kept on these
    settings: FollowSettings
    tracker: str | TrackerFactory
    on_progress: ProgressFn | None
    cancel: Callable[[], bool] | None
    total: int  # frames both ways, for progress
    template: Template | None = None  # the mark as the seed frame shows it, made on the first pass

    def one_way(self, step: int, stop: int) -> Stop:
        settings, result, backward = self.settings, self.result, step < 0
        frames = _frames(self.source, start=self.frame_index, stop=stop, step=step, chunk=settings.chunk_frames)
        first = next(frames, None)
        if first is None or first[0].index != self.frame_index:
            return Stop(StopReason.NOT_DECODABLE, backward=backward)
        ref, gray = first
        factor = min(1.0, settings.work_width / ref.width)
        follower = (TRACKERS[self.tracker] if isinstance(self.tracker, str) else self.tracker)(settings)
        if self.template is None:
            self.template = Template.from_frame(gray, self.bbox)
        template = self.template
        if not follower.start(_resized(gray, factor), _scale(self.bbox, factor)):
            return Stop(StopReason.NO_TEXTURE, backward=backward)
        cut = CutDetector(floor=settings.cut_floor, ratio=settings.cut_ratio)
        cut(gray)
        for ref, gray in frames:
            if self.cancel is not None and self.cancel():
                return Stop(StopReason.CANCELLED, backward=backward)
            result.frames_tracked += 1
            if self.on_progress is not None and result.frames_tracked % 25 == 0:
                self.on_progress(min(result.frames_tracked, self.total), self.total)
            if cut(gray):
                return Stop(StopReason.CUT, ref.index, backward=backward)
            moved = follower.update(_resized(gray, factor))
            if moved is None:
                return Stop(StopReason.LOST, ref.index, backward=backward)
            box = _scale(moved, 1 / factor)
            if box.w < 6 or box.h < 6:
                return Stop(StopReason.TOO_SMALL, ref.index, backward=backward)
            if visible_share(box, ref.width, ref.height) < settings.min_visible:
                return Stop(StopReason.LEFT_FRAME, ref.index, backward=backward)
            if ref.index not in self.wanted:
                continue
            found = anchor(template, gray, box, min_inliers=settings.min_inliers)
            if found is not None:
                box, score = found
                follower.start(_resized(gray, factor), _scale(box, factor))
            else:
                score = correlation(template, gray, box)
                if score < settings.min_similarity:
                    return Stop(StopReason.NO_MATCH, ref.index, f"similarity {score:.2f}", backward=backward)
            # The whole extent, past the frame's edge where the mark continues there: its share in view
            # (`visible_share`) is what a counting rule's in-view bar reads.
            result.boxes.append(FollowedBox(ref, box, round(score, 4), found is not None))
        return Stop(StopReason.CLIP_END, backward=backward)


def _scale(box: BBox, factor: float) -> BBox:
    return BBox(box.x * factor, box.y * factor, box.w * factor, box.h * factor)


def confident(c: Candidate, *, min_score: float) -> bool:
    """Worth carrying through the clip: the verifier said yes, or nothing said no and the score is high."""
    if c.verdict.state is VerdictState.YES:
        return True
    return c.verdict.state in (VerdictState.NOT_RUN, VerdictState.UNSURE) and c.score >= min_score


def extend_tracks(source, candidates: Sequence[Candidate], *, sampled: Sequence[int], min_score: float,
                  settings: FollowSettings = FollowSettings(), cancel: Callable[[], bool] | None = None,
                  on_progress: ProgressFn | None = None, only: Collection[int] | None = None) -> list[Candidate]:
    """New candidates (method "tracked") where a confident track's mark stays in view but the detector missed it.

    Each track (of `only`, when given) is followed from its best box; a followed box becomes a candidate of the
    track's brand and id on each sampled frame where no candidate of that brand holds the spot.
    """
    occupied: dict[tuple[int, str], list[BBox]] = {}
    tracks: dict[int, list[Candidate]] = {}
    for c in candidates:
        occupied.setdefault((c.frame.index, c.final_brand), []).append(c.final_bbox)
        if c.track_id is not None:
            tracks.setdefault(c.track_id, []).append(c)
    seeds = [max(members, key=lambda c: c.score) for track, members in tracks.items()
             if (only is None or track in only) and any(confident(c, min_score=min_score) for c in members)]
    added: list[Candidate] = []
    for i, seed in enumerate(sorted(seeds, key=lambda c: (c.frame.index, c.track_id or 0))):
        if on_progress is not None:
            on_progress(i, len(seeds))
        followed = follow_box(source, frame_index=seed.frame.index, bbox=seed.bbox, sampled=sampled,
                              settings=settings, cancel=cancel)
        if any(stop.reason is StopReason.CANCELLED for stop in followed.stops.values()):
            break
        for box in followed.boxes:
            spot = occupied.setdefault((box.frame.index, seed.brand), [])
            if any(b.overlaps(box.bbox) for b in spot):
                continue
            spot.append(box.bbox)
            added.append(Candidate(box.frame, box.bbox, seed.brand, box.score, TRACKED, reference=seed.reference,
                                   track_id=seed.track_id))
    return sorted(added, key=lambda c: (c.frame.index, c.bbox.x))


def fill_between_keyframes(source, candidates: Sequence[Candidate], *, keyframes: Sequence[int],
                           sampled: Sequence[int], min_score: float = 0.0,
                           settings: FollowSettings = FollowSettings(), cancel: Callable[[], bool] | None = None,
                           on_progress: ProgressFn | None = None) -> list[Candidate]:
    """New candidates (method "tracked") on the sampled frames stage 1 did not search, followed from the
    detections on the keyframes: each forward and back until the shot cuts or the mark is lost (a keyframe
    that missed the mark does not stop it), a frame taking the box followed from its nearest keyframe where
    several reach it."""
    keys = set(keyframes)
    seeds = sorted((c for c in candidates if c.frame.index in keys and confident(c, min_score=min_score)),
                   key=lambda c: (c.frame.index, c.bbox.x))
    wanted = [f for f in sampled if f not in keys]
    found: dict[tuple[int, str], list[tuple[int, Candidate]]] = {}
    for n, seed in enumerate(seeds):
        if cancel is not None and cancel():
            break
        if on_progress is not None:
            on_progress(n, len(seeds))
        followed = follow_box(source, frame_index=seed.frame.index, bbox=seed.bbox, sampled=wanted,
                              settings=settings, cancel=cancel)
        for box in followed.boxes:
            made = Candidate(box.frame, box.bbox, seed.brand, box.score, TRACKED, reference=seed.reference,
                             track_id=seed.track_id)
            found.setdefault((box.frame.index, seed.brand), []).append((abs(box.frame.index - seed.frame.index),
                                                                        made))
    out: list[Candidate] = []
    for boxes in found.values():
        kept: list[Candidate] = []
        for _distance, c in sorted(boxes, key=lambda x: x[0]):  # the nearest keyframe's box first
            if not any(k.bbox.overlaps(c.bbox) for k in kept):
                kept.append(c)
        out += kept
    return sorted(out, key=lambda c: (c.frame.index, c.bbox.x))
