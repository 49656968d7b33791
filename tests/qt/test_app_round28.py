"""Issue 28, what a real window showed: rejected boxes hidden by default (H shows them), gallery tiles that show
the box, exports and reports named after the project in its folder, and a decision saved is never said unsaved."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from PySide6.QtCore import Qt

from logotag_gui.core.base.records import BBox, Candidate, FrameRef, Review, ReviewState
from logotag_gui.qt.images import to_qimage
from logotag_gui.qt.widgets.frame_view import FrameView

pytestmark = pytest.mark.gui


def _open_ran(window, qtbot, tmp_path, ran_project):
    shutil.copy(ran_project, tmp_path / "p.sqlite")
    assert window.open_project(str(tmp_path / "p.sqlite"))
    qtbot.waitUntil(lambda: window.session is not None and len(window.session) > 0, timeout=10_000)


def _press(window, qtbot, key, modifier=Qt.KeyboardModifier.NoModifier):
    qtbot.keyClick(window.clip_view.view, key, modifier)


# ---- item 7: rejected boxes ------------------------------------------------------------------------------------
def _box(cid: int, state: ReviewState) -> Candidate:
    return Candidate(FrameRef(0, 0.0, 640, 360), BBox(10 + 100 * cid, 100, 80, 60), "Acme", 0.8, "keypoints", id=cid,
                     review=Review(state))


def test_the_frame_view_hides_rejected_boxes_unless_asked_or_selected(qtbot):
    view = FrameView()
    qtbot.addWidget(view)
    view.resize(640, 360)
    view.show_frame(0, to_qimage(np.zeros((360, 640, 3), np.uint8)))
    view.set_candidates([_box(1, ReviewState.PENDING), _box(2, ReviewState.REJECTED),
                         _box(3, ReviewState.ACCEPTED)])
    assert set(view.boxes()) == {1, 3} and view.hidden_rejected == 1
    assert "1 rejected box hidden" in view._hidden_note.text()
    view.select(2)  # the selected box is drawn whatever its state (J/K onto it, an undo)
    assert set(view.boxes()) == {1, 2, 3} and view.boxes()[2].isSelected()
    view.select(1)
    assert set(view.boxes()) == {1, 3}
    assert "shown" in view.toggle_rejected()
    assert set(view.boxes()) == {1, 2, 3} and view.hidden_rejected == 0 and view._hidden_note.text() == ""
    view.set_candidates([_box(4, ReviewState.REJECTED)])  # the next frame: still shown until H again
    assert set(view.boxes()) == {4}
    assert "hidden" in view.toggle_rejected() and view.boxes() == {}


def test_h_in_the_view_menu_shows_and_hides_a_rejected_box(window, qtbot, tmp_path, ran_project):
    _open_ran(window, qtbot, tmp_path, ran_project)
    assert window.actions_by_name["show_rejected"].shortcut().toString() == "H"
    _press(window, qtbot, Qt.Key.Key_J)
    c = window.current_candidate()
    _press(window, qtbot, Qt.Key.Key_R)  # rejected; the selection moves on
    assert window.session.get(c.id).review.state is ReviewState.REJECTED
    window.select_candidate(None)
    window.clip_view.go_to(c.frame.index)
    qtbot.waitUntil(lambda: window.clip_view.shown == c.frame.index)
    assert c.id not in window.clip_view.view.boxes()
    _press(window, qtbot, Qt.Key.Key_H)
    assert c.id in window.clip_view.view.boxes() and "shown" in window.statusBar().currentMessage()
    _press(window, qtbot, Qt.Key.Key_H)
    assert c.id not in window.clip_view.view.boxes()
