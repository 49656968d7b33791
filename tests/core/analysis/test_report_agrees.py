"""Issue 28 item 3: the meter, `logotag videos` and the reports count the same seconds, on the review grid (the
sampled frames); the CSV report's project row for all brands holds the project's seconds."""

from __future__ import annotations

import csv

import pytest

from logotag_gui.core.analysis.audit import ALL, ClipEstimate, Estimate
from logotag_gui.core.analysis.exposure import ExposureRules, clip_exposure, clip_grid, grid_frame
from logotag_gui.core.analysis.report import build_report, write_csv, write_html
from logotag_gui.core.base.records import BBox
from logotag_gui.core.review import ReviewSession
from tests.seeded import seeded_project


def _session(db) -> ReviewSession:
    # 10 fps clip reviewed at 2 fps: sampled frames 0, 5, 10, ... (0.5 s each)
    repo, vid = seeded_project(db, [(0, 10, "acme", None), (5, 10, "acme", None), (10, 10, "acme", None)])
    return ReviewSession(repo, repo.video(vid), reviewer="ann")


def _report_seconds(s: ReviewSession) -> dict[str, float]:
    return {b: e.seconds for b, e in build_report(s.repo).clips[0].brands.items()}


@pytest.mark.parametrize(("drawn", "expected"), [(7, 1.5), (13, 2.0)])
def test_a_box_between_sampled_frames_counts_the_same_on_the_meter_and_in_the_report(db_url, drawn, expected):
    """Frame 7 lies in frame 5's interval (already counted): no seconds of its own anywhere. Frame 13 lies in
    frame 15's (not counted yet): one interval, everywhere."""
    s = _session(db_url)
    s.accept_exposure(s.exposures("acme")[0])
    s.add_box(drawn, BBox(10, 50, 60, 40), "acme")
    assert _report_seconds(s) == {"acme": expected}
    assert s.meter().settled_s == expected
    assert sum(e.seconds for e in s.exposures("acme")) == expected
    from logotag_gui.core.review.figure import clip_figure  # the status bar's meter and `logotag videos`

    assert clip_figure(s).accepted_s == expected


def test_the_grid_is_the_review_sessions_and_a_frame_counts_on_the_nearer_sampled_frame(db_url):
    s = _session(db_url)
    v = s.video
    assert clip_grid(kind=v.kind, frame_count=v.frame_count, native_fps=v.fps, run_fps=s.fps) == s.sampled
    assert [grid_frame(f, s.sampled) for f in (0, 2, 3, 7, 8, 57, 59)] == [0, 0, 5, 5, 10, 55, 55]


def test_sampled_frames_close_to_the_clips_rate_keep_a_slot_each():
    """25 fps sampled at 30 fps is every frame: on the grid, no two sampled frames share a slot."""
    from logotag_gui.core.base.records import Candidate, FrameRef, Review, ReviewState

    grid = clip_grid(kind="video", frame_count=30, native_fps=30.0, run_fps=25.0)
    cands = [Candidate(FrameRef(f, f / 30, 100, 100), BBox(0, 0, 10, 10), "acme", 0.9, "manual",
                       review=Review(ReviewState.ACCEPTED)) for f in grid]
    stats = clip_exposure(cands, interval_s=1 / 25, rules=ExposureRules(), grid=grid)["acme"]
    assert stats.frames == len(grid)


def _estimate(brand: str, seconds: float) -> Estimate:
    return Estimate(brand, seconds, 0.1, seconds, 4, 12, False)


def test_the_csv_reports_project_row_for_all_brands_holds_the_projects_seconds(db_url, tmp_path):
    s = _session(db_url)
    s.accept_exposure(s.exposures("acme")[0])
    estimate = ClipEstimate(interval_s=0.5, brands={"acme": _estimate("acme", 1.6)}, total=_estimate(ALL, 1.6))
    report = build_report(s.repo, estimates={s.video.id: (estimate, 12)})
    write_csv(report, tmp_path / "r.csv")
    rows = [r for r in csv.DictReader((tmp_path / "r.csv").open(encoding="utf-8")) if r["brand"] == ALL]
    assert [(r["scope"], float(r["seconds"])) for r in rows] == [("clip", 1.5), ("project", 1.5)]
    assert float(rows[1]["estimate_s"]) == 1.6
    write_html(report, tmp_path / "r.html")  # the HTML's totals have no all-brands row to disagree


def test_the_meters_figure_counts_a_box_between_sampled_frames_as_the_report_does(db_url):
    from logotag_gui.core.review.figure import clip_figure

    s = _session(db_url)
    s.accept_exposure(s.exposures("acme")[0])
    s.add_box(13, BBox(10, 50, 60, 40), "acme")  # frame 15's interval, which holds no acme
    assert clip_figure(s).total.seconds == _report_seconds(s)["acme"] == 2.0
