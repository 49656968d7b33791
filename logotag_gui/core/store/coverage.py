"""Coverage as the store keeps it: a clip's views on its review grid, and the views reviewers looked at and said
are complete. A mixin of Repository (repository.py), which owns the database sessions; a look is written by
`apply_edit` (edits.py) with the rest of its review step, so it is undone as one.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import select

from logotag_gui.core.base.errors import StoreError
from logotag_gui.core.media.views import View
from logotag_gui.core.store.schema import Video, ViewLook

if TYPE_CHECKING:
    from sqlalchemy.orm import Session


@dataclass(frozen=True, slots=True)
class StoredViews:
    fps: float  # the review grid they were found on
    share: float  # how far the camera moved before a new view started
    views: tuple[View, ...]


class CoverageMixin:
    if TYPE_CHECKING:  # what the mixin uses of Repository (repository.py)
        where: str

        def _session(self) -> AbstractContextManager[Session]: ...

    def clip_views(self, video_id: int) -> StoredViews | None:
        """The clip's views as last found, or None where nobody has found them yet."""
        with self._session() as s:
            value = s.scalar(select(Video.views).where(Video.id == video_id))
        if not value:
            return None
        return StoredViews(float(value["fps"]), float(value["share"]),
                           tuple(View(int(a), int(b), int(k)) for a, b, k in value["views"]))

    def set_clip_views(self, video_id: int, *, fps: float, share: float, views: list[View]) -> None:
        with self._session() as s:
            row = s.get(Video, video_id, with_for_update=True)
            if row is None:
                raise StoreError(f"No video with id {video_id} in '{self.where}'.")
            row.views = {"fps": fps, "share": share, "views": [v.as_list() for v in views]}

    def looks(self, video_id: int) -> set[tuple[int, int]]:
        """(first, last) of every view of the clip a reviewer said is complete."""
        with self._session() as s:
            return {(a, b) for a, b in s.execute(select(ViewLook.first_frame, ViewLook.last_frame)
                                                  .where(ViewLook.video_id == video_id))}
