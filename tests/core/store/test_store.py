from __future__ import annotations

import sqlite3
import threading

import pytest
from sqlalchemy import text

from logotag_gui.core.base.errors import StoreError
from logotag_gui.core.base.records import (
    MANUAL,
    PENDING,
    BBox,
    Candidate,
    DecisionKind,
    FrameRef,
    ReviewState,
    Verdict,
    VerdictState,
)
from logotag_gui.core.store import migrations, open_repository, schema
from logotag_gui.core.store.edits import Decision, ReviewEdit


def _seed(repo, n=3, track=1):
    vid = repo.add_video(path="/clips/a.mp4", kind="video", fps=25, frame_count=100, duration_s=4, width=640,
                         height=360)
    run = repo.start_run(video_id=vid, config={"fps": 2}, embedder=("keypoints", "", ""), verifier=("none", "", ""),
                         frames_total=n)
    cands = [Candidate(FrameRef(i * 12, i * 0.48, 640, 360), BBox(10 + i, 20, 50, 30), "acme", 0.8, "keypoints",
                       track_id=track, verdict=Verdict(VerdictState.YES, 0.9, "red", "{...}", "vlm"))
             for i in range(n)]
    stored = repo.add_batch(run_id=run, video_id=vid, candidates=cands, last_frame_index=cands[-1].frame.index,
                            frames_done=n)
    return vid, run, stored


def _decide(repo, ids, kind, *, reviewer, brand=None, bbox=None, video_id=1):
    """One decision through the one door review writes by: one edit, one transaction."""
    result = repo.apply_edit(ReviewEdit(decide=(Decision(tuple(ids), kind, brand, bbox),)), video_id=video_id,
                             reviewer=reviewer)
    return result.changed


def test_round_trip_and_verdicts(db_url):
    repo = open_repository(db_url)
    vid, run, stored = _seed(repo)
    back = repo.candidates(video_id=vid)
    assert [c.id for c in back] == [c.id for c in stored]
    assert back[1].frame == FrameRef(12, 0.48, 640, 360, None)
    assert back[1].verdict.state is VerdictState.YES and back[1].verdict.raw == "{...}"
    assert repo.run_info(run).last_frame_index == 24


def test_decisions_keep_history_and_the_latest_wins(db_url):
    repo = open_repository(db_url)
    vid, _, stored = _seed(repo)
    cid = stored[0].id
    _decide(repo, [cid], DecisionKind.ACCEPT, reviewer="ann", video_id=vid)
    accepted = repo.candidate(cid).review
    _decide(repo, [cid], DecisionKind.RELABEL, reviewer="ann", brand="globex", video_id=vid)
    _decide(repo, [cid], DecisionKind.BOX_EDIT, reviewer="bob", bbox=BBox(1, 2, 3, 4), video_id=vid)
    [current] = _decide(repo, [cid], DecisionKind.REJECT, reviewer="bob", video_id=vid)
    assert current.review.state is ReviewState.REJECTED and current.review.reviewer == "bob"
    assert current.review.decided_at is not None and current.review.decided_at >= accepted.decided_at
    assert current.final_brand == "globex" and current.final_bbox == BBox(1, 2, 3, 4)  # corrections kept
    history = repo.history(cid)
    assert [h["kind"] for h in history] == ["accept", "relabel", "box_edit", "reject"]
    assert [h["reviewer"] for h in history] == ["ann", "ann", "bob", "bob"]
    # Undo writes the earlier snapshot again: history grows, nothing is deleted.
    [restored] = repo.apply_edit(ReviewEdit(restore={cid: accepted}), video_id=vid, reviewer="bob").changed
    assert restored.review.state is ReviewState.ACCEPTED and restored.final_brand == "acme"
    assert restored.final_bbox == stored[0].bbox
    [cleared] = repo.apply_edit(ReviewEdit(restore={cid: PENDING}), video_id=vid, reviewer="bob").changed
    assert cleared.review.state is ReviewState.PENDING and not cleared.review.decided
    assert [h["kind"] for h in repo.history(cid)][4:] == ["accept", "clear"]


def test_track_decision_is_one_transaction_and_undo_restores_it(db_url):
    repo = open_repository(db_url)
    vid, _, stored = _seed(repo)
    before = {c.id: c.review for c in stored}
    changed = _decide(repo, [c.id for c in stored], DecisionKind.ACCEPT, reviewer="ann", video_id=vid)
    assert [c.review.state for c in changed] == [ReviewState.ACCEPTED] * 3
    assert repo.count_decisions() == 3
    restored = repo.apply_edit(ReviewEdit(restore=before), video_id=vid, reviewer="ann").changed
    assert all(c.review.state is ReviewState.PENDING for c in restored) and len(restored) == 3
    with pytest.raises(StoreError, match="no longer exists"):  # all or none
        _decide(repo, [stored[0].id, 999_999], DecisionKind.REJECT, reviewer="ann", video_id=vid)
    assert repo.candidate(stored[0].id).review.state is ReviewState.PENDING
    with pytest.raises(StoreError, match="no longer exists"):  # one edit: what it adds goes with the failed decision
        repo.apply_edit(ReviewEdit(add=(Candidate(FrameRef(30, 1.2, 640, 360), BBox(5, 5, 40, 40), "acme", 0.7,
                                                  "tracked"),),
                                   decide=(Decision((999_999,), DecisionKind.ACCEPT),)), video_id=vid, reviewer="ann")
    assert repo.count_candidates(video_id=vid) == 3 and repo.count_decisions() == 6


def test_review_made_candidates_survive_a_new_run_and_only_they_can_be_deleted(db_url):
    repo = open_repository(db_url)
    vid, _, stored = _seed(repo)
    track = repo.reserve_track_ids(vid)
    drawn = Candidate(FrameRef(30, 1.2, 640, 360), BBox(5, 5, 40, 40), "acme", 1.0, MANUAL, track_id=track)
    followed = Candidate(FrameRef(42, 1.68, 640, 360), BBox(7, 5, 40, 40), "acme", 0.7, "tracked", track_id=track)
    made = repo.apply_edit(ReviewEdit(add=(followed,), add_decided=((drawn, DecisionKind.ADDED),)), video_id=vid,
                           reviewer="ann").added
    assert [c.method for c in made] == ["tracked", MANUAL]  # in the order asked: pending ones, then decided ones
    proposed, added = made
    assert added.review.state is ReviewState.ACCEPTED and added.review.reviewer == "ann" and added.track_id == track
    assert [h["kind"] for h in repo.history(added.id)] == ["added"]
    assert proposed.review.state is ReviewState.PENDING and proposed.track_id == track
    repo.start_run(video_id=vid, config={"fps": 4}, embedder=("keypoints", "", ""), verifier=("none", "", ""),
                   frames_total=1)
    assert sorted(c.id for c in repo.candidates(video_id=vid)) == sorted([added.id, proposed.id])
    # The model's candidate is not review's: it is never deleted (its run's replacement took it, above).
    gone = repo.apply_edit(ReviewEdit(delete=(added.id, proposed.id, stored[0].id)), video_id=vid,
                           reviewer="ann").removed
    assert sorted(gone) == sorted([added.id, proposed.id]) and repo.count_candidates(video_id=vid) == 0


def test_a_model_candidate_is_never_deleted_by_an_edit(db_url):
    repo = open_repository(db_url)
    vid, _, stored = _seed(repo)
    assert repo.apply_edit(ReviewEdit(delete=(stored[0].id,)), video_id=vid, reviewer="ann").removed == []
    assert repo.count_candidates(video_id=vid) == 3


def test_track_ids_are_unique_per_clip_across_runs_and_review(db_url):
    repo = open_repository(db_url)
    vid, _, _ = _seed(repo)
    first = repo.reserve_track_ids(vid, 10)
    second = repo.reserve_track_ids(vid, 1)
    assert second == first + 10


def test_what_review_teaches_is_kept_with_its_candidate(db_url):
    repo = open_repository(db_url)
    vid, _, stored = _seed(repo)
    ref = repo.add_review_reference(brand="acme", polarity="positive", candidate_id=stored[0].id, video_id=vid,
                                    frame_index=0, bbox=BBox(1, 2, 3, 4), image_png=b"png", reviewer="ann")
    repo.add_review_reference(brand="acme", polarity="negative", candidate_id=stored[1].id, video_id=vid,
                              frame_index=12, bbox=BBox(1, 2, 3, 4), image_png=b"png2", reviewer="ann")
    got = repo.review_references(brand="acme", polarity="positive")
    assert [(r.id, r.image_png, r.bbox) for r in got] == [(ref, b"png", BBox(1, 2, 3, 4))]
    assert repo.delete_review_references(candidate_ids=[stored[0].id]) == 1
    assert [r.polarity for r in repo.review_references()] == ["negative"]
    repo.set_hint([stored[2].id], "like_rejected")
    assert repo.candidate(stored[2].id).hint == "like_rejected"


def test_a_second_process_cannot_run_a_clip_that_is_being_run(db_url):
    from logotag_gui.core.store.repository import RunBusy

    repo = open_repository(db_url)
    vid, _, _ = _seed(repo)
    owner = repo.acquire_run_lock(vid)
    other = open_repository(db_url)
    with pytest.raises(RunBusy, match="being run by another LogoTag process"):
        other.acquire_run_lock(vid)
    assert repo.renew_run_lock(vid, owner)
    repo.release_run_lock(vid, owner)
    taken = other.acquire_run_lock(vid)
    assert not repo.renew_run_lock(vid, owner)  # the old owner knows it lost the clip
    other.release_run_lock(vid, taken)
    other.close()


def test_a_dead_holder_gives_the_clip_up_and_its_run_shows_interrupted(db_url):
    import subprocess
    import sys

    repo = open_repository(db_url)
    vid, run, _ = _seed(repo)
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    import socket

    from logotag_gui.core.store import schema as sc

    with repo.engine.begin() as conn:  # as a killed process leaves it: fresh heartbeat, no process
        conn.execute(sc.Video.__table__.update().values(
            run_owner=f"{socket.gethostname()}:{dead.stdout.strip()}:x", run_heartbeat=sc.utcnow()))
    assert repo.video(vid).last_run_status == "interrupted"
    owner = repo.acquire_run_lock(vid)
    assert repo.run_info(run).status == "interrupted"
    repo.release_run_lock(vid, owner)


def test_new_run_replaces_pending_candidates_but_keeps_decided_ones(db_url):
    repo = open_repository(db_url)
    vid, _, stored = _seed(repo)
    _decide(repo, [stored[0].id], DecisionKind.ACCEPT, reviewer="ann", video_id=vid)
    repo.start_run(video_id=vid, config={"fps": 4}, embedder=("keypoints", "", ""), verifier=("none", "", ""),
                   frames_total=1)
    assert [c.id for c in repo.candidates(video_id=vid)] == [stored[0].id]


def test_two_reviewers_deciding_at_once_lose_nothing(db_url):
    repo = open_repository(db_url)
    video_id, _, stored = _seed(repo, n=20)
    ids = [c.id for c in stored]
    errors = []

    def review(name, kind):
        own = open_repository(db_url)  # one Repository per thread, as in the app
        try:
            for cid in ids:
                _decide(own, [cid], kind, reviewer=name, video_id=video_id)
        except Exception as exc:  # surfaced below
            errors.append(exc)
        finally:
            own.close()

    threads = [threading.Thread(target=review, args=("ann", DecisionKind.ACCEPT)),
               threading.Thread(target=review, args=("bob", DecisionKind.REJECT))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert repo.count_decisions() == 40
    for cid in ids:
        latest = repo.history(cid)[-1]
        current = repo.candidate(cid).review
        assert current.reviewer == latest["reviewer"] and current.state.value == latest["state"]


def test_schema_version_is_recorded_and_newer_databases_are_refused(tmp_path):
    path = tmp_path / "p.sqlite"
    open_repository(path).close()
    with sqlite3.connect(path) as conn:
        assert conn.execute("select value from logotag_meta where key='schema_version'").fetchone() == (
            str(schema.SCHEMA_VERSION),)
        conn.execute("update logotag_meta set value='99' where key='schema_version'")
    with pytest.raises(StoreError, match="newer LogoTag"):
        open_repository(path)


def test_older_databases_are_migrated(tmp_path, monkeypatch):
    path = tmp_path / "p.sqlite"
    open_repository(path).close()
    applied = []

    def step(conn):
        conn.execute(text("ALTER TABLE videos ADD COLUMN note VARCHAR(64)"))
        applied.append(1)

    monkeypatch.setattr(schema, "SCHEMA_VERSION", schema.SCHEMA_VERSION + 1)
    monkeypatch.setitem(migrations.MIGRATIONS, schema.SCHEMA_VERSION - 1, step)
    open_repository(path).close()
    assert applied == [1]
    with sqlite3.connect(path) as conn:
        assert conn.execute("select value from logotag_meta").fetchone() == (str(schema.SCHEMA_VERSION),)
        assert "note" in [r[1] for r in conn.execute("pragma table_info(videos)")]


def test_foreign_and_locked_databases_get_clear_messages(tmp_path):
    other = tmp_path / "other.sqlite"
    with sqlite3.connect(other) as conn:
        conn.execute("create table invoices (id integer)")
    with pytest.raises(StoreError, match="some other program"):
        open_repository(other)

    path = tmp_path / "p.sqlite"
    repo = open_repository(path)
    repo.close()
    holder = sqlite3.connect(path, timeout=0.1)
    holder.execute("BEGIN EXCLUSIVE")  # another program holds the write lock
    from sqlalchemy import create_engine, event

    from logotag_gui.core.store.repository import Repository, sqlite_pragmas

    engine = create_engine(f"sqlite:///{path}", connect_args={"timeout": 0.2})
    event.listen(engine, "connect", sqlite_pragmas(False))
    impatient = Repository(engine, where=str(path))
    with pytest.raises(StoreError, match="locked by another program"):
        impatient.add_video(path="/b.mp4", kind="video", fps=25, frame_count=1, duration_s=1, width=1, height=1)
    holder.rollback()
    holder.close()


def test_bad_url_is_explained():
    with pytest.raises(StoreError, match="Cannot use database URL"):
        open_repository("nosuchdriver://x/y")


def test_another_programs_database_is_left_byte_for_byte(tmp_path):
    other = tmp_path / "other.sqlite"
    with sqlite3.connect(other) as conn:
        conn.execute("create table invoices (id integer)")
        conn.execute("insert into invoices values (1)")
    before = other.read_bytes()
    with pytest.raises(StoreError, match="some other program"):
        open_repository(other)
    assert other.read_bytes() == before
    assert not (tmp_path / "other.sqlite-wal").exists()


def test_a_password_in_a_database_url_never_reaches_a_message():
    with pytest.raises(StoreError) as err:
        open_repository("postgresql+psycopg://ann:s3cret-pw@127.0.0.1:1/projects")
    assert "s3cret-pw" not in str(err.value) and "ann:***@127.0.0.1" in str(err.value)


def _as_v1(conn) -> None:
    """Turn a fresh database back into schema v1 (what LogoTag 0.1 wrote)."""
    for table, column in (("videos", "next_track_id"), ("videos", "run_owner"), ("videos", "run_heartbeat"), ("videos", "cuts"),
                          ("videos", "views"),
                          ("runs", "notes"), ("candidates", "hint")):
        conn.execute(text(f"ALTER TABLE {table} DROP COLUMN {column}"))
    for table in ("review_references", "exposure_splits", "audit_frames", "audit_samples", "run_parts", "view_looks"):
        conn.execute(text(f"DROP TABLE {table}"))
    conn.execute(text("UPDATE logotag_meta SET value = '1' WHERE key = 'schema_version'"))


def test_a_version_1_project_is_migrated_with_its_track_ids(db_url):
    repo = open_repository(db_url)
    vid, run, stored = _seed(repo, track=7)
    with repo.engine.begin() as conn:
        _as_v1(conn)
    repo.close()
    again = open_repository(db_url)
    assert [c.id for c in again.candidates(video_id=vid)] == [c.id for c in stored]
    assert again.reserve_track_ids(vid) == 8  # after the highest track id stored
    assert again.run_info(run).notes == () and again.review_references() == []
