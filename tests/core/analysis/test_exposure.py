"""Exposure metrics against hand-computed values on small decision sets, and a generated clip's truth."""

from __future__ import annotations

import pytest

from logotag_gui.core.analysis.exposure import ExposureRules, clip_exposure, combine, sampling_interval
from logotag_gui.core.base.records import (
    BBox,
    Candidate,
    FrameRef,
    Review,
    ReviewState,
    Verdict,
    VerdictState,
)

W, H = 1000, 600  # frame area 600,000


def det(frame, brand, x=0, y=0, w=100, h=60, state=ReviewState.ACCEPTED, verdict=VerdictState.NOT_RUN):
    """A detection on sampled frame `frame` (2 fps: t = frame / 2)."""
    return Candidate(FrameRef(frame, frame / 2, W, H), BBox(x, y, w, h), brand, 0.9, "keypoints",
                     verdict=Verdict(verdict), review=Review(state))


def test_two_copies_on_one_frame_count_once_and_gaps_split_exposures():
    dets = [det(0, "a"), det(0, "a", x=500), det(1, "a"), det(2, "a"),  # 0.0-1.0 s
            det(6, "a"), det(7, "a")]  # resumes at 3.0 s: a 1.5 s gap > 0.5 s interval + 0.5 s tolerance
    s = clip_exposure(dets, interval_s=0.5, rules=ExposureRules(gap_tolerance_s=0.5))["a"]
    assert s.seconds == pytest.approx(2.5)  # 5 frames x 0.5 s, the double copy once
    assert s.exposures == 2 and s.frames == 5
    joined = clip_exposure(dets, interval_s=0.5, rules=ExposureRules(gap_tolerance_s=2.0))["a"]
    assert joined.exposures == 1


def test_a_box_between_sampled_frames_adds_no_interval_and_no_solus():
    """Sampled at 2 fps from 25 fps (frames 0, 12, 25, 38, ...): a box drawn on frame 35 (t = 1.4 s) belongs to
    the slot of frame 38 (t = 1.52 s), the nearer sampled frame."""
    def on(index, brand):
        return Candidate(FrameRef(index, index / 25, W, H), BBox(0, 0, 100, 60), brand, 0.9, "manual",
                         review=Review(ReviewState.ACCEPTED))

    sampled = [on(f, "norvik") for f in (0, 12, 25, 38, 50)] + [on(38, "aquila")]
    alone = clip_exposure(sampled, interval_s=0.5)
    with_drawn = clip_exposure([*sampled, on(35, "norvik")], interval_s=0.5)
    assert with_drawn["norvik"].seconds == alone["norvik"].seconds == pytest.approx(2.5)
    assert with_drawn["norvik"].frames == 5
    # Solus: aquila shares frame 38's slot, so norvik is alone on four slots, whatever frame 35 holds.
    assert with_drawn["norvik"].solus_seconds == alone["norvik"].solus_seconds == pytest.approx(2.0)
    # A box between samples where the brand was not counted stands for its slot (once).
    gap = clip_exposure([on(0, "fennel"), on(14, "fennel"), on(25, "fennel")], interval_s=0.5)["fennel"]
    assert gap.seconds == pytest.approx(1.5) and gap.exposures == 1


def test_size_position_and_solus():
    dets = [det(0, "a", x=450, y=270, w=100, h=60),  # centred, 1% of the frame
            det(1, "a", x=0, y=0, w=300, h=200),  # edge, 10%
            det(1, "b", x=700, y=400)]  # b shares frame 1
    out = clip_exposure(dets, interval_s=0.5)
    a = out["a"]
    assert a.mean_size_share == pytest.approx((0.01 + 0.1) / 2)
    assert a.max_size_share == pytest.approx(0.1)
    assert a.centre_seconds == pytest.approx(0.5) and a.edge_seconds == pytest.approx(0.5)
    assert a.solus_seconds == pytest.approx(0.5)  # only frame 0
    assert out["b"].solus_seconds == 0.0
    assert a.best.frame.index == 1  # the largest exposure


def test_legibility_filters_are_counted():
    dets = [det(0, "a", w=10, h=10),  # too small
            det(4, "a"), det(5, "a"), det(6, "a"),  # 1.5 s: kept
            det(20, "a")]  # 0.5 s: too brief
    rules = ExposureRules(min_size_share=0.001, min_duration_s=1.0, gap_tolerance_s=0.5)
    a = clip_exposure(dets, interval_s=0.5, rules=rules)["a"]
    assert a.excluded_small == 1 and a.excluded_brief == 1 and a.excluded_brief_seconds == pytest.approx(0.5)
    assert a.seconds == pytest.approx(1.5) and a.exposures == 1


def test_brief_rival_does_not_break_solus():
    dets = [det(0, "a"), det(1, "a"), det(2, "a"), det(1, "b")]
    rules = ExposureRules(min_duration_s=1.0)
    out = clip_exposure(dets, interval_s=0.5, rules=rules)
    assert out["a"].solus_seconds == pytest.approx(1.5)


def test_sources_reviewed_versus_model():
    dets = [det(0, "a", state=ReviewState.REJECTED, verdict=VerdictState.YES), det(1, "a", state=ReviewState.ACCEPTED),
            det(2, "a", state=ReviewState.PENDING, verdict=VerdictState.YES)]
    assert clip_exposure(dets, interval_s=0.5)["a"].seconds == pytest.approx(0.5)
    assert clip_exposure(dets, interval_s=0.5, rules=ExposureRules(source="model"))["a"].seconds == pytest.approx(1.0)


def test_relabel_counts_for_the_corrected_brand():
    c = det(0, "a").with_(review=Review(ReviewState.ACCEPTED, brand="b"))
    assert list(clip_exposure([c], interval_s=0.5)) == ["b"]


def test_project_totals_and_intervals():
    one = clip_exposure([det(0, "a"), det(1, "a")], interval_s=0.5)
    two = clip_exposure([det(0, "a", w=300, h=200)], interval_s=0.5)
    total = combine([one, two])["a"]
    assert total.seconds == pytest.approx(1.5) and total.frames == 3 and total.exposures == 2
    assert total.mean_size_share == pytest.approx((0.01 * 2 + 0.1) / 3)
    assert sampling_interval(native_fps=25, run_fps=2, kind="video") == 0.5
    assert sampling_interval(native_fps=10, run_fps=30, kind="video") == 0.1


def test_against_the_generated_clips_truth(demo_clip):
    """Accepted detections equal to the truth at 2 fps give the truth's on-screen seconds."""
    _, truth = demo_clip
    dets = [Candidate(FrameRef(i, i / 10, 640, 360), box, brand, 1.0, "truth", review=Review(ReviewState.ACCEPTED))
            for i, boxes in truth.items() if i % 5 == 0 for brand, box in boxes]
    out = clip_exposure(dets, interval_s=0.5)
    # Norvik is on screen the whole 6 s clip; Aquila frames 10..45 (sampled 10..45: 8 frames); Fennel from 30.
    assert out["Norvik"].seconds == pytest.approx(6.0) and out["Norvik"].exposures == 1
    assert out["Aquila"].seconds == pytest.approx(8 * 0.5)
    assert out["Fennel"].seconds == pytest.approx(6 * 0.5)
    assert out["Norvik"].solus_seconds == pytest.approx(6.0 - 0.5 * len({i for i in range(10, 60, 5)}))


def test_the_cumulative_line_stays_at_zero_until_the_brand_appears_and_flat_between_appearances():
    from logotag_gui.core.analysis.exposure import cumulative_steps

    steps = cumulative_steps([(4.0, 0.5), (4.5, 1.0), (9.0, 1.5)], 12.0)
    assert steps[:3] == [(0.0, 0.0), (4.0, 0.0), (4.0, 0.5)]  # flat at 0 until t=4, no ramp from t=0
    assert (9.0, 1.0) in steps and steps[-1] == (12.0, 1.5)  # flat from 4.5 to 9, then on to the end
