"""What review teaches, as the store keeps it: views of brands (positive) and look-alikes (negative),
with their crops. A mixin of Repository (repository.py), which owns the database sessions."""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import CursorResult, delete, select

from logotag_gui.core.base.records import BBox, Polarity, TaughtBy
from logotag_gui.core.store.schema import ReviewReference

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
                          candidate_id: int | None = None) -> list[LearnedReference]:
        q = select(ReviewReference).order_by(ReviewReference.id)
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

    def delete_review_references(self, *, candidate_ids: Sequence[int]) -> int:
        """Forget what these candidates taught (their decision was undone)."""
        with self._session() as s:
            # A DELETE runs on a CursorResult; Session.execute is typed as returning any Result (sqlalchemy#12913).
            result = cast(CursorResult[Any], s.execute(delete(ReviewReference).where(
                ReviewReference.candidate_id.in_(list(candidate_ids)))))
            return result.rowcount
