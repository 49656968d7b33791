"""A strip under the scrubber: one lane per brand, each exposure a bar coloured by what its seconds rest on.

Pending exposures show the model's word (yes, unsure, no); decided frames show the reviewer's (accepted,
rejected). The selected exposure is outlined; dragging its left or right end moves its in or out point
(trimming it, or extending it over frames the detector missed). A click on a bar selects its exposure, a
click anywhere else only goes to that frame (the selection stays: I / O then edit what was selected).

Every lane keeps a usable height (LANE_H) however many brands there are: the strip grows, and the clip view
shows it in a scroll area of capped height (`MAX_VISIBLE_LANES`), so a click aimed between bars never lands on one.
"""

from __future__ import annotations

from PySide6.QtCore import QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QFont, QPainter, QPen
from PySide6.QtWidgets import QWidget

from logotag_gui.core.base.records import ExposureState, ReviewState
from logotag_gui.core.review.exposures import Exposure

LANE_H = 14  # every lane's height: 7 px lanes (10 brands) made a click meant to seek select a bar
BAR_INSET = 2  # a bar is drawn (and hit) this far inside its lane: the lane's edges are empty space
MIN_LANES = 3  # the strip's height with fewer brands
MAX_VISIBLE_LANES = 6  # the clip view scrolls the strip beyond this many lanes (the frame keeps its room)
MIN_LABEL_PX = 7  # the smallest label font
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


def strip_height(lanes: int) -> int:
    """The strip's height for this many lanes, with the views lane under them."""
    return LANE_H * lanes + 8 + VIEWS_H


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
        self.setFixedHeight(strip_height(MIN_LANES))
        self.setMouseTracking(True)
        self.setToolTip(LEGEND)

    def sizeHint(self) -> QSize:
        return QSize(400, self.height())

    def set_clip(self, frame_count: int) -> None:
        self._frame_count = max(1, frame_count)
        self.update()

    def set_exposures(self, exposures: dict[str, list[Exposure]], selected: Exposure | None) -> None:
        self._lanes = {b: es for b, es in sorted(exposures.items()) if es}
        self._selected = selected.key if selected is not None else None
        height = strip_height(max(MIN_LANES, len(self._lanes)))
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
        """Pixels per brand's lane: the same with 3 brands or 30 (the strip scrolls instead)."""
        return LANE_H

    def lane_top(self, brand: str) -> float:
        """Where a brand's lane starts (tests and the scroll area aim at it)."""
        return 4 + list(self._lanes).index(brand) * LANE_H

    def _lane_at(self, y: float) -> str | None:
        if y < 4:
            return None
        i = int((y - 4) // LANE_H)
        names = list(self._lanes)
        return names[i] if 0 <= i < len(names) else None

    def exposure_at(self, x: float, y: float) -> Exposure | None:
        """The exposure whose bar is drawn under (x, y); None on the empty space around and between bars."""
        brand = self._lane_at(y)
        if brand is None or x < LABEL_W:
            return None
        within = (y - 4) % LANE_H
        if not BAR_INSET <= within <= LANE_H - BAR_INSET:
            return None
        return next((e for e in self._lanes[brand] if self._bar(e)[0] <= x <= self._bar(e)[1]), None)

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
        p.fillRect(QRectF(x0, y + BAR_INSET + 1, max(1.0, x1 - x0), max(1.0, lane_h - 2 * BAR_INSET - 2)), gap)
        for f, state in e.frame_states.items():
            colour = FRAME_COLOURS.get(state, base)
            p.fillRect(QRectF(self._x(f) - step / 2, y + BAR_INSET, step, max(1.0, lane_h - 2 * BAR_INSET)), colour)
        if e.key == self._selected:
            p.setPen(QPen(QColor(255, 255, 255), 1.6))
            p.setBrush(Qt.BrushStyle.NoBrush)
            p.drawRect(QRectF(x0 - 1, y + BAR_INSET - 1, max(2.0, x1 - x0 + 2), max(2.0, lane_h - 2 * BAR_INSET + 2)))

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
        on_bar = self.exposure_at(x, y)
        if on_bar is not None:
            self.exposureClicked.emit(on_bar, frame)
        else:
            self.frameClicked.emit(frame)  # empty lane space: seek only, the selection stays

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
