"""A followed box keeps the mark's whole extent past the frame's edge, so its share in view is known and the
project's counting rule decides whether it counts (issue 30)."""

from __future__ import annotations

from logotag_gui.core.analysis.exposure import clip_exposure, visible_share
from logotag_gui.core.base.counting import PRESETS, custom
from logotag_gui.core.base.records import TRACKED, FrameRef, Review, ReviewState
from logotag_gui.core.base.records import Candidate as Cand
from logotag_gui.core.media.video import open_source
from logotag_gui.core.pipeline.follow import StopReason, follow_box
from resources import synth


def test_a_followed_box_leaving_the_frame_keeps_its_extent_and_stops_counting_under_an_in_view_bar(tmp_path):
    marks = {"Aquila": synth.make_logo("Aquila", *synth.DEMO_BRANDS["Aquila"])}
    leaving = synth.Shot(30, (synth.Placement("Aquila", (0.30, 0.3), (1.05, 0.3), 0.3),), seed=5)
    path = tmp_path / "leaving.mp4"
    truth = synth.write_shots(path, marks, [leaving])
    source = open_source(path)
    sampled = source.sampled_indices(fps=5)
    result = follow_box(source, frame_index=0, bbox=truth[0][0][1], sampled=sampled)
    source.close()
    assert result.stops["forward"].reason is StopReason.LEFT_FRAME
    width = truth[0][0][1].w
    shares = {b.frame.index: b.visible for b in result.boxes}
    assert 0 not in shares and shares[2] == 1.0  # the seed's frame is not followed to
    partial = [b for b in result.boxes if b.visible < 0.6]
    assert partial, shares  # followed on while less than 60% of the mark was in view
    for b in partial:
        assert b.bbox.x + b.bbox.w > b.frame.width  # the whole extent, past the right edge
        assert abs(b.bbox.w - width) < 0.2 * width  # the mark's size, not its in-frame part

    accepted = Review(ReviewState.ACCEPTED)
    first = result.boxes[0].frame
    seed = Cand(FrameRef(0, 0.0, first.width, first.height), truth[0][0][1], "Aquila", 1.0, "keypoints", id=1,
                review=accepted)
    followed = [Cand(b.frame, b.bbox, "Aquila", b.score, TRACKED, id=i + 2, review=accepted)
                for i, b in enumerate(result.boxes) if b.frame.index != 0]
    assert {round(visible_share(c), 6) for c in followed} == {round(b.visible, 6) for b in result.boxes
                                                             if b.frame.index != 0}
    every = [seed, *followed]
    interval = 1 / 5
    anyway = clip_exposure(every, interval_s=interval, rule=PRESETS["any"])["Aquila"]
    ruled = clip_exposure(every, interval_s=interval, rule=custom("any", min_visible=0.6))["Aquila"]
    assert anyway.seconds == round(len(every) * interval, 6) and anyway.excluded_hidden == 0
    assert ruled.excluded_hidden == len(partial) and ruled.seconds == round((len(every) - len(partial)) * interval, 6)
    assert ruled.seen_seconds == anyway.seconds  # seen, but not counted
