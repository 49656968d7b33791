"""`logotag run-many`: many clips on Ray workers into one project; a failed clip does not stop the others,
done clips are skipped on a second run, and a killed worker's clip is resumed by its retry."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

from logotag_gui.cli import main
from logotag_gui.core.base.config import RunConfig
from logotag_gui.core.base.errors import InputError, LogoTagError
from logotag_gui.core.jobs.run_many import plan_clips, report_progress, run_clip, run_many
from logotag_gui.core.pipeline.run import run_pipeline
from logotag_gui.core.store import open_repository

FAST = ["--embedder", "keypoints", "--verifier", "none", "--no-propagate"]


def _config(clip, logos, **kw):
    return RunConfig(input=str(clip), logos=str(logos), embedder="keypoints", verifier="none", propagate=False, **kw)


@pytest.fixture
def clips(tmp_path, demo_clip) -> Path:
    """a.mp4 and b.mp4 (the demo clip), bad.mp4 (random bytes) and notes.txt (not a video)."""
    folder = tmp_path / "clips"
    folder.mkdir()
    for name in ("b.mp4", "a.mp4"):
        shutil.copy(demo_clip[0], folder / name)
    (folder / "bad.mp4").write_bytes(b"\x00\x01" * 10_000)  # not random: random bytes may parse as an audio stream
    (folder / "notes.txt").write_text("not a clip")
    return folder


def _runs(repo):
    by_path = {v.id: Path(v.path).name for v in repo.videos()}
    return {by_path[r.video_id]: r for r in repo.runs()}, repo.runs()


def _boxes(repo, video_id):
    return sorted((c.frame.index, c.brand, tuple(c.bbox.as_list())) for c in repo.candidates(video_id=video_id))


# ---- without Ray ---------------------------------------------------------------------------------
def test_the_plan_expands_folders_sorted_and_notes_what_it_skips(tmp_path, clips):
    images = tmp_path / "stills"
    images.mkdir()
    (images / "0001.png").write_bytes(b"")
    plan = plan_clips([clips, clips / "a.mp4", images, clips / "notes.txt"])
    assert [p.name for p in plan.clips] == ["a.mp4", "b.mp4", "bad.mp4", "stills"]  # each clip once
    assert any("notes.txt" in n for n in plan.notes) and len(plan.notes) == 2
    with pytest.raises(InputError, match="does not exist"):
        plan_clips([tmp_path / "missing"])
    with pytest.raises(InputError, match="No clips"):
        plan_clips([clips / "notes.txt"])


def test_a_clip_task_skips_a_done_clip_and_returns_a_failure_instead_of_raising(tmp_path, clips, logos_dir):
    db = str(tmp_path / "p.sqlite")
    first = run_clip(_config(clips / "a.mp4", logos_dir), db)
    assert first.status == "done" and first.candidates > 0 and first.frames_done == first.frames_total
    again = run_clip(_config(clips / "a.mp4", logos_dir), db)
    assert (again.status, again.run_id, again.candidates) == ("skipped", first.run_id, first.candidates)
    other_range = run_clip(_config(clips / "a.mp4", logos_dir, end_frame=30), db)
    assert other_range.status == "done" and other_range.run_id != first.run_id  # not the same work: run
    bad = run_clip(_config(clips / "bad.mp4", logos_dir), db)
    assert bad.status == "failed" and "bad.mp4" in bad.message and "corrupt" in bad.message

    # The driver's progress per clip is read from the project: a running run's frames, each change once.
    repo = open_repository(db)
    repo.mark_run(other_range.run_id, status="running")
    events, shown = [], {}
    for _ in range(2):
        report_progress(repo, {str(clips / "a.mp4"), str(clips / "b.mp4")}, shown, events.append)
    assert [(e.kind, Path(e.clip).name, e.frames_done, e.frames_total) for e in events] == [
        ("progress", "a.mp4", other_range.frames_done, other_range.frames_total)]
    repo.close()


def test_without_ray_the_command_says_how_to_install_it(tmp_path, clips, logos_dir, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` raises ImportError
    with pytest.raises(LogoTagError, match=r'pip install "logotag\[ray\]"'):
        run_many([clips / "a.mp4"], _config("", logos_dir), tmp_path / "p.sqlite")
    code = main(["run-many", str(clips / "a.mp4"), "--logos", str(logos_dir), "--db", str(tmp_path / "p.sqlite"),
                 *FAST])
    assert code == 2 and 'pip install "logotag[ray]"' in capsys.readouterr().err


# ---- on a local Ray ------------------------------------------------------------------------------
@pytest.mark.slow
def test_many_clips_run_a_failed_one_does_not_stop_the_rest_and_a_second_run_skips_done_ones(
        db_url, local_ray, clips, logos_dir, capsys):
    argv = ["run-many", str(clips), "--logos", str(logos_dir), "--db", db_url, *FAST, "-q"]
    assert main(argv) == 1  # one clip failed
    out = capsys.readouterr()
    assert "notes.txt" in out.err  # skipped with a note
    lines = {line.split()[1].rstrip(":"): line for line in out.out.splitlines() if line.split()[0] in
             ("done", "failed", "skipped")}
    assert lines["a.mp4"].startswith("done") and lines["b.mp4"].startswith("done")
    assert lines["bad.mp4"].startswith("failed") and "Cannot open video" in lines["bad.mp4"]
    assert "3 clip(s): 2 done, 0 already done, 1 failed" in out.out

    repo = open_repository(db_url)
    latest, runs = _runs(repo)
    assert {name: r.status for name, r in latest.items()} == {"a.mp4": "done", "b.mp4": "done"}
    counts = {name: repo.count_candidates(video_id=r.video_id) for name, r in latest.items()}
    assert all(n > 0 for n in counts.values()) and counts["a.mp4"] == counts["b.mp4"]
    assert all(r.frames_done == r.frames_total > 0 for r in runs)

    assert main(argv) == 1  # the corrupt clip still fails; the done ones are not run again
    out = capsys.readouterr().out
    assert "3 clip(s): 0 done, 2 already done, 1 failed" in out
    again, runs_again = _runs(repo)
    assert len(runs_again) == len(runs) == 2
    assert {n: repo.count_candidates(video_id=r.video_id) for n, r in again.items()} == counts
    repo.close()


@pytest.mark.slow
def test_a_killed_worker_is_retried_and_resumes_its_clip_after_the_last_stored_batch(
        db_url, local_ray, tmp_path, clips, logos_dir):
    config = _config("", logos_dir, batch_frames=4)
    fresh = open_repository(tmp_path / "fresh.sqlite")
    expected = _boxes(fresh, run_pipeline(config.with_(input=str(clips / "a.mp4")), repo=fresh).video_id)
    fresh.close()
    marker = tmp_path / "killed-once"

    def kill_after_first_batch(clip, progress) -> None:  # runs in the worker: the process dies mid-clip
        if progress.stage == "frames" and progress.done > 0 and not marker.exists():
            marker.write_text(str(os.getpid()))
            os._exit(1)

    summary = run_many([clips / "a.mp4"], config, db_url, max_retries=2, worker_hook=kill_after_first_batch)
    assert marker.exists()  # the first attempt was killed
    [result] = summary.results
    assert result.status == "done" and result.resumed_from is not None  # the retry resumed the stored batches
    repo = open_repository(db_url)
    [run] = repo.runs()  # one run, carried on: not started over
    assert run.status == "done" and run.frames_done == run.frames_total == 12
    assert _boxes(repo, run.video_id) == expected  # nothing lost, nothing twice
    repo.close()
