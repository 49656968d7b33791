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


def test_missing_x11_libraries_are_named_with_the_apt_line_before_qt_starts(monkeypatch, capsys):
    from logotag_gui.qt import app

    lacking = {"xcb-cursor", "xkbcommon-x11"}
    find = lambda name: None if name in lacking else f"lib{name}.so"  # noqa: E731
    monkeypatch.setattr(app.sys, "platform", "linux")
    assert app.missing_x11_packages({"DISPLAY": ":0"}, find) == ["libxcb-cursor0", "libxkbcommon-x11-0"]
    assert app.missing_x11_packages({"QT_QPA_PLATFORM": "offscreen"}, find) == []  # no window: nothing needed
    assert app.missing_x11_packages({"WAYLAND_DISPLAY": "wayland-0"}, find) == []
    monkeypatch.setattr(app, "missing_x11_packages", lambda: ["libxcb-cursor0"])
    assert app.main([]) == 2
    assert "sudo apt-get install libxcb-cursor0" in capsys.readouterr().err


def test_following_a_box_shows_beside_a_runs_progress_with_its_own_stop_button(window):
    stopped = []
    window.show_busy("frames 3/12", lambda: stopped.append("run"), done=3, total=12)
    window.show_following("Following… 10/40 frames", lambda: stopped.append("follow"))
    assert window.progress.isVisible() and window.cancel_btn.text() == "Cancel run"
    assert window.follow_btn.isVisible() and window.follow_btn.text() == "Stop following"
    window.follow_btn.click()
    window.hide_following()
    assert stopped == ["follow"] and window.progress.isVisible() and window.progress_label.text() == "frames 3/12"
    window.cancel_btn.click()
    assert stopped == ["follow", "run"]


def test_a_runs_long_progress_text_is_shortened_so_the_status_messages_keep_their_room(window):
    long = "following tracks 1/3 · " + "a_very_long_clip_name_" * 6 + ".mp4"
    window.show_busy(long, lambda: None, done=1, total=3)
    shown = window.progress_label.text()
    assert shown != long and shown.endswith("…") and window.progress_label.toolTip() == long
