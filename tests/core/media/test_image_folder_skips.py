"""What an image folder skips, and why (issue 27, row 13): an image over the pixel limit is "too large" with the
limit named (not "unreadable"), a GIF is named as an unsupported type (not ignored silently), and the list of
skipped files says how many it leaves out rather than stopping at five names."""

from __future__ import annotations

from PIL import Image

from logotag_gui.core.media.video import ImageFolderSource, describe_skipped


def test_each_skipped_file_says_why(tmp_path, monkeypatch):
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 10_000)  # a 144-Mpx frame, scaled down for the test
    Image.new("RGB", (64, 64), "red").save(tmp_path / "a.png")
    Image.new("RGB", (120, 120), "red").save(tmp_path / "warned.png")  # between 1x and 2x the limit
    Image.new("RGB", (200, 200), "red").save(tmp_path / "refused.png")  # past 2x
    Image.new("P", (64, 64)).save(tmp_path / "anim.gif")
    (tmp_path / "notes.txt").write_text("not an image, not a skipped frame either")
    source = ImageFolderSource(tmp_path)
    frames = list(source.sample())
    assert [f.ref.name for f in frames] == ["a.png"]
    assert set(source.skipped) == {"warned.png", "refused.png", "anim.gif"}
    for name in ("warned.png", "refused.png"):
        reason = source.skipped[name]
        assert "too large" in reason and "10,000 pixels" in reason and "scale it down" in reason
        assert "Cannot read" not in reason
    assert "not a supported image type" in source.skipped["anim.gif"] and "PNG" in source.skipped["anim.gif"]
    note = describe_skipped(source.skipped)
    assert "anim.gif" in note and "warned.png" in note and "too large" in note and "unreadable" not in note


def test_the_skipped_list_counts_what_it_leaves_out():
    skipped = {f"f{i:02d}.png": f"Image 'f{i:02d}.png' is too large" for i in range(25)}
    note = describe_skipped(skipped, shown=10)
    assert note.startswith("25 image(s) skipped")
    assert "f00.png" in note and "f09.png" in note and "f10.png" not in note
    assert "and 15 more" in note
