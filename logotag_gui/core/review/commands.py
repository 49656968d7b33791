"""Review actions as undoable commands. Each do/undo is one committed transaction.

Undo never deletes history: it writes the earlier state again as a new decision. What review itself
added (a drawn box, the boxes of a followed track) is the one thing undo removes; redo adds it again.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from logotag_gui.core.base.records import BBox, Candidate, DecisionKind, FrameRef, Review

if TYPE_CHECKING:
    from logotag_gui.core.review.session import ReviewSession


def _review_now(s: ReviewSession, candidate_id: int) -> Review:
    c = s.get(candidate_id)
    assert c is not None, f"candidate {candidate_id} is not in the review session"  # commands act on its own
    return c.review


@dataclass(slots=True)
class Decide:
    """One decision for one or several candidates (a whole track: one transaction)."""

    ids: tuple[int, ...]
    kind: DecisionKind
    text: str
    brand: str | None = None
    bbox: BBox | None = None
    before: dict[int, Review] = field(default_factory=dict)

    def do(self, s: ReviewSession) -> list[Candidate]:
        self.before = {i: _review_now(s, i) for i in self.ids}
        changed = s.repo.decide_many(self.ids, self.kind, reviewer=s.reviewer, brand=self.brand, bbox=self.bbox)
        s._replaced(changed)
        return changed

    def undo(self, s: ReviewSession) -> list[Candidate]:
        changed = s.repo.restore(self.before, reviewer=s.reviewer)
        s._replaced(changed)
        return changed


@dataclass(slots=True)
class AddBox:
    """A box the detector missed, drawn by the reviewer; it starts a track of its own."""

    video_id: int
    frame: FrameRef
    bbox: BBox
    brand: str
    track_id: int
    text: str = ""
    added: Candidate | None = None

    def do(self, s: ReviewSession) -> list[Candidate]:
        self.added = s.repo.add_manual_box(video_id=self.video_id, frame=self.frame, bbox=self.bbox, brand=self.brand,
                                           reviewer=s.reviewer, track_id=self.track_id)
        s._inserted([self.added])
        return [self.added]

    def undo(self, s: ReviewSession) -> list[Candidate]:
        if self.added is not None:
            s.repo.delete_candidates([self.added.stored_id])
            s._removed([self.added.stored_id])
        return []


@dataclass(slots=True)
class AddTrack:
    """The boxes that following a box through the clip proposed: new pending "tracked" candidates,
    candidates of the brand already on those spots joined to the track, and the track's own pending
    boxes that the followed box replaces (rejected: they were off the mark)."""

    video_id: int
    track_id: int
    proposed: list[Candidate]
    join: dict[int, int | None]  # candidate id -> its track id before it joined
    replace: tuple[int, ...] = ()
    text: str = ""
    added: list[Candidate] = field(default_factory=list)
    replaced: dict[int, Review] = field(default_factory=dict)

    def do(self, s: ReviewSession) -> list[Candidate]:
        self.added = s.repo.add_candidates(video_id=self.video_id, candidates=self.proposed) if self.proposed else []
        joined = s.repo.set_track(list(self.join), self.track_id) if self.join else []
        self.replaced = {i: _review_now(s, i) for i in self.replace}
        rejected = s.repo.decide_many(self.replace, DecisionKind.REJECT, reviewer=s.reviewer) if self.replace else []
        s._inserted(self.added)
        s._replaced(joined + rejected)
        return self.added + joined

    def undo(self, s: ReviewSession) -> list[Candidate]:
        if self.added:
            s.repo.delete_candidates([c.stored_id for c in self.added])
            s._removed([c.stored_id for c in self.added])
        restored: list[Candidate] = s.repo.restore(self.replaced, reviewer=s.reviewer) if self.replaced else []
        for old in set(self.join.values()):
            restored += s.repo.set_track([i for i, t in self.join.items() if t == old], old)
        s._replaced(restored)
        return restored
