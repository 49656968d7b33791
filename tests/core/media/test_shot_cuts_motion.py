"""Shot cuts inside one shot: a whip pan that speeds up, a flash, are not cuts; a hard cut still is."""

from __future__ import annotations

import av
import cv2
import numpy as np

from logotag_gui.core.media.shots import CutDetector, shot_cuts
from logotag_gui.core.media.video import open_source


def _board(seed: int, *, grain: float = 12, low: int = 40, span: int = 100) -> np.ndarray:
    """A textured wall (blurred noise; values 40-140 by default: a flash brightens it without clipping)."""
    rng = np.random.default_rng(seed)
    noise = cv2.GaussianBlur(rng.random((360, 6000)).astype(np.float32), (0, 0), grain)
    noise = (noise - noise.min()) / (noise.max() - noise.min())
    return (low + span * noise).astype(np.uint8)


def _busy(seed: int) -> np.ndarray:
    """A wall of fine, contrasted texture: a whip pan over it changes the picture and its histogram a lot."""
    return _board(seed, grain=4, low=20, span=220)


def _whip(board: np.ndarray, steps: list[int]) -> list[np.ndarray]:
    """Views of 640x360 along `board`, moving by `steps` pixels from one frame to the next, blurred along the
    motion as a camera's shutter blurs it."""
    frames, x = [], 0
    for step in [0, *steps]:
        x += step
        view = board[:, x:x + 640].astype(np.float32)
        if step > 2:
            view = cv2.blur(view, (step // 2, 1))
        frames.append(np.ascontiguousarray(view.astype(np.uint8)))
    return frames


# A still camera, then a whip pan that speeds up over a few frames, holds and slows down.
WHIP = [0, 0, 0, 0, 1, 2, 4, 8, 16, 32, 64, 96, 120, 120, 96, 64, 32, 16, 8, 4, 2, 0, 0]


def _flash(frame: np.ndarray) -> np.ndarray:
    return np.clip(frame.astype(np.float32) * 1.6 + 30, 0, 255).astype(np.uint8)


def _script() -> tuple[list[np.ndarray], list[int]]:
    """A whip pan, a flash of two frames, then a hard cut to another wall: (frames, where the cut is)."""
    frames = _whip(_board(1), WHIP)
    still = frames[-1]
    frames += [still, _flash(still), _flash(still), still, still]
    cut = len(frames)
    frames += _whip(_board(2), [0, 0, 2, 4, 8])
    return frames, [cut]


def test_a_whip_pan_and_a_flash_are_not_cuts_but_a_hard_cut_is():
    frames, cuts = _script()
    detect = CutDetector()
    assert [i for i, f in enumerate(frames) if detect(f)] == cuts


def test_a_whip_pan_that_speeds_up_is_not_a_cut():
    for seed in range(3):
        detect = CutDetector()
        assert not any(detect(f) for f in _whip(_busy(seed), WHIP)), seed


def test_a_flash_on_a_still_shot_and_its_end_are_not_cuts():
    still = _whip(_board(3), [0])[0]
    detect = CutDetector()
    assert not any(detect(f) for f in [still, still, still, _flash(still), still, _flash(still), still])


def test_a_hard_cut_in_the_middle_of_a_fast_pan_is_a_cut():
    first = _whip(_board(4), [40] * 10)
    second = _whip(_board(5, low=110, span=120), [40] * 6)  # another scene, in other light
    detect = CutDetector()
    assert [i for i, f in enumerate(first + second) if detect(f)] == [len(first)]


def test_the_clips_cuts_are_the_hard_cut_alone(tmp_path):
    frames, cuts = _script()
    path = tmp_path / "whip.mp4"
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = 640, 360, "yuv420p"
        stream.options = {"crf": "18"}
        for gray in frames:
            rgb = np.repeat(gray[:, :, None], 3, axis=2)
            for packet in stream.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    source = open_source(path)
    try:
        assert shot_cuts(source) == cuts
    finally:
        source.close()
