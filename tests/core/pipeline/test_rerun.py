"""A clip run again: no pending twin of a decided box (issue 27 row 15), a run that is done is not redone without
--force (row 21), and settings out of range refused before any work, whoever starts the run."""

from __future__ import annotations

import pytest

from logotag_gui.cli import main
from logotag_gui.core.base.config import RunConfig
from logotag_gui.core.base.errors import InputError
from logotag_gui.core.base.records import DecisionKind, ReviewState
from logotag_gui.core.pipeline.run import run_pipeline
from logotag_gui.core.store import open_repository
from tests.seeded import decide


def _config(clip, logos, **kw):
    return RunConfig(input=str(clip), logos=str(logos), embedder="keypoints", verifier="none", **kw)


def test_row15_a_run_with_other_settings_adds_no_pending_box_on_a_decided_one(tmp_path, demo_clip, logos_dir):
    clip, _ = demo_clip
    repo = open_repository(tmp_path / "p.sqlite")
    first = run_pipeline(_config(clip, logos_dir), repo=repo)
    reviewed = repo.candidates(video_id=first.video_id)
    assert len(reviewed) >= 6
    for n, c in enumerate(reviewed):  # a complete review: every other box rejected
        decide(repo, [c.stored_id], DecisionKind.REJECT if n % 2 else DecisionKind.ACCEPT, video_id=first.video_id,
               reviewer="ana")

    second = run_pipeline(_config(clip, logos_dir, track_gap_s=2.0), repo=repo)  # other settings: a new run
    assert second.run_id != first.run_id and second.status == "done"
    after = repo.candidates(video_id=first.video_id)
    decided = [c for c in after if c.review.state is not ReviewState.PENDING]
    assert len(decided) == len(reviewed)  # the review is kept
    twins = [(p.frame.index, p.brand) for p in after if p.review.state is ReviewState.PENDING
             for d in decided if d.frame.index == p.frame.index and d.brand == p.brand and d.bbox.iou(p.bbox) >= 0.5]
    assert twins == []
    assert {c.review.state for c in after} == {ReviewState.ACCEPTED, ReviewState.REJECTED}  # nothing new to review


def test_run_pipeline_refuses_settings_out_of_range_before_any_work(tmp_path, demo_clip, logos_dir):
    config = _config(demo_clip[0], logos_dir, fps=-1.0)
    repo = open_repository(tmp_path / "p.sqlite")
    with pytest.raises(InputError) as caught:
        run_pipeline(config, repo=repo)  # as the app and run-many start it: no CLI in between
    assert str(caught.value) == "; ".join(config.problems()) + "."
    assert repo.videos() == [] and repo.runs() == []


def test_skipped_images_are_described_with_why(tmp_path, logos_dir, demo_clip):
    from PIL import Image

    from logotag_gui.core.media.video import describe_skipped, open_source

    folder = tmp_path / "photos"
    folder.mkdir()
    source = open_source(demo_clip[0])
    for i, frame in enumerate(source.sample(fps=1)):
        Image.fromarray(frame.image).save(folder / f"{i:02d}.jpg")
    source.close()
    (folder / "03.jpg").write_bytes(b"\xff\xd8\xff not a jpeg")
    folder_source = open_source(folder)
    list(folder_source.sample(fps=1))
    why = describe_skipped(dict(folder_source.skipped))  # with why: the reader's own words
    folder_source.close()
    result = run_pipeline(_config(folder, logos_dir), repo=open_repository(tmp_path / "p.sqlite"))
    assert why in result.notices and "03.jpg" in why


def _run(db, clip, logos, *extra):
    return main(["-q", "run", str(clip), "--logos", str(logos), "--db", str(db), "--embedder", "keypoints",
                 "--verifier", "none", *extra])


def test_row21_a_clip_done_with_these_settings_is_not_run_again_without_force(tmp_path, demo_clip, logos_dir,
                                                                              capsys):
    db = tmp_path / "p.sqlite"
    assert _run(db, demo_clip[0], logos_dir) == 0
    repo = open_repository(db)
    (run,) = repo.runs()
    stored = [c.id for c in repo.candidates()]
    capsys.readouterr()

    assert _run(db, demo_clip[0], logos_dir) == 0
    out = capsys.readouterr()
    assert f"already run with these settings (run {run.id}, done); --force to run again" in out.err
    assert f"run {run.id}: 12/12 frames, {len(stored)} candidates" in out.out  # what is stored, as after the run
    assert [r.id for r in repo.runs()] == [run.id] and [c.id for c in repo.candidates()] == stored  # not analysed

    assert _run(db, demo_clip[0], logos_dir, "--threshold", "0.3") == 0  # other settings: a run of their own
    assert len(repo.runs()) == 2
    assert _run(db, demo_clip[0], logos_dir, "--threshold", "0.3", "--force") == 0  # redone on request
    assert len(repo.runs()) == 3 and repo.runs()[-1].status == "done"
