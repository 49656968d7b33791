"""Learning's frame keypoints kept on disk: a search reads them instead of decoding and describing the clip's frames
again, and finds what describing them finds."""

from __future__ import annotations

import numpy as np
import pytest

from logotag_gui.core.base.records import Frame, FrameRef
from logotag_gui.core.media.video import open_source
from logotag_gui.core.proposers.keypoint_store import KeypointStore
from logotag_gui.core.proposers.keypoints import FrameFeatures, KeypointProposer
from logotag_gui.core.review.learning import Learner
from resources import synth
from tests.seeded import clip_project, fennel_shots

# Fennel in three shots: a box drawn in the first is searched for in the other two.
SHOTS = [synth.Shot(20, (synth.Placement("Fennel", (0.10, 0.20), (0.15, 0.22), 0.30),), seed=3),
         synth.Shot(20, (synth.Placement("Fennel", (0.55, 0.55), (0.50, 0.50), 0.28),), seed=9),
         synth.Shot(20, (synth.Placement("Fennel", (0.30, 0.60), (0.40, 0.30), 0.25),), seed=5)]


@pytest.fixture(scope="module")
def three_shots(tmp_path_factory):
    return fennel_shots(tmp_path_factory.mktemp("shots"), "three_shots", SHOTS)


class CountingSource:
    """The clip's frames, counting the ones decoded (its cuts are found as the clip's source finds them)."""

    def __init__(self, source) -> None:
        self.source, self.decoded = source, []
        self.info, self.luma = source.info, source.luma

    def frame(self, index: int) -> Frame:
        self.decoded.append(index)
        return self.source.frame(index)


def _teach_drawn_box(tmp_path, clip, truth, logos_dir, cache_root, *, describe=False):
    """A fresh project; a box drawn on frame 5, taught: (what it found, frames decoded, the sampled frames)."""
    tmp_path.mkdir()
    project, video, session = clip_project(tmp_path, clip, logos_dir)
    source = open_source(clip)
    counting = CountingSource(source)
    learner = Learner(project.repo, counting, video=video, sampled=session.sampled, reviewer="ann",
                      cache_root=cache_root)
    if describe:
        assert learner.describe() == len(session.sampled)
        assert learner.describe() == 0  # described once
        counting.decoded.clear()
    drawn = session.add_box(5, truth[5][0][1], "Fennel")
    lessons = learner.teach([drawn], {"Fennel": session.of_brand("Fennel")})
    found = sorted((c.frame.index, tuple(round(v, 3) for v in (c.bbox.x, c.bbox.y, c.bbox.w, c.bbox.h)),
                    c.frame.t, c.frame.width, c.frame.height) for c in lessons.added)
    source.close()
    project.close()
    return found, counting.decoded, session.sampled


def test_a_taught_box_finds_the_same_with_the_stored_keypoints_as_with_the_decoded_frames(tmp_path, three_shots,
                                                                                           logos_dir):
    clip, truth = three_shots
    # Keypoints in memory only (the store cannot write under a file), as before the store: every frame decoded.
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("")
    old, old_decoded, sampled = _teach_drawn_box(tmp_path / "a", clip, truth, logos_dir, blocked)
    # The store filled by describing the sampled frames ahead, then searched from it without decoding them.
    new, new_decoded, _ = _teach_drawn_box(tmp_path / "b", clip, truth, logos_dir, tmp_path / "cache",
                                           describe=True)
    # Another project (another session of the app) on the same clip reads the same store.
    again, again_decoded, _ = _teach_drawn_box(tmp_path / "c", clip, truth, logos_dir, tmp_path / "cache")
    assert {f for f, *_ in old} >= {25, 45}, "the drawn view must find the mark in the other shots"
    assert new == old and again == old  # the same frames, boxes and frame places
    searched = [i for i in sampled if i >= 20]  # the other shots' frames
    assert set(searched) <= set(old_decoded)
    assert not set(searched) & set(new_decoded) and not set(searched) & set(again_decoded)


def test_the_store_gives_back_the_keypoints_exactly_and_keeps_apart_clips_and_detectors(tmp_path, three_shots):
    clip, _ = three_shots
    source = open_source(clip)
    frame = source.frame(25)
    source.close()
    sift = KeypointProposer(min_inliers=8)
    features = sift.frame_features(frame)
    assert features is not None
    store = KeypointStore(tmp_path, clip, sift)
    assert store.get(25) is None and not store.has(25)
    store.put(frame.ref, features)
    ref, back = store.get(25)
    assert ref == frame.ref and back is not None and back.scale == features.scale
    assert np.array_equal(back.points, features.points) and np.array_equal(back.descriptors, features.descriptors)
    assert back.descriptors.dtype == np.float32
    # A frame too plain to match is kept as such: not described again.
    blank = FrameRef(30, 3.0, 640, 360)
    store.put(blank, None)
    assert store.get(30) == (blank, None)
    # Other detector settings, another clip: another store.
    assert KeypointStore(tmp_path, clip, KeypointProposer(n_features=500)).get(25) is None
    other = tmp_path / "other.mp4"
    other.write_bytes(clip.read_bytes() + b"\0")
    assert KeypointStore(tmp_path, other, sift).get(25) is None
    assert KeypointStore(tmp_path, clip, KeypointProposer(min_inliers=3)).get(25) is not None  # matching only


def test_descriptors_that_are_not_whole_numbers_are_kept_as_they_are(tmp_path, three_shots):
    clip, _ = three_shots
    store = KeypointStore(tmp_path, clip, KeypointProposer())
    rng = np.random.default_rng(0)
    features = FrameFeatures(rng.random((10, 2), dtype=np.float32), rng.random((10, 128), dtype=np.float32), 0.5)
    ref = FrameRef(3, 0.3, 640, 360)
    store.put(ref, features)
    stored = store.get(3)
    assert stored is not None and np.array_equal(stored[1].descriptors, features.descriptors)


def test_a_store_that_cannot_write_keeps_nothing_and_says_so(tmp_path, three_shots, caplog):
    clip, _ = three_shots
    blocked = tmp_path / "file"
    blocked.write_text("")
    store = KeypointStore(blocked, clip, KeypointProposer())
    ref = FrameRef(3, 0.3, 640, 360)
    store.put(ref, None)
    store.put(ref, None)
    assert store.get(3) is None
    assert sum("not kept on disk" in r.getMessage() for r in caplog.records) == 1


def test_the_stores_are_kept_under_a_cap_dropping_the_clips_used_longest_ago(tmp_path):
    import os

    from logotag_gui.core.proposers.keypoint_store import keep_under_cap

    stores = tmp_path / "keypoints"
    for age, name in enumerate(["old", "middle", "new", "current"]):
        folder = stores / name
        folder.mkdir(parents=True)
        (folder / "0.npz").write_bytes(b"x" * 1000)
        os.utime(folder, (1_000_000 + age, 1_000_000 + age))
    os.utime(stores / "current", (1, 1))  # opened now, whatever its age: never dropped
    dropped = keep_under_cap(stores, 2500, keep=stores / "current")
    assert sorted(p.name for p in dropped) == ["middle", "old"]
    assert sorted(p.name for p in stores.iterdir()) == ["current", "new"]
    assert keep_under_cap(stores, 2500, keep=stores / "current") == []  # under the cap: nothing more
