"""Issue 28, what a tester saw in a real window at 1366x768 and 800x500: a click meant to seek selected a bar,
the audit panel's brands, a window too small for the frame, a status message under the meter, a presence note
beside its own box, the window's layout forgotten, the log's lines without their project, a reviewed demo reopened.
"""

from __future__ import annotations

import pytest
from PySide6.QtCore import QPoint, Qt

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
