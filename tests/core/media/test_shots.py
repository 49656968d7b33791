"""Shot cuts: found by the decoder while it samples (the run stores them), not by a fast pan."""

from __future__ import annotations

import numpy as np

from logotag_gui.core.base.config import RunConfig
from logotag_gui.core.media.shots import CutDetector
from logotag_gui.core.media.video import open_source
from logotag_gui.core.pipeline.run import run_pipeline
from logotag_gui.core.store import open_repository
from resources import synth

SHOTS = [synth.Shot(20, (synth.Placement("Fennel", (0.10, 0.20), (0.15, 0.22), 0.30),), seed=3),
         synth.Shot(20, (synth.Placement("Fennel", (0.55, 0.55), (0.50, 0.50), 0.28),), seed=9)]


def _clip(tmp_path):
    marks = {"Fennel": synth.make_logo("Fennel", *synth.DEMO_BRANDS["Fennel"])}
    path = tmp_path / "two_shots.mp4"
    synth.write_shots(path, marks, SHOTS)
    return path


def test_sampling_finds_the_cut_and_yields_the_same_frames(tmp_path):
    source = open_source(_clip(tmp_path))
    plain = [f.index for f in source.sample(fps=2)]
    cuts: list[int] = []
    found = [f for f in source.sample(fps=2, cuts=cuts)]
    assert [f.index for f in found] == plain == list(range(0, 40, 5)) and cuts == [20]
    assert found[4].image.shape == (360, 640, 3)
    source.close()


def test_a_fast_pan_over_a_busy_scene_is_not_a_cut_but_a_new_scene_is():
    rng = np.random.default_rng(0)
    board = rng.integers(0, 256, size=(200, 2000), dtype=np.uint8)
    detect = CutDetector()
    pans = [detect(np.ascontiguousarray(board[:, 40 * i:40 * i + 640])) for i in range(12)]  # 40 px a frame
    assert not any(pans)  # the thumbnails differ a lot, the histogram hardly
    other = np.full((200, 640), 30, np.uint8)
    assert detect(other)


def test_a_run_stores_the_clips_cuts(tmp_path, logos_dir):
    clip = _clip(tmp_path)
    repo = open_repository(tmp_path / "p.sqlite")
    result = run_pipeline(RunConfig(input=str(clip), logos=str(logos_dir), embedder="keypoints", verifier="none",
                                    propagate=False), repo=repo)
    assert repo.cuts(result.video_id) == [20]
