"""The oracle reviewer: its counts on a hand-made case, and what following and learning save on a clip."""

from __future__ import annotations

import json

import pytest

from logotag_gui.cli import main
from logotag_gui.core.analysis.evaluate import Box, Truth
from logotag_gui.core.base.records import BBox, Candidate, FrameRef, ReviewState
from logotag_gui.core.review import Project
from logotag_gui.core.review.simulate import simulate_review
from logotag_gui.core.store import open_repository


def _frame(i):
    return FrameRef(i, i / 10, 640, 360)


def _hand_made(db):
    """A 6-second clip at 10 fps, reviewed at 2 fps. Truth: acme on frames 0, 5, 10, 20 and 25.
    The model: an acme track on 0, 5, 10 (right), a loose acme box on 20, a globex box on 0 (wrong)."""
    repo = open_repository(db)
    vid = repo.add_video(path="/nowhere/a.mp4", kind="video", fps=10, frame_count=60, duration_s=6, width=640,
                         height=360)
    run = repo.start_run(video_id=vid, config={"fps": 2}, embedder=("keypoints", "", ""), verifier=("none", "", ""),
                         frames_total=12)
    track = repo.reserve_track_ids(vid, 2)
    model = [Candidate(_frame(f), BBox(100 + f, 50, 80, 40), "acme", 0.8, "keypoints", track_id=track)
             for f in (0, 5, 10)]
    model += [Candidate(_frame(0), BBox(400, 200, 50, 50), "globex", 0.6, "keypoints", track_id=track + 1),
              Candidate(_frame(20), BBox(100, 40, 200, 120), "acme", 0.6, "keypoints")]
    repo.add_batch(run_id=run, video_id=vid, candidates=model, last_frame_index=55, frames_done=12)
    truth = Truth("video", {f: [Box("ACME", BBox(100 + f, 50, 80, 40))] for f in (0, 5, 10, 20, 25)}, 10.0)
    return repo, vid, truth


def test_the_oracles_counts_and_errors_on_a_hand_made_case(tmp_path):
    repo, vid, truth = _hand_made(tmp_path / "p.sqlite")
    session = Project(repo, str(tmp_path / "p.sqlite")).session(vid, reviewer="oracle")
    result = simulate_review(session, truth, propagate=False)
    # accept the acme track (T), reject globex (R), tighten the loose box (2 drags) and move on (N),
    # go to frame 25 and draw the missed box (B, drag, Enter).
    assert result.counts == {"accept_track": 1, "reject": 1, "tighten": 1, "next": 1, "go_to_frame": 1, "draw": 1}
    assert result.actions == 1 + 1 + 2 + 1 + 1 + 3 == 9
    assert result.boxes_drawn == 1
    assert result.actions_per_minute == pytest.approx(9 / 0.1)
    assert result.truth_s == {"acme": 2.5}  # the project's spelling of the truth's "ACME"
    assert result.model_s == {"acme": 2.0, "globex": 0.5}
    assert result.model_error == pytest.approx((0.5 + 0.5) / 2.5)
    assert result.reviewed_s == {"acme": 2.5} and result.error == 0.0
    states = {c.frame.index: c.review.state for c in repo.candidates(video_id=vid) if c.final_brand == "acme"}
    assert set(states.values()) == {ReviewState.ACCEPTED} and sorted(states) == [0, 5, 10, 20, 25]


def test_following_and_learning_save_actions_on_a_clip(tmp_path, demo_clip, logos_dir):
    """The demo clip with a detector that finds nothing: every box is drawn, unless it is followed."""
    clip, truth_frames = demo_clip
    project = Project.open(tmp_path / "p.sqlite", durable=False)
    project.set_logos(str(logos_dir))
    project.add_clips([str(clip)])
    project.close()  # checkpointed: the file alone holds the project
    truth = Truth("video", {f: [Box(b, box) for b, box in boxes] for f, boxes in truth_frames.items()}, 10.0)
    from logotag_gui.core.media.video import open_source
    from logotag_gui.core.review.learning import Learner

    results = {}
    for name, propagate, learn in (("plain", False, False), ("assisted", True, True)):
        copy = tmp_path / f"{name}.sqlite"
        copy.write_bytes((tmp_path / "p.sqlite").read_bytes())
        p = Project.open(copy, durable=False)
        session = p.session(p.videos()[0].id, reviewer="oracle")
        source = open_source(clip)
        learner = Learner(p.repo, source, video=session.video, sampled=session.sampled) if learn else None
        results[name] = simulate_review(session, truth, source=source, learner=learner, propagate=propagate)
        source.close()
    plain, assisted = results["plain"], results["assisted"]
    assert plain.error == 0.0 and plain.boxes_drawn == sum(len(b) for f, b in truth.boxes.items() if f % 5 == 0)
    assert assisted.error <= 0.05
    assert assisted.boxes_drawn <= 4 and assisted.actions * 3 <= plain.actions


def test_simulate_review_command_works_on_a_copy(tmp_path, capsys):
    repo, _vid, truth = _hand_made(tmp_path / "p.sqlite")
    repo.close()
    truth_file = tmp_path / "truth.json"
    truth_file.write_text(json.dumps({"fps": 10, "boxes": {str(f): [["ACME", *b[0].bbox.as_list()]]
                                                           for f, b in truth.boxes.items()}}))
    before = (tmp_path / "p.sqlite").read_bytes()
    assert main(["simulate-review", "--db", str(tmp_path / "p.sqlite"), "--truth", str(truth_file), "--json",
                 "--no-propagate", "--no-learn", "--strategy", "boxes"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["actions"] == 9 and out["error"] == 0.0 and out["model_error"] == pytest.approx(0.4)
    assert (tmp_path / "p.sqlite").read_bytes() == before  # the project itself is left alone


def test_the_oracle_reviews_exposures_for_exact_seconds_with_fewer_actions(tmp_path):
    repo, vid, truth = _hand_made(tmp_path / "p.sqlite")
    session = Project(repo, str(tmp_path / "p.sqlite")).session(vid, reviewer="oracle")
    result = simulate_review(session, truth, strategy="exposures", propagate=False)
    # acme's exposure (0-20) holds no acme on 15: split there; both parts are right (one key for the brand's
    # gallery); the part on 20 is moved out to 25, where acme stays; globex is rejected. Then the sweep: without
    # the clip's pixels every sampled frame is a view, looked at once each (a key each).
    looks = len(session.sampled)
    assert result.counts == {"split": 1, "accept_gallery": 1, "gallery_check": 2, "extend": 1,
                             "reject_exposure": 1, "look": looks}
    assert result.actions == 2 + 1 + 2 + 1 + looks
    assert result.looked_share == 1.0 and result.done and result.views == looks
    assert result.error == 0.0 and result.reviewed_s == {"acme": 2.5}
    assert result.analyst_seconds == pytest.approx(2 * 3.2 + 2 * 1.6 + 1.6 + 1.5 * looks)


def _two_brands_and_a_miss(db):
    """acme (0-10) and initech (30-35) found right, a wrong globex box on 0, umbrella (45-50) found nowhere."""
    repo = open_repository(db)
    vid = repo.add_video(path="/nowhere/a.mp4", kind="video", fps=10, frame_count=60, duration_s=6, width=640,
                         height=360)
    run = repo.start_run(video_id=vid, config={"fps": 2}, embedder=("keypoints", "", ""), verifier=("none", "", ""),
                         frames_total=12)
    model = [Candidate(_frame(f), BBox(100, 50, 80, 40), "acme", 0.8, "keypoints") for f in (0, 5, 10)]
    model += [Candidate(_frame(f), BBox(300, 50, 80, 40), "initech", 0.8, "keypoints") for f in (30, 35)]
    model += [Candidate(_frame(0), BBox(400, 200, 50, 50), "globex", 0.6, "keypoints")]
    repo.add_batch(run_id=run, video_id=vid, candidates=model, last_frame_index=55, frames_done=12)
    truth = {f: [Box("acme", BBox(100, 50, 80, 40))] for f in (0, 5, 10)}
    truth |= {f: [Box("initech", BBox(300, 50, 80, 40))] for f in (30, 35)}
    truth |= {f: [Box("umbrella", BBox(200, 200, 90, 40))] for f in (45, 50)}
    repo.sync_brands({}, {"umbrella.png": ("umbrella", "u")})
    return repo, vid, Truth("video", truth, 10.0)


@pytest.mark.parametrize("gallery", ["clip", "brand", "none"])
def test_the_clip_gallery_accepts_every_brand_with_one_key(tmp_path, gallery):
    repo, vid, truth = _two_brands_and_a_miss(tmp_path / "p.sqlite")
    session = Project(repo, str(tmp_path / "p.sqlite")).session(vid, reviewer="oracle")
    result = simulate_review(session, truth, strategy="exposures", propagate=False, gallery=gallery)
    assert result.error == 0.0 and result.reviewed_s == {"acme": 1.5, "initech": 1.0, "umbrella": 1.0}
    # umbrella, found nowhere, is found only where the oracle looks: the sweep of the 12 views (one per sampled
    # frame without the clip's pixels) reaches frame 45, draws it there and extends it to 50.
    common = {"reject_exposure": 1, "look": 12, "draw": 1, "extend": 1}
    if gallery == "clip":  # globex rejected; then one key for the rest
        assert result.counts == common | {"accept_gallery": 1, "gallery_check": 2}
        assert result.actions == 1 + 12 + 3 + 2 + 1
    else:  # one key per exposure: a brand's gallery holds one exposure here
        assert result.counts == common | {"accept_exposure": 2}
        assert result.actions == 1 + 12 + 3 + 2 + 2
    with pytest.raises(ValueError, match="unknown gallery"):
        simulate_review(session, truth, strategy="exposures", gallery="wall")
