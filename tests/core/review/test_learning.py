"""Learning from review: a drawn box finds the mark's other appearance; a rejected box marks its look-alikes."""

from __future__ import annotations

import pytest

from logotag_gui.core.base.records import BBox, Candidate, FrameRef, ReviewState
from logotag_gui.core.media.video import open_source
from logotag_gui.core.review import LIKE_REJECTED
from logotag_gui.core.review.learning import Learner
from resources import synth
from tests.seeded import clip_project, fennel_shots

# Fennel in a first shot, then, after a cut, somewhere else in a second one.
SHOTS = [synth.Shot(20, (synth.Placement("Fennel", (0.10, 0.20), (0.15, 0.22), 0.30),), seed=3),
         synth.Shot(20, (synth.Placement("Fennel", (0.55, 0.55), (0.50, 0.50), 0.28),), seed=9)]


@pytest.fixture(scope="module")
def two_shots(tmp_path_factory):
    return fennel_shots(tmp_path_factory.mktemp("shots"), "two_shots", SHOTS)


def _open(tmp_path, clip, logos_dir):
    project, video, session = clip_project(tmp_path, clip, logos_dir)
    source = open_source(clip)
    learner = Learner(project.repo, source, video=video, sampled=session.sampled, dictionary=project.dictionary(),
                      reviewer="ann")
    return project, session, source, learner


def test_a_drawn_box_finds_the_marks_second_appearance_the_detector_missed(tmp_path, two_shots, logos_dir):
    clip, truth = two_shots
    project, session, source, learner = _open(tmp_path, clip, logos_dir)
    assert session.candidates == []  # nothing was detected: the review starts from misses
    drawn = session.add_box(5, truth[5][0][1], "Fennel")
    lessons = learner.teach([drawn], {"Fennel": session.of_brand("Fennel")})
    session.ingest(lessons.added)
    assert lessons.searched == ["Fennel"]
    views = project.repo.review_references(brand="Fennel")
    assert [(v.polarity, v.candidate_id) for v in views] == [("positive", drawn.id)]
    second = [c for c in lessons.added if c.frame.index >= 20]
    assert second, "the second shot's Fennel must be found with the drawn view"
    for c in second:
        assert c.method == "learned" and c.review.state is ReviewState.PENDING
        assert c.bbox.iou(truth[c.frame.index][0][1]) >= 0.5
    assert len({c.track_id for c in second}) == 1  # one track: one T accepts it
    assert not any(c.frame.index == 5 for c in lessons.added)  # the drawn spot is not proposed again
    # Undoing the drawing takes what it taught with it.
    session.undo()
    learner.forget([drawn.id])
    assert project.repo.review_references() == []
    source.close()


def test_a_rejected_box_marks_its_look_alikes_and_not_the_brand(tmp_path, two_shots, logos_dir):
    clip, truth = two_shots
    project, session, source, learner = _open(tmp_path, clip, logos_dir)
    video = session.video
    spot = BBox(400, 40, 120, 60)  # the same patch of the first shot's background, frame after frame
    wrong = [Candidate(FrameRef(f, f / 10, 640, 360), spot, "Fennel", 0.4, "keypoints") for f in (0, 5, 10)]
    right = Candidate(FrameRef(15, 1.5, 640, 360), truth[15][0][1], "Fennel", 0.9, "keypoints")
    stored = project.repo.add_candidates(video_id=video.id, candidates=[*wrong, right])
    session.reload()
    rejected = session.reject(session.get(stored[0].id))
    lessons = learner.teach([rejected], {"Fennel": session.of_brand("Fennel")})
    session.update(lessons.hinted)
    assert {c.id for c in lessons.hinted} == {stored[1].id, stored[2].id}
    assert all(session.get(c.id).hint == LIKE_REJECTED for c in lessons.hinted)
    assert session.get(stored[3].id).hint is None  # the real mark looks like the brand's reference
    assert session.next(unreviewed=True, frame=0).id == stored[3].id  # look-alikes come last
    session.undo()  # the rejection undone: the look-alike hints it gave go with it
    lessons = learner.unlearn([rejected.id], {"Fennel": session.of_brand("Fennel")})
    session.update(lessons.hinted)
    assert {c.id for c in lessons.hinted} == {stored[1].id, stored[2].id}
    assert all(session.get(c.id).hint is None for c in stored) and project.repo.review_references() == []
    source.close()


def test_what_review_taught_in_one_clip_finds_the_mark_in_the_next_clip(tmp_path, two_shots, logos_dir):
    """The same boards at the next match: a box drawn in clip A is searched for in clip B when B is opened."""
    import shutil

    clip, truth = two_shots
    other = tmp_path / "next_match.mp4"
    shutil.copy(clip, other)
    project, session, source, learner = _open(tmp_path, clip, logos_dir)
    drawn = session.add_box(5, truth[5][0][1], "Fennel")
    learner.learn([drawn])
    assert project.add_clips([str(other)]) == []
    video_b = next(v for v in project.videos() if v.path == str(other.resolve()))
    session_b = project.session(video_b.id, reviewer="ann")
    source_b = open_source(other)
    learner_b = Learner(project.repo, source_b, video=video_b, sampled=session_b.sampled,
                        dictionary=project.dictionary(), reviewer="ann")
    lessons = learner_b.catch_up({"Fennel": session_b.of_brand("Fennel")})
    assert lessons.searched == ["Fennel"]
    found = {c.frame.index for c in lessons.added}
    assert {5, 25} <= found  # both shots of clip B: the view came from another clip, no shot of B is its own
    for c in lessons.added:
        assert c.method == "learned" and c.bbox.iou(truth[c.frame.index][0][1]) >= 0.5
    assert learner_b.catch_up({"Fennel": session_b.of_brand("Fennel")}).searched == []  # searched once
    source.close()
    source_b.close()


def test_learning_searches_with_siglip2_where_the_clip_was_run_with_it(tmp_path, two_shots, logos_dir, tiny_siglip):
    """The SigLIP-2 path, through the same loading as a user's run (tiny random weights: whether it finds the
    mark is not what this measures, only that the views become its references and its windows are searched)."""
    from logotag_gui.core.review.learning import clip_embedder

    clip, truth = two_shots
    project, session, source, learner = _open(tmp_path, clip, logos_dir)
    assert clip_embedder(project.repo, session.video.id) is None  # never run with SigLIP-2
    project.repo.start_run(video_id=session.video.id, config={"siglip_model": str(tiny_siglip), "threshold": -1.0,
                                                              "top_k": 1}, embedder=("siglip2", str(tiny_siglip), ""),
                           verifier=("none", "", ""), frames_total=0, replace_pending=False)
    embedder = clip_embedder(project.repo, session.video.id)
    assert embedder is not None and embedder.model_id == str(tiny_siglip) and embedder.threshold == -1.0
    drawn = session.add_box(5, truth[5][0][1], "Fennel")
    learner.learn([drawn])
    plain = learner.find_more("Fennel", session.of_brand("Fennel"), new_track_id=lambda: 1)
    learner.embedder = embedder
    both = learner.find_more("Fennel", session.of_brand("Fennel"), new_track_id=lambda: 1)
    assert len(both) > len(plain)  # its windows proposed what the keypoints did not
    source.close()


def test_rejecting_a_second_box_on_a_brands_mark_teaches_no_look_alike(tmp_path, two_shots, logos_dir):
    clip, truth = two_shots
    project, session, source, learner = _open(tmp_path, clip, logos_dir)
    mark = truth[15][0][1]
    double = BBox(mark.x + 3, mark.y + 2, mark.w, mark.h)  # the same mark boxed twice
    kept, extra = project.repo.add_candidates(video_id=session.video.id, candidates=[
        Candidate(FrameRef(15, 1.5, 640, 360), mark, "Fennel", 0.9, "keypoints"),
        Candidate(FrameRef(15, 1.5, 640, 360), double, "Fennel", 0.6, "keypoints")])
    session.reload()
    rejected = session.reject(session.get(extra.id))
    learner.teach([rejected], {"Fennel": session.of_brand("Fennel")})
    assert project.repo.review_references(polarity="negative") == []  # Fennel's own mark is no look-alike
    assert session.get(kept.id).hint is None
    source.close()
