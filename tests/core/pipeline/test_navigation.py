from __future__ import annotations

from logotag_gui.core.base.records import BBox, Candidate, FrameRef, Review, ReviewState
from logotag_gui.core.pipeline.navigation import next_candidate, next_track, review_order


def _c(cid, frame, x=0, track=None, decided=False):
    review = Review(ReviewState.ACCEPTED) if decided else Review()
    return Candidate(FrameRef(frame, frame / 10, 100, 100), BBox(x, 0, 5, 5), "a", 0.5, "keypoints",
                     track_id=track, id=cid, review=review)


ORDERED = review_order([_c(4, 10, 50, track=2), _c(1, 0, track=1), _c(2, 5, track=1, decided=True),
                        _c(3, 10, 0, track=1), _c(5, 20, track=3)])


def test_order_is_by_frame_then_left_to_right():
    assert [c.id for c in ORDERED] == [1, 2, 3, 4, 5]


def test_next_and_previous_from_a_selection_or_a_frame():
    assert next_candidate(ORDERED, frame=0, current_id=1).id == 2
    assert next_candidate(ORDERED, frame=0, current_id=1, step=-1) is None
    assert next_candidate(ORDERED, frame=7, current_id=None).id == 3  # nothing selected: from the frame shown
    assert next_candidate(ORDERED, frame=7, current_id=None, step=-1).id == 2
    assert next_candidate(ORDERED, frame=20, current_id=5) is None


def test_next_unreviewed_skips_decided():
    assert next_candidate(ORDERED, frame=0, current_id=1, unreviewed_only=True).id == 3


def test_next_track():
    assert next_track(ORDERED, frame=0, current_id=2).id == 4  # track 1 → track 2's first box
    assert next_track(ORDERED, frame=10, current_id=4).id == 5
    assert next_track(ORDERED, frame=10, current_id=4, step=-1).id == 1
    assert next_track(ORDERED, frame=15, current_id=None).id == 5
