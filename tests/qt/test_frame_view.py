"""Mouse work on the frame view: drawing a missed box and dragging a corner to tighten one."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QEvent, QPoint, QPointF, Qt
from PySide6.QtGui import QMouseEvent
from PySide6.QtWidgets import QApplication

from logotag_gui.core.base.records import BBox, Candidate, FrameRef
from logotag_gui.qt.images import to_qimage
from logotag_gui.qt.widgets.frame_view import FrameView

pytestmark = pytest.mark.gui


def _mouse(widget, kind, pos: QPoint, buttons=Qt.MouseButton.LeftButton):
    button = Qt.MouseButton.LeftButton if kind != QEvent.Type.MouseMove else Qt.MouseButton.NoButton
    event = QMouseEvent(kind, QPointF(pos), QPointF(widget.mapToGlobal(pos)), button, buttons,
                        Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(widget, event)


def _drag(view: FrameView, start_scene: QPointF, end_scene: QPointF) -> None:
    port = view.viewport()
    a, b = view.mapFromScene(start_scene), view.mapFromScene(end_scene)
    _mouse(port, QEvent.Type.MouseButtonPress, a)
    for t in (0.3, 0.6, 1.0):
        _mouse(port, QEvent.Type.MouseMove, a + (b - a) * t)
    _mouse(port, QEvent.Type.MouseButtonRelease, b, Qt.MouseButton.NoButton)


@pytest.fixture
def view(qtbot):
    v = FrameView()
    qtbot.addWidget(v)
    v.resize(800, 450)
    v.show()
    v.show_frame(0, to_qimage(np.full((360, 640, 3), 90, np.uint8)))
    return v


def test_drawing_a_box_in_draw_mode(view, qtbot):
    view.set_draw_mode(True)
    with qtbot.waitSignal(view.boxDrawn) as got:
        _drag(view, QPointF(100, 80), QPointF(220, 140))
    box = got.args[0]
    assert box.x == pytest.approx(100, abs=3) and box.y == pytest.approx(80, abs=3)
    assert box.w == pytest.approx(120, abs=4) and box.h == pytest.approx(60, abs=4)
    assert view.drawing is False  # one box per B press


def test_dragging_a_corner_tightens_the_selected_box(view, qtbot):
    c = Candidate(FrameRef(0, 0.0, 640, 360), BBox(100, 100, 200, 100), "Acme", 0.8, "keypoints", id=7)
    view.set_candidates([c], selected_id=7)
    with qtbot.waitSignal(view.boxEdited) as got:
        _drag(view, QPointF(300, 200), QPointF(260, 180))  # bottom-right corner inwards
    cid, box = got.args
    assert cid == 7
    assert (box.x, box.y) == pytest.approx((100, 100), abs=2)
    assert (box.w, box.h) == pytest.approx((160, 80), abs=4)


def test_plus_zooms_on_the_selected_box_not_the_middle_of_the_view(qtbot):
    view = FrameView()
    qtbot.addWidget(view)
    view.resize(640, 360)
    view.show()
    view.show_frame(0, to_qimage(np.zeros((720, 1280, 3), dtype=np.uint8)))
    corner = Candidate(FrameRef(0, 0.0, 1280, 720), BBox(1100, 600, 100, 80), "Norvik", 0.9, "keypoints", id=7)
    view.set_candidates([corner], selected_id=7)
    for _ in range(4):
        view.zoom(1.25)
    shown = view.mapToScene(view.viewport().rect()).boundingRect()
    assert shown.contains(QPointF(1150, 640))  # the box in the corner stays in view


def test_the_timeline_names_every_brand_of_a_busy_clip(qtbot):
    from logotag_gui.core.base.records import ReviewState
    from logotag_gui.core.review.exposures import Exposure
    from logotag_gui.qt.widgets.timeline import MIN_LABEL_PX, Timeline

    timeline = Timeline()
    qtbot.addWidget(timeline)
    timeline.resize(800, 100)
    timeline.set_clip(100)
    lanes = {f"Brand{i:02d}": [Exposure(f"Brand{i:02d}", (i, i + 5), {i: ReviewState.PENDING}, (i,), 0.9, 1, 0.5)]
             for i in range(12)}
    timeline.set_exposures(lanes, None)
    assert timeline.lanes == sorted(lanes) and timeline.lane_height() >= MIN_LABEL_PX  # 12 lanes, each labelled
