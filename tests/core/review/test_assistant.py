"""The review assistant: what follows a reviewer's step, the same whether its jobs run in line (the oracle)
or later on worker threads (the app, here a queue run afterwards)."""

from __future__ import annotations

from logotag_gui.core.base.records import BBox
from logotag_gui.core.media.video import open_source
from logotag_gui.core.review import Project
from logotag_gui.core.review.assistant import Bench, ReviewAssistant
from logotag_gui.core.review.learning import Learner


def _open(tmp_path, clip, logos_dir):
    """(project, session, source, bench, the job queue an assistant fills, the assistant)."""
    project = Project.open(tmp_path / "p.sqlite", durable=False)
    project.set_logos(str(logos_dir))
    project.add_clips([str(clip)])
    session = project.session(project.videos()[0].id, reviewer="ann")
    source = open_source(clip)
    bench = Bench(source, Learner(project.repo, source, video=session.video, sampled=session.sampled,
                                  dictionary=project.dictionary(), reviewer="ann"), session.sampled)
    queue: list = []
    return project, session, source, bench, queue, ReviewAssistant(session, queue.append)


def _work(queue, bench) -> None:
    while queue:  # the workers' results, applied one by one where the session lives
        job = queue.pop(0)
        job.apply(job.compute(bench))


def test_jobs_run_later_give_what_the_app_shows(tmp_path, demo_clip, logos_dir):
    clip, truth = demo_clip
    project, session, source, bench, queue, assistant = _open(tmp_path, clip, logos_dir)
    box = next(b for brand, b in truth[10] if brand == "Norvik")
    drawn = assistant.add_box(10, box, "Norvik")
    assert [job.lane for job in queue] == ["follow", "learn"]  # nothing read pixels on the reviewer's thread
    assert session.track(drawn.track_id) == [drawn]
    _work(queue, bench)
    track = session.track(drawn.track_id)
    assert len(track) >= 8 and {c.method for c in track if c.id != drawn.id} <= {"tracked", "learned"}
    assert project.repo.review_references(brand="Norvik")  # the drawing taught a view
    assistant.undo()  # the proposal goes; then the drawing and what it taught
    assistant.undo()
    _work(queue, bench)
    assert session.candidates == [] or all(c.method == "learned" for c in session.candidates)
    assert project.repo.review_references(brand="Norvik") == []
    source.close()


def test_marking_a_brand_on_screen_finds_its_mark_and_follows_it(tmp_path, demo_clip, logos_dir):
    clip, truth = demo_clip
    _project, session, source, bench, queue, assistant = _open(tmp_path, clip, logos_dir)
    assistant.mark_present(20, "Aquila")
    _work(queue, bench)
    here = [c for c in session.at_frame(20) if c.final_brand == "Aquila"]
    located = [c for c in here if c.has_box]
    aquila = next(b for brand, b in truth[20] if brand == "Aquila")
    assert located and located[0].review.state.value == "accepted" and located[0].bbox.iou(aquila) >= 0.5
    followed = [c for c in session.of_brand("Aquila") if c.method == "tracked" and not c.review.decided]
    assert len(followed) >= 3  # proposed around it, to accept with the exposure
    source.close()


def test_an_accepted_exposures_gaps_get_followed_boxes(tmp_path, demo_clip, logos_dir):
    """Norvik found on frames 0, 10 and 20 of the demo (sampled every 5): accepting the exposure counts 5 and
    15 at once (presences), then following the nearest box gives them their size and place."""
    from logotag_gui.core.base.records import Candidate

    clip, truth = demo_clip
    project, session, source, bench, queue, assistant = _open(tmp_path, clip, logos_dir)
    norvik = {f: next(b for brand, b in truth[f] if brand == "Norvik") for f in (0, 5, 10, 15, 20)}
    project.repo.add_candidates(video_id=session.video.id, candidates=[
        Candidate(session.frame_ref(f), norvik[f], "Norvik", 0.9, "keypoints") for f in (0, 10, 20)])
    session.reload()
    assistant.accept_exposure(session.exposures("Norvik")[0])
    assert {c.frame.index for c in session.of_brand("Norvik") if not c.has_box} == {5, 15}
    _work(queue, bench)
    for f in (5, 15):
        boxes = [c for c in session.at_frame(f) if c.final_brand == "Norvik" and c.has_box]
        assert len(boxes) == 1 and boxes[0].review.state.value == "accepted" and boxes[0].bbox.iou(norvik[f]) >= 0.6
    assert session.undo_text.startswith("Accept Norvik exposure")  # the boxes followed into the gaps joined it
    assistant.undo()  # one undo takes back what one key did: the accept, its presences and the followed boxes
    assert sorted(c.frame.index for c in session.of_brand("Norvik")) == [0, 10, 20]
    assert all(c.review.state.value == "pending" for c in session.of_brand("Norvik"))
    assistant.redo()  # and one redo brings it all back
    assert len([c for c in session.of_brand("Norvik") if c.has_box and c.review.state.value == "accepted"]) == 5
    source.close()


def test_a_follow_up_of_an_undone_step_adds_nothing(tmp_path, demo_clip, logos_dir):
    """The app follows an accepted exposure's gaps on a worker: where the reviewer undid the accept before the
    result came back, the result is dropped rather than left without the step it belonged to."""
    from logotag_gui.core.base.records import Candidate

    clip, truth = demo_clip
    project, session, source, bench, queue, assistant = _open(tmp_path, clip, logos_dir)
    norvik = {f: next(b for brand, b in truth[f] if brand == "Norvik") for f in (0, 10)}
    project.repo.add_candidates(video_id=session.video.id, candidates=[
        Candidate(session.frame_ref(f), norvik[f], "Norvik", 0.9, "keypoints") for f in (0, 10)])
    session.reload()
    assistant.accept_exposure(session.exposures("Norvik")[0])
    assistant.undo()  # before the follow's result is applied
    queue[:] = [job for job in queue if job.lane == "follow"]
    _work(queue, bench)
    assert sorted(c.frame.index for c in session.of_brand("Norvik")) == [0, 10] and not session.can_undo
    source.close()


def test_fixing_a_box_alone_on_its_track_follows_it_through_the_clip(tmp_path, demo_clip, logos_dir):
    clip, truth = demo_clip
    _project, session, source, bench, queue, assistant = _open(tmp_path, clip, logos_dir)
    box = next(b for brand, b in truth[10] if brand == "Norvik")
    assistant.follow_drawn = False
    alone = assistant.add_box(10, BBox(box.x, box.y, box.w * 0.5, box.h * 0.5), "Norvik")  # a box off the mark
    queue.clear()
    assistant.follow_drawn = True
    fixed = assistant.edit_box(alone, box)
    assert "follow" in [job.lane for job in queue]  # the one-box track is followed from the fixed box
    _work(queue, bench)
    track = session.track(fixed.track_id)
    assert len(track) >= 8  # boxes where the mark is, at its size on each frame (the demo's Norvik zooms)
    ious = {c.frame.index: round(c.final_bbox.iou(next(b for n, b in truth[c.frame.index] if n == "Norvik")), 2) for c in track}
    assert min(ious.values()) >= 0.5, (ious, [(c.frame.index, c.method) for c in track])
    source.close()


def test_a_clip_opened_is_described_ahead_quietly_on_the_learning_lane(tmp_path, demo_clip, logos_dir):
    """The frames' keypoints go to the store before anything is taught: the first box taught reads them."""
    clip, _truth = demo_clip
    _project, _session, source, bench, queue, assistant = _open(tmp_path, clip, logos_dir)
    assistant.describe_ahead()
    assert [(job.lane, job.text) for job in queue] == [("learn", "")]  # quiet: no "working" text in the app
    _work(queue, bench)
    assert bench.learner.describe() == 0  # every sampled frame is in the store already
    assistant.learn = False
    assistant.describe_ahead()
    assert queue == []  # learning off: nothing to describe for
    source.close()
