"""Rows and records: candidate rows from records and back, and how one decision is written on a row.

The repository's methods and the one-transaction review edit (edits.py) both write through these, inside
the caller's database session (which commits).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timezone

from sqlalchemy import select
from sqlalchemy.orm import Session

from logotag_gui.core.base.records import (
    REVIEW_ORDER_FIELDS,
    BBox,
    Candidate,
    DecisionKind,
    FrameRef,
    Review,
    ReviewState,
    Verdict,
    VerdictState,
)
from logotag_gui.core.store.schema import CandidateRow, DecisionRow, VerdictRow, aware

STATE_FOR_KIND = {
    DecisionKind.ACCEPT: ReviewState.ACCEPTED,
    DecisionKind.REJECT: ReviewState.REJECTED,
    DecisionKind.RELABEL: ReviewState.ACCEPTED,
    DecisionKind.BOX_EDIT: ReviewState.ACCEPTED,
    DecisionKind.ADDED: ReviewState.ACCEPTED,
    DecisionKind.PRESENT: ReviewState.ACCEPTED,
    DecisionKind.CLEAR: ReviewState.PENDING,
}
# The review order as the database sorts it (records.review_key is the same order in Python).
REVIEW_ORDER = tuple(getattr(CandidateRow, name) for name in REVIEW_ORDER_FIELDS)


def apply_decision(s: Session, row: CandidateRow, kind: DecisionKind, *, reviewer: str, brand: str | None,
                   bbox: BBox | None, state: ReviewState | None) -> None:
    """Record one decision on `row` and make it the candidate's current review (the caller commits)."""
    now = datetime.now(timezone.utc)
    if state is None and kind is not DecisionKind.CLEAR:
        # A new decision keeps earlier corrections unless it brings its own. (An explicit
        # `state` is a snapshot being restored by undo: its brand/bbox are taken as they are.)
        brand = brand if brand is not None else row.review_brand
        if bbox is None and row.rx is not None:
            # The review box's four columns are only ever written together (below): all set or all None.
            assert row.ry is not None and row.rw is not None and row.rh is not None
            bbox = BBox(row.rx, row.ry, row.rw, row.rh)
    state = state or STATE_FOR_KIND[kind]
    x, y, w, h = (bbox.x, bbox.y, bbox.w, bbox.h) if bbox is not None else (None, None, None, None)
    s.add(DecisionRow(candidate_id=row.id, kind=kind.value, state=state.value, brand=brand, x=x, y=y,
                      w=w, h=h, reviewer=reviewer, decided_at=now))
    row.review_state, row.review_kind, row.review_brand = state.value, kind.value, brand
    row.rx, row.ry, row.rw, row.rh = x, y, w, h
    row.reviewer, row.decided_at = reviewer, now
    if state is ReviewState.PENDING:
        row.reviewer, row.decided_at, row.review_kind = None, None, None


def as_dict(row) -> dict:
    return {c.name: getattr(row, c.name) for c in row.__table__.columns}


def candidate_row(c: Candidate, *, run_id: int | None, video_id: int) -> CandidateRow:
    return CandidateRow(run_id=run_id, video_id=video_id, frame_index=c.frame.index, t=c.frame.t,
                        frame_name=c.frame.name, frame_width=c.frame.width, frame_height=c.frame.height,
                        x=c.bbox.x, y=c.bbox.y, w=c.bbox.w, h=c.bbox.h, brand=c.brand, score=c.score,
                        margin=c.margin, method=c.method, reference=c.reference, track_id=c.track_id, hint=c.hint)


def insert_candidates(s: Session, candidates: Sequence[Candidate], *, run_id: int | None,
                      video_id: int) -> list[CandidateRow]:
    """Candidate rows and their verdicts, ids assigned (the caller's transaction commits them)."""
    rows = [candidate_row(c, run_id=run_id, video_id=video_id) for c in candidates]
    s.add_all(rows)
    s.flush()
    for row, cand in zip(rows, candidates, strict=True):
        if cand.verdict.state is not VerdictState.NOT_RUN:
            s.add(verdict_row(row.id, cand.verdict))
    return rows


def verdict_row(candidate_id: int, v: Verdict) -> VerdictRow:
    return VerdictRow(candidate_id=candidate_id, state=v.state.value, confidence=v.confidence,
                      rationale=v.rationale, raw=v.raw, method=v.method, from_track=v.from_track)


def candidate_select():
    return select(
        CandidateRow.id, CandidateRow.frame_index, CandidateRow.t.label("t_s"), CandidateRow.frame_name,
        CandidateRow.frame_width, CandidateRow.frame_height, CandidateRow.x, CandidateRow.y, CandidateRow.w,
        CandidateRow.h, CandidateRow.brand, CandidateRow.score, CandidateRow.margin, CandidateRow.method,
        CandidateRow.reference, CandidateRow.track_id, CandidateRow.review_state, CandidateRow.review_kind,
        CandidateRow.review_brand, CandidateRow.rx, CandidateRow.ry, CandidateRow.rw, CandidateRow.rh,
        CandidateRow.reviewer, CandidateRow.decided_at, VerdictRow.state.label("v_state"),
        VerdictRow.confidence.label("v_conf"), VerdictRow.rationale.label("v_rationale"),
        VerdictRow.raw.label("v_raw"), VerdictRow.method.label("v_method"), VerdictRow.from_track.label("v_track"),
        CandidateRow.hint,
    ).outerjoin(VerdictRow, VerdictRow.candidate_id == CandidateRow.id)


_VERDICT_STATES = {s.value: s for s in VerdictState}
_REVIEW_STATES = {s.value: s for s in ReviewState}
_KINDS = {k.value: k for k in DecisionKind}
_NOT_RUN = Verdict(VerdictState.NOT_RUN)
_PENDING = Review()


def rows_to_candidates(rows) -> list[Candidate]:
    """Rows to records: positional unpacking, shared FrameRefs and shared default verdict/review
    objects keep 100,000 rows to about half a second."""
    frames: dict[tuple, FrameRef] = {}
    out: list[Candidate] = []
    append = out.append
    for (cid, fi, t, name, fw, fh, x, y, w, h, brand, score, margin, method, ref, track, rstate, rkind, rbrand,
         rx, ry, rw, rh, reviewer, decided_at, vstate, vconf, vrat, vraw, vmeth, vtrack, hint, *_extra) in rows:
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
                            reviewer or "", aware(decided_at), _KINDS[rkind] if rkind else None)
        append(Candidate(frame, BBox(x, y, w, h), brand, score, method, margin, ref, track, verdict, cid, review,
                         hint))
    return out


