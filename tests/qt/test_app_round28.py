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
    assert "1 rejected box hidden" in view.hidden_note
    view.select(2)  # the selected box is drawn whatever its state (J/K onto it, an undo)
    assert set(view.boxes()) == {1, 2, 3} and view.boxes()[2].isSelected()
    view.select(1)
    assert set(view.boxes()) == {1, 3}
    assert "shown" in view.toggle_rejected()
    assert set(view.boxes()) == {1, 2, 3} and view.hidden_rejected == 0 and view.hidden_note == ""
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


# ---- item 8: gallery tiles -------------------------------------------------------------------------------------
def _logo_frame(qimage_size=(640, 360)):
    """A 1280x720 frame, black, with a small red logo at (1000, 600) 40x24 (a few pixels in a whole-frame tile),
    as a picture of `qimage_size` (the film strip's pictures are smaller than the frame)."""
    frame = np.zeros((720, 1280, 3), np.uint8)
    frame[600:624, 1000:1040] = (230, 20, 20)
    image = to_qimage(frame)
    return image.scaled(*qimage_size)


def test_a_gallery_tile_shows_the_boxs_crop_and_the_whole_frame_on_hover(qtbot):
    from logotag_gui.core.review.exposures import Exposure
    from logotag_gui.qt.widgets.film_strip import THUMB, FilmStrip

    strip = FilmStrip()
    qtbot.addWidget(strip)
    e = Exposure("acme", (10, 15), {10: ReviewState.PENDING, 15: ReviewState.PENDING}, (1, 2), 0.5, 1, 0.5)
    logo = Candidate(FrameRef(10, 1.0, 1280, 720), BBox(1000, 600, 40, 24), "acme", 0.8, "keypoints", id=1)
    strip.show_gallery([e], boxes={10: logo})
    strip.set_thumb(10, _logo_frame())
    assert strip.cropped(10)
    tile = strip.item(0).icon().pixmap(THUMB).toImage()
    centre = tile.pixelColor(THUMB.width() // 2, THUMB.height() // 2)
    assert centre.red() > 150 and centre.green() < 80  # the logo fills the tile's middle, not a few pixels of it
    tip = strip.hover_html(10)
    assert "acme: frames 10-15" in tip and "<img src='data:image/png;base64," in tip

    # Without a box (a gap, a presence) the tile is the whole frame, as before.
    strip.show_exposure(e)
    strip.set_thumb(15, _logo_frame())
    assert not strip.cropped(15)
    whole = strip.item(1).icon().pixmap(THUMB).toImage().pixelColor(THUMB.width() // 2, THUMB.height() // 2)
    assert whole.red() < 50


def test_a_crop_keeps_the_tiles_shape_and_stays_inside_the_picture():
    from PySide6.QtCore import QRect, QSize

    from logotag_gui.qt.widgets.film_strip import crop_rect

    corner = Candidate(FrameRef(0, 0.0, 1280, 720), BBox(1250, 700, 30, 20), "acme", 0.8, "keypoints", id=1)
    r = crop_rect(corner, image=QSize(1280, 720))
    assert QRect(0, 0, 1280, 720).contains(r) and r.contains(QRect(1250, 700, 30, 20))
    assert r.width() / r.height() == pytest.approx(16 / 9, rel=0.05)
    half = crop_rect(corner, image=QSize(640, 360))  # the same place in a smaller picture
    assert (half.width(), half.height()) == pytest.approx((r.width() / 2, r.height() / 2), abs=1)


# ---- item 9: exports and reports -------------------------------------------------------------------------------
def test_exports_and_reports_are_offered_in_the_projects_folder_under_its_name(window, qtbot, tmp_path, ran_project,
                                                                            monkeypatch):
    from PySide6.QtWidgets import QFileDialog

    offered: list[str] = []
    answer: list[str] = []

    def save(parent, title, default, filters):
        offered.append(default)
        return (answer.pop(0) if answer else "", filters)

    monkeypatch.setattr(QFileDialog, "getSaveFileName", staticmethod(save))
    folder = tmp_path / "match"
    folder.mkdir()
    shutil.copy(ran_project, folder / "match.logotag.sqlite")
    assert window.open_project(str(folder / "match.logotag.sqlite"))
    window.export_dialog("all")
    window.report_dialog()
    window.export_dialog("reviewed")
    assert offered == [str(folder / "match.jsonl"), str(folder / "match-exposure.html"),
                       str(folder / "match-reviewed.jsonl")]
    elsewhere = tmp_path / "deliveries"
    elsewhere.mkdir()
    answer.append(str(elsewhere / "week1.csv"))
    window.export_dialog("all")
    qtbot.waitUntil(lambda: (elsewhere / "week1.csv").exists(), timeout=30_000)
    window.report_dialog()  # the folder last chosen is remembered
    assert offered[-1] == str(elsewhere / "match-exposure.html")
    window.close()  # and kept for the next session
    from logotag_gui.qt.main_window import MainWindow

    again = MainWindow(reviewer="tester")
    qtbot.addWidget(again)
    assert again.open_project(str(folder / "match.logotag.sqlite"))
    assert again.output_default(".jsonl") == elsewhere / "match.jsonl"
    again.close()

    # The CSV export gives the box in columns of its own, beside the JSON cell kept for what reads it.
    import csv
    import json

    with (elsewhere / "week1.csv").open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert rows and all(json.loads(r["bbox"]) == [float(r[k]) for k in "xywh"] for r in rows if r["bbox"])
    assert list(rows[0])[:6] == ["frame", "bbox", "x", "y", "w", "h"]


def test_a_brand_marked_on_screen_without_a_box_has_no_size_in_the_report(db_url, tmp_path):
    import csv

    from logotag_gui.core.analysis.report import build_report, write_csv, write_html
    from logotag_gui.core.review import ReviewSession
    from tests.seeded import seeded_project

    repo, vid = seeded_project(db_url, [(0, 10, "acme", None)])
    s = ReviewSession(repo, repo.video(vid), reviewer="ann")
    s.mark_present(20, "globex")  # on screen, no box: its size is unknown
    s.accept(s.at_frame(0)[0])
    report = build_report(repo)
    write_html(report, tmp_path / "r.html")
    page = (tmp_path / "r.html").read_text(encoding="utf-8")
    globex = page[page.index("<td>globex</td>"):]
    globex = globex[:globex.index("</tr>")]
    assert "n/a" in globex and "0.00%" not in globex
    acme = page[page.index("<td>acme</td>"):]
    assert "n/a" not in acme[:acme.index("</tr>")]
    write_csv(report, tmp_path / "r.csv")
    rows = {r["brand"]: r for r in csv.DictReader((tmp_path / "r.csv").open(encoding="utf-8"))
            if r["scope"] == "project"}
    assert rows["globex"]["mean_size_share"] == "" and float(rows["acme"]["mean_size_share"]) > 0



# ---- the review layer: a decision saved is never said unsaved --------------------------------------------------
def test_a_view_failing_after_the_commit_is_not_a_decision_unsaved(window, qtbot, tmp_path, ran_project, monkeypatch):
    from logotag_gui.core.base.errors import LogoTagError
    from logotag_gui.qt import review_controller

    errors: list[str] = []
    monkeypatch.setattr(review_controller, "show_error", lambda parent, title, text: errors.append(text))
    _open_ran(window, qtbot, tmp_path, ran_project)

    def broken(changes) -> None:
        raise LogoTagError("a panel could not redraw")

    window.session.subscribe(broken)
    _press(window, qtbot, Qt.Key.Key_J)
    c = window.current_candidate()
    _press(window, qtbot, Qt.Key.Key_A)
    assert window.session.repo.candidate(c.id).review.state is ReviewState.ACCEPTED
    assert errors == [] and "not saved" not in window.statusBar().currentMessage()

    # Nothing selected: said in the status bar, with the keys that select.
    window.select_candidate(None)
    window.review.saving(window.session.accept)
    assert "No box is selected" in window.statusBar().currentMessage()
    window.session.select_exposure(None)
    window.review.saving(window.session.accept_exposure)
    assert "X moves through the exposures" in window.statusBar().currentMessage()
    # Any other LookupError is a bug, not "select a box first": it is not swallowed.
    with pytest.raises(KeyError):
        window.review.saving(lambda: {}["missing"])
