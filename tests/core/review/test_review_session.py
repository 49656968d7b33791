"""The review session: one candidate list per clip, decisions that are committed at once, undo/redo,
change events, tracks decided in one transaction, drawn boxes and followed tracks."""

from __future__ import annotations

import pytest

from logotag_gui.core.base.records import BBox, Candidate, DecisionKind, FrameRef, ReviewState
from logotag_gui.core.pipeline.follow import FollowedBox, FollowResult
from logotag_gui.core.review import LIKE_REJECTED, Project, ReviewSession
from tests.seeded import frame, seeded_project


def _frame(i):
    return frame(i)


def _project(db, boxes):
    return seeded_project(db, boxes)


@pytest.fixture
def session(db_url):
    repo, vid = _project(db_url, [(0, 10, "acme", 0), (5, 12, "acme", 0), (10, 14, "acme", 0), (0, 300, "globex", None),
                                  (20, 100, "acme", 1)])
    s = ReviewSession(repo, repo.video(vid), reviewer="ann")
    events = []
    s.subscribe(events.append)
    s.events = events
    return s


def test_decisions_are_stored_at_once_and_move_to_the_next_unreviewed(session):
    first = session.next(unreviewed=True)
    assert (first.frame.index, first.brand) == (0, "acme")
    session.select(first.id)
    session.accept()
    stored = session.repo.candidate(first.id)
    assert stored.review.state is ReviewState.ACCEPTED and stored.review.reviewer == "ann"
    assert session.current.frame.index == 0 and session.current.brand == "globex"  # the next unreviewed
    decided, moved = session.events[-2:]  # one change for the decision (and undo's state), then the move
    assert [c.id for c in decided.changed] == [first.id] and decided.history and decided.exposures == {"acme"}
    assert moved.selection and not moved.candidates
    globex = session.reject()
    assert session.repo.candidate(globex.id).review.state is ReviewState.REJECTED
    assert session.decided_count() == 2


def test_undo_and_redo_write_new_decisions_and_are_bounded(db_url):
    repo, vid = _project(db_url, [(i * 5, 10, "acme", None) for i in range(6)])
    s = ReviewSession(repo, repo.video(vid), reviewer="ann", undo_limit=3)
    ids = [c.id for c in s.candidates]
    for cid in ids:
        s.accept(s.get(cid), advance=False)
    assert s.undo_text == "Accept acme"
    for _ in range(5):
        s.undo()
    assert not s.can_undo  # only the last three are kept
    assert [s.get(i).review.state for i in ids] == [ReviewState.ACCEPTED] * 3 + [ReviewState.PENDING] * 3
    s.redo()
    assert s.get(ids[3]).review.state is ReviewState.ACCEPTED
    assert [h["kind"] for h in repo.history(ids[3])] == ["accept", "clear", "accept"]  # history kept


def test_a_track_is_decided_in_one_transaction_and_undone_as_one(session):
    c = next(c for c in session.candidates if c.frame.index == 5)
    done = session.decide_track(c, DecisionKind.ACCEPT)
    assert len(done) == 3 and all(d.review.state is ReviewState.ACCEPTED for d in done)
    assert session.repo.count_decisions() == 3
    assert session.current.frame.index == 20  # moved on past the whole track
    session.undo()
    assert all(session.get(d.id).review.state is ReviewState.PENDING for d in done)


def test_relabel_edit_and_a_drawn_box_and_their_undo(session):
    c = session.candidates[0]
    session.relabel(c, "globex")
    session.edit_box(c, BBox(11, 51, 50, 30))
    got = session.repo.candidate(c.id)
    assert got.final_brand == "globex" and got.final_bbox == BBox(11, 51, 50, 30)
    assert session.last_brand == "globex"
    drawn = session.add_box(30, BBox(200, 100, 80, 40), "acme")
    assert drawn.method == "manual" and drawn.review.state is ReviewState.ACCEPTED and drawn.track_id is not None
    assert drawn.frame == FrameRef(30, 3.0, 640, 360)
    assert session.at_frame(30) == [drawn] and session.current_id == drawn.id
    session.undo()  # a drawn box is removed by undo
    assert session.at_frame(30) == [] and session.repo.count_candidates() == 5
    assert session.events[-1].removed == (drawn.id,) and session.events[-1].history
    session.redo()
    assert len(session.at_frame(30)) == 1


def test_a_followed_box_proposes_a_track_joining_what_is_already_there(session):
    drawn = session.add_box(20, BBox(100, 50, 60, 40), "acme")
    result = FollowResult([FollowedBox(_frame(f), BBox(100 + f, 50, 60, 40), 0.9, True) for f in (15, 25, 30)] +
                          [FollowedBox(_frame(10), BBox(14, 50, 60, 40), 0.9, True)])
    proposed = session.add_followed(drawn, result)
    tracked = [c for c in proposed if c.method == "tracked"]
    assert sorted(c.frame.index for c in tracked) == [15, 25, 30]
    assert all(c.track_id == drawn.track_id for c in proposed)
    frame10 = next(c for c in session.at_frame(10) if c.brand == "acme")
    assert frame10.method == "keypoints" and frame10.track_id == drawn.track_id  # joined, not duplicated
    assert len(session.at_frame(10)) == 1
    members = session.track(drawn.track_id)
    session.decide_track(drawn, DecisionKind.ACCEPT)
    assert all(session.get(m.id).review.state is ReviewState.ACCEPTED for m in members)
    session.undo()
    session.undo()  # the proposal goes: its boxes are deleted, joined boxes get their track back
    assert [c.method for c in session.at_frame(15)] == []
    assert session.get(frame10.id).track_id != drawn.track_id


def test_look_alikes_of_rejected_boxes_come_last(session):
    hinted = next(c for c in session.candidates if c.frame.index == 0 and c.brand == "acme")
    session.update(session.repo.set_hint([hinted.id], LIKE_REJECTED))
    order = []
    session.select(None)
    while (c := session.next(unreviewed=True)) is not None:
        order.append(c.id)
        session.reject(c, advance=False)
        session.select(c.id)
    assert order[-1] == hinted.id and len(order) == 5


def test_the_project_keeps_crops_inside_the_logo_folder(tmp_path, logos_dir):
    import numpy as np

    from logotag_gui.core.base.errors import InputError

    project = Project.open(tmp_path / "p.sqlite")
    project.set_logos(str(logos_dir))
    frame = np.zeros((360, 640, 3), np.uint8)
    c = Candidate(_frame(5), BBox(10, 10, 40, 30), "Aquila", 1.0, "manual", id=7)
    path = project.add_crop_to_dictionary(c, frame, clip="/clips/match one.mp4")
    assert path.parent == logos_dir / "Aquila" and path.exists()
    assert any(p.endswith(path.name) for p, _ in project.references()["Aquila"])
    for bad in ("../../x", "/tmp/y"):
        with pytest.raises(InputError, match="cannot be used"):
            project.add_crop_to_dictionary(c.with_(brand=bad), frame, clip="c.mp4")
    assert not (tmp_path / "x").exists()
    path.unlink()
    path.parent.rmdir()
