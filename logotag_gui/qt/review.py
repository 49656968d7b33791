"""Reviewer actions as undoable commands. Each redo/undo is one committed database write.

Undo never deletes history: it writes the earlier state again as a new decision (a manual box the
reviewer drew is the one thing undo removes, since the model never proposed it).
"""

from __future__ import annotations

import logging

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QUndoCommand, QUndoStack

from logotag_gui.core.records import BBox, Candidate, DecisionKind, FrameRef, Review, ReviewState
from logotag_gui.core.store import Repository

log = logging.getLogger(__name__)


class ReviewController(QObject):
    changed = Signal(object)  # Candidate, after any decision
    removed = Signal(int)  # candidate id of a manual box removed by undo
    failed = Signal(str)

    def __init__(self, repo: Repository, reviewer: str, parent=None) -> None:
        super().__init__(parent)
        self.repo = repo
        self.reviewer = reviewer
        self.stack = QUndoStack(self)
        # The stack owns the C++ commands, but their Python halves (our redo/undo) must stay alive too.
        self._keep: list[QUndoCommand] = []

    def _push(self, command: QUndoCommand) -> None:
        self._keep.append(command)
        self.stack.push(command)

    # ---- actions ---------------------------------------------------------------------------
    def accept(self, c: Candidate) -> None:
        self._push(_Decide(self, c, DecisionKind.ACCEPT, f"Accept {c.final_brand}"))

    def reject(self, c: Candidate) -> None:
        self._push(_Decide(self, c, DecisionKind.REJECT, f"Reject {c.final_brand}"))

    def relabel(self, c: Candidate, brand: str) -> None:
        self._push(_Decide(self, c, DecisionKind.RELABEL, f"Relabel to {brand}", brand=brand))

    def edit_box(self, c: Candidate, bbox: BBox) -> None:
        self._push(_Decide(self, c, DecisionKind.BOX_EDIT, "Edit box", bbox=bbox))

    def decide_track(self, c: Candidate, kind: DecisionKind, members: list[Candidate]) -> None:
        if c.track_id is None:
            self._push(_Decide(self, c, kind, kind.value.title()))
            return
        pending = [m for m in members if m.track_id == c.track_id and not m.review.decided]
        self._push(_DecideTrack(self, c, kind, pending))

    def add_box(self, video_id: int, frame: FrameRef, bbox: BBox, brand: str) -> None:
        self._push(_AddBox(self, video_id, frame, bbox, brand))

    # ---- used by the commands -----------------------------------------------------------------
    def _write(self, fn, *args, **kwargs):
        return fn(*args, **kwargs)


def _safely(method):
    """An exception must not escape a Qt virtual override: log it, tell the user, drop the command."""

    def wrapper(self: QUndoCommand) -> None:
        try:
            method(self)
        except Exception as exc:  # the decision is not stored: say so, never pretend
            log.exception("review command failed")
            self.setObsolete(True)
            self.ctl.failed.emit(f"Could not save the decision: {exc}")

    return wrapper


class _Decide(QUndoCommand):
    def __init__(self, ctl: ReviewController, c: Candidate, kind: DecisionKind, text: str, *,
                 brand: str | None = None, bbox: BBox | None = None) -> None:
        super().__init__(text)
        # Never name an attribute like a QUndoCommand virtual (id, text, ...): shiboken would call it.
        self.ctl, self.candidate_id, self.kind, self.brand, self.bbox = ctl, c.id, kind, brand, bbox
        self.before: Review = c.review

    @_safely
    def redo(self) -> None:
        c = self.ctl._write(self.ctl.repo.decide, self.candidate_id, self.kind, reviewer=self.ctl.reviewer, brand=self.brand,
                            bbox=self.bbox)
        self.ctl.changed.emit(c)

    @_safely
    def undo(self) -> None:
        self.ctl.changed.emit(_restore(self.ctl, self.candidate_id, self.before))


def _restore(ctl: ReviewController, candidate_id: int, before: Review) -> Candidate:
    kind = before.kind or DecisionKind.CLEAR
    return ctl._write(ctl.repo.decide, candidate_id, kind, reviewer=ctl.reviewer, brand=before.brand,
                      bbox=before.bbox, state=before.state)


class _DecideTrack(QUndoCommand):
    def __init__(self, ctl: ReviewController, c: Candidate, kind: DecisionKind, members: list[Candidate]) -> None:
        super().__init__(f"{kind.value.title()} track {c.track_id} ({len(members)} boxes)")
        self.ctl, self.kind, self.video_track = ctl, kind, c.track_id
        self.before = {m.id: m.review for m in members}

    @_safely
    def redo(self) -> None:
        for cid in self.before:
            self.ctl.changed.emit(self.ctl._write(self.ctl.repo.decide, cid, self.kind, reviewer=self.ctl.reviewer))

    @_safely
    def undo(self) -> None:
        for cid, review in self.before.items():
            self.ctl.changed.emit(_restore(self.ctl, cid, review))


class _AddBox(QUndoCommand):
    def __init__(self, ctl: ReviewController, video_id: int, frame: FrameRef, bbox: BBox, brand: str) -> None:
        super().__init__(f"Add {brand} box")
        self.ctl, self.video_id, self.frame, self.bbox, self.brand = ctl, video_id, frame, bbox, brand
        self.added_id: int | None = None

    @_safely
    def redo(self) -> None:
        c = self.ctl._write(self.ctl.repo.add_manual_box, video_id=self.video_id, frame=self.frame, bbox=self.bbox,
                            brand=self.brand, reviewer=self.ctl.reviewer)
        self.added_id = c.id
        self.ctl.changed.emit(c)

    @_safely
    def undo(self) -> None:
        if self.added_id is not None:
            self.ctl._write(self.ctl.repo.delete_manual_box, self.added_id)
            self.ctl.removed.emit(self.added_id)
            self.added_id = None


__all__ = ["ReviewController", "ReviewState"]
