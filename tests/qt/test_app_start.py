"""The command-line ways into the app: a new project beside a clip, the demo, a bad project path."""

from __future__ import annotations

import shutil

import pytest

from logotag_gui.qt.app import demo_paths, parse_args, start

pytestmark = pytest.mark.gui


def test_video_and_logos_start_a_project_beside_the_clip(window, tmp_path, demo_clip, logos_dir):
    clip = tmp_path / "match.mp4"
    shutil.copy(demo_clip[0], clip)
    start(window, parse_args(["--video", str(clip), "--logos", str(logos_dir)]))
    assert (tmp_path / "match.logotag.sqlite").exists()
    assert window.video is not None and window.video.path == str(clip.resolve())
    assert window.logos_dir == str(logos_dir.resolve())
    assert window.clips.count() == 1 and window.dictionary.topLevelItemCount() == 3


def test_demo_opens_the_bundled_clip_and_logos(window, tmp_path):
    clip, logos = demo_paths()
    assert clip.exists() and (logos / "brands.json").exists()
    start(window, parse_args([str(tmp_path / "demo.sqlite"), "--demo", "--no-auto-run"]))
    assert window.video.path == str(clip.resolve()) and window.logos_dir == str(logos.resolve())
    assert not window.runs.running


def test_a_project_that_is_not_a_logotag_database_is_refused(window, tmp_path):
    other = tmp_path / "notes.sqlite"
    import sqlite3

    with sqlite3.connect(other) as conn:
        conn.execute("create table notes (x)")
    start(window, parse_args([str(other)]))
    assert window.project is None
    dialogs = [w for w in window.findChildren(object) if getattr(w, "objectName", lambda: "")() == "errorDialog"]
    assert "some other program" in dialogs[-1].text()
