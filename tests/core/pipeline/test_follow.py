"""Following a box through a clip: the flow tracker, its stops, and the pipeline's propagation."""

from __future__ import annotations

import pytest

from logotag_gui.core.base.config import RunConfig
from logotag_gui.core.media.video import open_source
from logotag_gui.core.pipeline.follow import FollowSettings, Stop, StopReason, follow_box
from logotag_gui.core.pipeline.run import run_pipeline
from logotag_gui.core.store import open_repository
from resources import synth

# A pan that zooms in on Norvik over 40 frames, then a cut to another scene with Aquila only.
PAN = synth.Shot(40, (synth.Placement("Norvik", (0.10, 0.20), (0.45, 0.35), 0.22, end_width_frac=0.34),), seed=3)
AFTER_CUT = synth.Shot(20, (synth.Placement("Aquila", (0.55, 0.5), (0.5, 0.5), 0.25),), seed=11)


@pytest.fixture(scope="module")
def pan_clip(tmp_path_factory):
    marks = {name: synth.make_logo(name, *spec) for name, spec in synth.DEMO_BRANDS.items()}
    path = tmp_path_factory.mktemp("pan") / "pan.mp4"
    truth = synth.write_shots(path, marks, [PAN, AFTER_CUT])
    return path, truth


def _norvik(truth, frame):
    return next(box for brand, box in truth[frame] if brand == "Norvik")


def test_a_box_follows_a_moving_zooming_logo_both_ways_and_stops_at_the_cut(pan_clip):
    path, truth = pan_clip
    source = open_source(path)
    sampled = source.sampled_indices(fps=2)  # every 5th frame at 10 fps
    result = follow_box(source, frame_index=20, bbox=_norvik(truth, 20), sampled=sampled)
    got = {b.frame.index: b for b in result.boxes}
    assert sorted(got) == [0, 5, 10, 15, 25, 30, 35]  # the whole shot, nothing after the cut at 40
    for index, box in got.items():
        assert box.bbox.iou(_norvik(truth, index)) >= 0.8, index
    assert got[35].bbox.w > 1.3 * got[0].bbox.w  # it followed the zoom
    assert result.stops["forward"] == Stop(StopReason.CUT, 40) and str(result.stops["forward"]) == "shot cut at frame 40"
    assert str(result.stops["backward"]) == "start of clip"
    assert result.frames_tracked == 40  # every decoded frame from 0 to the cut at 40 (but 20), not only sampled ones
    source.close()


def test_following_stops_when_the_mark_leaves_the_frame(tmp_path):
    marks = {"Aquila": synth.make_logo("Aquila", *synth.DEMO_BRANDS["Aquila"])}
    leaving = synth.Shot(30, (synth.Placement("Aquila", (0.30, 0.3), (1.05, 0.3), 0.3),), seed=5)
    path = tmp_path / "leaving.mp4"
    truth = synth.write_shots(path, marks, [leaving])
    source = open_source(path)
    result = follow_box(source, frame_index=0, bbox=truth[0][0][1], sampled=source.sampled_indices(fps=2))
    stop = result.stops["forward"]
    assert stop.reason is StopReason.LEFT_FRAME and str(stop) == f"left the frame at frame {stop.frame}"
    last = stop.frame
    box_then = truth[last][0][1] if truth[last] else None
    assert box_then is None or box_then.w < 0.75 * truth[0][0][1].w  # it stopped as the mark went out of view
    source.close()


def test_following_stops_when_the_mark_no_longer_matches(pan_clip):
    path, truth = pan_clip
    source = open_source(path)
    strict = FollowSettings(min_similarity=1.01, min_inliers=10_000)  # nothing can match
    result = follow_box(source, frame_index=0, bbox=_norvik(truth, 0), sampled=[0, 5, 10], settings=strict)
    stop = result.stops["forward"]
    assert result.boxes == [] and (stop.reason, stop.frame) == (StopReason.NO_MATCH, 5)
    assert str(stop).startswith("no longer matches at frame 5 (similarity")
    source.close()


def test_an_image_folder_has_no_motion_to_follow(tmp_path, logos_dir):
    from PIL import Image

    folder = tmp_path / "photos"
    folder.mkdir()
    Image.new("RGB", (64, 64)).save(folder / "a.png")
    source = open_source(folder)
    from logotag_gui.core.base.records import BBox

    result = follow_box(source, frame_index=0, bbox=BBox(1, 1, 10, 10), sampled=[0])
    assert result.boxes == [] and "not a clip" in str(result.stops["forward"])


def test_the_pipeline_carries_a_confident_detection_where_the_detector_missed_it(tmp_path, pan_clip, logos_dir):
    path, truth = pan_clip
    # A strict detector finds Norvik on a few frames of the shot only.
    config = RunConfig(input=str(path), logos=str(logos_dir), embedder="keypoints", verifier="none", threshold=0.6,
                       propagate_min_score=0.6)
    plain = run_pipeline(config.with_(propagate=False), repo=open_repository(tmp_path / "plain.sqlite"))
    found = {c.frame.index for c in open_repository(tmp_path / "plain.sqlite").candidates(video_id=plain.video_id)
             if c.brand == "Norvik"}
    repo = open_repository(tmp_path / "p.sqlite")
    result = run_pipeline(config, repo=repo)
    norvik = [c for c in repo.candidates(video_id=result.video_id) if c.brand == "Norvik"]
    tracked = [c for c in norvik if c.method == "tracked"]
    assert 0 < len(found) < 8 and tracked, "the detector must miss some frames for this test to mean anything"
    assert {c.frame.index for c in norvik} == {0, 5, 10, 15, 20, 25, 30, 35}  # the shot, not past the cut
    assert all(c.bbox.iou(_norvik(truth, c.frame.index)) >= 0.7 for c in tracked)
    assert {c.track_id for c in tracked} <= {c.track_id for c in norvik if c.method != "tracked"}
    assert result.timings["propagate_s"] > 0
