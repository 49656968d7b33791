"""A run says what it is doing (issue 28 item 6): its progress names each step, in order, from reading the logos
to storing the first batch, before any frame is done; the app's line shows the step first."""

from __future__ import annotations

import pytest

from logotag_gui.core.base import progress as steps
from logotag_gui.core.base.config import RunConfig
from logotag_gui.core.base.progress import RunProgress, progress_line, step_text
from logotag_gui.core.base.records import Progress
from logotag_gui.core.pipeline.run import run_pipeline
from logotag_gui.core.store import open_repository


def _run(tmp_path, clip, logos, **kw):
    repo = open_repository(tmp_path / "p.sqlite")
    seen: list[Progress] = []
    config = RunConfig(input=str(clip), logos=str(logos), embedder="keypoints", verifier="none", **kw)
    result = run_pipeline(config, repo=repo, on_progress=seen.append)
    repo.close()
    return result, seen


def _first_steps(events: list[Progress]) -> list[str]:
    """Each step's first report, in order."""
    out: list[str] = []
    for p in events:
        step = p.step if isinstance(p, RunProgress) else ""
        if step and step not in out:
            out.append(step)
    return out


@pytest.mark.parametrize("overlap", [True, False])
def test_the_runs_progress_names_each_step_in_order_before_the_first_frame_is_done(tmp_path, demo_clip, logos_dir,
                                                                                   overlap):
    clip, _ = demo_clip
    result, seen = _run(tmp_path, clip, logos_dir, batch_frames=4, overlap=overlap)
    assert result.status == "done" and result.frames_total == 12
    first_done = next(i for i, p in enumerate(seen) if p.stage == "frames" and p.done > 0)
    before = seen[:first_done]
    assert _first_steps(before) == [steps.READING_LOGOS, steps.LOADING_MODELS, steps.INDEXING_LOGOS,
                                    steps.FINDING_SHOTS, steps.PROPOSING, steps.VERIFYING, steps.STORING]
    assert seen[first_done].done == 4
    # The first batch is named by its frames, among the run's sampled ones.
    on_first = [step_text(p) for p in before if isinstance(p, RunProgress) and p.on == "frames 1–4 of 12"]
    assert on_first[0] == "frames 1–4 of 12: decoding, finding shots"
    assert "frames 1–4 of 12: proposing" in on_first and on_first[-1] == "frames 1–4 of 12: storing"
    # Every batch is proposed, verified and stored, in order of its frames; then tracks are followed.
    frame_steps = [step_text(p) for p in seen if isinstance(p, RunProgress) and p.step in (steps.PROPOSING,
                                                                                         steps.STORING)]
    assert [s for s in frame_steps if s.endswith("storing")] == [
        "frames 1–4 of 12: storing", "frames 5–8 of 12: storing", "frames 9–12 of 12: storing"]
    assert [s for s in frame_steps if s.endswith("proposing")] == [
        "frames 1–4 of 12: proposing", "frames 5–8 of 12: proposing", "frames 9–12 of 12: proposing"]
    following = [i for i, p in enumerate(seen) if step_text(p) == steps.FOLLOWING]
    assert following and following[0] > max(i for i, p in enumerate(seen) if p.stage == "frames")
    # A step's report carries the frames' progress as it stands: the bar never goes back.
    frames_done = [p.done for p in seen if p.stage == "frames"]
    assert frames_done == sorted(frames_done) and frames_done[-1] == 12


def test_a_resumed_run_numbers_its_frames_among_the_whole_runs(tmp_path, demo_clip, logos_dir):
    clip, _ = demo_clip
    repo = open_repository(tmp_path / "p.sqlite")
    config = RunConfig(input=str(clip), logos=str(logos_dir), embedder="keypoints", verifier="none", batch_frames=4)
    cancel_calls = {"n": 0}

    def cancel_after_first_batch() -> bool:
        cancel_calls["n"] += 1
        return cancel_calls["n"] > 2  # the second batch is searched and stored, then the run stops

    first = run_pipeline(config, repo=repo, cancel=cancel_after_first_batch)
    assert first.status == "cancelled" and first.frames_done == 8
    seen: list[Progress] = []
    resumed = run_pipeline(config, repo=repo, on_progress=seen.append)
    repo.close()
    assert resumed.status == "done" and resumed.resumed_from is not None
    assert [step_text(p) for p in seen if isinstance(p, RunProgress) and p.step == steps.PROPOSING] == [
        "frames 9–12 of 12: proposing"]


def test_the_progress_line_says_the_step_first_and_a_plain_progress_as_before():
    plain = Progress("frames", 4, 12, 63.5, "clip.mp4: frame 30, 9 candidates")
    assert progress_line(plain) == "frames 4/12 · ETA 1:03 · clip.mp4: frame 30, 9 candidates"
    assert step_text(plain) == ""
    stepped = RunProgress("frames", 4, 12, 63.5, "clip.mp4: frame 30, 9 candidates", step=steps.PROPOSING,
                          on="frames 5–8 of 12")
    assert progress_line(stepped) == "frames 5–8 of 12: proposing · 4/12 · ETA 1:03 · clip.mp4: frame 30, 9 candidates"
    loading = RunProgress("loading models", 0, 2, message="clip.mp4", step=steps.LOADING_MODELS)
    assert progress_line(loading) == "loading the models · 0/2 · clip.mp4"
    assert isinstance(stepped, Progress) and stepped.stage == "frames"  # whoever takes a Progress takes it
