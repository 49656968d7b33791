from __future__ import annotations

import sqlite3
import threading

import pytest
from sqlalchemy import text

from logotag_gui.core.errors import StoreError
from logotag_gui.core.records import (
    BBox,
    Candidate,
    DecisionKind,
    FrameRef,
    ReviewState,
    Verdict,
    VerdictState,
)
from logotag_gui.core.store import migrations, open_repository, schema


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


def test_round_trip_and_verdicts(db_url):
    repo = open_repository(db_url)
    vid, run, stored = _seed(repo)
    back = repo.candidates(video_id=vid)
    assert [c.id for c in back] == [c.id for c in stored]
    assert back[1].frame == FrameRef(12, 0.48, 640, 360, None)
    assert back[1].verdict.state is VerdictState.YES and back[1].verdict.raw == "{...}"
    assert repo.run_info(run)["last_frame_index"] == 24


def test_decisions_keep_history_and_the_latest_wins(db_url):
    repo = open_repository(db_url)
    _, _, stored = _seed(repo)
    cid = stored[0].id
    repo.decide(cid, DecisionKind.ACCEPT, reviewer="ann")
    repo.decide(cid, DecisionKind.RELABEL, reviewer="ann", brand="globex")
    repo.decide(cid, DecisionKind.BOX_EDIT, reviewer="bob", bbox=BBox(1, 2, 3, 4))
    current = repo.decide(cid, DecisionKind.REJECT, reviewer="bob")
    assert current.review.state is ReviewState.REJECTED and current.review.reviewer == "bob"
    assert current.final_brand == "globex" and current.final_bbox == BBox(1, 2, 3, 4)  # corrections kept
    assert [h["kind"] for h in repo.history(cid)] == ["accept", "relabel", "box_edit", "reject"]
    # Undo writes the earlier snapshot again: history grows, nothing is deleted.
    restored = repo.decide(cid, DecisionKind.CLEAR, reviewer="bob", state=ReviewState.PENDING)
    assert restored.review.state is ReviewState.PENDING and restored.final_brand == "acme"
    assert len(repo.history(cid)) == 5


def test_track_decision_and_manual_boxes(db_url):
    repo = open_repository(db_url)
    vid, _, stored = _seed(repo)
    repo.decide(stored[0].id, DecisionKind.REJECT, reviewer="ann")
    changed = repo.decide_track(video_id=vid, track_id=1, kind=DecisionKind.ACCEPT, reviewer="ann")
    assert sorted(changed) == sorted(c.id for c in stored[1:])  # the decided one is left alone
    added = repo.add_manual_box(video_id=vid, frame=FrameRef(30, 1.2, 640, 360), bbox=BBox(5, 5, 40, 40),
                                brand="acme", reviewer="ann")
    assert added.method == "manual" and added.review.state is ReviewState.ACCEPTED
    repo.delete_manual_box(added.id)
    assert repo.count_candidates(video_id=vid) == 3


def test_new_run_replaces_pending_candidates_but_keeps_decided_ones(db_url):
    repo = open_repository(db_url)
    vid, _, stored = _seed(repo)
    repo.decide(stored[0].id, DecisionKind.ACCEPT, reviewer="ann")
    repo.start_run(video_id=vid, config={"fps": 4}, embedder=("keypoints", "", ""), verifier=("none", "", ""),
                   frames_total=1)
    assert [c.id for c in repo.candidates(video_id=vid)] == [stored[0].id]


def test_two_reviewers_deciding_at_once_lose_nothing(db_url):
    repo = open_repository(db_url)
    _, _, stored = _seed(repo, n=20)
    ids = [c.id for c in stored]
    errors = []

    def review(name, kind):
        own = open_repository(db_url)  # one Repository per thread, as in the app
        try:
            for cid in ids:
                own.decide(cid, kind, reviewer=name)
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

    from logotag_gui.core.store.repository import Repository, _sqlite_pragmas

    engine = create_engine(f"sqlite:///{path}", connect_args={"timeout": 0.2})
    event.listen(engine, "connect", _sqlite_pragmas)
    impatient = Repository(engine, where=str(path))
    with pytest.raises(StoreError, match="locked by another program"):
        impatient.add_video(path="/b.mp4", kind="video", fps=25, frame_count=1, duration_s=1, width=1, height=1)
    holder.rollback()
    holder.close()


def test_bad_url_is_explained():
    with pytest.raises(StoreError, match="Cannot use database URL"):
        open_repository("nosuchdriver://x/y")
