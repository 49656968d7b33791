"""SQLAlchemy 2.0 models. Frames are the truth: candidates are per frame, tracks a derived column.

Bump SCHEMA_VERSION with every change and add a step to `migrations.MIGRATIONS`.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import TYPE_CHECKING, ClassVar, overload

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

SCHEMA_VERSION = 6


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


@overload
def aware(value: datetime) -> datetime: ...
@overload
def aware(value: None) -> None: ...
def aware(value: datetime | None) -> datetime | None:
    """SQLite drops the timezone; everything LogoTag writes is UTC."""
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)
    return value


class Base(DeclarativeBase):
    if TYPE_CHECKING:
        # Every model here is declared with a __tablename__, so it maps a plain Table; SQLAlchemy types
        # __table__ as any FromClause, which Core statements (update, insert, create) do not accept.
        __table__: ClassVar[Table]


class Meta(Base):
    __tablename__ = "logotag_meta"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class Video(Base):
    __tablename__ = "videos"
    id: Mapped[int] = mapped_column(primary_key=True)
    path: Mapped[str] = mapped_column(String(1024), unique=True)
    kind: Mapped[str] = mapped_column(String(16))  # video | images
    fps: Mapped[float] = mapped_column(Float)
    frame_count: Mapped[int] = mapped_column(Integer)
    duration_s: Mapped[float] = mapped_column(Float)
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    added_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # Track ids are unique within a clip across runs, reviews and propagation: handed out from here.
    next_track_id: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    # The run lock: which process is running the pipeline on this clip, and when it last said so.
    run_owner: Mapped[str | None] = mapped_column(String(200), nullable=True)
    run_heartbeat: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    # Where its shots start (after the first), as the last run's decoder saw every frame: exposures never span
    # one, and learning searches the other shots. None until a run (or learning) has looked.
    cuts: Mapped[list | None] = mapped_column(JSON, nullable=True)
    # Its views on the review grid ({"fps": f, "share": s, "views": [[first, last, key], ...]}, media/views.py):
    # what a reviewer looks at to say that every brand on screen is marked. None until found.
    views: Mapped[dict | None] = mapped_column(JSON, nullable=True)


class Brand(Base):
    __tablename__ = "brands"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(256), unique=True)
    aliases: Mapped[list] = mapped_column(JSON, default=list)
    references: Mapped[list[ReferenceRow]] = relationship(back_populates="brand", cascade="all, delete-orphan")


class ReferenceRow(Base):
    __tablename__ = "references"
    id: Mapped[int] = mapped_column(primary_key=True)
    brand_id: Mapped[int] = mapped_column(ForeignKey("brands.id", ondelete="CASCADE"))
    path: Mapped[str] = mapped_column(String(1024))
    sha256: Mapped[str] = mapped_column(String(64))
    # Where it came from: "folder", or "review" when a reviewer added a crop from a video.
    origin: Mapped[str] = mapped_column(String(16), default="folder")
    brand: Mapped[Brand] = relationship(back_populates="references")
    __table_args__ = (UniqueConstraint("brand_id", "path"),)


class Run(Base):
    __tablename__ = "runs"
    id: Mapped[int] = mapped_column(primary_key=True)
    video_id: Mapped[int] = mapped_column(ForeignKey("videos.id", ondelete="CASCADE"), index=True)
    config: Mapped[dict] = mapped_column(JSON)
    config_key: Mapped[str] = mapped_column(String(64), index=True)  # hash of what changes results
    embedder: Mapped[str] = mapped_column(String(64))
    embedder_model: Mapped[str] = mapped_column(String(256), default="")
    embedder_revision: Mapped[str] = mapped_column(String(128), default="")
    verifier: Mapped[str] = mapped_column(String(64))
    verifier_model: Mapped[str] = mapped_column(String(256), default="")
    verifier_revision: Mapped[str] = mapped_column(String(128), default="")
    # running | done | cancelled | failed | interrupted (its process died) | superseded (a later run
    # with other settings replaced its pending results: never resumed)
    status: Mapped[str] = mapped_column(String(16), default="running")
    error: Mapped[str] = mapped_column(Text, default="")
    frames_total: Mapped[int] = mapped_column(Integer, default=0)
    frames_done: Mapped[int] = mapped_column(Integer, default=0)
    last_frame_index: Mapped[int] = mapped_column(Integer, default=-1)
    timings: Mapped[dict] = mapped_column(JSON, default=dict)
    # What the user must know about the result: skipped unreadable images, frames that did not decode.
    notes: Mapped[list] = mapped_column(JSON, default=list)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class RunPart(Base):
    """A frame range of a run that one process works on (`run-many --split-minutes`): the range's own
    progress, resume point and lock, so that workers share one run of one clip. The run's candidates
    carry the run's id; its frames_done is the sum of its parts'."""

    __tablename__ = "run_parts"
    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), index=True)
    start_frame: Mapped[int] = mapped_column(Integer)
    end_frame: Mapped[int] = mapped_column(Integer)  # inclusive
    # pending | running | done | cancelled | failed | interrupted (its process died)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    error: Mapped[str] = mapped_column(Text, default="")
    frames_total: Mapped[int] = mapped_column(Integer, default=0)
    frames_done: Mapped[int] = mapped_column(Integer, default=0)
    last_frame_index: Mapped[int] = mapped_column(Integer, default=-1)
    owner: Mapped[str | None] = mapped_column(String(200), nullable=True)
    heartbeat: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class CandidateRow(Base):
    __tablename__ = "candidates"
    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int | None] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), nullable=True, index=True)
    video_id: Mapped[int] = mapped_column(ForeignKey("videos.id", ondelete="CASCADE"))
    frame_index: Mapped[int] = mapped_column(Integer)
    t: Mapped[float] = mapped_column(Float)
    frame_name: Mapped[str | None] = mapped_column(String(512), nullable=True)
    frame_width: Mapped[int] = mapped_column(Integer)
    frame_height: Mapped[int] = mapped_column(Integer)
    x: Mapped[float] = mapped_column(Float)
    y: Mapped[float] = mapped_column(Float)
    w: Mapped[float] = mapped_column(Float)
    h: Mapped[float] = mapped_column(Float)
    brand: Mapped[str] = mapped_column(String(256))
    score: Mapped[float] = mapped_column(Float)
    margin: Mapped[float] = mapped_column(Float, default=0.0)
    method: Mapped[str] = mapped_column(String(32))
    reference: Mapped[str | None] = mapped_column(String(1024), nullable=True)
    track_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # The latest decision, copied here in the same transaction so that 100,000 rows filter and
    # sort without a join; the decisions table keeps the whole history.
    review_state: Mapped[str] = mapped_column(String(16), default="pending", index=True)
    review_kind: Mapped[str | None] = mapped_column(String(16), nullable=True)
    review_brand: Mapped[str | None] = mapped_column(String(256), nullable=True)
    rx: Mapped[float | None] = mapped_column(Float, nullable=True)
    ry: Mapped[float | None] = mapped_column(Float, nullable=True)
    rw: Mapped[float | None] = mapped_column(Float, nullable=True)
    rh: Mapped[float | None] = mapped_column(Float, nullable=True)
    reviewer: Mapped[str | None] = mapped_column(String(128), nullable=True)
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    # What review taught about this candidate before anyone decided it: "like_rejected" (it looks
    # more like a box a reviewer rejected than like its brand's references; sorted last).
    hint: Mapped[str | None] = mapped_column(String(32), nullable=True)
    __table_args__ = (
        Index("ix_candidates_video_frame", "video_id", "frame_index"),
        Index("ix_candidates_video_track", "video_id", "track_id"),
    )


class VerdictRow(Base):
    __tablename__ = "verdicts"
    id: Mapped[int] = mapped_column(primary_key=True)
    candidate_id: Mapped[int] = mapped_column(ForeignKey("candidates.id", ondelete="CASCADE"), unique=True)
    state: Mapped[str] = mapped_column(String(16))
    confidence: Mapped[float | None] = mapped_column(Float, nullable=True)
    rationale: Mapped[str] = mapped_column(Text, default="")
    raw: Mapped[str] = mapped_column(Text, default="")
    method: Mapped[str] = mapped_column(String(32))
    from_track: Mapped[bool] = mapped_column(default=False)


class DecisionRow(Base):
    """Every reviewer decision, kept; the latest (highest id) per candidate wins."""

    __tablename__ = "decisions"
    id: Mapped[int] = mapped_column(primary_key=True)
    candidate_id: Mapped[int] = mapped_column(ForeignKey("candidates.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    # The state this decision leaves the candidate in: undo writes the previous state again.
    state: Mapped[str] = mapped_column(String(16))
    brand: Mapped[str | None] = mapped_column(String(256), nullable=True)
    x: Mapped[float | None] = mapped_column(Float, nullable=True)
    y: Mapped[float | None] = mapped_column(Float, nullable=True)
    w: Mapped[float | None] = mapped_column(Float, nullable=True)
    h: Mapped[float | None] = mapped_column(Float, nullable=True)
    reviewer: Mapped[str] = mapped_column(String(128))
    decided_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ReviewReference(Base):
    """A view of a brand learned from review: an accepted or drawn box (positive), a rejected one (negative).

    The crop is kept in the database (PNG) so that a shared project carries what its reviewers taught;
    it goes with its candidate (an undone drawing takes its evidence with it).
    """

    __tablename__ = "review_references"
    id: Mapped[int] = mapped_column(primary_key=True)
    brand: Mapped[str] = mapped_column(String(256), index=True)
    polarity: Mapped[str] = mapped_column(String(8))  # positive | negative
    # The decision that taught it (added, box_edit, accept, relabel, reject): a box the reviewer set
    # (drew or tightened) is tight; an accepted model box may hold background.
    taught_by: Mapped[str] = mapped_column(String(16), default="accept")
    candidate_id: Mapped[int | None] = mapped_column(ForeignKey("candidates.id", ondelete="CASCADE"), nullable=True,
                                                     index=True)
    video_id: Mapped[int] = mapped_column(ForeignKey("videos.id", ondelete="CASCADE"))
    frame_index: Mapped[int] = mapped_column(Integer)
    x: Mapped[float] = mapped_column(Float)
    y: Mapped[float] = mapped_column(Float)
    w: Mapped[float] = mapped_column(Float)
    h: Mapped[float] = mapped_column(Float)
    image: Mapped[bytes] = mapped_column(LargeBinary)
    reviewer: Mapped[str] = mapped_column(String(128), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ExposureSplit(Base):
    """A reviewer's cut of an exposure: a new exposure of `brand` starts at this frame (review groups a brand's
    frames into exposures; a split is the one boundary it cannot derive)."""

    __tablename__ = "exposure_splits"
    id: Mapped[int] = mapped_column(primary_key=True)
    video_id: Mapped[int] = mapped_column(ForeignKey("videos.id", ondelete="CASCADE"), index=True)
    brand: Mapped[str] = mapped_column(String(256))
    frame_index: Mapped[int] = mapped_column(Integer)
    reviewer: Mapped[str] = mapped_column(String(128), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    __table_args__ = (UniqueConstraint("video_id", "brand", "frame_index"),)


class AuditSample(Base):
    """A seeded, stratified random sample of a clip's sampled frames, kept so that it survives a restart and
    every reviewer of the project answers the same frames."""

    __tablename__ = "audit_samples"
    id: Mapped[int] = mapped_column(primary_key=True)
    video_id: Mapped[int] = mapped_column(ForeignKey("videos.id", ondelete="CASCADE"), index=True)
    seed: Mapped[int] = mapped_column(Integer)
    # The population it was drawn from: every sampled frame, by stratum ({stratum: [frame, ...]}), and the grid.
    strata: Mapped[dict] = mapped_column(JSON)
    fps: Mapped[float] = mapped_column(Float)
    population: Mapped[int] = mapped_column(Integer)
    active: Mapped[bool] = mapped_column(Boolean, default=True)  # the clip's current sample
    created_by: Mapped[str] = mapped_column(String(128), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class AuditFrame(Base):
    """One frame of an audit sample and, once answered, which brands are on screen there."""

    __tablename__ = "audit_frames"
    id: Mapped[int] = mapped_column(primary_key=True)
    sample_id: Mapped[int] = mapped_column(ForeignKey("audit_samples.id", ondelete="CASCADE"), index=True)
    frame_index: Mapped[int] = mapped_column(Integer)
    stratum: Mapped[str] = mapped_column(String(300))
    position: Mapped[int] = mapped_column(Integer)  # the order frames are answered in (strata interleaved)
    brands: Mapped[list | None] = mapped_column(JSON, nullable=True)  # None until answered
    reviewer: Mapped[str | None] = mapped_column(String(128), nullable=True)
    answered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    __table_args__ = (UniqueConstraint("sample_id", "frame_index"),)


class ViewLook(Base):
    """A view a reviewer looked at and said is complete: every brand on screen on its frames is marked there. A
    brand not marked on a looked-at frame is a brand not on screen (what a rejected box never says)."""

    __tablename__ = "view_looks"
    id: Mapped[int] = mapped_column(primary_key=True)
    video_id: Mapped[int] = mapped_column(ForeignKey("videos.id", ondelete="CASCADE"), index=True)
    first_frame: Mapped[int] = mapped_column(Integer)
    last_frame: Mapped[int] = mapped_column(Integer)
    reviewer: Mapped[str] = mapped_column(String(128), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    __table_args__ = (UniqueConstraint("video_id", "first_frame", "last_frame"),)


class CountingRuleRow(Base):
    """The project's counting rule (base/counting.py): when a mark counts towards a brand's seconds. One row (id 1);
    none reads as the "any" rule, what LogoTag counted before rules (schema v6)."""

    __tablename__ = "counting_rule"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    min_visible: Mapped[float] = mapped_column(Float)
    min_sharpness: Mapped[float] = mapped_column(Float)
    min_size: Mapped[float] = mapped_column(Float)
    min_exposure_s: Mapped[float] = mapped_column(Float)
    join_gap_s: Mapped[float] = mapped_column(Float)
    one_per_frame: Mapped[bool] = mapped_column(Boolean)
    set_by: Mapped[str] = mapped_column(String(128), default="")
    set_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
