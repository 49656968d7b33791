"""What each exposure decision writes, as one review edit: accept or reject a whole exposure, move its in or
out point (trim, or extend over frames the detector missed), split it, mark a brand on screen.

Seconds never need a box: a frame the reviewer says holds the brand but where no box of it is gets a
presence (counted in seconds; size and position unknown), which following may later turn into a box.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from logotag_gui.core.base.records import (
    PRESENCE,
    BBox,
    Candidate,
    DecisionKind,
    FrameRef,
    ReviewState,
)
from logotag_gui.core.review.commands import key, keys
from logotag_gui.core.review.exposures import Exposure
from logotag_gui.core.store.edits import Decision, ReviewEdit

CandidatesAt = Callable[[int], list[Candidate]]


class ExposureEditError(ValueError):
    """An exposure edit that cannot be made (the message says why, and what to do instead)."""


def presence(frame: FrameRef, brand: str) -> Candidate:
    return Candidate(frame, BBox(0.0, 0.0, 0.0, 0.0), brand, 1.0, PRESENCE)


def _of(brand: str, here: CandidatesAt, frame: int) -> list[Candidate]:
    return [c for c in here(frame) if c.final_brand == brand]


def _claim(brand: str, frames: Sequence[int], here: CandidatesAt, frame_ref: Callable[[int], FrameRef]
           ) -> tuple[list[int], list[tuple[Candidate, DecisionKind]]]:
    """The brand is on screen on these frames: accept its pending boxes there, and give each frame that has
    no box of it left (none, or only rejected ones) a presence."""
    accept: list[int] = []
    add: list[tuple[Candidate, DecisionKind]] = []
    for f in frames:
        mine = _of(brand, here, f)
        pending = [c.stored_id for c in mine if c.review.state is ReviewState.PENDING]
        accept += pending
        if not pending and not any(c.review.state is ReviewState.ACCEPTED for c in mine):
            add.append((presence(frame_ref(f), brand), DecisionKind.PRESENT))
    return accept, add


def _edit(accept: list[int], add: list[tuple[Candidate, DecisionKind]], reject: Sequence[int] = (),
          **more) -> ReviewEdit:
    decide = []
    if accept:
        decide.append(Decision(tuple(accept), DecisionKind.ACCEPT))
    if reject:
        decide.append(Decision(tuple(reject), DecisionKind.REJECT))
    return ReviewEdit(decide=tuple(decide), add_decided=tuple(add), **more)


def accept(e: Exposure, here: CandidatesAt, frame_ref: Callable[[int], FrameRef]) -> ReviewEdit:
    """On screen from its in point to its out point: every frame there counts (its gaps too)."""
    if e.live is None:
        raise ExposureEditError("Every frame of this exposure is rejected: mark the brand on screen "
                                f"({key('present')}) or move its in and out points ({keys('set_in', 'set_out')}) onto "
                                "the frames that hold it instead.")
    return _edit(*_claim(e.brand, e.live_span, here, frame_ref))


def reject(e: Exposure, here: CandidatesAt) -> ReviewEdit:
    """Not on screen anywhere in it: every box of the brand in it is rejected."""
    ids = [c.stored_id for f in e.span for c in _of(e.brand, here, f) if c.review.state is not ReviewState.REJECTED]
    return _edit([], [], reject=ids)


def move_edge(e: Exposure, edge: str, to: int, *, sampled: Sequence[int], here: CandidatesAt,
              frame_ref: Callable[[int], FrameRef], splits: Sequence[int]) -> ReviewEdit:
    """Move the in point ("in") or out point ("out") to frame `to` (a sampled frame): trim (reject what falls
    outside) or extend (the brand is on screen on the sampled frames added; a split in the way goes)."""
    if e.live is None:
        raise ExposureEditError("This exposure is rejected: accept it or mark the brand on screen first.")
    first, last = e.live
    passes = to > last if edge == "in" else to < first
    if passes:
        raise ExposureEditError(f"The {edge} point cannot pass the exposure's other end (frames {first}-{last}): "
                                f"reject the exposure instead ({key('reject_exposure')}).")
    trims = first <= to if edge == "in" else to <= last
    if trims:
        cut = [f for f in e.span if (f < to if edge == "in" else f > to)]
        ids = [c.stored_id for f in cut for c in _of(e.brand, here, f) if c.review.state is not ReviewState.REJECTED]
        return _edit([], [], reject=ids)
    lo, hi = (to, first) if edge == "in" else (last, to)
    added = [f for f in sampled if lo <= f <= hi and f not in (first, last)]
    gone = tuple((e.brand, s) for s in splits if lo < s <= hi)
    accept_ids, add = _claim(e.brand, sorted(added), here, frame_ref)
    return _edit(accept_ids, add, remove_splits=gone)


def split(e: Exposure, at: int, *, sampled: Sequence[int]) -> ReviewEdit:
    """A new exposure of the brand starts at the first frame of this one at or after `at`."""
    start = next((f for f in e.span if f >= at), None)
    if start is None or start == e.first:
        raise ExposureEditError("Split inside the exposure: show a frame after its first one, then press "
                                f"{key('split')}.")
    return ReviewEdit(add_splits=((e.brand, start),))


def mark_present(brand: str, frame: int, here: CandidatesAt, frame_ref: Callable[[int], FrameRef]) -> ReviewEdit:
    """The brand is on screen on this frame (its pending boxes there are accepted, else a presence is stored)."""
    accept_ids, add = _claim(brand, [frame], here, frame_ref)
    if not accept_ids and not add:
        raise ExposureEditError(f"{brand} is already counted on frame {frame}.")
    return _edit(accept_ids, add)
