"""The views review taught, as the Dictionary dock lists them, with delete and undo (stored at once)."""

from __future__ import annotations

from collections.abc import Sequence

from logotag_gui.core.store.learned import LearnedView, RemovedView
from logotag_gui.core.store.repository import Repository

__all__ = ["LearnedView", "LearnedViews"]


class LearnedViews:
    """The views review taught, as the Dictionary dock lists them: each can be deleted (a view that proposes
    what is not the brand), and the deletes undone, last first. Stored at once; learners drop a deleted view
    before their next search."""

    def __init__(self, repo: Repository) -> None:
        self.repo = repo
        self._undo: list[list[RemovedView]] = []

    def listed(self) -> list[LearnedView]:
        return self.repo.learned_views()

    def delete(self, ids: Sequence[int]) -> int:
        """Delete these views; returns how many were (one gone already is not counted)."""
        removed = self.repo.remove_learned_views(ids)
        if removed:
            self._undo.append(removed)
        return len(removed)

    @property
    def can_undo(self) -> bool:
        return bool(self._undo)

    def undo(self) -> int:
        """Put the last deleted views back (their ids and proposals' names kept); returns how many."""
        if not self._undo:
            return 0
        removed = self._undo.pop()
        self.repo.restore_learned_views(removed)
        return len(removed)
