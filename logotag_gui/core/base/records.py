"""Typed records shared by every stage.

One record type (Candidate) flows from proposal to verification to the store; stages return
updated copies with ``dataclasses.replace`` rather than mutating. Frames (index + timestamp) are
the truth. A track id is an identity reserved from the clip (the store hands them out): review
relies on it (one key decides a track; undo gives boxes their track back), so it is never recomputed.
Exposures (a brand's continuous appearance) are derived from the frames, as review groups them.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import Any, Final, Literal

import numpy as np


class VerdictState(str, Enum):
    YES = "yes"
    NO = "no"
    # The model answered but not in the strict JSON we asked for: kept with its raw text, never
    # silently turned into "no".
    UNPARSABLE = "unparsable"
    # A "yes" under the confidence threshold.
    UNSURE = "unsure"
    NOT_RUN = "not_run"


class ReviewState(str, Enum):
    PENDING = "pending"
    ACCEPTED = "accepted"
    REJECTED = "rejected"


class ExposureState(str, Enum):
    """What an exposure (a brand's continuous appearance) rests on: the model's word, or the reviewer's."""

    PENDING_YES = "pending_yes"  # not reviewed; the model counts it
    PENDING_UNSURE = "pending_unsure"
    PENDING_NO = "pending_no"  # not reviewed; the model does not count it
    PARTLY = "partly"  # some of its frames decided, some not
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    TRIMMED = "trimmed"  # decided: part accepted, part rejected

    @property
    def pending(self) -> bool:
        return self in (ExposureState.PENDING_YES, ExposureState.PENDING_UNSURE, ExposureState.PENDING_NO,
                        ExposureState.PARTLY)


class DecisionKind(str, Enum):
    ACCEPT = "accept"
    REJECT = "reject"
    RELABEL = "relabel"
    BOX_EDIT = "box_edit"
    ADDED = "added"
    # Undo of the first decision on a candidate: back to pending, history kept.
    CLEAR = "clear"
    # The reviewer said "this brand is on screen here" (a presence, with or without a box), or moved an
    # exposure's in or out point over this frame.
    PRESENT = "present"


# Which proposer made a candidate, where review made it: a box drawn by hand; a brand marked on screen
# without a box (counted in seconds; its size and position are unknown); a box found by following another
# through the clip (review's follow, or the run's own past a confident track).
ReviewMethod = Literal["manual", "presence", "tracked"]
MANUAL: Final[ReviewMethod] = "manual"
PRESENCE: Final[ReviewMethod] = "presence"
TRACKED: Final[ReviewMethod] = "tracked"

# Where a brand's reference comes from: its file in the logo folder, a crop review added to the dictionary, or a
# view review taught (kept in the project, not a file: the app lists it, and never opens it as a file).
ReferenceOrigin = Literal["folder", "review", "review view"]
REVIEW_VIEW: Final[ReferenceOrigin] = "review view"
# A candidate found with a view review taught names that view as its reference: this prefix, then the view's id.
TAUGHT_VIEW_PREFIX: Final = "review:"


@dataclass(frozen=True, slots=True)
class BBox:
    """Axis-aligned box in source-frame pixels, [x, y, w, h] like the seed's exports."""

    x: float
    y: float
    w: float
    h: float

    @property
    def x2(self) -> float:
        return self.x + self.w

    @property
    def y2(self) -> float:
        return self.y + self.h

    @property
    def area(self) -> float:
        return max(0.0, self.w) * max(0.0, self.h)

    @property
    def center(self) -> tuple[float, float]:
        return self.x + self.w / 2, self.y + self.h / 2

    def intersection(self, other: BBox) -> float:
        """Area the two boxes share."""
        ix = max(0.0, min(self.x2, other.x2) - max(self.x, other.x))
        iy = max(0.0, min(self.y2, other.y2) - max(self.y, other.y))
        return ix * iy

    def around_name(self) -> BBox:
        """Where the mark that holds or sits beside this written name may be: grown by max(w, 3h) each way
        (the mark may extend well beyond a short, flat word)."""
        k = max(self.w, 3 * self.h)
        return BBox(self.x - k, self.y - k, self.w + 2 * k, self.h + 2 * k)

    def overlaps(self, other: BBox, *, iou: float = 0.3, inside: float = 0.7) -> bool:
        """The same object twice: enough IoU, or the smaller box mostly inside the other (a word inside its mark)."""
        if self.iou(other) >= iou:
            return True
        smaller = min(self.area, other.area)
        return smaller > 0 and self.intersection(other) / smaller >= inside

    def iou(self, other: BBox) -> float:
        inter = self.intersection(other)
        union = self.area + other.area - inter
        return inter / union if union > 0 else 0.0

    def contains_point(self, px: float, py: float) -> bool:
        return self.x <= px <= self.x2 and self.y <= py <= self.y2

    def clipped(self, width: int, height: int) -> BBox:
        x1, y1 = min(max(self.x, 0.0), width), min(max(self.y, 0.0), height)
        x2, y2 = min(max(self.x2, 0.0), width), min(max(self.y2, 0.0), height)
        return BBox(x1, y1, x2 - x1, y2 - y1)

    def expanded(self, factor: float) -> BBox:
        cx, cy = self.center
        return BBox(cx - self.w * factor / 2, cy - self.h * factor / 2, self.w * factor, self.h * factor)

    def as_list(self) -> list[float]:
        return [round(self.x, 2), round(self.y, 2), round(self.w, 2), round(self.h, 2)]

    def as_int_xyxy(self) -> tuple[int, int, int, int]:
        return int(round(self.x)), int(round(self.y)), int(round(self.x2)), int(round(self.y2))


@dataclass(frozen=True, slots=True)
class FrameRef:
    """Where a frame sits in its source: the decoder's frame index and timestamp are the truth."""

    index: int
    t: float
    width: int
    height: int
    # For an image-folder input: the image's file name (exports use it as `frame`).
    name: str | None = None


@dataclass(frozen=True, slots=True, eq=False)
class Frame:
    ref: FrameRef
    image: np.ndarray  # RGB uint8, H x W x 3

    @property
    def index(self) -> int:
        return self.ref.index

    def crop(self, box: BBox) -> np.ndarray:
        x1, y1, x2, y2 = box.clipped(self.ref.width, self.ref.height).as_int_xyxy()
        return self.image[y1:max(y2, y1 + 1), x1:max(x2, x1 + 1)]


@dataclass(frozen=True, slots=True)
class Verdict:
    state: VerdictState
    confidence: float | None = None
    rationale: str = ""
    raw: str = ""
    method: str = "none"
    # True when this verdict was made on other frames of the same track and carried here.
    from_track: bool = False


NOT_VERIFIED = Verdict(VerdictState.NOT_RUN)


@dataclass(frozen=True, slots=True)
class Review:
    """The reviewer's current word on a candidate (the latest decision); brand/bbox set when corrected."""

    state: ReviewState = ReviewState.PENDING
    brand: str | None = None
    bbox: BBox | None = None
    reviewer: str = ""
    decided_at: datetime | None = None
    kind: DecisionKind | None = None

    @property
    def decided(self) -> bool:
        return self.state is not ReviewState.PENDING


PENDING = Review()


@dataclass(frozen=True, slots=True)
class Candidate:
    """One proposed box on one frame; the unit that is verified, stored, reviewed and exported."""

    frame: FrameRef
    bbox: BBox
    brand: str
    score: float  # retrieval score: cosine for siglip2, inlier share for keypoints, OCR confidence
    method: str  # which proposer made it: siglip2, keypoints, ocr, shape, manual, tracked, learned; or several
    #              that found the same box, joined (joined_method): "keypoints+ocr"
    margin: float = 0.0  # top1 - top2 score over brands, where the proposer has one
    reference: str | None = None  # reference file that matched best
    track_id: int | None = None
    verdict: Verdict = NOT_VERIFIED
    id: int | None = None  # database id once stored
    review: Review = PENDING
    # What review taught before anyone decided it: "like_rejected" (it looks more like a box a
    # reviewer rejected than like its brand's references).
    hint: str | None = None

    @property
    def stored_id(self) -> int:
        """The database id of a candidate read from the store (review works on those only)."""
        if self.id is None:
            raise ValueError(f"the {self.method} candidate on frame {self.frame.index} has not been stored")
        return self.id

    @property
    def final_brand(self) -> str:
        return self.review.brand or self.brand

    @property
    def final_bbox(self) -> BBox:
        return self.review.bbox or self.bbox

    @property
    def has_box(self) -> bool:
        """False for a presence: the brand is on screen, but where is not known."""
        return self.method != PRESENCE

    def with_(self, **changes: Any) -> Candidate:
        return dataclasses.replace(self, **changes)


# The review order (frame, then left to right, then id): the session, navigation and the store's queries
# all sort candidates by it.
REVIEW_ORDER_FIELDS = ("frame_index", "x", "id")


def review_key(c: Candidate) -> tuple[int, float, int]:
    return (c.frame.index, c.bbox.x, c.id or 0)


# Closed vocabularies that are stored or shown as plain text: typed, so a misspelt one is a type error.
Stage = Literal["notice", "loading models", "indexing logos", "frames", "following tracks"]
RunStatus = Literal["running", "done", "cancelled", "failed", "interrupted", "superseded"]
PartStatus = Literal["pending", "running", "done", "cancelled", "failed", "interrupted"]
Polarity = Literal["positive", "negative"]
# The decision that taught a learned reference: a decision kind's value, or "followed" (a followed box accepted).
TaughtBy = Literal["accept", "reject", "relabel", "box_edit", "added", "present", "followed"]

METHOD_JOIN = "+"  # a box found by several proposers: their names joined, one string in the store and exports


def joined_method(*sources: str) -> str:
    """One method for a box that several proposers found ("keypoints" and "ocr": "keypoints+ocr")."""
    return METHOD_JOIN.join(sources)


def method_sources(method: str) -> tuple[str, ...]:
    """The proposers a method names ("keypoints+ocr": keypoints and ocr)."""
    return tuple(method.split(METHOD_JOIN))


@dataclass(frozen=True, slots=True)
class Progress:
    """What long work reports: stage, how far, and an ETA the GUI and CLI show as they are."""

    stage: Stage
    done: int
    total: int
    eta_s: float | None = None
    message: str = ""
    clip: str = ""  # which input, when several run in a queue
