"""A seeded project for the review tests: one clip (10 fps, reviewed at 2 fps, every 5th frame) with stored
model candidates, without running the pipeline; and the review steps tests seed decided projects with, written
as the app writes them: one `ReviewEdit` through `apply_edit`."""

from __future__ import annotations

from collections.abc import Iterable

from logotag_gui.core.base.records import MANUAL, BBox, Candidate, DecisionKind, FrameRef, Verdict, VerdictState
from logotag_gui.core.store import open_repository
from logotag_gui.core.store.edits import Decision, ReviewEdit


def frame(i: int, *, fps: float = 10.0) -> FrameRef:
    return FrameRef(i, i / fps, 640, 360)


def seeded_project(db, boxes, *, frame_count: int = 60, fps: float = 10.0, path: str = "/clips/a.mp4"):
    """(repo, video id). `boxes`: (frame, x, brand, track or None[, verdict state]) per model candidate; the
    verdict defaults to none run."""
    repo = open_repository(db)
    vid = repo.add_video(path=path, kind="video", fps=fps, frame_count=frame_count, duration_s=frame_count / fps,
                         width=640, height=360)
    run = repo.start_run(video_id=vid, config={"fps": 2}, embedder=("keypoints", "", ""), verifier=("none", "", ""),
                         frames_total=frame_count // 5)
    first = repo.reserve_track_ids(vid, 100)
    cands = []
    for f, x, brand, track, *verdict in boxes:
        state = verdict[0] if verdict else VerdictState.NOT_RUN
        cands.append(Candidate(frame(f, fps=fps), BBox(x, 50, 60, 40), brand, 0.8, "keypoints",
                               track_id=None if track is None else first + track,
                               verdict=Verdict(state, 0.9 if state is VerdictState.YES else None)))
    repo.add_batch(run_id=run, video_id=vid, candidates=cands, last_frame_index=frame_count - 5,
                   frames_done=frame_count // 5)
    return repo, vid


def decide(repo, ids: Iterable[int], kind: DecisionKind, *, video_id: int, reviewer: str, brand: str | None = None,
           bbox: BBox | None = None) -> None:
    """The same decision for these candidates of the clip, in one step (`brand`/`bbox`: the corrections)."""
    repo.apply_edit(ReviewEdit(decide=(Decision(tuple(ids), kind, brand, bbox),)), video_id=video_id,
                    reviewer=reviewer)


def draw(repo, *, video_id: int, frame: FrameRef, bbox: BBox, brand: str, reviewer: str) -> Candidate:
    """A box the reviewer drew, stored as the app stores one: an accepted manual candidate."""
    drawn = Candidate(frame, bbox, brand, 1.0, MANUAL)
    return repo.apply_edit(ReviewEdit(add_decided=((drawn, DecisionKind.ADDED),)), video_id=video_id,
                           reviewer=reviewer).added[0]


def leaving_project(db, *, method: str = "keypoints"):
    """(repo, video id): a 6-s clip sampled at 2 fps, acme wholly in view on frames 0-10 (a track), then on frame 15
    a box 25% in view (the mark leaving the frame: `method`, e.g. "tracked"), what counting rules are tried on."""
    repo = open_repository(db)
    vid = repo.add_video(path="/nowhere/a.mp4", kind="video", fps=10, frame_count=60, duration_s=6, width=640,
                         height=360)
    run = repo.start_run(video_id=vid, config={"fps": 2}, embedder=("keypoints", "", ""), verifier=("none", "", ""),
                         frames_total=12)
    boxes = [Candidate(frame(f), BBox(100, 50, 80, 40), "acme", 0.8, "keypoints", track_id=1) for f in (0, 5, 10)]
    boxes.append(Candidate(frame(15), BBox(-60, 50, 80, 40), "acme", 0.8, method, track_id=1))
    repo.add_batch(run_id=run, video_id=vid, candidates=boxes, last_frame_index=55, frames_done=12)
    return repo, vid


def fennel_shots(folder, name: str, shots) -> tuple:
    """(path, per-frame truth) of a clip of `shots` (resources.synth.Shot) showing the demo's Fennel mark."""
    from resources import synth

    marks = {"Fennel": synth.make_logo("Fennel", *synth.DEMO_BRANDS["Fennel"])}
    path = folder / f"{name}.mp4"
    return path, synth.write_shots(path, marks, shots)


def clip_project(folder, clip, logos_dir):
    """(project, its one video, a review session of it by "ann"): `clip` added to a new project in `folder` with the
    logo folder set."""
    from logotag_gui.core.review import Project

    project = Project.open(folder / "p.sqlite", durable=False)
    project.set_logos(str(logos_dir))
    assert project.add_clips([str(clip)]) == []
    video = project.videos()[0]
    return project, video, project.session(video.id, reviewer="ann")
