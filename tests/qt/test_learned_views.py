"""Issue 27 row 5: the Dictionary dock lists the views review taught (brand, where, how many boxes each proposed),
deletes one, and undoes the delete (its button, or Ctrl+Z in the list); each stored at once."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image
from PySide6.QtCore import Qt

from logotag_gui.core.base.records import BBox, Candidate, FrameRef
from logotag_gui.core.review import Project


def _png() -> bytes:
    out = io.BytesIO()
    Image.fromarray(np.full((20, 40, 3), 128, np.uint8)).save(out, format="PNG")
    return out.getvalue()


def _project_with_a_view(path, clip):
    project = Project.open(path, durable=False)
    assert project.add_clips([str(clip)]) == []
    video = project.videos()[0]
    view = project.repo.add_review_reference(brand="Fennel", polarity="positive", candidate_id=None,
                                             video_id=video.id, frame_index=5, bbox=BBox(10, 10, 40, 20),
                                             image_png=_png(), reviewer="ann", taught_by="added")
    project.repo.add_candidates(video_id=video.id, candidates=[
        Candidate(FrameRef(f, f / 10, 640, 360), BBox(12, 10, 40, 20), "Fennel", 0.5, "learned",
                  reference=f"review:{view}") for f in (10, 15)])
    return project, view


def _rows(panel):
    return [[panel.list.topLevelItem(i).text(c) for c in range(4)] for i in range(panel.list.topLevelItemCount())]


def test_the_panel_lists_deletes_and_undoes(qtbot, tmp_path, demo_clip):
    from logotag_gui.core.review.learned_views import LearnedViews
    from logotag_gui.qt.widgets.learned_views import LearnedViewsPanel

    project, view = _project_with_a_view(tmp_path / "p.sqlite", demo_clip[0])
    panel = LearnedViewsPanel()
    qtbot.addWidget(panel)
    panel.show()
    panel.set_views(LearnedViews(project.repo))
    assert _rows(panel) == [["Fennel", "demo.mp4 · frame 5", "drawn", "2"]]
    assert not panel.delete_button.isEnabled() and not panel.undo_button.isEnabled()

    changed = []
    panel.changed.connect(lambda: changed.append(1))
    panel.list.setCurrentItem(panel.list.topLevelItem(0))
    qtbot.mouseClick(panel.delete_button, Qt.MouseButton.LeftButton)
    assert _rows(panel) == [] and project.repo.review_references() == []  # stored at once
    assert panel.undo_button.isEnabled() and changed == [1]
    qtbot.mouseClick(panel.undo_button, Qt.MouseButton.LeftButton)
    assert [v.id for v in project.repo.review_references()] == [view] and _rows(panel)[0][3] == "2"

    panel.list.setFocus()  # the keys, as a reviewer uses them in the list
    panel.list.setCurrentItem(panel.list.topLevelItem(0))
    qtbot.keyClick(panel.list, Qt.Key.Key_Delete)
    assert project.repo.review_references() == []
    qtbot.keyClick(panel.list, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert [v.id for v in project.repo.review_references()] == [view] and changed == [1, 1, 1, 1]
    project.close()


def test_the_dictionary_dock_holds_the_learned_views(window, qtbot, tmp_path, demo_clip):
    path = tmp_path / "p.sqlite"
    project, view = _project_with_a_view(path, demo_clip[0])
    project.close()
    assert window.open_project(str(path))
    panel = window.learned_views
    assert panel.isVisible() and _rows(panel) == [["Fennel", "demo.mp4 · frame 5", "drawn", "2"]]
    panel.list.setFocus()
    panel.list.setCurrentItem(panel.list.topLevelItem(0))
    qtbot.keyClick(panel.list, Qt.Key.Key_Delete)
    assert _rows(panel) == [] and window.project.repo.review_references() == []
    # The dictionary's listing follows: the view from review is gone from it too.
    assert all(window.dictionary.topLevelItem(i).child(j).text(1) != "review view"
               for i in range(window.dictionary.topLevelItemCount())
               for j in range(window.dictionary.topLevelItem(i).childCount()))
    qtbot.keyClick(panel.list, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)  # the list's undo, not review's
    assert [v.id for v in window.project.repo.review_references()] == [view]
