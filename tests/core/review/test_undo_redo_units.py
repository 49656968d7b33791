"""Undo and redo of a step with its follow-ups: one transaction each, the follow-ups one step with their seed,
and a redo that stores candidates again under new ids tells every step that names them."""

from __future__ import annotations

import pytest

from logotag_gui.core.base.errors import StoreError
from logotag_gui.core.base.records import BBox, Candidate, ReviewState
from logotag_gui.core.pipeline.follow import FollowedBox, FollowResult
from logotag_gui.core.review import ReviewSession
from tests.seeded import frame, seeded_project


@pytest.fixture
def session(db_url):
    repo, vid = seeded_project(db_url, [(0, 10, "acme", 0), (5, 12, "acme", 0), (10, 14, "acme", 0),
                                        (0, 300, "globex", None), (20, 100, "acme", 1)])
    return ReviewSession(repo, repo.video(vid), reviewer="ann")


def _followed(frames, x=100.0) -> FollowResult:
    return FollowResult([FollowedBox(frame(f), BBox(x + f, 50, 60, 40), 0.9, True) for f in frames])


def _stored(s: ReviewSession) -> list[tuple]:
    """The clip as the project holds it: every candidate with its track and review."""
    return sorted((c.id, c.frame.index, c.method, c.final_brand, c.track_id, c.review.state, c.final_bbox)
                  for c in s.repo.candidates(video_id=s.video.id))


def _stranger(s: ReviewSession) -> Candidate:
    """A candidate stored by someone else (a learning pass) after an undo: on SQLite it takes the ids the undo
    freed, so a redo stores its candidates under new ones."""
    return s.repo.add_candidates(video_id=s.video.id, candidates=[
        Candidate(frame(45), BBox(500, 50, 60, 40), "globex", 0.5, "learned")])[0]


def _fail_on_write(monkeypatch, s: ReviewSession, n: int) -> None:
    original = s.write
    calls = []

    def write(edit):
        calls.append(edit)
        if len(calls) == n:
            raise StoreError("the disk went away")
        return original(edit)

    monkeypatch.setattr(s, "write", write)


def test_a_drawn_boxs_follow_is_one_step_with_it_and_undo_says_so(session):
    drawn = session.add_box(20, BBox(100, 50, 60, 40), "acme")
    assert session.undo_text == "Draw a acme box at 2.0 s"
    session.add_followed(drawn, _followed((25, 30, 35)))
    assert session.undo_text == "Draw a acme box at 2.0 s (and its 3 followed boxes)"
    session.undo()  # one Ctrl+Z: the box and what followed it
    assert [c for c in session.candidates if c.track_id == drawn.track_id] == []
    assert session.redo_text == "Draw a acme box at 2.0 s (and its 3 followed boxes)" and not session.can_undo


def test_a_failure_half_way_through_an_undo_leaves_the_project_and_both_stacks_as_they_were(session, monkeypatch):
    drawn = session.add_box(20, BBox(100, 50, 60, 40), "acme")
    session.add_followed(drawn, _followed((25, 30, 35)))
    before, in_session, text = _stored(session), list(session.candidates), session.undo_text
    _fail_on_write(monkeypatch, session, 2)  # the follow-up's inverse written, then the drawn box's fails
    with pytest.raises(StoreError):
        session.undo()
    assert _stored(session) == before and session.candidates == in_session
    assert session.undo_text == text and not session.can_redo
    monkeypatch.undo()
    session.undo()  # and it can still be undone, all of it
    assert session.repo.count_candidates() == 5 and session.redo_text == text


def test_a_failure_half_way_through_a_redo_leaves_the_project_and_both_stacks_as_they_were(session, monkeypatch):
    drawn = session.add_box(20, BBox(100, 50, 60, 40), "acme")
    session.add_followed(drawn, _followed((25, 30, 35)))
    session.undo()
    _stranger(session)
    before, in_session, text = _stored(session), list(session.candidates), session.redo_text
    _fail_on_write(monkeypatch, session, 2)
    with pytest.raises(StoreError):
        session.redo()
    assert _stored(session) == before and session.candidates == in_session
    assert session.redo_text == text and not session.can_undo
    monkeypatch.undo()
    session.redo()
    assert len([c for c in session.candidates if c.final_brand == "acme" and c.frame.index >= 20]) == 5


def test_a_redone_drawn_box_and_its_followed_boxes_are_named_by_their_new_ids(session):
    start = _stored(session)
    drawn = session.add_box(20, BBox(100, 50, 60, 40), "acme")
    session.add_followed(drawn, _followed((25, 30, 35)))
    session.relabel(drawn, "globex")  # a later step that names the drawn box
    session.undo()
    session.undo()
    stranger = _stranger(session)
    session.redo()
    again = session.current
    assert again is not None and again.method == "manual" and again.frame.index == 20  # selected again
    assert again.id != drawn.id and session.get(stranger.id) is None  # stored under a new id (not read back yet)
    assert sorted(c.frame.index for c in session.track(again.track_id)) == [20, 25, 30, 35]
    session.redo()  # the relabel names the new box, not the stranger that took its old id
    assert session.repo.candidate(again.id).final_brand == "globex"
    assert session.repo.candidate(stranger.id).final_brand == "globex" and \
        session.repo.candidate(stranger.id).review.state is ReviewState.PENDING
    session.undo()
    session.undo()  # the box and every followed box go again
    assert _stored(session) == sorted([*start, (stranger.id, 45, "learned", "globex", None, ReviewState.PENDING,
                                                stranger.bbox)])


def test_a_redone_presence_is_followed_from_its_new_id(session):
    start = _stored(session)
    session.mark_present(30, "acme")
    presence = next(c for c in session.at_frame(30) if not c.has_box)
    step = session.last_step
    located = FollowResult([FollowedBox(frame(f), BBox(200 + f, 60, 50, 30), 0.9, True) for f in (25, 30, 35)])
    added = session.add_followed(presence, located, join=step)  # what the assistant's look for the mark adds
    track = session.get(presence.id).track_id
    assert track is not None and len(added) == 4
    session.undo()
    assert _stored(session) == start
    stranger = _stranger(session)
    session.redo()
    again = next(c for c in session.at_frame(30) if not c.has_box)
    assert again.id != presence.id
    assert again.track_id == track  # the follow-up's retrack names the re-created presence
    assert session.repo.candidate(stranger.id).track_id is None  # and not the stranger with its old id
    assert sorted(c.frame.index for c in session.track(track) if c.has_box) == [25, 30, 35]
    session.undo()
    assert [c for c in _stored(session) if c[0] != stranger.id] == start


def test_a_follow_that_lands_after_its_tightening_was_undone_is_dropped(session):
    c = next(c for c in session.candidates if c.frame.index == 20)
    session.edit_box(c, BBox(102, 52, 50, 30))
    session.undo()
    assert session.add_followed(session.get(c.id), _followed((25, 30))) == []
    assert session.repo.count_candidates() == 5 and session.can_redo and not session.can_undo
