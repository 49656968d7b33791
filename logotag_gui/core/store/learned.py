"""What review teaches, as the store keeps it: views of brands (positive) and look-alikes (negative),
with their crops. A mixin of Repository (repository.py), which owns the database sessions."""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import CursorResult, delete, func, select

from logotag_gui.core.base.records import TAUGHT_VIEW_PREFIX, BBox, Polarity, TaughtBy
from logotag_gui.core.store.schema import CandidateRow, ReviewReference, Video

# What a learned candidate's `reference` says: the view of review that found it (learning.py's find_more).
LEARNED_BY = TAUGHT_VIEW_PREFIX  # a learned candidate's reference: this, then the view's id

if TYPE_CHECKING:
    from sqlalchemy.orm import Session


@dataclass(frozen=True, slots=True)
class LearnedReference:
    """A crop that review taught: a view of `brand` (positive) or a look-alike of it (negative)."""

    id: int
    brand: str
    polarity: Polarity
    taught_by: TaughtBy  # the decision that taught it
    candidate_id: int | None
    video_id: int
    frame_index: int
    bbox: BBox
    image_png: bytes


@dataclass(frozen=True, slots=True)
class LearnedView:
    """A learned reference as the Dictionary lists it: where it was taught, and how many boxes it proposed."""

    id: int
    brand: str
    polarity: Polarity
    taught_by: TaughtBy
    video_path: str
    frame_index: int
    bbox: BBox
    reviewer: str
    proposals: int  # stored candidates it found (method "learned"), whatever their review since


@dataclass(frozen=True, slots=True)
class RemovedView:
    """A deleted learned reference, whole: what undoing the delete writes back (with its id, so its proposals
    still name it)."""

    id: int
    brand: str
    polarity: str
    taught_by: str
    candidate_id: int | None
    video_id: int
    frame_index: int
    bbox: BBox
    image: bytes
    reviewer: str
    created_at: datetime | None


class LearnedMixin:
    if TYPE_CHECKING:  # what the mixin uses of Repository (repository.py)
        def _session(self) -> AbstractContextManager[Session]: ...

    # ---- what review teaches: views of brands (positive) and look-alikes (negative) ------------------
    def add_review_reference(self, *, brand: str, polarity: Polarity, candidate_id: int | None, video_id: int,
                             frame_index: int, bbox: BBox, image_png: bytes, reviewer: str,
                             taught_by: TaughtBy = "accept") -> int:
        if polarity not in ("positive", "negative"):
            raise ValueError(f"polarity is positive or negative, not {polarity!r}")
        with self._session() as s:
            row = ReviewReference(brand=brand, polarity=polarity, taught_by=taught_by, candidate_id=candidate_id,
                                  video_id=video_id,
                                  frame_index=frame_index, x=bbox.x, y=bbox.y, w=bbox.w, h=bbox.h,
                                  image=image_png, reviewer=reviewer)
            s.add(row)
            s.flush()
            return row.id

    def review_references(self, *, brand: str | None = None, polarity: str | None = None,
                          candidate_id: int | None = None, ids: Sequence[int] | None = None) -> list[LearnedReference]:
        q = select(ReviewReference).order_by(ReviewReference.id)
        if ids is not None:
            q = q.where(ReviewReference.id.in_(list(ids)))
        if brand is not None:
            q = q.where(ReviewReference.brand == brand)
        if polarity is not None:
            q = q.where(ReviewReference.polarity == polarity)
        if candidate_id is not None:
            q = q.where(ReviewReference.candidate_id == candidate_id)
        with self._session() as s:
            return [LearnedReference(r.id, r.brand, cast(Polarity, r.polarity), cast(TaughtBy, r.taught_by),
                                     r.candidate_id, r.video_id, r.frame_index, BBox(r.x, r.y, r.w, r.h), r.image)
                    for r in s.scalars(q)]

    def review_reference_places(self, *, polarity: str) -> list[tuple[str, int]]:
        """(brand, frame index) of each reference review taught, without its image: for listings."""
        q = (select(ReviewReference.brand, ReviewReference.frame_index)
             .where(ReviewReference.polarity == polarity).order_by(ReviewReference.id))
        with self._session() as s:
            return [(brand, frame) for brand, frame in s.execute(q)]

    def review_reference_ids(self) -> set[int]:
        """The ids of the learned references as stored now (a learner drops those deleted meanwhile)."""
        with self._session() as s:
            return set(s.scalars(select(ReviewReference.id)))

    def learned_views(self) -> list[LearnedView]:
        """Every learned reference, oldest first, with its clip and its proposals (no images: for listings)."""
        refs = ReviewReference
        q = (select(refs.id, refs.brand, refs.polarity, refs.taught_by, Video.path, refs.frame_index, refs.x, refs.y,
                    refs.w, refs.h, refs.reviewer)
             .join(Video, Video.id == refs.video_id).order_by(refs.id))
        counted = (select(CandidateRow.reference, func.count()).where(CandidateRow.reference.like(f"{LEARNED_BY}%"))
                   .group_by(CandidateRow.reference))
        with self._session() as s:
            proposals = {str(ref): int(n) for ref, n in s.execute(counted)}
            return [LearnedView(i, brand, cast(Polarity, pol), cast(TaughtBy, by), path, frame, BBox(x, y, w, h),
                                reviewer or "", proposals.get(f"{LEARNED_BY}{i}", 0))
                    for i, brand, pol, by, path, frame, x, y, w, h, reviewer in s.execute(q)]

    def remove_learned_views(self, ids: Sequence[int]) -> list[RemovedView]:
        """Delete these learned references; returns them whole, for `restore_learned_views` (undo)."""
        with self._session() as s:
            rows = list(s.scalars(select(ReviewReference).where(ReviewReference.id.in_(list(ids)))))
            removed = [RemovedView(r.id, r.brand, r.polarity, r.taught_by, r.candidate_id, r.video_id, r.frame_index,
                                   BBox(r.x, r.y, r.w, r.h), r.image, r.reviewer, r.created_at) for r in rows]
            for r in rows:
                s.delete(r)
            return removed

    def restore_learned_views(self, removed: Sequence[RemovedView]) -> None:
        """Write deleted learned references back, ids kept (a candidate gone meanwhile is no longer named)."""
        with self._session() as s:
            wanted = [v.candidate_id for v in removed if v.candidate_id is not None]
            alive = set(s.scalars(select(CandidateRow.id).where(CandidateRow.id.in_(wanted)))) if wanted else set()
            present = set(s.scalars(select(ReviewReference.id).where(ReviewReference.id.in_([v.id for v in removed]))))
            s.add_all(ReviewReference(id=v.id, brand=v.brand, polarity=v.polarity, taught_by=v.taught_by,
                                      candidate_id=v.candidate_id if v.candidate_id in alive else None,
                                      video_id=v.video_id, frame_index=v.frame_index, x=v.bbox.x, y=v.bbox.y,
                                      w=v.bbox.w, h=v.bbox.h, image=v.image, reviewer=v.reviewer,
                                      **({"created_at": v.created_at} if v.created_at is not None else {}))
                      for v in removed if v.id not in present)

    def delete_review_references(self, *, candidate_ids: Sequence[int]) -> int:
        """Forget what these candidates taught (their decision was undone)."""
        with self._session() as s:
            # A DELETE runs on a CursorResult; Session.execute is typed as returning any Result (sqlalchemy#12913).
            result = cast(CursorResult[Any], s.execute(delete(ReviewReference).where(
                ReviewReference.candidate_id.in_(list(candidate_ids)))))
            return result.rowcount
