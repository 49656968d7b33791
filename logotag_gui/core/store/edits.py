"""One review step as one transaction: what a review command does (or undoes), written in one commit.

A step may add candidates (a drawn box, a followed track, presences), decide several at once (a whole
exposure), write earlier reviews back (undo), move candidates between tracks, delete what review itself
added (undo of an addition) and cut or join exposures. `apply_edit` does all of it in one database session:
all of it is stored, or none. A mixin of Repository (repository.py), which owns the sessions.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sqlalchemy import delete, insert, select, update

from logotag_gui.core.base.errors import StoreError
from logotag_gui.core.base.records import BBox, Candidate, DecisionKind, Review
from logotag_gui.core.store.rows import (
    REVIEW_ORDER,
    apply_decision,
    candidate_select,
    insert_candidates,
    rows_to_candidates,
)
from logotag_gui.core.store.schema import CandidateRow, ExposureSplit, ViewLook

if TYPE_CHECKING:
    from sqlalchemy.orm import Session


@dataclass(frozen=True, slots=True)
class Decision:
    """The same decision for these candidates; `brand`/`bbox` are corrections (None keeps what is there)."""

    ids: tuple[int, ...]
    kind: DecisionKind
    brand: str | None = None
    bbox: BBox | None = None


@dataclass(frozen=True, slots=True)
class ReviewEdit:
    add: tuple[Candidate, ...] = ()  # stored pending, with no run (a new run of the clip keeps them)
    add_decided: tuple[tuple[Candidate, DecisionKind], ...] = ()  # stored with the reviewer's decision
    decide: tuple[Decision, ...] = ()
    restore: Mapping[int, Review] = field(default_factory=dict)  # undo: earlier reviews written back
    retrack: Mapping[int, int | None] = field(default_factory=dict)  # candidate id -> its new track id
    delete: tuple[int, ...] = ()  # candidates review added (never a model's candidate: those keep history)
    add_splits: tuple[tuple[str, int], ...] = ()  # (brand, frame): a new exposure of the brand starts there
    remove_splits: tuple[tuple[str, int], ...] = ()
    add_looks: tuple[tuple[int, int], ...] = ()  # (first, last) of a view said complete: every brand there marked
    remove_looks: tuple[tuple[int, int], ...] = ()

    @property
    def empty(self) -> bool:
        return not (self.add or self.add_decided or self.decide or self.restore or self.retrack or self.delete
                    or self.add_splits or self.remove_splits or self.add_looks or self.remove_looks)

    def renamed(self, ids: Mapping[int, int]) -> ReviewEdit:
        """The same edit where the candidates it names were stored again under new ids (redo of what review
        added): every id in `ids` replaced by its new one, all at once (never one replacement after another)."""
        if not ids:
            return self

        def new(i: int) -> int:
            return ids.get(i, i)

        return dataclasses.replace(
            self, decide=tuple(dataclasses.replace(d, ids=tuple(new(i) for i in d.ids)) for d in self.decide),
            restore={new(i): r for i, r in self.restore.items()}, retrack={new(i): t for i, t in self.retrack.items()},
            delete=tuple(new(i) for i in self.delete))


@dataclass(slots=True)
class EditResult:
    """What the edit changed, as stored: new candidates (in the order asked: `add`, then `add_decided`),
    candidates whose review or track changed, ids deleted, and whether exposure splits changed."""

    added: list[Candidate] = field(default_factory=list)
    changed: list[Candidate] = field(default_factory=list)
    removed: list[int] = field(default_factory=list)
    splits: bool = False
    looks: bool = False
    looks_added: tuple[tuple[int, int], ...] = ()  # the looks this edit stored (not those another stored first)


class EditsMixin:
    if TYPE_CHECKING:  # what the mixin uses of Repository (repository.py)
        where: str

        def _session(self) -> AbstractContextManager[Session]: ...

    _open_edit: Session | None = None  # the transaction an edit_transaction block holds open

    def apply_edit(self, edit: ReviewEdit, *, video_id: int, reviewer: str) -> EditResult:
        """Write the whole step in one transaction (inside `edit_transaction`, in that one); returns what changed,
        read back as stored."""
        if self._open_edit is not None:
            return self._write_edit(self._open_edit, edit, video_id=video_id, reviewer=reviewer)
        with self._session() as s:
            return self._write_edit(s, edit, video_id=video_id, reviewer=reviewer)

    @contextmanager
    def edit_transaction(self) -> Iterator[None]:
        """Every `apply_edit` in the block (an undo or redo of a step and its follow-ups) is written in one
        transaction: each reads back what it wrote, so a later edit may name what an earlier one added; all of
        them are committed when the block ends, none if it raises. One Repository per thread, so the open
        transaction is this thread's."""
        if self._open_edit is not None:
            raise StoreError("An edit transaction is already open on this connection.")
        with self._session() as s:
            self._open_edit = s
            try:
                yield
            finally:
                self._open_edit = None

    def _write_edit(self, s: Session, edit: ReviewEdit, *, video_id: int, reviewer: str) -> EditResult:
        touched: list[int] = []
        removed = self._delete_added(s, edit.delete)
        added = [r.id for r in insert_candidates(s, list(edit.add), run_id=None, video_id=video_id)]
        if edit.add_decided:
            rows = insert_candidates(s, [c for c, _ in edit.add_decided], run_id=None, video_id=video_id)
            for row, (_, kind) in zip(rows, edit.add_decided, strict=True):
                apply_decision(s, row, kind, reviewer=reviewer, brand=None, bbox=None, state=None)
                added.append(row.id)
        for cid, track in edit.retrack.items():
            s.execute(update(CandidateRow.__table__).where(CandidateRow.id == cid).values(track_id=track))
            touched.append(cid)
        for d in edit.decide:
            for cid in d.ids:
                apply_decision(s, self._locked(s, cid), d.kind, reviewer=reviewer, brand=d.brand, bbox=d.bbox,
                               state=None)
                touched.append(cid)
        for cid, before in edit.restore.items():
            apply_decision(s, self._locked(s, cid), before.kind or DecisionKind.CLEAR, reviewer=reviewer,
                           brand=before.brand, bbox=before.bbox, state=before.state)
            touched.append(cid)
        for brand, frame in edit.add_splits:
            s.execute(_insert_new(s, ExposureSplit, ("video_id", "brand", "frame_index")).values(
                video_id=video_id, brand=brand, frame_index=frame, reviewer=reviewer))
        for brand, frame in edit.remove_splits:
            s.execute(delete(ExposureSplit).where(*_split_is(video_id, brand, frame)))
        looks_added = []
        for first, last in edit.add_looks:  # two reviewers pressing V at once: one row, no IntegrityError
            if s.execute(_insert_new(s, ViewLook, ("video_id", "first_frame", "last_frame")).values(
                    video_id=video_id, first_frame=first, last_frame=last, reviewer=reviewer)
                    .returning(ViewLook.id)).first() is not None:  # (psycopg's rowcount is -1 here)
                looks_added.append((first, last))
        for first, last in edit.remove_looks:
            s.execute(delete(ViewLook).where(*_look_is(video_id, first, last)))
        gone = set(removed) | set(added)
        changed_ids = list(dict.fromkeys(i for i in touched if i not in gone))
        found: dict[int | None, Candidate] = {}
        if added or changed_ids:
            s.flush()  # read back in this transaction: what it wrote is not committed yet
            found = {c.id: c for c in rows_to_candidates(s.execute(
                candidate_select().where(CandidateRow.id.in_(added + changed_ids)).order_by(*REVIEW_ORDER)))}
        return EditResult(added=[found[i] for i in added], changed=[found[i] for i in changed_ids if i in found],
                          removed=removed, splits=bool(edit.add_splits or edit.remove_splits),
                          looks=bool(edit.add_looks or edit.remove_looks), looks_added=tuple(looks_added))

    def _locked(self, s: Session, cid: int) -> CandidateRow:
        # Locked so that two reviewers' decisions on a row are applied in the order of their ids.
        row = s.get(CandidateRow, cid, with_for_update=True)
        if row is None:
            raise StoreError(f"Candidate {cid} no longer exists in '{self.where}'.")
        return row

    @staticmethod
    def _delete_added(s: Session, ids: Sequence[int]) -> list[int]:
        if not ids:
            return []
        mine = list(s.scalars(select(CandidateRow.id).where(CandidateRow.id.in_(list(ids)),
                                                            CandidateRow.run_id.is_(None))))
        s.execute(delete(CandidateRow).where(CandidateRow.id.in_(mine)))
        return mine

    def splits(self, video_id: int) -> dict[str, list[int]]:
        """brand -> the frames where a reviewer cut its exposures, in order."""
        out: dict[str, list[int]] = {}
        with self._session() as s:
            for brand, frame in s.execute(select(ExposureSplit.brand, ExposureSplit.frame_index)
                                          .where(ExposureSplit.video_id == video_id)
                                          .order_by(ExposureSplit.frame_index)):
                out.setdefault(brand, []).append(frame)
        return out


def _split_is(video_id: int, brand: str, frame: int) -> tuple:
    return (ExposureSplit.video_id == video_id, ExposureSplit.brand == brand, ExposureSplit.frame_index == frame)


def _insert_new(s: Session, table, unique: tuple[str, ...]):
    """An INSERT that does nothing where the row's unique key is already stored (committed by another session
    after this one looked for it), on SQLite and PostgreSQL alike."""
    name = s.get_bind().dialect.name
    if name == "postgresql":
        from sqlalchemy.dialects import postgresql

        return postgresql.insert(table).on_conflict_do_nothing(index_elements=list(unique))
    if name == "sqlite":
        from sqlalchemy.dialects import sqlite

        return sqlite.insert(table).on_conflict_do_nothing(index_elements=list(unique))
    return insert(table)


def _look_is(video_id: int, first: int, last: int) -> tuple:
    return (ViewLook.video_id == video_id, ViewLook.first_frame == first, ViewLook.last_frame == last)
