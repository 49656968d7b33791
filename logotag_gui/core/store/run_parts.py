"""Runs split into frame ranges that workers share (`run-many --split-minutes`): the parts' records,
their locks and their progress. A mixin of Repository (repository.py), which owns the sessions.

One run, many parts: the run holds the settings, the candidates (they carry the run's id) and the sum
of the parts' progress; each part holds its range, its resume point and a lock of its own, so two
workers never run one range and a killed worker's range is resumed by the next one to take it.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, cast

from sqlalchemy import func, select, update

from logotag_gui.core.base.errors import StoreError
from logotag_gui.core.base.records import PartStatus
from logotag_gui.core.base.safe_io import redact_secrets
from logotag_gui.core.store.run_lock import RunBusy, busy_message, lock_live, rowcount, take_lock
from logotag_gui.core.store.runs import config_key, new_run_row
from logotag_gui.core.store.schema import Run, RunPart, Video, utcnow

if TYPE_CHECKING:
    from sqlalchemy.orm import Session


@dataclass(frozen=True, slots=True)
class PartRecord:
    """One frame range of a split run, as stored."""

    id: int
    run_id: int
    start_frame: int
    end_frame: int  # inclusive
    status: PartStatus
    frames_total: int
    frames_done: int
    last_frame_index: int
    error: str


def _part_record(p: RunPart) -> PartRecord:
    return PartRecord(p.id, p.run_id, p.start_frame, p.end_frame, cast(PartStatus, p.status), p.frames_total,
                      p.frames_done, p.last_frame_index, p.error or "")


class RunPartsMixin:
    if TYPE_CHECKING:  # what the mixin uses of Repository (repository.py)
        where: str

        def _session(self) -> AbstractContextManager[Session]: ...

    def start_split(self, *, video_id: int, config: dict, embedder: tuple[str, str, str],
                    verifier: tuple[str, str, str], ranges: Sequence[tuple[int, int, int]]) -> int:
        """A new run made of parts, one per (first frame, last frame, sampled frames) range, in one
        transaction; like `start_run`, its results replace the clip's pending ones."""
        if not ranges:
            raise StoreError("A split run needs at least one frame range.")
        with self._session() as s:
            run = new_run_row(s, video_id=video_id, config=config, embedder=embedder, verifier=verifier,
                           frames_total=sum(n for _, _, n in ranges), replace_pending=True)
            s.add_all(RunPart(run_id=run.id, start_frame=a, end_frame=b, frames_total=n) for a, b, n in ranges)
            return run.id

    def resumable_split(self, *, video_id: int, config: dict, ranges: Sequence[tuple[int, int, int]]) -> int | None:
        """The clip's latest run when it is split into exactly these ranges with these settings and not
        finished: a second `run-many` carries it on instead of starting over."""
        with self._session() as s:
            run = s.scalar(select(Run).where(Run.video_id == video_id).order_by(Run.id.desc()).limit(1))
            if run is None or run.status in ("done", "superseded") or run.config_key != config_key(config):
                return None
            have = [(p.start_frame, p.end_frame, p.frames_total) for p in
                    s.scalars(select(RunPart).where(RunPart.run_id == run.id).order_by(RunPart.start_frame))]
            return run.id if have == [tuple(r) for r in ranges] else None

    def set_run_models(self, run_id: int, *, embedder: tuple[str, str, str], verifier: tuple[str, str, str]) -> None:
        """What the workers loaded (the driver that made the run names only the backends)."""
        with self._session() as s:
            s.execute(update(Run.__table__).where(Run.id == run_id).values(
                embedder_model=embedder[1], embedder_revision=embedder[2] or "", verifier_model=verifier[1],
                verifier_revision=verifier[2] or ""))

    def run_parts(self, run_id: int) -> list[PartRecord]:
        with self._session() as s:
            return [_part_record(p) for p in
                    s.scalars(select(RunPart).where(RunPart.run_id == run_id).order_by(RunPart.start_frame))]

    def run_part(self, part_id: int) -> PartRecord:
        with self._session() as s:
            part = s.get(RunPart, part_id)
            if part is None:
                raise StoreError(f"No run part {part_id} in '{self.where}'.")
            return _part_record(part)

    def mark_part(self, part_id: int, *, status: PartStatus, error: str = "") -> None:
        with self._session() as s:
            s.execute(update(RunPart.__table__).where(RunPart.id == part_id)
                      .values(status=status, error=redact_secrets(error)))
            if status == "running":
                run_id = select(RunPart.run_id).where(RunPart.id == part_id).scalar_subquery()
                s.execute(update(Run.__table__).where(Run.id == run_id).values(status="running"))

    def part_progress(self, s: Session, part_id: int, *, last_frame_index: int, frames_done: int) -> None:
        """A part's progress and its run's (the sum of its parts'), in the caller's transaction."""
        s.execute(update(RunPart.__table__).where(RunPart.id == part_id)
                  .values(last_frame_index=last_frame_index, frames_done=frames_done))
        run_id = s.execute(select(RunPart.run_id).where(RunPart.id == part_id)).scalar_one()
        total = select(func.coalesce(func.sum(RunPart.frames_done), 0)).where(RunPart.run_id == run_id)
        s.execute(update(Run.__table__).where(Run.id == run_id).values(frames_done=total.scalar_subquery()))

    # ---- a part's lock ------------------------------------------------------------------------
    def acquire_part_lock(self, part_id: int) -> str:
        """Take a part's lock; refused while its clip is run as a whole (`logotag run`, the app, the
        split's finishing) or another live process holds the part. A part a dead process held is
        marked interrupted, and resumes after its last stored batch."""
        with self._session() as s:
            part = s.get(RunPart, part_id)
            if part is None:
                raise StoreError(f"No run part {part_id} in '{self.where}'.")
            video = s.scalar(select(Video).join(Run, Run.video_id == Video.id).where(Run.id == part.run_id))
            name = f"Frames {part.start_frame}-{part.end_frame} of clip '{Path(video.path).name if video else '?'}'"
            if video is not None and lock_live(video.run_owner, video.run_heartbeat):
                raise RunBusy(busy_message(f"Clip '{Path(video.path).name}'", video.run_owner or "",
                                           video.run_heartbeat))
            owner, held = take_lock(s, RunPart.__table__, part_id, "owner", "heartbeat")
            if owner is None:
                raise RunBusy(busy_message(name, held, part.heartbeat))
            if part.status == "running":
                part.status = "interrupted"
        return owner

    def renew_part_lock(self, part_id: int, owner: str) -> bool:
        parts = RunPart.__table__
        with self._session() as s:
            return bool(rowcount(s.execute(update(parts).where(parts.c.id == part_id, parts.c.owner == owner)
                                           .values(heartbeat=utcnow()))))

    def release_part_lock(self, part_id: int, owner: str) -> None:
        parts = RunPart.__table__
        with self._session() as s:
            s.execute(update(parts).where(parts.c.id == part_id, parts.c.owner == owner)
                      .values(owner=None, heartbeat=None))
