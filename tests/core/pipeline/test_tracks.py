from __future__ import annotations

from logotag_gui.core.base.records import BBox, Candidate, FrameRef, Review, ReviewState
from logotag_gui.core.pipeline.tracks import TrackLinker, cross_brand_margin, nms, not_doubled


def cand(frame, x, brand="a", score=0.8, y=0, size=50):
    return Candidate(FrameRef(frame, frame / 10, 640, 360), BBox(x, y, size, size), brand, score, "keypoints")


def test_nms_is_per_brand():
    kept = nms([cand(0, 0, score=0.9), cand(0, 5, score=0.8), cand(0, 5, brand="b", score=0.7), cand(0, 200)], iou=0.4)
    assert sorted((c.brand, c.bbox.x) for c in kept) == [("a", 0), ("a", 200), ("b", 5)]


def test_cross_brand_margin():
    out = cross_brand_margin([cand(0, 0, "a", 0.9), cand(0, 2, "b", 0.6), cand(0, 300, "c", 0.5)])
    assert [round(c.margin, 3) for c in out] == [0.3, -0.3, 0.5]


def test_tracks_link_moving_logos_and_split_on_gaps_and_brands():
    linker = TrackLinker(max_gap_frames=10)
    a = [linker.link_frame([cand(0, 0), cand(0, 300, "b")]), linker.link_frame([cand(5, 20), cand(5, 300, "c")]),
         linker.link_frame([cand(10, 40)]), linker.link_frame([cand(30, 60)])]  # gap of 20 frames > 10
    ids = [[c.track_id for c in f] for f in a]
    assert ids[0][0] == ids[1][0] == ids[2][0]
    assert ids[0][1] != ids[1][1]  # b then c at the same spot: different brands
    assert ids[3][0] != ids[0][0]


def test_two_copies_on_one_frame_keep_separate_tracks_with_ids_from_the_allocator():
    handed = iter([41, 57])
    linker = TrackLinker(max_gap_frames=10, new_id=lambda: next(handed))
    linked = [c for i in range(0, 20, 5) for c in linker.link_frame([cand(i, i, score=0.9), cand(i, 400 - i, score=0.8)])]
    left = {c.track_id for c in linked if c.bbox.x < 200}
    right = {c.track_id for c in linked if c.bbox.x >= 200}
    assert left == {41} and right == {57}


def test_a_followed_box_does_not_double_one_already_on_the_mark():
    reviewers = cand(3, 100).with_(review=Review(ReviewState.ACCEPTED, bbox=BBox(104, 0, 50, 50)))
    rejected = cand(4, 100).with_(review=Review(ReviewState.REJECTED))
    new = [cand(3, 102), cand(3, 102, brand="b"), cand(3, 300), cand(4, 100), cand(5, 100)]
    kept = not_doubled(new, [reviewers, rejected])
    # frame 3: the reviewer's (tightened) box is the one box of "a" there; "b" and a box elsewhere stay; a rejected
    # box holds no place (frame 4); frame 5 had nothing.
    assert [(c.frame.index, c.brand, c.bbox.x) for c in kept] == [(3, "b", 102), (3, "a", 300), (4, "a", 100),
                                                                   (5, "a", 100)]
