"""The only module that opens Sessions. The Qt layer and the pipeline call these methods.

One Repository per thread: a Session never crosses threads. Every write is its own short
transaction, committed before the method returns, so a killed app loses nothing confirmed.
"""

from __future__ import annotations

import logging
import os
import shutil
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from sqlalchemy import Connection, Engine, create_engine, delete, event, func, make_url, select, update
from sqlalchemy.exc import ArgumentError, DBAPIError, IntegrityError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from logotag_gui.core.base.errors import StoreError
from logotag_gui.core.base.records import (
    Candidate,
    ReferenceOrigin,
    Verdict,
    VerdictState,
)
from logotag_gui.core.base.safe_io import redact_secrets, redact_url
from logotag_gui.core.store import schema
from logotag_gui.core.store.audits import AuditsMixin
from logotag_gui.core.store.coverage import CoverageMixin
from logotag_gui.core.store.edits import EditsMixin
from logotag_gui.core.store.learned import LearnedMixin
from logotag_gui.core.store.migrations import ensure_schema
from logotag_gui.core.store.rows import (
    REVIEW_ORDER,
    as_dict,
    candidate_select,
    insert_candidates,
    rows_to_candidates,
    verdict_row,
)
from logotag_gui.core.store.rules import RulesMixin
from logotag_gui.core.store.run_parts import PartRecord, RunPartsMixin  # noqa: F401  (PartRecord re-exported)
from logotag_gui.core.store.runs import (  # noqa: F401  (re-exported: where callers look for them)
    HEARTBEAT_S,
    STALE_AFTER,
    RunBusy,
    RunRecord,
    RunsMixin,
    config_key,
)
from logotag_gui.core.store.schema import CandidateRow, DecisionRow, Run, VerdictRow, Video

log = logging.getLogger(__name__)



def database_url(target: str | Path) -> str:
    """A SQLAlchemy URL from a URL or a file path (a path becomes a SQLite file)."""
    text = str(target)
    if "://" in text:
        return text
    try:
        return f"sqlite:///{Path(text).expanduser().resolve()}"
    except RuntimeError as exc:  # pathlib before Python 3.13: a loop of symbolic links
        raise StoreError(f"'{text}' is a symbolic link that leads back to itself (a loop of links), so it names no "
                         "project; give the project file's own path.") from exc


LOW_SPACE = 1 << 20  # below this, a disk has no room for SQLite's -wal and -shm files (the -shm alone is 32 KiB)


def sqlite_file(url: str) -> Path | None:
    """The file of a SQLite URL, or None (another database, in memory, or a `file:` URI of the user's)."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        return None
    name = parsed.database
    if not parsed.drivername.startswith("sqlite") or not name or name == ":memory:" or name.startswith("file:"):
        return None
    return Path(name)


def read_only_reason(path: Path) -> str | None:
    """Why an existing project can only be read here (a read-only mount, file or folder), or None."""
    if not os.access(path, os.W_OK):
        return "its file cannot be written"
    if not os.access(path.parent, os.W_OK):  # SQLite writes its -wal and -shm files beside the project
        return f"its folder '{path.parent}' cannot be written"
    return None


def _read_only_connect(path: Path, *, timeout: float) -> Callable[[], sqlite3.Connection]:
    """Connections that only read the project. In a folder nobody may write, SQLite cannot make the -shm file a
    WAL project needs: it reads the file as immutable there (nobody can change it either), unless a -wal still
    holding changes is there with its -shm (a copy taken while the app had it open): then those are read too."""
    wal, shm = Path(f"{path}-wal"), Path(f"{path}-shm")
    pending = wal.exists() and wal.stat().st_size > 0
    immutable = not os.access(path.parent, os.W_OK) and not (pending and shm.exists())
    if immutable and pending:
        log.warning("'%s' is read without the changes in its -wal file (its -shm file is missing, and the folder "
                    "is read-only)", path)
    uri = f"file:{quote(str(path))}?mode=ro" + ("&immutable=1" if immutable else "")
    return lambda: sqlite3.connect(uri, uri=True, timeout=timeout, check_same_thread=False)


def sqlite_problem(path: Path, *, where: str, text: str, read_only: str | None = None) -> StoreError | None:
    """The cause and the fix behind SQLite's "unable to open database file", "disk I/O error" or "database or
    disk is full" (a folder where the file should be, a full disk, a read-only folder); None when none is seen."""
    if path.is_dir():
        return StoreError(f"'{where}' is a folder, not a project file: give the project file's path (e.g. "
                          f"'{path / 'project.logotag.sqlite'}'), or move the folder out of the way.")
    folder = path.parent
    if not folder.is_dir():
        return StoreError(f"Cannot open the project '{where}': its folder '{folder}' does not exist; check the path.")
    try:
        free: int | None = shutil.disk_usage(folder).free
    except OSError:
        free = None
    if "full" in text or (free is not None and free < LOW_SPACE):
        room = f" ({free:,} bytes free)" if free is not None else ""
        return StoreError(f"The disk holding the project '{where}' is full{room}: SQLite needs room beside the "
                          "project for its journal (the -wal and -shm files). Free some space on that disk, or "
                          "copy the project to another one and open the copy.")
    if not path.exists() and not os.access(folder, os.W_OK):
        return StoreError(f"Cannot create the project '{where}': its folder '{folder}' is read-only; choose a "
                          "folder you can write to.")
    reason = read_only or (read_only_reason(path) if path.exists() else None)
    if reason is not None:
        return read_only_error(where, reason)
    return None


def read_only_error(where: str, reason: str | None) -> StoreError:
    why = f" ({reason})" if reason else ""
    return StoreError(f"The project '{where}' is read-only{why}: it can be exported, reported and listed, but not run "
                      "or reviewed. Copy it (with its -wal file, if one is beside it) to a folder you can write to "
                      "and open the copy.")


def sqlite_pragmas(durable: bool):
    """Per-connection settings. WAL is set once the file is known to be a LogoTag project (open_repository):
    it is a property of the file, and another program's database must be left byte for byte as it was."""

    def apply(dbapi_conn, _record) -> None:
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA foreign_keys=ON")
        # NORMAL survives a killed process; FULL (one fsync per commit) also survives a power cut,
        # which reviewer decisions must (bench/bench_store.py measures what it costs).
        cur.execute(f"PRAGMA synchronous={'FULL' if durable else 'NORMAL'}")
        cur.execute("PRAGMA cache_size=-65536")  # 64 MB: a 100,000-candidate clip loads in one pass
        cur.close()

    return apply


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


class Repository(RunsMixin, RunPartsMixin, LearnedMixin, EditsMixin, AuditsMixin, CoverageMixin, RulesMixin):
    read_only: str | None = None  # why the project is open for reading only (open_repository), else None

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
        text = redact_secrets(str(exc.orig) if exc.orig else str(exc))
        if "locked" in text or "busy" in text:
            return StoreError(
                f"The database '{self.where}' is locked by another program (another LogoTag window or a run?). "
                "Close it or wait for it to finish, then try again."
            )
        if "readonly" in text or "read-only" in text:
            return read_only_error(self.where, self.read_only)
        file = sqlite_file(str(self.engine.url))
        if file is not None and any(s in text for s in ("unable to open", "disk I/O", "full", "readonly")):
            problem = sqlite_problem(file, where=self.where, text=text, read_only=self.read_only)
            if problem is not None:
                return problem
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
        def work(s: Session) -> None:
            row = s.get(schema.Meta, f"setting.{key}")
            if row is None:
                s.add(schema.Meta(key=f"setting.{key}", value=value))
            else:
                row.value = value

        # Two runs starting at once both find the setting missing: the second one's retry updates it.
        self._insert_once(work)

    # ---- videos ----------------------------------------------------------------------------
    def _insert_once(self, work):
        """Run `work(session)`, which inserts rows only where they are missing; when another process
        inserted the same unique row meanwhile, the second try finds it there."""
        for attempt in (1, 2):
            try:
                with self._session() as s:
                    return work(s)
            except IntegrityError:
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def add_video(self, *, path: str, kind: str, fps: float, frame_count: int, duration_s: float,
                  width: int, height: int) -> int:
        def work(s: Session) -> int:
            row = s.scalar(select(Video).where(Video.path == path))
            if row is None:
                row = Video(path=path, kind=kind, fps=fps, frame_count=frame_count, duration_s=duration_s,
                            width=width, height=height)
                s.add(row)
                s.flush()
            return row.id

        return self._insert_once(work)

    def videos(self) -> list[VideoSummary]:
        with self._session() as s:
            counts = dict(s.execute(select(CandidateRow.video_id, func.count()).group_by(CandidateRow.video_id)).all())
            decided = dict(s.execute(
                select(CandidateRow.video_id, func.count()).where(CandidateRow.review_state != "pending")
                .group_by(CandidateRow.video_id)).all())
            last_status: dict[int, str] = {}
            for vid, run_status in s.execute(select(Run.video_id, Run.status).order_by(Run.id)).all():
                last_status[vid] = run_status
            out = []
            for v in s.scalars(select(Video).order_by(Video.id)):
                status = last_status.get(v.id)
                if status == "running" and not self._lock_live(v):
                    status = "interrupted"  # its process died without a word
                out.append(VideoSummary(v.id, v.path, v.kind, v.fps, v.frame_count, v.duration_s, v.width, v.height,
                                        counts.get(v.id, 0), decided.get(v.id, 0), status))
            return out

    def video(self, video_id: int) -> VideoSummary:
        for v in self.videos():
            if v.id == video_id:
                return v
        raise StoreError(f"No video with id {video_id} in '{self.where}'.")

    # ---- brands ----------------------------------------------------------------------------
    def sync_brands(self, aliases: dict[str, list[str]], files: dict[str, tuple[str, str]]) -> None:
        """Record the dictionary's brands and reference files (files: relpath -> (brand, sha256))."""
        self._insert_once(lambda s: self._sync_brands(s, aliases, files))

    @staticmethod
    def _sync_brands(s: Session, aliases: dict[str, list[str]], files: dict[str, tuple[str, str]]) -> None:
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

    def add_reference(self, *, brand: str, path: str, sha256: str, origin: ReferenceOrigin = "review") -> None:
        with self._session() as s:
            row = s.scalar(select(schema.Brand).where(schema.Brand.name == brand))
            if row is None:
                row = schema.Brand(name=brand, aliases=[])
                s.add(row)
                s.flush()
            s.add(schema.ReferenceRow(brand_id=row.id, path=path, sha256=sha256, origin=origin))

    def add_batch(self, *, run_id: int, video_id: int, candidates: Sequence[Candidate], last_frame_index: int | None,
                  frames_done: int | None, part_id: int | None = None) -> list[Candidate]:
        """Store one batch of frames' candidates and the run's progress (None: unchanged) in one transaction;
        with `part_id`, the progress is that part's (its run's is the sum of its parts')."""
        with self._session() as s:
            rows = insert_candidates(s, candidates, run_id=run_id, video_id=video_id)
            if last_frame_index is not None and part_id is not None:
                self.part_progress(s, part_id, last_frame_index=last_frame_index, frames_done=frames_done or 0)
            elif last_frame_index is not None:
                s.execute(update(Run).where(Run.id == run_id).values(
                    last_frame_index=last_frame_index, frames_done=frames_done))
            return [c.with_(id=r.id) for r, c in zip(rows, candidates, strict=True)]

    def last_linked(self, *, run_id: int, since_frame: int, until_frame: int | None = None) -> list[Candidate]:
        """Candidates of a run from `since_frame` on (to `until_frame`: a part's own frames): seeds the track
        linker when a run resumes."""
        found = self.candidates(run_id=run_id, frame_from=since_frame)
        return found if until_frame is None else [c for c in found if c.frame.index <= until_frame]

    def set_verdicts(self, verdicts: dict[int, Verdict]) -> None:
        """Replace candidates' verdicts (a split run's tracks joined at a border are judged as one)."""
        with self._session() as s:
            s.execute(delete(VerdictRow).where(VerdictRow.candidate_id.in_(list(verdicts))))
            s.add_all(verdict_row(cid, v) for cid, v in verdicts.items() if v.state is not VerdictState.NOT_RUN)

    # ---- candidates ------------------------------------------------------------------------
    def candidates(self, *, video_id: int | None = None, run_id: int | None = None,
                   frame_index: int | None = None, frame_from: int | None = None, track_id: int | None = None,
                   ids: Sequence[int] | None = None) -> list[Candidate]:
        q = candidate_select()
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
        q = q.order_by(*REVIEW_ORDER)
        with self._reading() as conn:
            return rows_to_candidates(conn.execute(q))

    def candidate(self, candidate_id: int) -> Candidate:
        found = self.candidates(ids=[candidate_id])
        if not found:
            raise StoreError(f"Candidate {candidate_id} no longer exists in '{self.where}'.")
        return found[0]

    def iter_candidates(self, *, video_id: int | None = None, reviewed_only: bool = False,
                        chunk: int = 2000) -> Iterator[tuple[str, Candidate]]:
        """(video path, candidate) pairs, streamed in chunks so exports never hold a project in memory."""
        q = candidate_select().add_columns(Video.path).join(Video, Video.id == CandidateRow.video_id)
        if video_id is not None:
            q = q.where(CandidateRow.video_id == video_id)
        if reviewed_only:
            q = q.where(CandidateRow.review_state != "pending")
        q = q.order_by(CandidateRow.video_id, CandidateRow.frame_index, CandidateRow.id)
        with self._session() as s:
            for chunk_rows in s.execute(q.execution_options(yield_per=chunk)).partitions():
                for row, cand in zip(chunk_rows, rows_to_candidates(chunk_rows), strict=True):
                    yield row.path, cand

    def count_candidates(self, *, video_id: int | None = None) -> int:
        with self._session() as s:
            q = select(func.count()).select_from(CandidateRow)
            if video_id is not None:
                q = q.where(CandidateRow.video_id == video_id)
            return int(s.execute(q).scalar_one())

    def _in_order(self, ids: Sequence[int]) -> list[Candidate]:
        found = {c.id: c for c in self.candidates(ids=ids)}
        return [found[i] for i in ids if i in found]

    def add_candidates(self, *, video_id: int, candidates: Sequence[Candidate]) -> list[Candidate]:
        """Candidates that review produced (a box followed through the clip, one found with what review
        taught): pending, with no run, so that a new run of the clip keeps them."""
        with self._session() as s:
            ids = [r.id for r in insert_candidates(s, candidates, run_id=None, video_id=video_id)]
        return self._in_order(ids)

    def set_track(self, candidate_ids: Sequence[int], track_id: int | None) -> list[Candidate]:
        with self._session() as s:
            s.execute(update(CandidateRow.__table__).where(CandidateRow.id.in_(list(candidate_ids)))
                      .values(track_id=track_id))
        return self._in_order(candidate_ids)

    def set_hint(self, candidate_ids: Sequence[int], hint: str | None) -> list[Candidate]:
        with self._session() as s:
            s.execute(update(CandidateRow.__table__).where(CandidateRow.id.in_(list(candidate_ids)))
                      .values(hint=hint))
        return self._in_order(candidate_ids)

    def history(self, candidate_id: int) -> list[dict]:
        with self._session() as s:
            rows = s.scalars(select(DecisionRow).where(DecisionRow.candidate_id == candidate_id)
                             .order_by(DecisionRow.id))
            return [as_dict(r) for r in rows]

    def count_decisions(self) -> int:
        with self._session() as s:
            return int(s.execute(select(func.count()).select_from(DecisionRow)).scalar_one())

def open_repository(target: str | Path, *, create: bool = True, durable: bool = False) -> Repository:
    """Open (and create or migrate) a project database from a file path or a SQLAlchemy URL.

    `durable`: every commit reaches the disk before it returns (SQLite synchronous=FULL), for the
    reviewer's decisions; a pipeline's batches can be redone, and commit faster without it.
    """
    url = database_url(target)
    where = redact_url(target)  # what messages and logs show: never a password
    file = sqlite_file(url)
    if file is not None and file.is_dir():
        raise sqlite_problem(file, where=where, text="") or StoreError(f"'{where}' is a folder.")
    if url.startswith("sqlite:///") and not create and not Path(url[len("sqlite:///"):]).exists():
        raise StoreError(f"Project '{where}' does not exist; check the path or create a new project.")
    # A project on a read-only mount (an archive on a share) is opened for reading: export, report and the
    # list of clips work; a write says the project is read-only and how to fix it.
    read_only = read_only_reason(file) if file is not None and file.exists() else None
    try:
        kwargs: dict[str, Any] = {"connect_args": {"timeout": 10}} if url.startswith("sqlite") \
            else {"pool_pre_ping": True}
        if file is not None and read_only is not None:
            kwargs["creator"] = _read_only_connect(file, timeout=10)
        engine = create_engine(url, **kwargs)
    except (ArgumentError, ImportError) as exc:
        raise StoreError(f"Cannot use database URL '{where}': {redact_secrets(str(exc))}. Use a file path or e.g. "
                         "postgresql+psycopg://user@host/db (pip install 'logotag[postgres]').") from exc
    sqlite = url.startswith("sqlite")
    if sqlite:
        event.listen(engine, "connect", sqlite_pragmas(durable))
    repo = Repository(engine, where=where)
    repo.read_only = read_only
    try:
        with engine.begin() as conn:
            ensure_schema(conn, where=where)
        if sqlite and read_only is None:  # known to be ours now: readers (the GUI) never block the writer (a run)
            with engine.connect() as conn:
                conn.exec_driver_sql("PRAGMA journal_mode=WAL")
    except OperationalError as exc:
        engine.dispose()
        raise repo._translate(exc) from exc
    except DBAPIError as exc:
        engine.dispose()
        raise StoreError(f"Cannot open database '{where}': {redact_secrets(str(exc.orig))}. "
                         "Is it a LogoTag project?") from exc
    except StoreError:
        engine.dispose()
        raise
    return repo
