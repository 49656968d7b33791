"""Detecting on keyframes and following between: groups never span a cut, the sharpest frame is searched,
and a run that searches a third of its frames still finds what a full run finds."""

from __future__ import annotations

import cv2
import numpy as np

from logotag_gui.core.analysis.evaluate import Box, Truth, evaluate
from logotag_gui.core.base.config import RunConfig
from logotag_gui.core.base.records import Frame, FrameRef
from logotag_gui.core.pipeline.keyframes import groups, keyframe, sharpness
from logotag_gui.core.pipeline.run import run_pipeline
from logotag_gui.core.store import open_repository


def _frame(i: int, image: np.ndarray) -> Frame:
    return Frame(FrameRef(i, i / 10, image.shape[1], image.shape[0]), image)


def test_groups_of_k_start_again_at_every_cut():
    blank = np.zeros((36, 64, 3), np.uint8)
    frames = [_frame(i, blank) for i in range(0, 50, 5)]  # sampled frames 0, 5, ... 45
    cuts = [22]  # a shot starts at frame 22: 25 begins a new group
    got = [[f.index for f in g] for g in groups(frames, k=3, cuts=cuts)]
    assert got == [[0, 5, 10], [15, 20], [25, 30, 35], [40, 45]]


def _panned(width: int, shift: int) -> np.ndarray:
    """A 320x180 window onto a wide textured scene, moved `shift` pixels right."""
    rng = np.random.default_rng(7)
    scene = cv2.GaussianBlur(rng.integers(0, 256, size=(180, width, 3), dtype=np.uint8), (5, 5), 0)
    return np.ascontiguousarray(scene[:, shift:shift + 320])


def test_a_moving_camera_starts_a_new_group_and_a_still_one_keeps_its_group():
    pan = [_frame(i * 5, _panned(2000, 48 * i)) for i in range(12)]  # 15% of the frame per sampled frame
    still = [_frame(60 + i * 5, _panned(2000, 48 * 11)) for i in range(12)]
    got = [[f.index for f in g] for g in groups(pan + still, k=8, cuts=[], move_share=0.25)]
    sizes = [len(g) for g in got]
    # moved over a quarter of the frame every second frame: a new group; then a still camera: groups of k
    assert sizes == [2, 2, 2, 2, 2, 8, 6]
    assert [[f.index for f in g] for g in groups(pan, k=8, cuts=[])] == [[0, 5, 10, 15, 20, 25, 30, 35],
                                                                         [40, 45, 50, 55]]  # without: groups of k


def test_the_keyframe_is_the_sharpest_of_its_group():
    rng = np.random.default_rng(1)
    sharp = rng.integers(0, 256, size=(180, 320, 3), dtype=np.uint8)
    blurred = cv2.blur(sharp, (15, 1))  # a horizontal whip: motion blur
    group = [_frame(0, blurred), _frame(5, sharp), _frame(10, cv2.blur(sharp, (5, 5)))]
    assert sharpness(group[1]) > max(sharpness(group[0]), sharpness(group[2]))
    assert keyframe(group).index == 5


def test_a_keyframe_run_searches_fewer_frames_and_finds_what_a_full_run_finds(tmp_path, demo_clip, logos_dir):
    clip, truth_frames = demo_clip
    truth = Truth("video", {f: [Box(b, box) for b, box in boxes] for f, boxes in truth_frames.items()}, 10.0)
    recall = {}
    for k in (1, 3):
        repo = open_repository(tmp_path / f"k{k}.sqlite")
        result = run_pipeline(RunConfig(input=str(clip), logos=str(logos_dir), embedder="keypoints", verifier="none",
                                        detect_every=k), repo=repo)
        assert result.frames_done == result.frames_total == 12
        assert result.keyframes == (12 if k == 1 else 4)
        preds: dict[int, list[Box]] = {}
        for c in repo.candidates(video_id=result.video_id):
            preds.setdefault(c.frame.index, []).append(Box(c.final_brand, c.final_bbox, c.score))
        recall[k] = evaluate(truth, preds, frames=list(range(0, 60, 5))).total().recall
    assert recall[3] >= recall[1] - 0.05 and recall[1] > 0.8
