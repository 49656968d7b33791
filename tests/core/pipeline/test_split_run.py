"""A long clip split into frame ranges that workers run at once (`run-many --split-minutes`): the same
result as one process, each range resumed on its own, one lock per range, and a killed worker's range
carried on by its retry."""

from __future__ import annotations

import os

import pytest

from logotag_gui.core.base.config import RunConfig
from logotag_gui.core.base.errors import StoreError
from logotag_gui.core.base.records import BBox, Candidate, FrameRef, Verdict
from logotag_gui.core.base.records import VerdictState as V
from logotag_gui.core.jobs.run_many import run_many
from logotag_gui.core.pipeline.backends import ModelCache
from logotag_gui.core.pipeline.parts import frame_ranges
from logotag_gui.core.pipeline.run import run_pipeline
from logotag_gui.core.pipeline.split import finish_split, prepare_split
from logotag_gui.core.pipeline.verification import rejudge_tracks
from logotag_gui.core.store import open_repository
from logotag_gui.core.store.runs import RunBusy

YES, UNSURE = V.YES, V.UNSURE
MINUTES = 0.025  # 1.5 s of the 6-s demo clip: four ranges of three sampled frames


def _config(clip, logos, **kw) -> RunConfig:
    return RunConfig(input=str(clip), logos=str(logos), embedder="keypoints", batch_frames=2, **kw)


def _ocr_config(clip, logos) -> RunConfig:
    return _config(clip, logos, verifier="ocr", track_verify_k=1)  # one crop per track and batch: OCR is slow


def _boxes(repo, video_id):
    return sorted((c.frame.index, c.brand, tuple(round(x, 2) for x in c.bbox.as_list()), c.method,
                   c.verdict.state.value) for c in repo.candidates(video_id=video_id))


def _tracks(repo, video_id):
    """The clip's tracks as sets of (frame, brand): equal when one process and the parts link alike."""
    members: dict[int | None, list] = {}
    for c in repo.candidates(video_id=video_id):
        members.setdefault(c.track_id, []).append((c.frame.index, c.brand))
    return sorted(tuple(sorted(m)) for m in members.values())


@pytest.fixture(scope="module")
def models():
    """Loaded once for the module: the OCR engine is what costs (each worker of run-many keeps its own too)."""
    return ModelCache()


@pytest.fixture(scope="module")
def one_process(tmp_path_factory, demo_clip, logos_dir, models):
    """What one process stores for the demo clip, with the OCR verifier and following."""
    repo = open_repository(tmp_path_factory.mktemp("one") / "p.sqlite")
    result = run_pipeline(_ocr_config(demo_clip[0], logos_dir), repo=repo, models=models)
    yield _boxes(repo, result.video_id), _tracks(repo, result.video_id)
    repo.close()


def test_frame_ranges_cover_every_sampled_frame_once_and_fold_a_short_tail():
    sampled = list(range(0, 100, 5))  # 20 frames
    assert frame_ranges(sampled, per_part=6) == [(0, 25, 6), (30, 55, 6), (60, 95, 8)]  # a tail of 2 joins
    assert frame_ranges(sampled, per_part=5) == [(0, 20, 5), (25, 45, 5), (50, 70, 5), (75, 95, 5)]
    assert frame_ranges(sampled, per_part=50) == [(0, 95, 20)]


@pytest.mark.slow
def test_ranges_run_apart_and_joined_give_what_one_process_gives(tmp_path, demo_clip, logos_dir, one_process, models):
    config = _ocr_config(demo_clip[0], logos_dir)
    repo = open_repository(tmp_path / "p.sqlite")
    plan = prepare_split(config, repo, minutes=MINUTES)
    assert plan is not None and len(plan.parts) == 4 and not plan.resumed
    for part in reversed(plan.parts):  # in any order: each range is its own
        result = run_pipeline(config, repo=repo, part_id=part.id, models=models)
        assert result.status == "done" and result.frames_done == result.frames_total == 3
    assert repo.run_info(plan.run_id).status == "running"  # the ranges are done; the run is not yet
    finished = finish_split(config, repo=repo, run_id=plan.run_id, models=models)
    run = repo.run_info(plan.run_id)
    assert finished.status == run.status == "done" and run.frames_done == run.frames_total == 12
    assert run.embedder_model and run.verifier_model  # what the workers loaded
    boxes, tracks = one_process
    assert _boxes(repo, plan.video_id) == boxes  # boxes, followed ones and verdicts alike
    assert _tracks(repo, plan.video_id) == tracks  # tracks that cross a border are one track
    assert len(repo.runs()) == 1  # one run of the clip, as the review and the report see it
    repo.close()


def test_a_range_stopped_midway_resumes_after_its_last_batch_and_finishing_waits_for_every_range(
        db_url, tmp_path, demo_clip, logos_dir):
    config = _config(demo_clip[0], logos_dir, verifier="none")
    expected_repo = open_repository(tmp_path / "one.sqlite")
    expected = _boxes(expected_repo, run_pipeline(config, repo=expected_repo).video_id)
    repo = open_repository(db_url)
    plan = prepare_split(config, repo, minutes=MINUTES)
    assert plan is not None
    first = plan.parts[0]
    batches = []
    stopped = run_pipeline(config, repo=repo, part_id=first.id, on_batch=batches.append,
                           cancel=lambda: bool(batches))
    assert stopped.status == "cancelled" and repo.run_part(first.id).status == "cancelled"
    with pytest.raises(StoreError, match=r"4 of 4 part\(s\) of run \d+ are not done"):
        finish_split(config, repo=repo, run_id=plan.run_id)
    again = prepare_split(config, repo, minutes=MINUTES)  # the same command again carries the split on
    assert again is not None and again.resumed and again.run_id == plan.run_id and len(again.todo) == 4
    resumed = run_pipeline(config, repo=repo, part_id=first.id)
    assert resumed.resumed_from is not None  # after the stored batch, not from the range's start
    assert resumed.frames_done == 3 and resumed.status == "done"
    for part in again.todo[1:]:
        run_pipeline(config, repo=repo, part_id=part.id)
    finish_split(config, repo=repo, run_id=plan.run_id)
    assert _boxes(repo, plan.video_id) == expected  # nothing lost, nothing twice
    assert repo.resumable_run(video_id=plan.video_id, config=repo.run_info(plan.run_id).config) is None
    repo.close()
    expected_repo.close()


def test_a_joined_track_settled_before_the_border_carries_that_verdict_past_it():
    def box(cid, frame, state, from_track=False):
        return Candidate(FrameRef(frame, frame / 10, 640, 360), BBox(10, 10, 50, 50), "Norvik", 0.9, "keypoints", track_id=7,
                         verdict=Verdict(state, 0.9, "", "", "ocr", from_track=from_track), id=cid)

    settled = [box(1, 0, YES), box(2, 5, YES, from_track=True), box(3, 10, UNSURE), box(4, 15, UNSURE, True)]
    changed = rejudge_tracks(settled, {7: 10})  # one process would not have verified frame 10 again
    assert set(changed) == {3, 4} and all(v.state is YES and v.from_track for v in changed.values())
    open_ = [box(1, 0, UNSURE), box(2, 5, UNSURE, True), box(3, 10, YES), box(4, 15, UNSURE, True)]
    changed = rejudge_tracks(open_, {7: 10})  # not settled before: the boxes that carry take the joined verdict
    assert set(changed) == {2, 4} and all(v.state is YES for v in changed.values())
    assert rejudge_tracks(settled, {}) == {}  # tracks not joined keep their verdicts


def test_each_range_has_a_lock_of_its_own_and_the_clip_is_not_run_whole_meanwhile(tmp_path, demo_clip, logos_dir):
    repo = open_repository(tmp_path / "p.sqlite")
    plan = prepare_split(_config(demo_clip[0], logos_dir, verifier="none"), repo, minutes=MINUTES)
    assert plan is not None
    a, b = plan.parts[:2]
    with repo.run_lock(plan.video_id, part_id=a.id), repo.run_lock(plan.video_id, part_id=b.id):
        with pytest.raises(RunBusy, match=r"Frames 0-\d+ of clip 'demo.mp4' is being run by another"):
            repo.acquire_part_lock(a.id)
        with pytest.raises(RunBusy, match=r"a part of it"):
            repo.acquire_run_lock(plan.video_id)
    with repo.run_lock(plan.video_id), pytest.raises(RunBusy, match=r"Clip .demo\.mp4. is being run"):
        repo.acquire_part_lock(a.id)
    repo.close()


@pytest.mark.slow
def test_run_many_splits_a_clip_across_workers_and_a_killed_workers_range_is_carried_on(
        db_url, local_ray, tmp_path, demo_clip, logos_dir):
    config = _config("", logos_dir, verifier="none")
    fresh = open_repository(tmp_path / "fresh.sqlite")
    expected = _boxes(fresh, run_pipeline(config.with_(input=str(demo_clip[0])), repo=fresh).video_id)
    fresh.close()
    marker = tmp_path / "killed-once"

    def kill_in_a_range(clip, progress) -> None:  # runs in the worker: the process dies after a stored batch
        if progress.stage == "frames" and progress.done > 0 and not marker.exists():
            marker.write_text(str(os.getpid()))
            os._exit(1)

    events = []
    summary = run_many([demo_clip[0]], config, db_url, max_retries=2, worker_hook=kill_in_a_range,
                       split_minutes=MINUTES, on_event=events.append)
    assert marker.exists()
    [result] = summary.results
    assert result.status == "done" and result.frames_done == result.frames_total == 12
    assert any("4 ranges" in e.message for e in events if e.kind == "notice")
    repo = open_repository(db_url)
    [run] = repo.runs()
    assert run.status == "done" and [p.status for p in repo.run_parts(run.id)] == ["done"] * 4
    assert _boxes(repo, run.video_id) == expected
    again = run_many([demo_clip[0]], config, db_url, split_minutes=MINUTES)  # done: skipped, not run again
    assert [r.status for r in again.results] == ["skipped"] and len(repo.runs()) == 1
    repo.close()


def test_each_range_follows_its_own_tracks_and_the_joining_follows_what_crosses_a_border(tmp_path, logos_dir):
    """Three ranges of a 9-s clip: Norvik only in the first and Fennel only in the last (each range's own track,
    followed there), Aquila across both borders (joined, then followed over the whole clip): one process's
    result either way."""
    from logotag_gui.core.pipeline.parts import own_tracks
    from resources import synth

    marks = {name: synth.make_logo(name, *spec) for name, spec in synth.DEMO_BRANDS.items()}
    placements = [synth.Placement("Norvik", (0.05, 0.10), (0.20, 0.12), 0.30, first=0, last=17),
                  synth.Placement("Aquila", (0.60, 0.55), (0.40, 0.55), 0.28, first=10, last=55),
                  synth.Placement("Fennel", (0.10, 0.60), (0.25, 0.62), 0.25, first=68)]
    clip = tmp_path / "three.mp4"
    synth.write_clip(clip, marks, placements, n_frames=90)
    config = _config(clip, logos_dir, verifier="none", track_gap_s=0.5)
    one = open_repository(tmp_path / "one.sqlite")
    expected = run_pipeline(config, repo=one)
    repo = open_repository(tmp_path / "split.sqlite")
    plan = prepare_split(config, repo, minutes=0.05)
    assert plan is not None and [(p.start_frame, p.end_frame) for p in plan.parts] == [(0, 25), (30, 55), (60, 85)]
    for part in plan.parts:
        run_pipeline(config, repo=repo, part_id=part.id)
    stored = repo.candidates(run_id=plan.run_id)
    owned = [own_tracks(stored, p, plan.parts, gap_frames=5) for p in plan.parts]
    assert owned[0] and owned[2]  # Norvik's and Fennel's tracks were the first and last ranges' own
    assert {c.final_brand for c in stored if c.track_id in owned[0] | owned[2]} == {"Norvik", "Fennel"}
    finish_split(config, repo=repo, run_id=plan.run_id)
    assert _boxes(repo, plan.video_id) == _boxes(one, expected.video_id)
    assert _tracks(repo, plan.video_id) == _tracks(one, expected.video_id)
    aquila = {c.track_id for c in repo.candidates(video_id=plan.video_id) if c.final_brand == "Aquila"}
    assert len(aquila) == 1  # one track across both borders
    repo.close()
    one.close()
