"""Runs that are interrupted, repeated, raced or fed damaged input lose nothing and say what happened
(issue 12, rows 1, 2, 3, 7 and 14)."""

from __future__ import annotations

import threading
from pathlib import Path

import av
import numpy as np
import pytest

from logotag_gui.core.base.config import RunConfig
from logotag_gui.core.base.errors import InputError
from logotag_gui.core.pipeline.run import run_pipeline
from logotag_gui.core.store import open_repository
from logotag_gui.core.store.repository import RunBusy


def _config(clip, logos, **kw):
    return RunConfig(input=str(clip), logos=str(logos), embedder="keypoints", verifier="none", **kw)


def _cancel_after(batches: int):
    calls = {"n": 0}

    def cancel() -> bool:
        calls["n"] += 1
        return calls["n"] > batches

    return cancel


def _boxes(repo, video_id):
    return sorted((c.frame.index, c.brand, c.bbox.as_list()) for c in repo.candidates(video_id=video_id))


def test_row1_other_settings_in_between_never_let_a_run_skip_lost_frames(tmp_path, demo_clip, logos_dir):
    clip, _ = demo_clip
    first, other = _config(clip, logos_dir, batch_frames=4), _config(clip, logos_dir, batch_frames=4, fps=1)
    fresh = open_repository(tmp_path / "fresh.sqlite")
    expected = _boxes(fresh, run_pipeline(first, repo=fresh).video_id)

    repo = open_repository(tmp_path / "p.sqlite")
    interrupted = run_pipeline(first, repo=repo, cancel=_cancel_after(1))
    assert interrupted.status == "cancelled"
    run_pipeline(other, repo=repo)  # replaces the first run's pending results
    assert repo.run_info(interrupted.run_id).status == "superseded"
    again = run_pipeline(first, repo=repo)
    assert again.resumed_from is None and again.run_id != interrupted.run_id  # starts over, skips nothing
    assert again.frames_done == again.frames_total == 12
    assert _boxes(repo, again.video_id) == expected


def test_row2_a_relative_and_an_absolute_path_are_one_clip_and_one_run(tmp_path, demo_clip, logos_dir,
                                                                        monkeypatch):
    clip, _ = demo_clip
    repo = open_repository(tmp_path / "p.sqlite")
    monkeypatch.chdir(Path(clip).parent)
    interrupted = run_pipeline(_config(Path(clip).name, logos_dir, batch_frames=4), repo=repo,
                               cancel=_cancel_after(1))
    resumed = run_pipeline(_config(Path(clip).resolve(), logos_dir, batch_frames=4), repo=repo)
    assert resumed.run_id == interrupted.run_id and resumed.resumed_from is not None
    assert [r.status for r in repo.runs()] == ["done"]
    assert len(repo.videos()) == 1


def test_row3_two_runs_of_one_clip_at_once_never_store_twice(tmp_path, demo_clip, logos_dir):
    clip, _ = demo_clip
    db = tmp_path / "p.sqlite"
    open_repository(db).close()
    outcomes: list[object] = []
    started = threading.Barrier(2)

    def run() -> None:
        own = open_repository(db)
        started.wait()
        try:
            outcomes.append(run_pipeline(_config(clip, logos_dir, batch_frames=1), repo=own).status)
        except RunBusy as exc:
            outcomes.append(exc)
        finally:
            own.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    repo = open_repository(db)
    busy = [o for o in outcomes if isinstance(o, RunBusy)]
    assert len(outcomes) == 2 and "done" in outcomes and len(busy) + outcomes.count("done") == 2
    keys = [(c.frame.index, c.brand, tuple(c.bbox.as_list())) for c in repo.candidates()]
    assert len(keys) == len(set(keys))  # no duplicates, whoever won
    if busy:  # the loser was told why
        assert "being run by another LogoTag process" in str(busy[0])
    # And a held lock stops a run before it stores anything.
    vid = repo.videos()[0].id
    owner = repo.acquire_run_lock(vid)
    before = repo.count_candidates()
    with pytest.raises(RunBusy):
        run_pipeline(_config(clip, logos_dir, fps=1), repo=open_repository(db))
    assert repo.count_candidates() == before
    repo.release_run_lock(vid, owner)


def _faststart_clip(path: Path, frames: int = 60) -> Path:
    rng = np.random.default_rng(0)
    container = av.open(str(path), "w", options={"movflags": "faststart"})  # the index at the front
    stream = container.add_stream("libx264", rate=10)
    stream.width, stream.height, stream.pix_fmt = 320, 180, "yuv420p"
    for _ in range(frames):
        image = rng.integers(0, 255, (180, 320, 3)).astype(np.uint8)
        for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
            container.mux(packet)
    for packet in stream.encode():
        container.mux(packet)
    container.close()
    return path


def test_row7_a_clip_cut_off_in_the_middle_fails_and_a_rerun_retries_the_rest(tmp_path, logos_dir):
    whole = _faststart_clip(tmp_path / "whole.mp4")
    cut = tmp_path / "cut.mp4"
    data = whole.read_bytes()
    cut.write_bytes(data[: len(data) // 2])
    repo = open_repository(tmp_path / "p.sqlite")
    with pytest.raises(InputError, match=r"cut\.mp4' stops decoding after frame .* sampled frames were not analysed"):
        run_pipeline(_config(cut, logos_dir), repo=repo)
    run = repo.runs()[-1]
    assert run.status == "failed" and 0 < run.frames_done < run.frames_total
    cut.write_bytes(data)  # the full file is copied again: the rerun carries on where the good part ended
    result = run_pipeline(_config(cut, logos_dir), repo=repo)
    assert result.run_id == run.id and result.frames_done == result.frames_total


def test_row14_an_unreadable_image_is_skipped_noted_and_the_rest_stored(tmp_path, logos_dir, demo_clip):
    from logotag_gui.core.media.video import open_source

    folder = tmp_path / "photos"
    folder.mkdir()
    source = open_source(demo_clip[0])
    for i, frame in enumerate(source.sample(fps=1)):
        from PIL import Image

        Image.fromarray(frame.image).save(folder / f"{i:02d}.jpg")
    source.close()
    (folder / "03.jpg").write_bytes(b"\xff\xd8\xff not a jpeg")
    repo = open_repository(tmp_path / "p.sqlite")
    result = run_pipeline(_config(folder, logos_dir, batch_frames=4), repo=repo)
    assert result.status == "done" and any("03.jpg" in n for n in result.notices)
    assert list(repo.runs()[-1].notes) == result.notices
    stored = {c.frame.name for c in repo.candidates()}
    assert "03.jpg" not in stored and {"02.jpg", "04.jpg"} <= stored
