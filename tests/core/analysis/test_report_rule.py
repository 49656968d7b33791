"""Reports under the project's counting rule: the rule at the top, counted beside seen seconds, full and partial
exposures, size bands; changing the rule recounts from the stored boxes alone (no run)."""

from __future__ import annotations

import csv

import cv2
import numpy as np
import pytest

from logotag_gui.core.analysis import sharpness
from logotag_gui.core.analysis.report import build_report, write_csv, write_html
from logotag_gui.core.base.counting import CountingRule, custom
from logotag_gui.core.base.records import BBox, Candidate, DecisionKind, FrameRef
from logotag_gui.core.store import open_repository
from tests.seeded import decide

W, H, FPS = 320, 180, 10


def _project(tmp_path, clip_path: str, boxes: dict[str, list[tuple[int, BBox]]]):
    """A project with one clip sampled at 2 fps (every 5th frame) and these accepted boxes: brand -> (frame, box)."""
    repo = open_repository(tmp_path / "p.sqlite")
    vid = repo.add_video(path=clip_path, kind="video", fps=FPS, frame_count=60, duration_s=6, width=W, height=H)
    run = repo.start_run(video_id=vid, config={"fps": 2}, embedder=("keypoints", "", ""), verifier=("none", "", ""),
                         frames_total=12)
    cands = [Candidate(FrameRef(f, f / FPS, W, H), box, brand, 0.9, "keypoints")
             for brand, placed in boxes.items() for f, box in placed]
    stored = repo.add_batch(run_id=run, video_id=vid, candidates=cands, last_frame_index=55, frames_done=12)
    decide(repo, [c.stored_id for c in stored], DecisionKind.ACCEPT, video_id=vid, reviewer="ann")
    return repo


def _rows(report, path):
    write_csv(report, path)
    return {(r["scope"], r["brand"]): r for r in csv.DictReader(path.open())}


def test_changing_the_rule_changes_the_figures_from_the_stored_boxes_alone(tmp_path):
    big, small = BBox(10, 10, 100, 60), BBox(200, 100, 8, 6)  # 10.4% and 0.08% of the frame
    repo = _project(tmp_path, str(tmp_path / "gone.mp4"), {  # the clip is not needed: no rule here reads pixels
        "Norvik": [(f, big) for f in range(0, 30, 5)],  # 3 s
        "Aquila": [(f, small) for f in range(0, 20, 5)],  # 2 s of a tiny mark
        "Fennel": [(50, big)],  # a 0.5 s flash
        "Edge": [(f, BBox(-40, 50, 80, 40)) for f in (30, 35)] + [(f, BBox(0, 50, 80, 40)) for f in (40, 45)],
    })
    before = build_report(repo)
    assert before.rule.name == "any"
    assert {b: s.seconds for b, s in before.totals.items()} == {"Aquila": 2.0, "Edge": 2.0, "Fennel": 0.5,
                                                                 "Norvik": 3.0}
    repo.set_counting_rule(custom("any", min_size=0.001, min_exposure_s=1.0, min_visible=0.9, name="client-x"))
    after = build_report(repo)
    assert after.rule.name == "client-x"
    assert {b: s.seconds for b, s in after.totals.items()} == {"Aquila": 0.0, "Edge": 1.0, "Fennel": 0.0,
                                                                "Norvik": 3.0}
    assert {b: s.seen_seconds for b, s in after.totals.items()} == {b: s.seconds for b, s in before.totals.items()}
    edge = after.totals["Edge"]
    assert edge.excluded_hidden == 2 and (edge.full_exposures, edge.partial_exposures) == (0, 1)
    assert after.totals["Norvik"].band_seconds == [0.0, 0.0, 0.0, 3.0]

    rows = _rows(after, tmp_path / "e.csv")
    assert rows[("clip", "Aquila")]["seconds"] == "0.0" and rows[("clip", "Aquila")]["seen_seconds"] == "2.0"
    assert rows[("project", "Edge")]["partial_exposures"] == "1" and rows[("project", "Edge")]["rule"] == "client-x"
    assert rows[("project", "Norvik")]["size_over_10pct_s"] == "3.0"
    assert "min_visible=0.9" in rows[("project", "Norvik")]["rule_bars"]
    write_html(after, tmp_path / "e.html")
    page = (tmp_path / "e.html").read_text()
    top = page.index("Counting rule 'client-x'")
    assert top < page.index("Project totals") and "at least 90% of it is in view and its box is at least 0.10% of the frame" in page
    assert "Seconds under the rule" in page and "Seconds seen" in page and "Size over 10% s" in page
    assert "Exposures (full / partial)" in page and "No weighted value" in page
    repo.close()


def test_a_rule_that_reads_sharpness_measures_the_boxes_on_the_clip_once(tmp_path):
    clip = tmp_path / "clip.mp4"
    writer = cv2.VideoWriter(str(clip), cv2.VideoWriter_fourcc(*"mp4v"), FPS, (W, H))
    for _ in range(60):
        frame = np.full((H, W, 3), 230, np.uint8)
        cv2.putText(frame, "NORV", (10, 90), cv2.FONT_HERSHEY_SIMPLEX, 1.6, (20, 20, 160), 4, cv2.LINE_AA)
        soft = np.full((80, 150, 3), 230, np.uint8)
        cv2.putText(soft, "AQUI", (5, 60), cv2.FONT_HERSHEY_SIMPLEX, 1.6, (160, 20, 20), 4, cv2.LINE_AA)
        frame[40:120, 165:315] = cv2.GaussianBlur(soft, (0, 0), 6)
        writer.write(frame)
    writer.release()
    crisp, blurred = BBox(5, 40, 150, 80), BBox(165, 40, 150, 80)
    repo = _project(tmp_path, str(clip), {"Norvik": [(f, crisp) for f in range(0, 60, 5)],
                                          "Aquila": [(f, blurred) for f in range(0, 60, 5)]})
    assert {b: s.seconds for b, s in build_report(repo).totals.items()} == {"Aquila": 6.0, "Norvik": 6.0}
    repo.set_counting_rule(CountingRule("focus", min_sharpness=0.3))
    report = build_report(repo)
    assert report.totals["Norvik"].seconds == 6.0 and report.totals["Aquila"].seconds == 0.0
    assert report.totals["Aquila"].excluded_blurred == 12 and report.totals["Aquila"].seen_seconds == 6.0
    assert report.totals["Norvik"].unmeasured == 0
    measured = sharpness.cached(str(clip), repo.candidates())
    assert len(measured) == 24  # cached: another rule recounts without decoding
    assert min(v for c in repo.candidates() if c.brand == "Norvik" for v in [measured[c.id]]) > 0.4
    assert max(v for c in repo.candidates() if c.brand == "Aquila" for v in [measured[c.id]]) < 0.2
    repo.set_counting_rule(CountingRule("softer", min_sharpness=0.005))
    assert build_report(repo).totals["Aquila"].seconds == pytest.approx(6.0)
    repo.close()
