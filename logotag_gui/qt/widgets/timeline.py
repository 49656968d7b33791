"""A strip under the scrubber: one lane per brand, each exposure a bar coloured by what its seconds rest on.

Pending exposures show the model's word (yes, unsure, no); decided frames show the reviewer's (accepted,
rejected). The selected exposure is outlined; dragging its left or right end moves its in or out point
(trimming it, or extending it over frames the detector missed). A click on a bar selects its exposure, a
click anywhere goes to that frame.
"""

from __future__ import annotations

from PySide6.QtCore import QRectF, Qt, Signal
from PySide6.QtGui import QColor, QFont, QPainter, QPen
from PySide6.QtWidgets import QWidget

from logotag_gui.core.base.records import ExposureState, ReviewState
from logotag_gui.core.review.exposures import Exposure

LANE_H = 12  # a lane's height with up to ROOMY_LANES brands
ROOMY_LANES = 8
NARROW_LANE_H = 9  # beyond ROOMY_LANES: still tall enough for a label
MIN_LANES, MAX_LANES = 3, 16  # the strip grows with the brands up to this; more brands share it (narrower lanes)
MIN_LABEL_PX = 7  # below this a lane's label is in its tooltip only
LABEL_W = 96
VIEWS_H = 6  # the views lane under the brands' lanes: looked at, audited, not looked at
VIEW_COLOURS = {"looked": QColor(60, 180, 90), "audited": QColor(120, 200, 235), "not": QColor(95, 95, 105)}
EDGE_PX = 5  # how near an end of the selected bar a press starts dragging it
EXPOSURE_COLOURS = {
    ExposureState.PENDING_YES: QColor(120, 200, 235),
    ExposureState.PENDING_UNSURE: QColor(240, 190, 40),
    ExposureState.PENDING_NO: QColor(150, 120, 150),
    ExposureState.PARTLY: QColor(240, 190, 40),
    ExposureState.ACCEPTED: QColor(60, 180, 90),
    ExposureState.REJECTED: QColor(210, 60, 60),
    ExposureState.TRIMMED: QColor(60, 180, 90),
}
FRAME_COLOURS = {ReviewState.ACCEPTED: QColor(60, 180, 90), ReviewState.REJECTED: QColor(130, 50, 50)}
LEGEND = ("Exposures per brand: blue = model says yes, amber = unsure, purple = model says no, green = accepted, "
          "red = rejected. Click a bar to select it, drag its ends to move its in and out points; click anywhere "
          "to go to that frame. The thin lane at the bottom: the clip's views, green = looked at (complete), "
          "blue = audited in part, grey = nobody looked yet (V visits them).")


class Timeline(QWidget):
    frameClicked = Signal(int)
    exposureClicked = Signal(object, int)  # Exposure, the frame clicked
    edgeDragged = Signal(object, str, int)  # Exposure, "in" or "out", the frame it was dropped on

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self._frame_count = 1
        self._current = 0
        self._lanes: dict[str, list[Exposure]] = {}
        self._views: list[tuple[int, int, str]] = []
        self._selected: tuple[str, int] | None = None
        self._drag: tuple[Exposure, str] | None = None
        self._drag_x: float | None = None
        self.setFixedHeight(LANE_H * MIN_LANES + 8 + VIEWS_H)
        self.setMouseTracking(True)
        self.setToolTip(LEGEND)

    def set_clip(self, frame_count: int) -> None:
        self._frame_count = max(1, frame_count)
        self.update()

    def set_exposures(self, exposures: dict[str, list[Exposure]], selected: Exposure | None) -> None:
        self._lanes = {b: es for b, es in sorted(exposures.items()) if es}
        self._selected = selected.key if selected is not None else None
        lane_h = LANE_H if len(self._lanes) <= ROOMY_LANES else NARROW_LANE_H
        height = lane_h * min(MAX_LANES, max(MIN_LANES, len(self._lanes))) + 8 + VIEWS_H
        if height != self.height():
            self.setFixedHeight(height)
        self.update()

    def set_views(self, views: list[tuple[int, int, str]]) -> None:
        """(first, last, "looked" | "audited" | "not") per view, in time order."""
        self._views = list(views)
        self.update()

    @property
    def views(self) -> list[tuple[int, int, str]]:
        return list(self._views)

    @property
    def lanes(self) -> list[str]:
        return list(self._lanes)

    @property
    def selected(self) -> tuple[str, int] | None:
        """The key of the exposure drawn as selected (its brand and first frame), if any."""
        return self._selected

    def set_current(self, index: int) -> None:
        self._current = index
        self.update()

    # ---- geometry --------------------------------------------------------------------------------
    def _x(self, index: float) -> float:
        width = max(1, self.width() - LABEL_W - 4)
        return LABEL_W + index / max(1, self._frame_count - 1) * width

    def _frame_at(self, x: float) -> int:
        width = max(1, self.width() - LABEL_W - 4)
        index = round((x - LABEL_W) / width * max(1, self._frame_count - 1))
        return int(min(max(index, 0), self._frame_count - 1))

    def lane_height(self) -> float:
        """Pixels per brand's lane (narrower with many brands, so every lane keeps a label)."""
        return min(LANE_H, (self.height() - 8 - VIEWS_H) / max(1, len(self._lanes)))

    def _lane_at(self, y: float) -> str | None:
        i = int((y - 4) // self.lane_height())
        names = list(self._lanes)
        return names[i] if 0 <= i < len(names) else None

    def _bar(self, e: Exposure) -> tuple[float, float]:
        step = max(2.0, (self.width() - LABEL_W) / max(1, self._frame_count) * 2)
        return self._x(e.first) - step / 2, self._x(e.last) + step / 2

    def _selected_exposure(self) -> Exposure | None:
        if self._selected is None:
            return None
        return next((e for e in self._lanes.get(self._selected[0], []) if e.key == self._selected), None)

    # ---- painting ---------------------------------------------------------------------------------
    def paintEvent(self, event) -> None:
        p = QPainter(self)
        p.fillRect(self.rect(), QColor(40, 40, 46))
        lane_h = self.lane_height()
        font = QFont()
        font.setPixelSize(max(MIN_LABEL_PX, min(11, int(lane_h) - 1)))
        p.setFont(font)
        step = max(2.0, (self.width() - LABEL_W) / max(1, self._frame_count) * 2)
        for lane, (brand, exposures) in enumerate(self._lanes.items()):
            y = 4 + lane * lane_h
            p.setPen(QColor(210, 210, 215))
            if lane_h >= MIN_LABEL_PX:
                p.drawText(QRectF(4, y, LABEL_W - 8, lane_h), Qt.AlignmentFlag.AlignVCenter, brand)
            for e in exposures:
                self._paint_exposure(p, e, y, lane_h, step)
        y = self.height() - VIEWS_H - 2
        for first, last, state in self._views:
            x0, x1 = self._x(first) - step / 2, self._x(last) + step / 2
            p.fillRect(QRectF(x0, y, max(1.0, x1 - x0 - 1), VIEWS_H), VIEW_COLOURS[state])
        p.setPen(QPen(QColor(255, 255, 255), 1.5))
        x = self._x(self._current)
        p.drawLine(int(x), 0, int(x), self.height())
        if self._drag_x is not None:
            p.setPen(QPen(QColor(255, 255, 255), 1, Qt.PenStyle.DashLine))
            p.drawLine(int(self._drag_x), 0, int(self._drag_x), self.height())
        p.end()

    def _paint_exposure(self, p: QPainter, e: Exposure, y: float, lane_h: float, step: float) -> None:
        base = EXPOSURE_COLOURS[e.state]
        x0, x1 = self._bar(e)
        gap = QColor(base)
        gap.setAlpha(110)
        p.fillRect(QRectF(x0, y + 2, max(1.0, x1 - x0), max(1.0, lane_h - 4)), gap)
        for f, state in e.frame_states.items():
            colour = FRAME_COLOURS.get(state, base)
            p.fillRect(QRectF(self._x(f) - step / 2, y + 1, step, max(1.0, lane_h - 2)), colour)
        if e.key == self._selected:
            p.setPen(QPen(QColor(255, 255, 255), 1.6))
            p.setBrush(Qt.BrushStyle.NoBrush)
            p.drawRect(QRectF(x0 - 1, y, max(2.0, x1 - x0 + 2), max(2.0, lane_h - 1)))

    # ---- mouse --------------------------------------------------------------------------------------
    def _edge_at(self, x: float, y: float) -> tuple[Exposure, str] | None:
        e = self._selected_exposure()
        if e is None or self._lane_at(y) != e.brand:
            return None
        x0, x1 = self._bar(e)
        if abs(x - x0) <= EDGE_PX:
            return e, "in"
        if abs(x - x1) <= EDGE_PX:
            return e, "out"
        return None

    def mousePressEvent(self, event) -> None:
        x, y = event.position().x(), event.position().y()
        if x < LABEL_W:
            return
        edge = self._edge_at(x, y)
        if edge is not None:
            self._drag, self._drag_x = edge, x
            return
        frame = self._frame_at(x)
        brand = self._lane_at(y)
        for e in self._lanes.get(brand or "", []):
            x0, x1 = self._bar(e)
            if x0 <= x <= x1:
                self.exposureClicked.emit(e, frame)
                return
        self.frameClicked.emit(frame)

    def mouseMoveEvent(self, event) -> None:
        x, y = event.position().x(), event.position().y()
        if self._drag is not None:
            self._drag_x = x
            self.update()
            return
        self.setCursor(Qt.CursorShape.SizeHorCursor if self._edge_at(x, y) else Qt.CursorShape.ArrowCursor)
        brand = self._lane_at(y)
        self.setToolTip(f"{brand}\n{LEGEND}" if brand else LEGEND)  # the lane's name, however narrow it is

    def mouseReleaseEvent(self, event) -> None:
        if self._drag is None:
            return
        e, edge = self._drag
        self._drag, self._drag_x = None, None
        self.update()
        self.edgeDragged.emit(e, edge, self._frame_at(event.position().x()))
