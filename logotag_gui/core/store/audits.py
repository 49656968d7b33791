"""Audit samples as the store keeps them: the frames drawn, their strata, and each answer (which brands are
on screen). A mixin of Repository (repository.py), which owns the database sessions.

An answer is kept apart from the candidates' decisions on purpose: the estimate corrects what the project
says (model and review) by the audited difference, which stays unbiased only while the audit's answers do
not change what the project says on the audited frames alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING

from sqlalchemy import select, update

from logotag_gui.core.base.errors import StoreError
from logotag_gui.core.store.schema import AuditFrame, AuditSample, aware

if TYPE_CHECKING:
    from sqlalchemy.orm import Session


@dataclass(frozen=True, slots=True)
class AuditFrameRecord:
    frame_index: int
    stratum: str
    position: int
    brands: tuple[str, ...] | None  # None: not answered yet
    reviewer: str | None = None
    answered_at: datetime | None = None

    @property
    def answered(self) -> bool:
        return self.brands is not None


@dataclass(frozen=True, slots=True)
class AuditSampleRecord:
    id: int
    video_id: int
    seed: int
    fps: float
    population: int  # sampled frames of the clip it was drawn from
    strata: dict[str, list[int]]  # stratum -> every sampled frame of the clip in it
    frames: tuple[AuditFrameRecord, ...]  # in answering order
    created_by: str
    created_at: datetime | None


class AuditsMixin:
    if TYPE_CHECKING:  # what the mixin uses of Repository (repository.py)
        where: str

        def _session(self) -> AbstractContextManager[Session]: ...

    def create_audit_sample(self, *, video_id: int, seed: int, fps: float, population: int,
                            strata: dict[str, list[int]],
                            frames: Sequence[tuple[int, str]], created_by: str) -> int:
        """Store a drawn sample (frames in answering order, each with its stratum) as the clip's current one;
        earlier samples are kept, inactive."""
        with self._session() as s:
            s.execute(update(AuditSample.__table__).where(AuditSample.video_id == video_id).values(active=False))
            row = AuditSample(video_id=video_id, seed=seed, fps=fps, population=population, strata=dict(strata),
                              created_by=created_by, active=True)
            s.add(row)
            s.flush()
            s.add_all([AuditFrame(sample_id=row.id, frame_index=f, stratum=h, position=i)
                       for i, (f, h) in enumerate(frames)])
            return row.id

    def audit_sample(self, video_id: int) -> AuditSampleRecord | None:
        """The clip's current sample with its answers, or None."""
        with self._session() as s:
            row = s.scalar(select(AuditSample).where(AuditSample.video_id == video_id, AuditSample.active.is_(True))
                           .order_by(AuditSample.id.desc()))
            if row is None:
                return None
            frames = tuple(AuditFrameRecord(f.frame_index, f.stratum, f.position,
                                            None if f.brands is None else tuple(f.brands), f.reviewer,
                                            aware(f.answered_at))
                           for f in s.scalars(select(AuditFrame).where(AuditFrame.sample_id == row.id)
                                              .order_by(AuditFrame.position)))
            return AuditSampleRecord(row.id, row.video_id, row.seed, row.fps, row.population, dict(row.strata),
                                     frames, row.created_by, aware(row.created_at))

    def answer_audit_frame(self, sample_id: int, frame_index: int, brands: Sequence[str] | None, *,
                           reviewer: str) -> None:
        """Which brands are on screen on an audited frame (None takes the answer back: undo)."""
        with self._session() as s:
            row = s.scalar(select(AuditFrame).where(AuditFrame.sample_id == sample_id,
                                                    AuditFrame.frame_index == frame_index).with_for_update())
            if row is None:
                raise StoreError(f"Frame {frame_index} is not in audit sample {sample_id} of '{self.where}'.")
            row.brands = None if brands is None else sorted(set(brands))
            row.reviewer = None if brands is None else reviewer
            row.answered_at = None if brands is None else datetime.now(timezone.utc)
