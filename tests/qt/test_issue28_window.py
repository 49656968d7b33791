"""Issue 28, what a tester saw in a real window at 1366x768 and 800x500: a click meant to seek selected a bar,
the audit panel's brands, a window too small for the frame, a status message under the meter, a presence note
beside its own box, the window's layout forgotten, the log's lines without their project, a reviewed demo reopened.
"""

from __future__ import annotations

import shutil

import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtWidgets import QDockWidget, QLabel

from logotag_gui.core.base.records import ReviewState
from logotag_gui.core.review.exposures import Exposure
from logotag_gui.qt.widgets.timeline import Timeline

pytestmark = pytest.mark.gui


# ---- item 1: a click on the timeline's empty space only seeks -------------------------------------------------
def _ten_brand_timeline(qtbot) -> Timeline:
    timeline = Timeline()
    qtbot.addWidget(timeline)
    timeline.resize(900, timeline.height())
    timeline.set_clip(100)
    lanes = {f"Brand{i:02d}": [Exposure(f"Brand{i:02d}", (30, 50), {f: ReviewState.PENDING for f in range(30, 51)},
                                        tuple(range(30, 51)), 0.9, 1, 0.5)] for i in range(10)}
    timeline.set_exposures(lanes, None)
    timeline.show()
    return timeline


def _clicks(qtbot, timeline: Timeline, x: int, y: int) -> tuple[list, list]:
    seeks: list[int] = []
    selections: list = []
    timeline.frameClicked.connect(seeks.append)
    timeline.exposureClicked.connect(lambda e, frame: selections.append((e.brand, frame)))
    qtbot.mouseClick(timeline, Qt.MouseButton.LeftButton, pos=QPoint(x, y))
    return seeks, selections


def test_lanes_keep_a_height_a_click_can_aim_at_with_ten_brands(qtbot):
    timeline = _ten_brand_timeline(qtbot)
    assert timeline.lane_height() >= 12  # 7-9 px lanes made a click between bars land on one
    assert timeline.height() >= 10 * timeline.lane_height()


def test_a_click_on_a_lanes_edge_beside_a_bar_only_seeks(qtbot):
    timeline = _ten_brand_timeline(qtbot)
    x = int(timeline.width() * 0.5)  # within the bars' frames (30-50 of 100)
    lane = timeline.lane_height()
    seeks, selections = _clicks(qtbot, timeline, x, int(4 + 3 * lane))  # the first pixel row of the 4th lane
    assert selections == [] and len(seeks) == 1


def test_a_click_on_a_bar_selects_it_and_one_past_its_end_only_seeks(qtbot):
    timeline = _ten_brand_timeline(qtbot)
    lane = timeline.lane_height()
    middle = int(4 + 3 * lane + lane / 2)
    seeks, selections = _clicks(qtbot, timeline, int(timeline.width() * 0.5), middle)
    assert [b for b, _ in selections] == ["Brand03"] and seeks == []
    seeks, selections = _clicks(qtbot, timeline, int(timeline.width() * 0.8), middle)
    assert selections == [] and len(seeks) == 1


# ---- item 6: a long status message and the meter, both readable at 1366 px -------------------------------------
LONG_MESSAGE = ("Model 'lmms-lab/llava-onevision-qwen2-0.5b-ov-hf' is not in the local Hugging Face cache: this run "
                "uses the offline backends (keypoints and OCR) instead; download the model with `logotag models "
                "fetch` to verify with it, or choose another verifier in the run dialog")


def _shown_whole(label: QLabel, text: str) -> bool:
    """The label is on screen and shows all of `text` (on one line, or wrapped within its height)."""
    if not label.isVisible() or label.text() != text:
        return False
    if label.wordWrap():
        return label.heightForWidth(label.contentsRect().width()) <= label.height() + 1
    return label.fontMetrics().horizontalAdvance(text) <= label.contentsRect().width()


def _open_ran(window, qtbot, tmp_path, ran_project):
    shutil.copy(ran_project, tmp_path / "p.sqlite")
    assert window.open_project(str(tmp_path / "p.sqlite"))
    qtbot.waitUntil(lambda: window.session is not None and len(window.session) > 0, timeout=10_000)


def test_a_long_message_and_the_meter_are_both_readable_at_1366_px(window, qtbot, tmp_path, ran_project):
    window.resize(1366, 740)
    _open_ran(window, qtbot, tmp_path, ran_project)
    assert window.meter.text()
    window.statusBar().showMessage(LONG_MESSAGE, 15000)
    qtbot.wait(50)
    labels = window.findChildren(QLabel)
    qtbot.waitUntil(lambda: any(_shown_whole(label, LONG_MESSAGE) for label in labels), timeout=2000)
    assert _shown_whole(window.meter, window.meter.text())
    assert window.statusBar().currentMessage() == LONG_MESSAGE
    window.statusBar().clearMessage()
    assert not any(_shown_whole(label, LONG_MESSAGE) for label in labels)  # the banner goes with its message


# ---- item 4: the audit panel: likely brands first, a filter, and a panel that fits 1366 px ---------------------
DICTIONARY = ["Aquila", "Bolt", "Cobalt", "Dune", "Ember", "Fennel", "Garnet", "Helix", "Ion", "Jade", "Kite",
              "Norvik"]


@pytest.fixture
def audited(window, tmp_path, demo_clip):
    """The demo clip with Norvik proposed on frames 0-25 and Aquila on 40, in a dictionary of 12 brands, and an
    audit sample of every sampled frame."""
    from logotag_gui.core.base.records import VerdictState
    from tests.seeded import seeded_project

    repo, _vid = seeded_project(tmp_path / "p.sqlite", [(f, 100, "Norvik", 0, VerdictState.YES) for f in
                                                        range(0, 30, 5)] + [(40, 300, "Aquila", None, VerdictState.NO)],
                                path=str(demo_clip[0]))
    repo.sync_brands({}, {f"{b}.png": (b, b.lower()) for b in DICTIONARY})
    repo.close()
    assert window.open_project(str(tmp_path / "p.sqlite"))
    window.review.set_option("learn", False)
    window.review.draw_audit(12)
    return window


def _on_audit_frame(window, qtbot, frame: int):
    window.clip_view.go_to(frame)
    qtbot.waitUntil(lambda: window.audit_panel.frame == frame, timeout=3000)
    return window.audit_panel


def test_the_audit_lists_the_brands_proposed_nearest_the_frame_first(audited, qtbot):
    panel = _on_audit_frame(audited, qtbot, 55)  # nothing counted here: Aquila was proposed 15 frames before
    assert panel.visible_brands()[:2] == ["Aquila", "Norvik"]  # alphabetically Norvik was 12th: out of 1-9's reach
    assert panel.visible_brands()[2:] == sorted(set(DICTIONARY) - {"Aquila", "Norvik"})
    panel.toggle(1)  # the number key 2
    assert panel.checked() == ["Norvik"]
    panel = _on_audit_frame(audited, qtbot, 5)  # Norvik counted here: ticked and first
    assert panel.visible_brands()[0] == "Norvik" and panel.checked() == ["Norvik"]


def test_typing_filters_the_audit_brands_and_numbers_what_is_shown(audited, qtbot):
    panel = _on_audit_frame(audited, qtbot, 55)
    qtbot.keyClicks(panel.filter, "fen")
    assert panel.visible_brands() == ["Fennel"]
    panel.toggle(0)  # the number key 1: the first row shown
    assert panel.checked() == ["Fennel"]
    panel.filter.clear()
    assert len(panel.visible_brands()) == len(DICTIONARY) and panel.checked() == ["Fennel"]
    qtbot.keyClicks(panel.filter, "ki")
    qtbot.keyClick(panel.filter, Qt.Key.Key_Return)  # Enter ticks the first match and clears the filter
    assert sorted(panel.checked()) == ["Fennel", "Kite"] and panel.filter.text() == ""


def test_the_audit_panel_fits_the_side_dock_at_1366_px(window, qtbot):
    from PySide6.QtWidgets import QPushButton, QTableWidgetItem

    window.resize(1366, 740)
    window.audit_dock.show()
    window.audit_dock.raise_()
    panel = window.audit_panel
    table = panel.table
    table.setRowCount(2)
    for r, row in enumerate([("Norvik", "123.4", "12.3", "120.0"), ("total", "1234.5", "45.6", "1200.0")]):
        for col, text in enumerate(row):
            table.setItem(r, col, QTableWidgetItem(text))
    qtbot.wait(100)
    assert panel.minimumSizeHint().width() <= window.width() // 4  # it no longer widens the dock past the review's
    for button in panel.findChildren(QPushButton):
        assert button.sizeHint().width() <= button.width(), button.text()  # "Draw sa…" no more
    assert table.horizontalHeader().length() <= table.viewport().width()  # every column shown


# ---- item 5: a small window keeps a frame worth looking at -----------------------------------------------------
def _ten_lanes() -> dict[str, list[Exposure]]:
    return {f"Brand{i:02d}": [Exposure(f"Brand{i:02d}", (i, i + 5), {i: ReviewState.PENDING}, (i,), 0.9, 1, 0.5)]
            for i in range(10)}


def test_an_800_by_500_window_keeps_the_frame_first_and_brand_lanes_do_not_shrink_it(window, qtbot):
    window.resize(800, 500)
    qtbot.wait(200)
    view = window.clip_view.view
    assert window.height() <= 500
    assert view.width() >= 320 and view.height() >= 180  # it was 115x65 (the docks and the strip kept theirs)
    before = view.height()
    window.clip_view.timeline.set_exposures(_ten_lanes(), None)  # ten brands' lanes: the strip scrolls
    window.clip_view.timeline_area.updateGeometry()
    qtbot.wait(100)
    assert view.height() >= min(before, 180)
    assert window.clip_view.timeline_area.height() < window.clip_view.timeline.height()


# ---- item 10: a presence note beside its own box, the layout remembered ----------------------------------------
def test_the_presence_note_leaves_out_a_brand_whose_box_is_on_the_frame(qtbot):
    import numpy as np

    from logotag_gui.core.base.records import BBox, Candidate, FrameRef, Review
    from logotag_gui.qt.images import to_qimage
    from logotag_gui.qt.widgets.frame_view import FrameView

    view = FrameView()
    qtbot.addWidget(view)
    view.show_frame(0, to_qimage(np.zeros((360, 640, 3), np.uint8)))
    box = Candidate(FrameRef(0, 0.0, 640, 360), BBox(10, 10, 80, 60), "Norvik", 0.8, "keypoints", id=1,
                    review=Review(ReviewState.PENDING))
    view.set_candidates([box])
    view.set_presences(["Aquila", "Norvik"])  # Norvik marked with P, and its box found since
    assert view.presence_note == "On screen (no box): Aquila"
    view.set_candidates([])  # the box gone (next frame's boxes): the note says Norvik again
    assert view.presence_note == "On screen (no box): Aquila, Norvik"


def test_the_windows_settings_follow_the_default_format_and_its_path(window, tmp_path):
    assert window.settings.fileName().startswith(str(tmp_path))  # a test's layout never reaches the next test


def test_the_window_size_and_docks_are_remembered(window, qtbot):
    from logotag_gui.qt.main_window import MainWindow

    window.resize(760, 560)  # within the offscreen screen (800x600)
    clips = next(d for d in window.findChildren(QDockWidget) if d.windowTitle() == "Clips")
    clips.hide()
    qtbot.wait(50)
    window.close()
    again = MainWindow(reviewer="tester")
    qtbot.addWidget(again)
    again.show()
    qtbot.wait(50)
    assert again.size().toTuple() == (760, 560)
    assert not next(d for d in again.findChildren(QDockWidget) if d.windowTitle() == "Clips").isVisible()
    again.close()


def test_the_apps_log_lines_name_the_project_open(window, tmp_path, ran_project):
    from logotag_gui.core.base.logsetup import FILE_FORMAT, log_context

    assert "%(process)d" in FILE_FORMAT and "%(project)s" in FILE_FORMAT  # the log file is shared by processes
    shutil.copy(ran_project, tmp_path / "mine.sqlite")
    assert window.open_project(str(tmp_path / "mine.sqlite"))
    assert log_context()["project"].endswith("mine.sqlite")
    window.close_project()
    assert log_context()["project"] == "-"


def test_quitting_hides_the_window_before_waiting_for_a_run_to_stop(window, qtbot, monkeypatch):
    seen: list[bool] = []

    def stopping_run():  # where a run finishing its batch takes seconds on a laptop's CPU
        seen.append(window.isVisible())
        return None

    monkeypatch.setattr(window.runs, "stop", stopping_run)
    window.close()
    assert seen == [False]  # the window was gone while the run was being stopped


# ---- item 10: a second `make demo` after a review ---------------------------------------------------------------
def _reviewed_demo(window, qtbot, path):
    from logotag_gui.core.base.records import BBox
    from logotag_gui.qt.app import parse_args, start

    start(window, parse_args([str(path), "--demo", "--no-auto-run"]))
    window.review.set_option("learn", False)
    window.review.add_box(BBox(300, 200, 60, 30), "Norvik")  # a box drawn: the demo is reviewed
    qtbot.waitUntil(lambda: window.review.idle, timeout=30_000)
    window.close_project()


def _decided(window) -> int:
    return sum(v.decided for v in window.project.videos())


def test_the_demo_asks_before_reopening_a_reviewed_one_and_fresh_starts_anew(window, qtbot, tmp_path, monkeypatch):
    from logotag_gui.qt import app

    path = tmp_path / "demo.logotag.sqlite"
    asked: list[bool] = []
    monkeypatch.setattr(app, "ask_fresh_demo", lambda _window: asked.append(True) or False)
    app.start(window, app.parse_args([str(path), "--demo", "--no-auto-run"]))
    assert asked == []  # a new demo: nothing to ask
    window.close_project()
    _reviewed_demo(window, qtbot, path)
    app.start(window, app.parse_args([str(path), "--demo", "--no-auto-run"]))
    assert asked == [True] and _decided(window) == 1  # asked; "go on with my review" keeps it
    window.close_project()
    app.start(window, app.parse_args([str(path), "--demo", "--fresh", "--no-auto-run"]))
    assert asked == [True] and _decided(window) == 0  # --fresh: no question, a fresh demo
    assert (tmp_path / "demo-previous.logotag.sqlite").exists()  # the reviewed one is kept


def test_the_review_panel_fits_the_side_dock_at_1366_px(window, qtbot):
    from PySide6.QtWidgets import QPushButton

    window.resize(1366, 740)
    qtbot.wait(100)
    assert window.panel.minimumSizeHint().width() <= window.width() // 4  # "Accept track (T)" was cut
    for button in window.panel.findChildren(QPushButton):
        assert button.sizeHint().width() <= button.width(), button.text()


def test_the_side_dock_starts_wide_enough_for_its_panels(window, qtbot):
    from logotag_gui.qt.main_window import MainWindow

    fresh = MainWindow(reviewer="tester")  # (the fixture's window: the settings, in a temporary folder)
    qtbot.addWidget(fresh)
    fresh.resize(1500, 920)  # the first size on a 1920x1080 screen
    fresh.show()
    area = fresh.review_dock.widget()
    # the dock took its scroll area's hint, narrower than the panel: its buttons were cut, or scrolled sideways
    qtbot.waitUntil(lambda: area.viewport().width() >= fresh.panel.minimumSizeHint().width(), timeout=2000)
    fresh.close()
