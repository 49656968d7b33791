"""Review by exposures: a brand's continuous appearance grouped, accepted or rejected whole, trimmed, extended,
split, marked on screen without a box; every step one transaction, and undone as one."""

from __future__ import annotations

import pytest

from logotag_gui.core.analysis.exposure import ExposureRules, clip_exposure
from logotag_gui.core.base.records import ExposureState, ReviewState, VerdictState
from logotag_gui.core.review import ReviewSession
from logotag_gui.core.review.exposure_edits import ExposureEditError
from tests.seeded import seeded_project

YES, NO = VerdictState.YES, VerdictState.NO


def _session(db, boxes, **kwargs) -> ReviewSession:
    repo, vid = seeded_project(db, boxes, **kwargs)
    return ReviewSession(repo, repo.video(vid), reviewer="ann")


def _seconds(s: ReviewSession) -> dict[str, float]:
    stored = s.repo.candidates(video_id=s.video.id)  # what the store holds, not the session's copy
    return {b: e.seconds for b, e in clip_exposure(stored, interval_s=0.5, rules=ExposureRules()).items()}


def test_a_brands_frames_group_into_exposures_by_the_gap_rule(db_url):
    # acme on 0, 5, 15 (a 1 s gap: within the report's rule) and again on 40; globex on 10.
    s = _session(db_url, [(0, 10, "acme", None), (5, 10, "acme", None), (15, 10, "acme", None),
                          (40, 10, "acme", None), (10, 300, "globex", None, NO)])
    acme = s.exposures("acme")
    assert [(e.first, e.last) for e in acme] == [(0, 15), (40, 40)]
    assert acme[0].span == (0, 5, 10, 15)  # its gap frame is part of it
    assert acme[0].state is ExposureState.PENDING_UNSURE and s.exposures("globex")[0].state is ExposureState.PENDING_NO
    assert [e.brand for e in s.exposures()] == ["acme", "globex", "acme"]  # time order


def test_accepting_an_exposure_counts_its_gaps_and_one_undo_takes_it_back(db_url):
    s = _session(db_url, [(0, 10, "acme", None), (5, 10, "acme", None), (15, 10, "acme", None)])
    decisions = s.repo.count_decisions()
    s.accept_exposure(s.exposures("acme")[0])
    assert _seconds(s) == {"acme": 2.0}  # frames 0, 5, 10 (a presence) and 15
    gap = [c for c in s.at_frame(10) if c.brand == "acme"]
    assert len(gap) == 1 and not gap[0].has_box and gap[0].review.state is ReviewState.ACCEPTED
    assert s.exposures("acme")[0].state is ExposureState.ACCEPTED
    assert s.repo.count_decisions() == decisions + 4  # three accepts and the presence, in one step
    s.undo()
    assert s.at_frame(10) == [] and all(c.review.state is ReviewState.PENDING for c in s.candidates)
    assert _seconds(s) == {} and s.exposures("acme")[0].state.pending
    s.redo()
    assert _seconds(s) == {"acme": 2.0}


def test_trimming_and_extending_move_an_exposures_in_and_out_points(db_url):
    s = _session(db_url, [(f, 10, "acme", 0) for f in (10, 15, 20, 25)])
    e = s.exposures("acme")[0]
    s.set_in(15, e)  # trim: frame 10 is rejected
    e = s.exposure_at("acme", 20)
    assert e.live == (15, 25) and e.state is ExposureState.PARTLY
    s.set_out(40, e)  # extend over frames the detector missed: the brand is on screen there
    e = s.exposure_at("acme", 20)
    assert e.live == (15, 40)
    extended = [c for f in (30, 35, 40) for c in s.at_frame(f)]
    assert all(not c.has_box and c.review.state is ReviewState.ACCEPTED for c in extended) and len(extended) == 3
    s.accept_exposure(e)
    assert _seconds(s) == {"acme": 3.0}  # 15 .. 40: six sampled frames
    for _ in range(3):
        s.undo()
    assert _seconds(s) == {} and s.exposure_at("acme", 10).live == (10, 25)
    with pytest.raises(ExposureEditError, match="other end"):
        s.set_in(40, s.exposure_at("acme", 10))


def test_an_exposure_split_at_the_frame_shown_is_decided_in_parts(db_url):
    s = _session(db_url, [(f, 10, "acme", 0) for f in (0, 5, 10, 15, 20)])
    s.split_exposure(12, s.exposures("acme")[0])  # on the grid: the new exposure starts at 15
    first, second = s.exposures("acme")
    assert (first.first, first.last, second.first, second.last) == (0, 10, 15, 20)
    assert s.current_exposure.key == ("acme", 15)
    s.reject_exposure(second)
    s.accept_exposure(first)
    assert _seconds(s) == {"acme": 1.5}
    assert s.repo.splits(s.video.id) == {"acme": [15]}
    for _ in range(3):
        s.undo()
    assert s.repo.splits(s.video.id) == {} and len(s.exposures("acme")) == 1


def test_a_brand_marked_on_screen_counts_without_a_box(db_url):
    s = _session(db_url, [(0, 10, "acme", None)])
    s.mark_present(22, "globex")  # between sampled frames: it goes on the grid (frame 20)
    marked = s.at_frame(20)
    assert [(c.brand, c.has_box, c.review.state) for c in marked] == [("globex", False, ReviewState.ACCEPTED)]
    assert _seconds(s) == {"globex": 0.5}
    s.mark_present(0, "acme")  # a pending box of the brand there: accepted instead
    assert s.get(s.at_frame(0)[0].id).review.state is ReviewState.ACCEPTED and len(s.at_frame(0)) == 1
    with pytest.raises(ExposureEditError, match="already counted"):
        s.mark_present(0, "acme")
    report = clip_exposure(s.repo.candidates(video_id=s.video.id), interval_s=0.5, rules=ExposureRules(
        min_size_share=0.5))
    assert report["globex"].seconds == 0.5 and report["globex"].unknown_seconds == 0.5  # size unknown: kept
    assert report["globex"].centre_seconds == report["globex"].edge_seconds == 0
    from logotag_gui.core.analysis.export import records

    exported = [r for r in records(s.repo, video_id=s.video.id) if r["brand"] == "globex"]
    assert [(r["frame"], r["bbox"], r["method"], r["decision"]) for r in exported] == \
        [(20, None, "presence", "accepted")]  # no box to export: null, not a made-up one


def test_review_order_spends_the_reviewer_where_the_seconds_are_uncertain(db_url):
    s = _session(db_url, [(0, 10, "sure", None, YES), (5, 10, "sure", None, YES),
                          *[(f, 200, "unsure", None) for f in (20, 25, 30, 35)],
                          (50, 400, "short", None)])
    assert [e.brand for e in s.review_queue()] == ["unsure", "short", "sure"]
    assert s.next_exposure().brand == "unsure"
    s.accept_exposure(s.review_queue()[0])  # advances to the next most uncertain
    assert s.current_exposure.brand == "short"
    meter = s.meter()
    assert meter.settled_s == 2.0 and meter.pending_exposures == 2
    assert meter.on_model_s == pytest.approx(1.5)  # counted on the model's word: "sure" (yes) and "short" (even odds)


def test_a_gallery_of_exposures_is_accepted_as_one_step(db_url):
    s = _session(db_url, [(0, 10, "acme", None), (30, 10, "acme", None), (55, 10, "acme", None)])
    s.accept_exposures(s.exposures("acme"))
    assert all(c.review.state is ReviewState.ACCEPTED for c in s.candidates) and s.can_undo
    s.undo()
    assert all(c.review.state is ReviewState.PENDING for c in s.candidates)
