"""The only module that opens Sessions. The Qt layer and the pipeline call these methods.

One Repository per thread: a Session never crosses threads. Every write is its own short
transaction, committed before the method returns, so a killed app loses nothing confirmed.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from sqlalchemy import Connection, Engine, create_engine, delete, event, func, select, update
from sqlalchemy.exc import ArgumentError, DBAPIError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from logotag_gui.core.errors import StoreError
from logotag_gui.core.records import (
    BBox,
    Candidate,
    DecisionKind,
    FrameRef,
    Review,
    ReviewState,
    Verdict,
    VerdictState,
)
from logotag_gui.core.store import schema
from logotag_gui.core.store.migrations import ensure_schema
from logotag_gui.core.store.schema import CandidateRow, DecisionRow, Run, VerdictRow, Video

log = logging.getLogger(__name__)

STATE_FOR_KIND = {
    DecisionKind.ACCEPT: ReviewState.ACCEPTED,
    DecisionKind.REJECT: ReviewState.REJECTED,
    DecisionKind.RELABEL: ReviewState.ACCEPTED,
    DecisionKind.BOX_EDIT: ReviewState.ACCEPTED,
    DecisionKind.ADDED: ReviewState.ACCEPTED,
    DecisionKind.CLEAR: ReviewState.PENDING,
}


def database_url(target: str | Path) -> str:
    """A SQLAlchemy URL from a URL or a file path (a path becomes a SQLite file)."""
    text = str(target)
    if "://" in text:
        return text
    return f"sqlite:///{Path(text).expanduser().resolve()}"


def _sqlite_pragmas(dbapi_conn, _record) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")  # readers (the GUI) never block the writer (a run)
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA cache_size=-65536")  # 64 MB: a 100,000-candidate clip loads in one pass
    cur.close()


@dataclass(frozen=True, slots=True)
class VideoSummary:
    id: int
    path: str
    kind: str
    fps: float
    frame_count: int
    duration_s: float
    width: int
    height: int
    candidates: int
    decided: int
    last_run_status: str | None


class Repository:
    def __init__(self, engine: Engine, *, where: str) -> None:
        self.engine = engine
        self.where = where
        self._sessions = sessionmaker(engine, expire_on_commit=False)

    # ---- plumbing --------------------------------------------------------------------------
    @contextmanager
    def _session(self) -> Iterator[Session]:
        session = self._sessions()
        try:
            yield session
            session.commit()
        except OperationalError as exc:
            session.rollback()
            raise self._translate(exc) from exc
        except Exception:
            session.rollback()
            raise
        finally:
            session.close()

    def _translate(self, exc: DBAPIError) -> StoreError:
        text = str(exc.orig) if exc.orig else str(exc)
        if "locked" in text or "busy" in text:
            return StoreError(
                f"The database '{self.where}' is locked by another program (another LogoTag window or a run?). "
                "Close it or wait for it to finish, then try again."
            )
        if "readonly" in text or "read-only" in text:
            return StoreError(f"The database '{self.where}' is read-only; copy it somewhere writable.")
        return StoreError(f"Database error on '{self.where}': {text}")

    @contextmanager
    def _reading(self) -> Iterator[Connection]:
        """A plain connection for bulk reads: no ORM identity map to fill for 100,000 rows."""
        try:
            with self.engine.connect() as conn:
                yield conn
        except OperationalError as exc:
            raise self._translate(exc) from exc

    def close(self) -> None:
        self.engine.dispose()

    # ---- project settings -----------------------------------------------------------------
    def setting(self, key: str, default: str | None = None) -> str | None:
        with self._session() as s:
            value = s.scalar(select(schema.Meta.value).where(schema.Meta.key == f"setting.{key}"))
            return value if value is not None else default

    def set_setting(self, key: str, value: str) -> None:
        with self._session() as s:
            row = s.get(schema.Meta, f"setting.{key}")
            if row is None:
                s.add(schema.Meta(key=f"setting.{key}", value=value))
            else:
                row.value = value

    # ---- videos ----------------------------------------------------------------------------
    def add_video(self, *, path: str, kind: str, fps: float, frame_count: int, duration_s: float,
                  width: int, height: int) -> int:
        with self._session() as s:
            row = s.scalar(select(Video).where(Video.path == path))
            if row is None:
                row = Video(path=path, kind=kind, fps=fps, frame_count=frame_count, duration_s=duration_s,
                            width=width, height=height)
                s.add(row)
                s.flush()
            return row.id

    def videos(self) -> list[VideoSummary]:
        with self._session() as s:
            counts = dict(s.execute(select(CandidateRow.video_id, func.count()).group_by(CandidateRow.video_id)).all())
            decided = dict(s.execute(
                select(CandidateRow.video_id, func.count()).where(CandidateRow.review_state != "pending")
                .group_by(CandidateRow.video_id)).all())
            last_status = {}
            for vid, status in s.execute(select(Run.video_id, Run.status).order_by(Run.id)).all():
                last_status[vid] = status
            return [VideoSummary(v.id, v.path, v.kind, v.fps, v.frame_count, v.duration_s, v.width, v.height,
                                 counts.get(v.id, 0), decided.get(v.id, 0), last_status.get(v.id))
                    for v in s.scalars(select(Video).order_by(Video.id))]

    def video(self, video_id: int) -> VideoSummary:
        for v in self.videos():
            if v.id == video_id:
                return v
        raise StoreError(f"No video with id {video_id} in '{self.where}'.")

    # ---- brands ----------------------------------------------------------------------------
    def sync_brands(self, aliases: dict[str, list[str]], files: dict[str, tuple[str, str]]) -> None:
        """Record the dictionary's brands and reference files (files: relpath -> (brand, sha256))."""
        with self._session() as s:
            existing = {b.name: b for b in s.scalars(select(schema.Brand))}
            for rel, (brand, sha) in files.items():
                row = existing.get(brand)
                if row is None:
                    row = existing[brand] = schema.Brand(name=brand, aliases=aliases.get(brand, []))
                    s.add(row)
                    s.flush()
                else:
                    row.aliases = aliases.get(brand, row.aliases)
                ref = s.scalar(select(schema.ReferenceRow).where(
                    schema.ReferenceRow.brand_id == row.id, schema.ReferenceRow.path == rel))
                if ref is None:
                    s.add(schema.ReferenceRow(brand_id=row.id, path=rel, sha256=sha))
                else:
                    ref.sha256 = sha

    def brands(self) -> list[str]:
        with self._session() as s:
            known = set(s.scalars(select(schema.Brand.name)))
            known |= set(s.scalars(select(CandidateRow.brand).distinct()))
            return sorted(known)

    def references(self) -> dict[str, list[tuple[str, str]]]:
        """brand -> [(path, origin)]"""
        with self._session() as s:
            out: dict[str, list[tuple[str, str]]] = {}
            for name, path, origin in s.execute(
                    select(schema.Brand.name, schema.ReferenceRow.path, schema.ReferenceRow.origin)
                    .join(schema.ReferenceRow, isouter=True).order_by(schema.Brand.name)):
                out.setdefault(name, [])
                if path:
                    out[name].append((path, origin))
            return out

    def add_reference(self, *, brand: str, path: str, sha256: str, origin: str = "review") -> None:
        with self._session() as s:
            row = s.scalar(select(schema.Brand).where(schema.Brand.name == brand))
            if row is None:
                row = schema.Brand(name=brand, aliases=[])
                s.add(row)
                s.flush()
            s.add(schema.ReferenceRow(brand_id=row.id, path=path, sha256=sha256, origin=origin))

    # ---- runs ------------------------------------------------------------------------------
    def start_run(self, *, video_id: int, config: dict, embedder: tuple[str, str, str],
                  verifier: tuple[str, str, str], frames_total: int, replace_pending: bool = True) -> int:
        """A new run; pending candidates of earlier runs on this video are replaced by its results."""
        key = config_key(config)
        with self._session() as s:
            if replace_pending:
                s.execute(delete(CandidateRow).where(
                    CandidateRow.video_id == video_id, CandidateRow.review_state == "pending",
                    CandidateRow.method != "manual"))
            run = Run(video_id=video_id, config=config, config_key=key, embedder=embedder[0],
                      embedder_model=embedder[1], embedder_revision=embedder[2] or "", verifier=verifier[0],
                      verifier_model=verifier[1], verifier_revision=verifier[2] or "", frames_total=frames_total)
            s.add(run)
            s.flush()
            return run.id

    def resumable_run(self, *, video_id: int, config: dict) -> dict | None:
        """The latest unfinished run of this video with the same settings, to carry on from."""
        with self._session() as s:
            run = s.scalar(select(Run).where(Run.video_id == video_id, Run.config_key == config_key(config))
                           .order_by(Run.id.desc()).limit(1))
            if run is None or run.status == "done":
                return None
            return {"id": run.id, "last_frame_index": run.last_frame_index, "frames_done": run.frames_done,
                    "status": run.status}

    def mark_run(self, run_id: int, *, status: str, error: str = "", timings: dict | None = None) -> None:
        with self._session() as s:
            run = s.get(Run, run_id)
            run.status = status
            run.error = error
            if timings is not None:
                run.timings = timings
            if status != "running":
                run.finished_at = datetime.now(timezone.utc)

    def run_info(self, run_id: int) -> dict:
        with self._session() as s:
            run = s.get(Run, run_id)
            return _as_dict(run)

    def runs(self, video_id: int | None = None) -> list[dict]:
        with self._session() as s:
            q = select(Run).order_by(Run.id)
            if video_id is not None:
                q = q.where(Run.video_id == video_id)
            return [_as_dict(r) for r in s.scalars(q)]

    def add_batch(self, *, run_id: int, video_id: int, candidates: Sequence[Candidate], last_frame_index: int,
                  frames_done: int) -> list[Candidate]:
        """Store one batch of frames' candidates and the run's progress in one transaction."""
        with self._session() as s:
            rows = [_candidate_row(c, run_id=run_id, video_id=video_id) for c in candidates]
            s.add_all(rows)
            s.flush()
            for row, cand in zip(rows, candidates, strict=True):
                if cand.verdict.state is not VerdictState.NOT_RUN:
                    s.add(_verdict_row(row.id, cand.verdict))
            s.execute(update(Run).where(Run.id == run_id).values(
                last_frame_index=last_frame_index, frames_done=frames_done))
            return [c.with_(id=r.id) for r, c in zip(rows, candidates, strict=True)]

    def last_linked(self, *, run_id: int, since_frame: int) -> list[Candidate]:
        """Candidates of a run from `since_frame` on: seeds the track linker when a run resumes."""
        return self.candidates(run_id=run_id, frame_from=since_frame)

    # ---- candidates ------------------------------------------------------------------------
    def candidates(self, *, video_id: int | None = None, run_id: int | None = None,
                   frame_index: int | None = None, frame_from: int | None = None, track_id: int | None = None,
                   ids: Sequence[int] | None = None) -> list[Candidate]:
        q = _candidate_select()
        if video_id is not None:
            q = q.where(CandidateRow.video_id == video_id)
        if run_id is not None:
            q = q.where(CandidateRow.run_id == run_id)
        if frame_index is not None:
            q = q.where(CandidateRow.frame_index == frame_index)
        if frame_from is not None:
            q = q.where(CandidateRow.frame_index >= frame_from)
        if track_id is not None:
            q = q.where(CandidateRow.track_id == track_id)
        if ids is not None:
            q = q.where(CandidateRow.id.in_(list(ids)))
        # Review order (frame, left to right): the GUI uses the list as it comes.
        q = q.order_by(CandidateRow.frame_index, CandidateRow.x, CandidateRow.id)
        with self._reading() as conn:
            return _rows_to_candidates(conn.execute(q))

    def candidate(self, candidate_id: int) -> Candidate:
        found = self.candidates(ids=[candidate_id])
        if not found:
            raise StoreError(f"Candidate {candidate_id} no longer exists in '{self.where}'.")
        return found[0]

    def iter_candidates(self, *, video_id: int | None = None, reviewed_only: bool = False,
                        chunk: int = 2000) -> Iterator[tuple[str, Candidate]]:
        """(video path, candidate) pairs, streamed in chunks so exports never hold a project in memory."""
        q = _candidate_select().add_columns(Video.path).join(Video, Video.id == CandidateRow.video_id)
        if video_id is not None:
            q = q.where(CandidateRow.video_id == video_id)
        if reviewed_only:
            q = q.where(CandidateRow.review_state != "pending")
        q = q.order_by(CandidateRow.video_id, CandidateRow.frame_index, CandidateRow.id)
        with self._session() as s:
            for chunk_rows in s.execute(q.execution_options(yield_per=chunk)).partitions():
                for row, cand in zip(chunk_rows, _rows_to_candidates(chunk_rows), strict=True):
                    yield row.path, cand

    def count_candidates(self, *, video_id: int | None = None) -> int:
        with self._session() as s:
            q = select(func.count()).select_from(CandidateRow)
            if video_id is not None:
                q = q.where(CandidateRow.video_id == video_id)
            return int(s.scalar(q))

    # ---- decisions -------------------------------------------------------------------------
    def decide(self, candidate_id: int, kind: DecisionKind, *, reviewer: str, brand: str | None = None,
               bbox: BBox | None = None, state: ReviewState | None = None) -> Candidate:
        """Record one decision and make it the candidate's current review, in one transaction.

        `brand`/`bbox` are the corrected values after this decision (None keeps the model's).
        `state` overrides the state the kind implies (undo writes an earlier state back).
        """
        with self._session() as s:
            # Lock the row so that two reviewers' decisions are applied in the order of their ids.
            row = s.get(CandidateRow, candidate_id, with_for_update=True)
            if row is None:
                raise StoreError(f"Candidate {candidate_id} no longer exists in '{self.where}'.")
            self._apply(s, row, kind, reviewer=reviewer, brand=brand, bbox=bbox, state=state)
        return self.candidate(candidate_id)

    def _apply(self, s: Session, row: CandidateRow, kind: DecisionKind, *, reviewer: str, brand: str | None,
               bbox: BBox | None, state: ReviewState | None) -> None:
        now = datetime.now(timezone.utc)
        if state is None and kind is not DecisionKind.CLEAR:
            # A new decision keeps earlier corrections unless it brings its own. (An explicit
            # `state` is a snapshot being restored by undo: its brand/bbox are taken as they are.)
            brand = brand if brand is not None else row.review_brand
            if bbox is None and row.rx is not None:
                bbox = BBox(row.rx, row.ry, row.rw, row.rh)
        state = state or STATE_FOR_KIND[kind]
        box = bbox or BBox(None, None, None, None)  # type: ignore[arg-type]
        s.add(DecisionRow(candidate_id=row.id, kind=kind.value, state=state.value, brand=brand, x=box.x, y=box.y,
                          w=box.w, h=box.h, reviewer=reviewer, decided_at=now))
        row.review_state, row.review_kind, row.review_brand = state.value, kind.value, brand
        row.rx, row.ry, row.rw, row.rh = box.x, box.y, box.w, box.h
        row.reviewer, row.decided_at = reviewer, now
        if state is ReviewState.PENDING:
            row.reviewer, row.decided_at, row.review_kind = None, None, None

    def decide_track(self, *, video_id: int, track_id: int, kind: DecisionKind, reviewer: str,
                     only_pending: bool = True) -> list[int]:
        """One decision for every candidate of a track (by default, those not decided yet)."""
        with self._session() as s:
            q = select(CandidateRow).where(CandidateRow.video_id == video_id, CandidateRow.track_id == track_id)
            if only_pending:
                q = q.where(CandidateRow.review_state == "pending")
            rows = list(s.scalars(q.with_for_update()))
            for row in rows:
                self._apply(s, row, kind, reviewer=reviewer, brand=None, bbox=None, state=None)
            return [r.id for r in rows]

    def add_manual_box(self, *, video_id: int, frame: FrameRef, bbox: BBox, brand: str, reviewer: str) -> Candidate:
        """A box the model missed, drawn by the reviewer: stored as an accepted manual candidate."""
        cand = Candidate(frame, bbox, brand, 1.0, "manual")
        with self._session() as s:
            row = _candidate_row(cand, run_id=None, video_id=video_id)
            s.add(row)
            s.flush()
            self._apply(s, row, DecisionKind.ADDED, reviewer=reviewer, brand=None, bbox=None, state=None)
            new_id = row.id
        return self.candidate(new_id)

    def delete_manual_box(self, candidate_id: int) -> None:
        """Undo of an added box. Only manual boxes can be deleted; model candidates keep their history."""
        with self._session() as s:
            s.execute(delete(CandidateRow).where(CandidateRow.id == candidate_id, CandidateRow.method == "manual"))

    def history(self, candidate_id: int) -> list[dict]:
        with self._session() as s:
            rows = s.scalars(select(DecisionRow).where(DecisionRow.candidate_id == candidate_id).order_by(DecisionRow.id))
            return [_as_dict(r) for r in rows]

    def count_decisions(self) -> int:
        with self._session() as s:
            return int(s.scalar(select(func.count()).select_from(DecisionRow)))


# ---- row <-> record ----------------------------------------------------------------------------
def _as_dict(row) -> dict:
    return {c.name: getattr(row, c.name) for c in row.__table__.columns}


def config_key(config: dict) -> str:
    """Hash of the settings that change results (not the frame range: a resume may extend it)."""
    keep = {k: v for k, v in config.items() if k not in {"start_frame", "end_frame", "device", "batch_frames"}}
    return hashlib.sha256(json.dumps(keep, sort_keys=True, default=str).encode()).hexdigest()[:32]


def _candidate_row(c: Candidate, *, run_id: int | None, video_id: int) -> CandidateRow:
    return CandidateRow(run_id=run_id, video_id=video_id, frame_index=c.frame.index, t=c.frame.t,
                        frame_name=c.frame.name, frame_width=c.frame.width, frame_height=c.frame.height,
                        x=c.bbox.x, y=c.bbox.y, w=c.bbox.w, h=c.bbox.h, brand=c.brand, score=c.score,
                        margin=c.margin, method=c.method, reference=c.reference, track_id=c.track_id)


def _verdict_row(candidate_id: int, v: Verdict) -> VerdictRow:
    return VerdictRow(candidate_id=candidate_id, state=v.state.value, confidence=v.confidence,
                      rationale=v.rationale, raw=v.raw, method=v.method, from_track=v.from_track)


def _candidate_select():
    return select(
        CandidateRow.id, CandidateRow.frame_index, CandidateRow.t.label("t_s"), CandidateRow.frame_name,
        CandidateRow.frame_width, CandidateRow.frame_height, CandidateRow.x, CandidateRow.y, CandidateRow.w,
        CandidateRow.h, CandidateRow.brand, CandidateRow.score, CandidateRow.margin, CandidateRow.method,
        CandidateRow.reference, CandidateRow.track_id, CandidateRow.review_state, CandidateRow.review_kind,
        CandidateRow.review_brand, CandidateRow.rx, CandidateRow.ry, CandidateRow.rw, CandidateRow.rh,
        CandidateRow.reviewer, CandidateRow.decided_at, VerdictRow.state.label("v_state"),
        VerdictRow.confidence.label("v_conf"), VerdictRow.rationale.label("v_rationale"),
        VerdictRow.raw.label("v_raw"), VerdictRow.method.label("v_method"), VerdictRow.from_track.label("v_track"),
    ).outerjoin(VerdictRow, VerdictRow.candidate_id == CandidateRow.id)


_VERDICT_STATES = {s.value: s for s in VerdictState}
_REVIEW_STATES = {s.value: s for s in ReviewState}
_KINDS = {k.value: k for k in DecisionKind}
_NOT_RUN = Verdict(VerdictState.NOT_RUN)
_PENDING = Review()


def _rows_to_candidates(rows) -> list[Candidate]:
    """Rows to records: positional unpacking, shared FrameRefs and shared default verdict/review
    objects keep 100,000 rows to about half a second."""
    frames: dict[tuple, FrameRef] = {}
    out = []
    append = out.append
    for (cid, fi, t, name, fw, fh, x, y, w, h, brand, score, margin, method, ref, track, rstate, rkind, rbrand,
         rx, ry, rw, rh, reviewer, decided_at, vstate, vconf, vrat, vraw, vmeth, vtrack, *_extra) in rows:
        key = (fi, t, fw, fh, name)
        frame = frames.get(key)
        if frame is None:
            frame = frames[key] = FrameRef(fi, t, fw, fh, name)
        verdict = Verdict(_VERDICT_STATES[vstate], vconf, vrat or "", vraw or "", vmeth, bool(vtrack)) if vstate \
            else _NOT_RUN
        if rstate == "pending" and rbrand is None and rx is None:
            review = _PENDING
        else:
            review = Review(_REVIEW_STATES[rstate], rbrand, BBox(rx, ry, rw, rh) if rx is not None else None,
                            reviewer or "", _aware(decided_at), _KINDS[rkind] if rkind else None)
        append(Candidate(frame, BBox(x, y, w, h), brand, score, method, margin, ref, track, verdict, cid, review))
    return out


def _aware(value: datetime | None) -> datetime | None:
    # SQLite drops the timezone; everything we write is UTC.
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)
    return value


def open_repository(target: str | Path, *, create: bool = True) -> Repository:
    """Open (and create or migrate) a project database from a file path or a SQLAlchemy URL."""
    url = database_url(target)
    where = str(target)
    if url.startswith("sqlite:///") and not create and not Path(url[len("sqlite:///"):]).exists():
        raise StoreError(f"Project '{where}' does not exist; check the path or create a new project.")
    try:
        kwargs = {"connect_args": {"timeout": 10}} if url.startswith("sqlite") else {"pool_pre_ping": True}
        engine = create_engine(url, **kwargs)
    except (ArgumentError, ImportError) as exc:
        raise StoreError(f"Cannot use database URL '{where}': {exc}. Use a file path or e.g. "
                         "postgresql+psycopg://user@host/db (pip install 'logotag[postgres]').") from exc
    if url.startswith("sqlite"):
        event.listen(engine, "connect", _sqlite_pragmas)
    repo = Repository(engine, where=where)
    try:
        with engine.begin() as conn:
            ensure_schema(conn, where=where)
    except OperationalError as exc:
        engine.dispose()
        raise repo._translate(exc) from exc
    except DBAPIError as exc:
        engine.dispose()
        raise StoreError(f"Cannot open database '{where}': {exc.orig}. Is it a LogoTag project?") from exc
    except StoreError:
        engine.dispose()
        raise
    return repo
