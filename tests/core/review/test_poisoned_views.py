"""Issue 27 row 5: a drawn box that takes in a score graphic (on every frame of a broadcast) must not teach a view
that proposes its brand on every frame of this clip and the next; a learned view can be deleted, and the delete
undone."""

from __future__ import annotations

import io
import shutil

import pytest
from PIL import Image

from logotag_gui.core.base.records import BBox
from logotag_gui.core.media.video import open_source
from logotag_gui.core.review import Project
from logotag_gui.core.review.learned_views import LearnedViews
from logotag_gui.core.review.learning import Learner
from resources import synth

SCORE = synth.Placement("Score", (0.03, 0.04), (0.03, 0.04), 0.28)  # the broadcaster's graphic: never moves
FENNEL = synth.Placement("Fennel", (0.55, 0.50), (0.40, 0.58), 0.28)
# Three shots, each with its own scene; the graphic sits at the same place in all of them.
SHOTS = [synth.Shot(20, (SCORE, FENNEL), seed=3), synth.Shot(20, (SCORE,), seed=9), synth.Shot(20, (SCORE,), seed=5)]


@pytest.fixture(scope="module")
def broadcast(tmp_path_factory):
    marks = {"Fennel": synth.make_logo("Fennel", *synth.DEMO_BRANDS["Fennel"]),
             "Score": synth.make_logo("2-1 LIV", (250, 250, 250), (200, 20, 20), "ring")}
    path = tmp_path_factory.mktemp("broadcast") / "match.mp4"
    return path, synth.write_shots(path, marks, SHOTS)


def _png(crop) -> bytes:
    out = io.BytesIO()
    Image.fromarray(crop).save(out, format="PNG")
    return out.getvalue()


def _box(truth, frame: int, brand: str) -> BBox:
    return next(b for name, b in truth[frame] if name == brand)


def _open(project: Project, clip, told: list[str]):
    video = next(v for v in project.videos() if v.path == str(clip.resolve()))
    session = project.session(video.id, reviewer="ann")
    source = open_source(clip)
    learner = Learner(project.repo, source, video=video, sampled=session.sampled, dictionary=project.dictionary(),
                      reviewer="ann", notify=told.append)
    return session, source, learner


@pytest.fixture
def project(tmp_path, broadcast, logos_dir):
    project = Project.open(tmp_path / "p.sqlite", durable=False)
    project.set_logos(str(logos_dir))
    next_clip = tmp_path / "next_match.mp4"
    shutil.copy(broadcast[0], next_clip)
    assert project.add_clips([str(broadcast[0]), str(next_clip)]) == []
    yield project, next_clip
    project.close()


def test_a_drawn_box_over_the_score_graphic_is_refused_with_why(project, broadcast):
    project, _ = project
    clip, truth = broadcast
    told: list[str] = []
    session, source, learner = _open(project, clip, told)
    score = _box(truth, 5, "Score")
    drawn = session.add_box(5, BBox(score.x - 4, score.y - 4, score.w + 8, score.h + 8), "Fennel")
    lessons = learner.teach([drawn], {"Fennel": session.of_brand("Fennel")})
    assert lessons.added == []  # not proposed on the other shots' frames
    assert project.repo.review_references() == []  # nor kept: the next clip is not searched with it
    assert len(lessons.refused) == 1 and told == lessons.refused
    assert "Fennel box on frame 5" in told[0] and "Draw the box tight" in told[0]
    # The same graphic drawn again is refused without a second probe or a second message.
    again = session.add_box(10, BBox(score.x - 4, score.y - 4, score.w + 8, score.h + 8), "Fennel")
    assert learner.teach([again], {"Fennel": session.of_brand("Fennel")}).refused == [] and len(told) == 1
    # A box on the mark itself still teaches its view.
    real = session.add_box(5, _box(truth, 5, "Fennel"), "Fennel")
    learner.learn([real])
    assert [v.candidate_id for v in project.repo.review_references()] == [real.id]
    source.close()


def test_a_view_kept_before_the_check_is_refused_when_it_fires_everywhere(project, broadcast):
    """A project taught before this check holds the poisoned view: the next clip it searches is not flooded."""
    project, next_clip = project
    clip, truth = broadcast
    first = next(v for v in project.videos() if v.path == str(clip.resolve()))
    source = open_source(clip)
    score = _box(truth, 5, "Score")
    crop = source.frame(5).crop(score)
    source.close()
    project.repo.add_review_reference(brand="Fennel", polarity="positive", candidate_id=None, video_id=first.id,
                                      frame_index=5, bbox=score, image_png=_png(crop), reviewer="ann",
                                      taught_by="added")
    told: list[str] = []
    session, source_b, learner = _open(project, next_clip, told)
    lessons = learner.catch_up({"Fennel": session.of_brand("Fennel")})
    assert lessons.searched == ["Fennel"] and lessons.added == []
    assert project.repo.review_references() == []  # it leaves the project with a message
    assert len(told) == 1 and "Removed a learned view of Fennel (taught on frame 5)" in told[0]
    assert lessons.refused == told
    source_b.close()


def test_learned_views_are_listed_deleted_and_the_delete_undone(project, broadcast):
    project, _ = project
    clip, truth = broadcast
    told: list[str] = []
    session, source, learner = _open(project, clip, told)
    drawn = session.add_box(5, _box(truth, 5, "Fennel"), "Fennel")
    learner.learn([drawn])
    views = LearnedViews(project.repo)
    (view,) = views.listed()
    assert (view.brand, view.frame_index, view.taught_by, view.video_path) == ("Fennel", 5, "added",
                                                                               str(clip.resolve()))
    found = learner.find_more("Fennel", session.of_brand("Fennel"), new_track_id=lambda: 1, every_view=True)
    assert found  # the mark in the rest of its shot
    project.repo.add_candidates(video_id=session.video.id, candidates=found)
    assert views.listed()[0].proposals == len(found)

    assert views.delete([view.id]) == 1 and views.listed() == [] and views.can_undo
    # The learner (another thread's, in the app) searches no more with it.
    assert learner.find_more("Fennel", session.of_brand("Fennel"), new_track_id=lambda: 1, every_view=True) == []
    assert views.undo() == 1 and not views.can_undo
    assert [(v.id, v.proposals) for v in views.listed()] == [(view.id, len(found))]  # its id, so its finds
    assert learner.find_more("Fennel", [], new_track_id=lambda: 1, every_view=True)  # and it searches again
    source.close()
