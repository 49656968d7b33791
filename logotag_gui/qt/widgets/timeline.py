"""A strip under the scrubber: one lane per brand, a tick per candidate, coloured by review state."""

from __future__ import annotations

from PySide6.QtCore import QRectF, Qt, Signal
from PySide6.QtGui import QColor, QFont, QPainter, QPen
from PySide6.QtWidgets import QWidget

from logotag_gui.core.base.records import Candidate, ReviewState
from logotag_gui.qt.table_model import STATE_COLOURS

LANE_H = 14
MAX_LANES = 6  # the strip keeps its height; more brands share it (the video area never shrinks during a run)
# What a tick shows when a frame has several boxes of a brand: the state that still needs work.
RANK = {ReviewState.ACCEPTED: 0, ReviewState.REJECTED: 1, ReviewState.PENDING: 2}
LABEL_W = 90


class Timeline(QWidget):
    frameClicked = Signal(int)

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self._frame_count = 1
        self._current = 0
        # brand -> frame index -> worst state (pending beats rejected beats accepted: shows what needs work)
        self._lanes: dict[str, dict[int, ReviewState]] = {}
        self.setFixedHeight(LANE_H * MAX_LANES + 8)
        self.setMouseTracking(True)
        self.setToolTip("Candidates per brand over the clip; click to jump")

    def set_clip(self, frame_count: int) -> None:
        self._frame_count = max(1, frame_count)
        self.update()

    def set_candidates(self, candidates: list[Candidate]) -> None:
        self._lanes = {}
        self._add(candidates)

    def set_frame(self, index: int, candidates: list[Candidate]) -> None:
        """Recompute one frame's ticks after a decision, relabel or new box there."""
        for lane in self._lanes.values():
            lane.pop(index, None)
        self._add(candidates)

    def _add(self, candidates: list[Candidate]) -> None:
        for c in candidates:
            lane = self._lanes.setdefault(c.final_brand, {})
            old = lane.get(c.frame.index)
            if old is None or RANK[c.review.state] > RANK[old]:
                lane[c.frame.index] = c.review.state
        self._lanes = {b: lane for b, lane in sorted(self._lanes.items()) if lane}
        self.update()

    def set_current(self, index: int) -> None:
        self._current = index
        self.update()

    def _x(self, index: int) -> float:
        width = max(1, self.width() - LABEL_W - 4)
        return LABEL_W + index / max(1, self._frame_count - 1) * width

    def paintEvent(self, event) -> None:
        p = QPainter(self)
        p.fillRect(self.rect(), QColor(40, 40, 46))
        font = QFont()
        font.setPointSize(8)
        p.setFont(font)
        tick = max(2.0, (self.width() - LABEL_W) / max(1, self._frame_count) * 2)
        lane_h = min(LANE_H, (self.height() - 8) / max(1, len(self._lanes)))
        for lane, (brand, frames) in enumerate(self._lanes.items()):
            y = 4 + lane * lane_h
            p.setPen(QColor(210, 210, 215))
            if lane_h >= 9:
                p.drawText(QRectF(4, y, LABEL_W - 8, lane_h), Qt.AlignmentFlag.AlignVCenter, brand)
            for index, state in frames.items():
                p.fillRect(QRectF(self._x(index) - tick / 2, y + 1, tick, max(1.0, lane_h - 2)), STATE_COLOURS[state])
        p.setPen(QPen(QColor(255, 255, 255), 1.5))
        x = self._x(self._current)
        p.drawLine(int(x), 0, int(x), self.height())
        p.end()

    def mousePressEvent(self, event) -> None:
        x = event.position().x()
        if x < LABEL_W:
            return
        width = max(1, self.width() - LABEL_W - 4)
        index = round((x - LABEL_W) / width * max(1, self._frame_count - 1))
        self.frameClicked.emit(int(min(max(index, 0), self._frame_count - 1)))
