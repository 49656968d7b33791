"""Issue 27, break it again: coverage under two reviewers, a look racing another's commit, and odd clips.

Each test is a defect found by trying to break the round's coverage (looks, views, the clip figure); it failed
before its fix.
"""

from __future__ import annotations

from sqlalchemy import event, select

from logotag_gui.core.base.records import VerdictState
from logotag_gui.core.media.views import View
from logotag_gui.core.review import ReviewSession
from logotag_gui.core.store import open_repository
from logotag_gui.core.store.schema import ViewLook
from tests.seeded import seeded_project


def _two(db):
    repo, vid = seeded_project(db, [(f, 10, "acme", 0, VerdictState.YES) for f in range(0, 30, 5)])
    ann = ReviewSession(repo, repo.video(vid), reviewer="ann")
    ann.set_views([View(0, 25, 10), View(30, 55, 40)])
    other = open_repository(db)  # a second reviewer: another connection (another window, another machine)
    bob = ReviewSession(other, other.video(vid), reviewer="bob")
    return ann, bob


def _stored(session) -> list[tuple[int, int, str]]:
    with session.repo.engine.connect() as s:
        return sorted((a, b, r) for a, b, r in s.execute(
            select(ViewLook.first_frame, ViewLook.last_frame, ViewLook.reviewer)
            .where(ViewLook.video_id == session.video.id)))


def test_a_second_reviewer_undoing_a_look_already_stored_keeps_the_first_reviewers_look(db_url):
    # Bob's session was opened before Ann's look: he completes the same view (nothing new is stored), then
    # undoes his V. Ann's look was lost: the undo deleted the one row, though Bob's step had added nothing.
    ann, bob = _two(db_url)
    view = ann.views[0]
    ann.complete_view(view)
    bob.complete_view(view)
    assert bob.view_looked(view)
    bob.undo()
    assert _stored(ann) == [(0, 25, "ann")]
    assert ReviewSession(ann.repo, ann.video, reviewer="x").view_looked(view)


def test_two_reviewers_completing_one_view_at_the_same_moment_store_one_look_and_no_error(db_url):
    # Ann's look commits between Bob's check for it and his insert (both pressed V at once). Before the fix the
    # unique constraint (video_id, first_frame, last_frame) escaped as an IntegrityError: a crash in the app,
    # which only says "Not saved" for a LogoTagError.
    ann, bob = _two(db_url)
    view = ann.views[0]
    fired = []

    def ann_first(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith("INSERT INTO VIEW_LOOKS") and not fired:
            fired.append(True)
            ann.complete_view(view)

    event.listen(bob.repo.engine, "before_cursor_execute", ann_first)
    try:
        bob.complete_view(view)
    finally:
        event.remove(bob.repo.engine, "before_cursor_execute", ann_first)
    assert fired
    assert len(_stored(ann)) == 1
    assert bob.view_looked(view)
    assert ReviewSession(ann.repo, ann.video, reviewer="x").view_looked(view)


def test_undoing_a_look_that_lost_the_race_keeps_the_winners_look(db_url):
    # Found by bench/soak_coverage.py --reviewers 2: Ann's look commits between Bob's re-read of the looks and his
    # insert; Bob's insert stores nothing, yet his step's undo deletes the one row: Ann's look is lost.
    ann, bob = _two(db_url)
    view = ann.views[0]

    def ann_first(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith("INSERT INTO VIEW_LOOKS") and not ann.view_looked(view):
            ann.complete_view(view)

    event.listen(bob.repo.engine, "before_cursor_execute", ann_first)
    try:
        bob.complete_view(view)
    finally:
        event.remove(bob.repo.engine, "before_cursor_execute", ann_first)
    bob.undo()
    assert _stored(ann) == [(0, 25, "ann")]


def test_two_reviewers_splitting_an_exposure_at_one_frame_at_the_same_moment_raise_no_integrity_error(db_url):
    # The same check-then-insert as a look's, on exposure_splits (unique video_id, brand, frame_index).
    ann, bob = _two(db_url)
    fired = []

    def ann_first(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith("INSERT INTO EXPOSURE_SPLITS") and not fired:
            fired.append(True)
            ann.split_exposure(15, ann.exposures()[0])

    event.listen(bob.repo.engine, "before_cursor_execute", ann_first)
    try:
        bob.split_exposure(15, bob.exposures()[0])
    finally:
        event.remove(bob.repo.engine, "before_cursor_execute", ann_first)
    assert fired
    assert ann.repo.splits(ann.video.id) == {"acme": [15]}
    assert [(e.first, e.last) for e in bob.exposures()] == [(0, 10), (15, 25)]


def test_a_redone_look_that_another_reviewer_stored_meanwhile_is_not_deleted_by_the_next_undo(db_url):
    ann, bob = _two(db_url)
    view = ann.views[0]
    ann.complete_view(view)
    ann.undo()
    bob.complete_view(view)  # Bob's look, his own step
    ann.redo()  # stores nothing: Bob's row is there
    ann.undo()
    assert _stored(ann) == [(0, 25, "bob")]
