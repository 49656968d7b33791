"""Ctrl+Z and Ctrl+Shift+Z in the window: each says what it undid or redid, an undo stops the follow of the box it
takes back (what that follow finds is dropped), and a redo selects the redone box with the panel's buttons on."""

from __future__ import annotations

import shutil

from PySide6.QtCore import Qt

from logotag_gui.core.base.records import BBox
from logotag_gui.core.store import open_repository


def _open(window, qtbot, tmp_path, ran_project):
    shutil.copy(ran_project, tmp_path / "p.sqlite")
    assert window.open_project(str(tmp_path / "p.sqlite"))
    qtbot.waitUntil(lambda: window.session is not None and len(window.session) > 0, timeout=10_000)
    qtbot.waitUntil(lambda: window.review.idle, timeout=30_000)  # the clip's views and what review taught before


def _keys(window, qtbot, key, modifier):
    qtbot.keyClick(window.clip_view.view, key, modifier)


def test_undo_and_redo_say_what_they_did_and_redo_selects_the_box(window, qtbot, tmp_path, ran_project):
    _open(window, qtbot, tmp_path, ran_project)
    window.review.set_option("follow_drawn", False)
    drawn = window.review.add_box(BBox(300, 200, 60, 30), "Fennel")
    assert drawn is not None
    _keys(window, qtbot, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert window.session.get(drawn.id) is None
    assert window.statusBar().currentMessage().startswith("Undid: Draw a Fennel box at ")
    _keys(window, qtbot, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    assert window.statusBar().currentMessage().startswith("Redid: Draw a Fennel box at ")
    again = window.current_candidate()
    assert again is not None and again.final_brand == "Fennel" and again.frame.index == drawn.frame.index
    assert window.panel.accept_btn.isEnabled() and window.panel.follow_btn.isEnabled()
    window.review.undo()
    assert window.statusBar().currentMessage().startswith("Undid: Draw a Fennel box at ")
    window.review.undo()  # the drawn box was the only step
    assert window.statusBar().currentMessage() == "Nothing to undo"


def test_an_undo_while_the_drawn_box_is_followed_stops_the_follow_and_adds_nothing(window, qtbot, tmp_path,
                                                                                   ran_project):
    _open(window, qtbot, tmp_path, ran_project)
    drawn = window.review.add_box(BBox(300, 200, 60, 30), "Fennel")  # followed on the follow lane at once
    assert drawn is not None and window.review.following
    window.review.undo()  # before the follow's result is applied (it is applied on this thread, later)
    assert "Undid: Draw a Fennel box" in window.statusBar().currentMessage()
    assert "follow" in window.statusBar().currentMessage()
    qtbot.waitUntil(lambda: window.review.idle, timeout=30_000)
    stored = open_repository(tmp_path / "p.sqlite")
    assert stored.candidates(track_id=drawn.track_id) == []  # the follow landed on nothing
    assert not window.review.following


def test_what_a_stopped_follow_found_never_lands_on_a_box_drawn_after_the_undo(window, qtbot, tmp_path, ran_project,
                                                                             monkeypatch):
    """SQLite gives a box drawn after an undo the id the undone box had: the undone box's follow, computed before
    the undo and applied after it, must not be taken for the new box's."""
    import time

    from logotag_gui.core.pipeline.follow import FollowedBox, FollowResult
    from logotag_gui.core.review import assistant

    _open(window, qtbot, tmp_path, ran_project)
    window.review.set_option("learn", False)  # nothing else stores candidates meanwhile
    session = window.session
    here = window.clip_view.current
    later = [f for f in session.sampled if f > here][:3]
    found = FollowResult([FollowedBox(session.frame_ref(f), BBox(300, 200, 60, 30), 0.9, True) for f in later])
    monkeypatch.setattr(assistant, "follow_box", lambda *a, **k: FollowResult(list(found.boxes)))
    drawn = window.review.add_box(BBox(300, 200, 60, 30), "Fennel")
    time.sleep(1.0)  # the follow lane computes it; its result waits for this thread's event loop
    window.review.undo()
    window.review.set_option("follow_drawn", False)
    again = window.review.add_box(BBox(300, 200, 60, 30), "Fennel")
    assert again is not None and drawn is not None and again.id == drawn.id  # the undone box's id, given again
    qtbot.waitUntil(lambda: window.review.idle, timeout=30_000)
    stored = open_repository(tmp_path / "p.sqlite")
    assert [c.id for c in stored.candidates(track_id=again.track_id)] == [again.id]
    assert [c.id for c in stored.candidates(track_id=drawn.track_id)] == []
