"""The app's run progress says what the run is doing (issue 28 item 6): the step first, before any frame is done."""

from __future__ import annotations

import pytest

from logotag_gui.core.base.config import RunConfig

pytestmark = pytest.mark.gui


def test_the_run_progress_shows_each_step_before_the_first_frame_is_done(window, qtbot, tmp_path, demo_clip,
                                                                         logos_dir, monkeypatch):
    clip, _ = demo_clip
    assert window.open_project(str(tmp_path / "p.sqlite"))
    assert window.set_logos(str(logos_dir))
    window.add_clips([str(clip)])
    shown: list[str] = []
    show_busy = window.show_busy

    def record(text, cancel, **kw):  # what the run controller has the window show, all of it
        shown.append(text)
        show_busy(text, cancel, **kw)

    monkeypatch.setattr(window, "show_busy", record)
    run = RunConfig(input=str(clip), logos=str(logos_dir), embedder="keypoints", verifier="none")
    with qtbot.waitSignal(window.runs.worker.allFinished, timeout=120_000):
        window.runs.run_clips([window.video.id], run)
    before_first_frame = shown[:next(i for i, text in enumerate(shown) if text.startswith("frames 4/12"))]
    heads = [text.split(" · ")[0] for text in before_first_frame]
    for step in ("reading the logos", "loading the models", "indexing the logos",
                 "frames 1–4 of 12: decoding, finding shots", "frames 1–4 of 12: proposing",
                 "frames 1–4 of 12: verifying", "frames 1–4 of 12: storing"):
        assert step in heads
    assert heads.index("reading the logos") < heads.index("frames 1–4 of 12: proposing") \
        < heads.index("frames 1–4 of 12: storing")
    assert f"frames 1–4 of 12: proposing · 0/12 · {clip.name}" in before_first_frame
