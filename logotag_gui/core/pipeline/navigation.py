"""Moving through a clip's candidates in review order: next, previous, next unreviewed, next track.

Pure functions over candidates in review order (records.review_key: frame, then left to right, then id),
so the GUI's keyboard logic is tested headless.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence

from logotag_gui.core.base.records import Candidate, review_key


def review_order(candidates: Sequence[Candidate]) -> list[Candidate]:
    return sorted(candidates, key=review_key)


def _start(ordered: Sequence[Candidate], frame: int, current_id: int | None, step: int) -> int:
    """Where to look first: just past the current candidate, or from the current frame when none is."""
    for i, c in enumerate(ordered):
        if c.id == current_id:
            return i + step
    first_here = bisect.bisect_left([c.frame.index for c in ordered], frame)
    return first_here if step > 0 else first_here - 1


def next_candidate(ordered: Sequence[Candidate], *, frame: int, current_id: int | None, step: int = 1,
                   unreviewed_only: bool = False) -> Candidate | None:
    """The next (step=1) or previous (step=-1) candidate; None at the end of the clip."""
    i = _start(ordered, frame, current_id, step)
    while 0 <= i < len(ordered):
        if not unreviewed_only or not ordered[i].review.decided:
            return ordered[i]
        i += step
    return None


def next_track(ordered: Sequence[Candidate], *, frame: int, current_id: int | None, step: int = 1) -> Candidate | None:
    """The first candidate of the next track (in order of first appearance) after the current one's."""
    firsts: dict[int, Candidate] = {}
    for c in ordered:
        if c.track_id is not None and c.track_id not in firsts:
            firsts[c.track_id] = c
    starts = sorted(firsts.values(), key=review_key)
    current = next((c for c in ordered if c.id == current_id), None)
    if current is not None and current.track_id in firsts:
        key = firsts[current.track_id]
        i = starts.index(key) + step
    else:
        i = bisect.bisect_right([c.frame.index for c in starts], frame) if step > 0 else \
            bisect.bisect_left([c.frame.index for c in starts], frame) - 1
    return starts[i] if 0 <= i < len(starts) else None
