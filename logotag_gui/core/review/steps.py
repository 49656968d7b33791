"""Review steps as undoable commands, and the typed changes a step makes.

A step is one `ReviewEdit` (store/edits.py): one transaction, committed before the call returns. Doing it
records its inverse (the reviews it overwrote, the tracks it moved, the candidates it added, the splits it
made); undoing it applies the inverse, again as one transaction. Undo never deletes history: it writes the
earlier state again as a new decision. What review itself added is the one thing undo removes; redo adds it
again. A step reads the session only through its public API and never touches its indexes: the session
absorbs what the store returns.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from logotag_gui.core.base.records import Candidate, Review
from logotag_gui.core.store.edits import EditResult, ReviewEdit


@dataclass(frozen=True, slots=True)
class Changes:
    """What a step (or a reload, a selection, a pass of learning) changed; views update only that.

    `exposures`: brands whose exposures may have changed. `reset`: everything may have changed (reload).
    `selection`: the current candidate or exposure. `history`: undo/redo availability. `audit`: the
    clip's audit sample or its answers."""

    added: tuple[Candidate, ...] = ()
    changed: tuple[Candidate, ...] = ()
    removed: tuple[int, ...] = ()
    exposures: frozenset[str] = frozenset()
    reset: bool = False
    selection: bool = False
    history: bool = False
    audit: bool = False
    coverage: bool = False  # the clip's views or the looks at them

    @property
    def candidates(self) -> bool:
        return bool(self.added or self.changed or self.removed or self.reset)

    def __or__(self, other: Changes) -> Changes:
        return Changes(self.added + other.added, self.changed + other.changed, self.removed + other.removed,
                       self.exposures | other.exposures, self.reset or other.reset,
                       self.selection or other.selection, self.history or other.history, self.audit or other.audit,
                       self.coverage or other.coverage)


class StepTarget(Protocol):
    """What a step needs of the review session."""

    reviewer: str

    def get(self, candidate_id: int | None) -> Candidate | None: ...

    def has_split(self, brand: str, frame: int) -> bool: ...

    def has_look(self, first: int, last: int) -> bool: ...

    def write(self, edit: ReviewEdit) -> EditResult: ...


@dataclass(slots=True, eq=False)
class Step:
    text: str
    edit: ReviewEdit
    inverse: ReviewEdit = field(default_factory=ReviewEdit)
    # What LogoTag did of this step afterwards on its own (an accepted exposure's gaps followed): undone with it,
    # first, and redone after it, so that one undo takes back what one key did.
    then: list[Step] = field(default_factory=list)

    def do(self, s: StepTarget) -> EditResult:
        edit = self.edit
        before: dict[int, Review] = {}
        for d in edit.decide:
            for cid in d.ids:
                c = s.get(cid)
                if c is not None and cid not in before:
                    before[cid] = c.review
        tracks = {cid: c.track_id for cid in edit.retrack if (c := s.get(cid)) is not None}
        new_splits = tuple(sp for sp in edit.add_splits if not s.has_split(*sp))
        old_splits = tuple(sp for sp in edit.remove_splits if s.has_split(*sp))
        new_looks = tuple(look for look in edit.add_looks if not s.has_look(*look))
        old_looks = tuple(look for look in edit.remove_looks if s.has_look(*look))
        result = s.write(edit)
        self.inverse = ReviewEdit(restore=before, retrack=tracks, delete=tuple(c.stored_id for c in result.added),
                                  add_splits=old_splits, remove_splits=new_splits, add_looks=old_looks,
                                  # only the looks this step stored: another reviewer's look of the same view stays
                                  remove_looks=tuple(look for look in new_looks if look in result.looks_added))
        return result

    def undo(self, s: StepTarget) -> EditResult:
        return s.write(self.inverse)
