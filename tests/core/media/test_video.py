from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from logotag_gui.core.base.errors import InputError
from logotag_gui.core.media.video import open_source, probe
from resources import synth


@pytest.mark.parametrize("suffix,codec", [(".mp4", "libx264"), (".webm", "libvpx-vp9"), (".mkv", "libx264"),
                                          (".mov", "mpeg4")])
def test_sampling_and_seeking_agree_on_every_container(tmp_path, suffix, codec):
    marks = {n: synth.make_logo(n, *spec) for n, spec in synth.DEMO_BRANDS.items()}
    path = tmp_path / f"clip{suffix}"
    synth.write_clip(path, marks, synth.DEMO_PLACEMENTS, n_frames=30, fps=10, size=(320, 180), codec=codec)
    source = open_source(path)
    assert source.info.fps == pytest.approx(10)
    assert source.info.frame_count == 30
    sampled = list(source.sample(fps=2))
    assert [f.index for f in sampled] == [0, 5, 10, 15, 20, 25] == source.sampled_indices(fps=2)
    assert [f.ref.t for f in sampled] == pytest.approx([0, 0.5, 1.0, 1.5, 2.0, 2.5])
    # A frame fetched by index (as the GUI does) is the very frame the pipeline sampled.
    for frame in reversed(sampled):
        again = source.frame(frame.index)
        assert again.index == frame.index
        assert np.array_equal(again.image, frame.image)
    source.close()


def test_sample_range_and_step_to_any_frame(demo_clip):
    path, _ = demo_clip
    source = open_source(path)
    assert [f.index for f in source.sample(fps=2, start=12, end=40)] == [15, 20, 25, 30, 35, 40]
    assert [source.frame(i).index for i in (7, 8, 9, 3, 59)] == [7, 8, 9, 3, 59]
    with pytest.raises(IndexError):
        source.frame(500)


def test_image_folder_frames_are_named_by_file(tmp_path):
    for name in ("img10.jpg", "img2.png", "img1.jpg"):
        Image.new("RGB", (64, 48), "white").save(tmp_path / name)
    (tmp_path / "notes.txt").write_text("not an image")
    source = open_source(tmp_path)
    assert [f.ref.name for f in source.sample()] == ["img1.jpg", "img2.png", "img10.jpg"]
    assert source.info.kind == "images" and source.info.width == 64


@pytest.mark.parametrize("make,needle", [
    (lambda p: p.write_bytes(b""), "empty"),
    (lambda p: p.write_bytes(np.random.default_rng(0).bytes(5000)), "Cannot open video"),
])
def test_bad_video_files_name_the_file_and_the_reason(tmp_path, make, needle):
    path = tmp_path / "broken.mp4"
    make(path)
    with pytest.raises(InputError) as info:
        open_source(path)
    assert needle in str(info.value) and "broken.mp4" in str(info.value)


def test_truncated_video_is_reported(tmp_path, demo_clip):
    path, _ = demo_clip
    data = path.read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: len(data) // 3])
    with pytest.raises(InputError) as info:
        source = open_source(cut)
        list(source.sample(fps=10))
    assert "cut.mp4" in str(info.value)


def test_unsupported_and_missing_inputs(tmp_path):
    doc = tmp_path / "clip.txt"
    doc.write_text("hello")
    with pytest.raises(InputError, match="not a supported video"):
        open_source(doc)
    with pytest.raises(InputError, match="does not exist"):
        probe(tmp_path / "missing.mp4")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(InputError, match="holds no images"):
        open_source(empty)


def test_clips_that_share_a_file_name_are_told_apart_by_their_folders():
    from logotag_gui.core.media.video import distinct_names

    paths = ["/footage/day1/match.mp4", "/footage/day2/match.mp4", "/footage/day1/warmup.mp4",
             "/a/cam/x.mp4", "/b/cam/x.mp4"]
    assert distinct_names(paths) == {
        "/footage/day1/match.mp4": "day1/match.mp4", "/footage/day2/match.mp4": "day2/match.mp4",
        "/footage/day1/warmup.mp4": "warmup.mp4", "/a/cam/x.mp4": "a/cam/x.mp4", "/b/cam/x.mp4": "b/cam/x.mp4"}
