"""Runs of the pipeline as the store keeps them: their records, the resume identity, the run lock and
the clip's track ids. A mixin of Repository (repository.py), which owns the database sessions."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, cast

from sqlalchemy import delete, func, select, update

from logotag_gui.core.base.config import DEFAULT_FPS
from logotag_gui.core.base.errors import StoreError
from logotag_gui.core.base.records import RunStatus
from logotag_gui.core.base.safe_io import redact_secrets
from logotag_gui.core.store.run_lock import (  # noqa: F401  (RunBusy, HEARTBEAT_S, STALE_AFTER: re-exported)
    HEARTBEAT_S,
    STALE_AFTER,
    RunBusy,
    RunLock,
    busy_message,
    lock_live,
    rowcount,
    take_lock,
)
from logotag_gui.core.store.schema import CandidateRow, Run, RunPart, Video, aware, utcnow

if TYPE_CHECKING:
    from sqlalchemy.orm import Session


@dataclass(frozen=True, slots=True)
class RunRecord:
    """One pipeline run of a clip, as stored."""

    id: int
    video_id: int
    status: RunStatus
    config: dict
    embedder: str
    embedder_model: str
    verifier: str
    verifier_model: str
    frames_total: int
    frames_done: int
    last_frame_index: int
    timings: dict
    notes: tuple[str, ...]
    error: str
    started_at: datetime | None
    finished_at: datetime | None

    @property
    def fps(self) -> float | None:
        value = self.config.get("fps")
        return float(value) if value else None


def _run_record(r: Run) -> RunRecord:
    return RunRecord(r.id, r.video_id, cast(RunStatus, r.status), dict(r.config or {}), r.embedder,
                     r.embedder_model, r.verifier, r.verifier_model, r.frames_total, r.frames_done, r.last_frame_index,
                     dict(r.timings or {}),
                     tuple(r.notes or ()), r.error or "", aware(r.started_at), aware(r.finished_at))


# Settings that change how fast or where a run works, not what it finds.
RESULT_NEUTRAL = frozenset({"start_frame", "end_frame", "device", "batch_frames", "workers", "vlm_concurrency",
                            "overlap"})
# Settings added after runs were stored, with the default that reproduces those runs: at that default they are left
# out of the key, so a run stored before they existed is still found done (or resumable) with the same settings.
ADDED_LATER = {"keyframe_move": 0.0}


def config_key(config: dict) -> str:
    """Hash of the settings that change results (not the frame range: a resume may extend it)."""
    keep = {k: v for k, v in config.items()
            if k not in RESULT_NEUTRAL and not (k in ADDED_LATER and v == ADDED_LATER[k])}
    return hashlib.sha256(json.dumps(keep, sort_keys=True, default=str).encode()).hexdigest()[:32]


def new_run_row(s: Session, *, video_id: int, config: dict, embedder: tuple[str, str, str],
             verifier: tuple[str, str, str], frames_total: int, replace_pending: bool) -> Run:
    if replace_pending:
        # Only what runs made: boxes review made (drawn, followed, found again) have no run.
        s.execute(delete(CandidateRow).where(
            CandidateRow.video_id == video_id, CandidateRow.review_state == "pending",
            CandidateRow.run_id.is_not(None)))
        s.execute(update(Run.__table__).where(Run.video_id == video_id, Run.status != "done")
                  .values(status="superseded"))
    run = Run(video_id=video_id, config=config, config_key=config_key(config), embedder=embedder[0],
              embedder_model=embedder[1], embedder_revision=embedder[2] or "", verifier=verifier[0],
              verifier_model=verifier[1], verifier_revision=verifier[2] or "", frames_total=frames_total,
              notes=[])
    s.add(run)
    s.flush()
    return run


class RunsMixin:
    if TYPE_CHECKING:  # what the mixin uses of Repository (repository.py)
        where: str

        def _session(self) -> AbstractContextManager[Session]: ...

    # ---- runs ------------------------------------------------------------------------------
    def start_run(self, *, video_id: int, config: dict, embedder: tuple[str, str, str],
                  verifier: tuple[str, str, str], frames_total: int, replace_pending: bool = True) -> int:
        """A new run; pending candidates of earlier runs on this video are replaced by its results.

        Earlier unfinished runs whose pending results go are marked "superseded": resuming one would
        skip frames whose candidates no longer exist.
        """
        with self._session() as s:
            return new_run_row(s, video_id=video_id, config=config, embedder=embedder, verifier=verifier,
                            frames_total=frames_total, replace_pending=replace_pending).id

    def resumable_run(self, *, video_id: int, config: dict) -> dict | None:
        """The latest run of this video with the same settings if it can be carried on (not done, not superseded)."""
        with self._session() as s:
            run = s.scalar(select(Run).where(Run.video_id == video_id, Run.config_key == config_key(config))
                           .order_by(Run.id.desc()).limit(1))
            if run is None or run.status in ("done", "superseded"):
                return None
            if s.scalar(select(RunPart.id).where(RunPart.run_id == run.id).limit(1)) is not None:
                return None  # a run split into parts carries on by its parts (run-many), not as a whole
            latest = s.scalar(select(func.max(Run.id)).where(Run.video_id == video_id))
            if latest != run.id:  # a later run with other settings has replaced its results since
                return None
            return {"id": run.id, "last_frame_index": run.last_frame_index, "frames_done": run.frames_done,
                    "status": run.status}

    def finished_run(self, *, video_id: int, config: dict) -> int | None:
        """The clip's latest run when it is done with these settings over this frame range, else None: running
        them again would spend minutes finding the same boxes."""
        with self._session() as s:
            run = s.scalar(select(Run).where(Run.video_id == video_id).order_by(Run.id.desc()).limit(1))
            if run is None or run.status != "done" or run.config_key != config_key(config):
                return None
            same_range = all((run.config or {}).get(k) == config.get(k) for k in ("start_frame", "end_frame"))
            return run.id if same_range else None

    def mark_run(self, run_id: int, *, status: RunStatus, error: str = "", timings: dict | None = None,
                 notes: Sequence[str] | None = None) -> None:
        with self._session() as s:
            run = s.get(Run, run_id)
            if run is None:
                raise StoreError(f"No run {run_id} in '{self.where}'.")
            run.status = status
            run.error = redact_secrets(error)
            if timings is not None:
                run.timings = timings
            if notes is not None:
                run.notes = list(notes)
            if status != "running":
                run.finished_at = datetime.now(timezone.utc)

    # ---- the run lock: one pipeline per clip, whatever process it runs in -----------------------------
    def acquire_run_lock(self, video_id: int) -> str:
        """Take the clip's run lock (a crashed holder's lock is taken over); returns the owner token.

        Refused while another process holds the clip, or a part of one of its runs (run-many's workers)."""
        with self._session() as s:
            row = s.get(Video, video_id)
            name = f"Clip '{Path(row.path).name if row else video_id}'"
            busy_part = s.execute(select(RunPart.owner, RunPart.heartbeat).join(Run, Run.id == RunPart.run_id)
                                  .where(Run.video_id == video_id, RunPart.owner.is_not(None))).all()
            for owner, beat in busy_part:
                if lock_live(owner, beat):
                    raise RunBusy(busy_message(f"{name} (a part of it)", owner or "", beat))
            owner, held = take_lock(s, Video.__table__, video_id, "run_owner", "run_heartbeat")
            if owner is None:
                raise RunBusy(busy_message(name, held, row.run_heartbeat if row else None))
            # We hold the clip: a run still marked "running" belonged to a process that died.
            s.execute(update(Run.__table__).where(Run.video_id == video_id, Run.status == "running")
                      .values(status="interrupted"))
        return owner

    def run_lock(self, video_id: int, *, part_id: int | None = None) -> RunLock:
        """The clip's run lock (or a part's, `part_id`) as a context manager that keeps it alive (run_lock.py)."""
        return RunLock(self, video_id, part_id=part_id)  # type: ignore[arg-type]  # self is a Repository, a LockStore

    def renew_run_lock(self, video_id: int, owner: str) -> bool:
        """Say this process is alive; False when the lock was lost (taken over after a long stall)."""
        videos = Video.__table__
        with self._session() as s:
            return bool(rowcount(s.execute(update(videos).where(videos.c.id == video_id, videos.c.run_owner == owner)
                                            .values(run_heartbeat=utcnow()))))

    def release_run_lock(self, video_id: int, owner: str) -> None:
        videos = Video.__table__
        with self._session() as s:
            s.execute(update(videos).where(videos.c.id == video_id, videos.c.run_owner == owner)
                      .values(run_owner=None, run_heartbeat=None))

    def reserve_track_ids(self, video_id: int, count: int = 1) -> int:
        """The first of `count` new track ids for this clip (unique across runs, reviews and processes)."""
        videos = Video.__table__
        with self._session() as s:
            after = s.execute(update(videos).where(videos.c.id == video_id)
                              .values(next_track_id=videos.c.next_track_id + count)
                              .returning(videos.c.next_track_id)).scalar_one()
        return int(after) - count

    def run_info(self, run_id: int) -> RunRecord:
        with self._session() as s:
            run = s.get(Run, run_id)
            if run is None:
                raise StoreError(f"No run {run_id} in '{self.where}'.")
            return _run_record(run)

    def runs(self, video_id: int | None = None) -> list[RunRecord]:
        with self._session() as s:
            q = select(Run).order_by(Run.id)
            if video_id is not None:
                q = q.where(Run.video_id == video_id)
            return [_run_record(r) for r in s.scalars(q)]

    def cuts(self, video_id: int) -> list[int] | None:
        """The frames where a shot of the clip starts (after its first), as a run's decoder found them; None
        where no run has looked yet."""
        with self._session() as s:
            value = s.scalar(select(Video.cuts).where(Video.id == video_id))
            return None if value is None else [int(f) for f in value]

    def add_cuts(self, video_id: int, cuts: Sequence[int], *, looked: tuple[int, int] | None = None) -> None:
        """Record the cuts found in frames `looked` (first, last; None: the whole clip): those stored there are
        replaced, the others kept (a resumed run looks at the rest)."""
        with self._session() as s:
            row = s.get(Video, video_id, with_for_update=True)
            if row is None:
                raise StoreError(f"No video with id {video_id} in '{self.where}'.")
            lo, hi = looked if looked is not None else (0, row.frame_count)
            kept = [f for f in (row.cuts or []) if not lo <= f <= hi]
            row.cuts = sorted(set(kept) | {int(f) for f in cuts})

    def clip_fps(self, video_id: int) -> float:
        """The sampling rate a clip is reviewed at: its latest run's, else a new run's default."""
        runs = self.runs(video_id)
        return runs[-1].fps if runs and runs[-1].fps else DEFAULT_FPS

    @staticmethod
    def _lock_live(v: Video) -> bool:
        return lock_live(v.run_owner, v.run_heartbeat)
