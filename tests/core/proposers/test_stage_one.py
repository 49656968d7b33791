"""Stage 1 at the machine's pace: decode ahead, several frames at once, unchanged frames not searched again."""

from __future__ import annotations

import itertools
import threading

import numpy as np
import pytest

from logotag_gui.core.base.records import Frame, FrameRef
from logotag_gui.core.media.logos import load_dictionary
from logotag_gui.core.media.video import open_source
from logotag_gui.core.pipeline.stage_one import StageOne, block_means, prefetch, unchanged
from logotag_gui.core.proposers.keypoints import KeypointProposer
from logotag_gui.core.proposers.offline import OfflineProposer


def _frames(path, n=None) -> list[Frame]:
    source = open_source(path)
    try:
        return list(itertools.islice(source.sample(fps=2.0), n))
    finally:
        source.close()


def test_prefetch_keeps_order_runs_on_another_thread_and_stops_when_closed():
    threads, produced = set(), []

    def numbers():
        for i in range(1000):
            threads.add(threading.get_ident())
            produced.append(i)
            yield i

    ahead = prefetch(numbers(), depth=3)
    assert list(itertools.islice(ahead, 5)) == [0, 1, 2, 3, 4]
    ahead.close()
    assert threading.get_ident() not in threads
    assert len(produced) < 20  # it stopped a few items ahead, not at the end
    assert not any(t.name == "logotag-decode-ahead" for t in threading.enumerate())


def test_prefetch_raises_the_producers_error_in_order():
    def failing():
        yield 1
        raise ValueError("corrupt packet")

    ahead = prefetch(failing())
    assert next(ahead) == 1
    with pytest.raises(ValueError, match="corrupt packet"):
        next(ahead)


def test_unchanged_ignores_noise_and_sees_a_small_logo_appear():
    rng = np.random.default_rng(0)
    image = rng.integers(0, 255, (360, 640, 3), dtype=np.uint8)
    noisy = np.clip(image.astype(np.int16) + rng.integers(-2, 3, image.shape), 0, 255).astype(np.uint8)
    assert unchanged(block_means(image), block_means(noisy))
    logo = image.copy()
    logo[100:116, 200:216] = (255, 0, 0)  # a 16 px mark
    assert not unchanged(block_means(image), block_means(logo))
    assert not unchanged(None, block_means(image))
    assert not unchanged(block_means(image), block_means(image[:200]))  # another size is another picture


@pytest.mark.fresh_ocr  # the engine itself reads on several threads at once
@pytest.mark.slow
def test_several_threads_give_exactly_the_sequential_results(demo_clip, logos_dir):
    frames = _frames(demo_clip[0], 8)
    proposer = OfflineProposer()
    proposer.prepare(load_dictionary(logos_dir))
    sequential = StageOne(proposer, workers=1, skip_unchanged=False).propose(frames)
    parallel = StageOne(proposer, workers=2, skip_unchanged=False)
    try:
        assert parallel.parallel  # the offline proposer says it is thread-safe
        assert parallel.propose(frames[:4]) + parallel.propose(frames[4:]) == sequential
    finally:
        parallel.close()
    assert sum(map(len, sequential)) > 0


def test_an_unchanged_frame_takes_the_previous_frames_proposals(demo_clip, logos_dir):
    first = _frames(demo_clip[0], 1)[0]
    proposer = KeypointProposer()
    proposer.prepare(load_dictionary(logos_dir))
    held = [Frame(FrameRef(first.index + k, first.ref.t + k / 2, first.ref.width, first.ref.height),
                  first.image) for k in range(3)]
    moved = Frame(FrameRef(first.index + 3, first.ref.t + 1.5, first.ref.width, first.ref.height),
                  np.roll(first.image, 40, axis=1))
    stage = StageOne(proposer, workers=1)
    found = stage.propose(held[:2]) + stage.propose([held[2], moved])
    assert stage.unchanged_frames == 2  # two held frames, across a batch boundary; the moved one is searched
    expected = proposer.propose(held[0])
    assert expected
    for frame, cands in zip(held, found[:3], strict=True):
        assert [c.with_(frame=expected[0].frame) for c in cands] == expected
        assert all(c.frame == frame.ref for c in cands)
    assert found[3] == proposer.propose(moved)
