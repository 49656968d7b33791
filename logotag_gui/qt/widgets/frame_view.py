"""The frame at full quality with candidate boxes over it: zoom, pan, select, resize, draw."""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRect, QRectF, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QFont, QImage, QPainter, QPen, QPixmap
from PySide6.QtWidgets import (
    QGraphicsItem,
    QGraphicsPixmapItem,
    QGraphicsRectItem,
    QGraphicsScene,
    QGraphicsSimpleTextItem,
    QGraphicsView,
)

from logotag_gui.core.base.records import BBox, Candidate, ReviewState, VerdictState
from logotag_gui.qt.table_model import STATE_COLOURS

VERDICT_MARK = {VerdictState.YES: "✓", VerdictState.NO: "✗", VerdictState.UNSURE: "?",
                VerdictState.UNPARSABLE: "⚠", VerdictState.NOT_RUN: ""}
HANDLE = 8.0  # corner handle size in screen pixels


def box_label(c: Candidate) -> str:
    verdict = c.verdict
    mark = VERDICT_MARK[verdict.state]
    conf = f" {verdict.confidence:.2f}" if verdict.confidence is not None else ""
    return f"{c.final_brand} {c.score:.2f}" + (f"  {mark}{verdict.state.value}{conf}" if mark else "")


class BoxItem(QGraphicsRectItem):
    """One candidate's box. Selected boxes show corner handles; dragging one tightens the box."""

    def __init__(self, candidate: Candidate, view: FrameView) -> None:
        b = candidate.final_bbox
        super().__init__(QRectF(b.x, b.y, b.w, b.h))
        self.candidate, self.view = candidate, view
        self._drag_corner: int | None = None
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIsSelectable, True)
        self.setAcceptHoverEvents(True)
        self.label = QGraphicsSimpleTextItem(box_label(candidate), self)
        self.label.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIgnoresTransformations, True)
        font = QFont()
        font.setPointSize(9)
        font.setBold(True)
        self.label.setFont(font)
        self._style()

    def _style(self) -> None:
        colour = STATE_COLOURS[self.candidate.review.state]
        pen = QPen(colour, 2.5 if self.isSelected() else 1.8)
        pen.setCosmetic(True)
        if self.candidate.review.state is ReviewState.PENDING:
            pen.setStyle(Qt.PenStyle.DashLine)
        self.setPen(pen)
        fill = QColor(colour)
        fill.setAlpha(40 if self.isSelected() else 0)
        self.setBrush(QBrush(fill))
        self.label.setBrush(QBrush(colour))
        r = self.rect()
        self.label.setPos(r.left(), r.top() - 16 / max(self.view.transform().m11(), 1e-6))

    def itemChange(self, change, value):
        if change == QGraphicsItem.GraphicsItemChange.ItemSelectedHasChanged:
            self._style()
        return super().itemChange(change, value)

    def _corners(self) -> list[QPointF]:
        r = self.rect()
        return [r.topLeft(), r.topRight(), r.bottomRight(), r.bottomLeft()]

    def _corner_at(self, pos: QPointF) -> int | None:
        tol = HANDLE / max(self.view.transform().m11(), 1e-6)
        for i, corner in enumerate(self._corners()):
            if abs(corner.x() - pos.x()) <= tol and abs(corner.y() - pos.y()) <= tol:
                return i
        return None

    def boundingRect(self) -> QRectF:
        grow = HANDLE / max(self.view.transform().m11(), 1e-6)
        return super().boundingRect().adjusted(-grow, -grow, grow, grow)

    def paint(self, painter: QPainter, option, widget=None) -> None:
        option.state &= ~option.state.State_Selected  # no dotted Qt selection frame: we draw our own
        super().paint(painter, option, widget)
        if self.isSelected():
            size = HANDLE / max(self.view.transform().m11(), 1e-6)
            painter.setBrush(QBrush(QColor(255, 255, 255)))
            for c in self._corners():
                painter.drawRect(QRectF(c.x() - size / 2, c.y() - size / 2, size, size))

    def mousePressEvent(self, event) -> None:
        self._drag_corner = self._corner_at(event.pos()) if self.isSelected() else None
        if self._drag_corner is None:
            self.view.candidateClicked.emit(self.candidate.id)
        super().mousePressEvent(event)

    def mouseMoveEvent(self, event) -> None:
        if self._drag_corner is None:
            return
        r = QRectF(self.rect())
        p = event.pos()
        setters = [r.setTopLeft, r.setTopRight, r.setBottomRight, r.setBottomLeft]
        setters[self._drag_corner](p)
        self.prepareGeometryChange()
        self.setRect(r.normalized())
        self._style()

    def mouseReleaseEvent(self, event) -> None:
        if self._drag_corner is not None:
            r = self.rect().intersected(self.view.image_rect())
            self._drag_corner = None
            if r.width() >= 2 and r.height() >= 2:
                self.view.boxEdited.emit(self.candidate.id, BBox(r.x(), r.y(), r.width(), r.height()))
        super().mouseReleaseEvent(event)


class FrameView(QGraphicsView):
    candidateClicked = Signal(int)
    boxEdited = Signal(int, object)  # candidate id, BBox
    boxDrawn = Signal(object)  # BBox
    drawModeChanged = Signal(bool)

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setScene(QGraphicsScene(self))
        self.setRenderHints(QPainter.RenderHint.Antialiasing | QPainter.RenderHint.SmoothPixmapTransform)
        self.setDragMode(QGraphicsView.DragMode.ScrollHandDrag)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorUnderMouse)
        self.setBackgroundBrush(QBrush(QColor(32, 32, 36)))
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self._pixmap = QGraphicsPixmapItem()
        self._pixmap.setTransformationMode(Qt.TransformationMode.SmoothTransformation)
        self.scene().addItem(self._pixmap)
        self._boxes: dict[int, BoxItem] = {}
        self._presence_brands: list[str] = []
        self._presence = QGraphicsSimpleTextItem()
        self._presence.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIgnoresTransformations, True)
        self._presence.setBrush(QBrush(QColor(60, 180, 90)))
        font = QFont()
        font.setPointSize(11)
        font.setBold(True)
        self._presence.setFont(font)
        self._presence.setZValue(10)
        self.scene().addItem(self._presence)
        # Rejected boxes are hidden unless asked for (View > Show rejected boxes, H), as CVAT hides them: a rejected
        # long box covered a third of every frame. The selected box is drawn whatever its state.
        self.show_rejected = False
        self._candidates: list[Candidate] = []
        self._selected_id: int | None = None
        self._hidden_note = QGraphicsSimpleTextItem(self._presence)  # under the presences, in screen pixels
        self._hidden_note.setBrush(QBrush(QColor(200, 200, 200)))
        self._fit = True
        self._draw_mode = False
        self._draw_start: QPointF | None = None
        self._rubber: QGraphicsRectItem | None = None
        self.frame_index: int | None = None

    # ---- content -----------------------------------------------------------------------------
    def image_rect(self) -> QRectF:
        return self._pixmap.boundingRect()

    @property
    def hidden_note(self) -> str:
        """What the frame's corner says of the rejected boxes it hides ("" when none is hidden)."""
        return self._hidden_note.text()

    @property
    def drawing(self) -> bool:
        """B was pressed: the next drag draws a box."""
        return self._draw_mode

    @property
    def has_frame(self) -> bool:
        """A frame is shown (False once a clip is closed: no old frame lingers)."""
        return not self._pixmap.pixmap().isNull()

    def show_frame(self, index: int, image: QImage) -> None:
        first = self._pixmap.pixmap().isNull() or self._pixmap.pixmap().size() != image.size()
        self._pixmap.setPixmap(QPixmap.fromImage(image))
        self.frame_index = index
        self.scene().setSceneRect(self.image_rect())
        if first or self._fit:
            self.fit()

    def clear_frame(self) -> None:
        self._pixmap.setPixmap(QPixmap())
        self.frame_index = None
        self.scene().setSceneRect(QRectF())

    def set_candidates(self, candidates: list[Candidate], selected_id: int | None = None) -> None:
        self._candidates = list(candidates)
        self._selected_id = selected_id
        self._draw_boxes()

    def _shown(self, c: Candidate) -> bool:
        return self.show_rejected or c.review.state is not ReviewState.REJECTED or c.stored_id == self._selected_id

    def _draw_boxes(self) -> None:
        for item in self._boxes.values():
            self.scene().removeItem(item)
        self._boxes = {}
        for c in self._candidates:
            if self._shown(c):
                item = BoxItem(c, self)
                self.scene().addItem(item)
                self._boxes[c.stored_id] = item
        hidden = self.hidden_rejected
        self._hidden_note.setText(f"{hidden} rejected box{'es' if hidden != 1 else ''} hidden (H shows them)"
                                  if hidden else "")
        self._write_presences()
        for cid, item in self._boxes.items():
            item.setSelected(cid == self._selected_id)

    @property
    def hidden_rejected(self) -> int:
        """Rejected boxes of the frame shown that are not drawn."""
        return sum(1 for c in self._candidates if not self._shown(c))

    def set_show_rejected(self, on: bool) -> None:
        """Draw the frame's rejected boxes too (on), or only the others and the selected one (off: the default)."""
        self.show_rejected = on
        self._draw_boxes()

    def toggle_rejected(self) -> str:
        """H: show the rejected boxes, or hide them again; what the status bar says of it."""
        self.set_show_rejected(not self.show_rejected)
        return ("Rejected boxes shown, in red (H hides them)" if self.show_rejected
                else "Rejected boxes hidden, except the selected one (H shows them)")

    def set_presences(self, brands: list[str]) -> None:
        """Brands the reviewer marked on screen on this frame without a box: said in its corner, unless a box of
        the brand is drawn on the frame (the note said "no box" beside the brand's box)."""
        self._presence_brands = list(brands)
        self._write_presences()

    @property
    def presence_note(self) -> str:
        """What the frame's corner says of the brands marked on screen without a box ("" when nothing)."""
        return self._presence.text()

    def _write_presences(self) -> None:
        boxed = {item.candidate.final_brand for item in self._boxes.values()
                 if item.candidate.review.state is not ReviewState.REJECTED}
        unboxed = [b for b in self._presence_brands if b not in boxed]
        self._presence.setText(f"On screen (no box): {', '.join(unboxed)}" if unboxed else "")
        self._place_notes()

    def _place_notes(self) -> None:
        self._presence.setPos(self.image_rect().topLeft() + QPointF(8, 8))
        self._hidden_note.setPos(0, 20 if self._presence.text() else 0)

    def select(self, candidate_id: int | None) -> None:
        before, self._selected_id = self._selected_id, candidate_id
        hidden = {c.stored_id for c in self._candidates if c.review.state is ReviewState.REJECTED}
        if not self.show_rejected and (before in hidden or candidate_id in hidden) and before != candidate_id:
            self._draw_boxes()  # a rejected box selected is drawn; once unselected it is hidden again
            return
        for cid, item in self._boxes.items():
            item.setSelected(cid == candidate_id)

    def boxes(self) -> dict[int, BoxItem]:
        return self._boxes

    # ---- zoom and pan ------------------------------------------------------------------------
    def fit(self) -> None:
        self._fit = True
        if not self.image_rect().isEmpty():
            self.fitInView(self.image_rect(), Qt.AspectRatioMode.KeepAspectRatio)
        self._restyle()

    def zoom(self, factor: float) -> None:
        """Zoom in or out, on the selected box when there is one (the reviewer zooms to look at it)."""
        self._fit = False
        self.scale(factor, factor)
        selected = [item for item in self._boxes.values() if item.isSelected()]
        if selected:
            self.centerOn(selected[0])
        self._restyle()

    def global_rect(self, bbox: BBox) -> QRect:
        """Where a box of the image is on the screen (a dialog about it opens beside it)."""
        shown = self.mapFromScene(QRectF(bbox.x, bbox.y, bbox.w, bbox.h)).boundingRect()
        return QRect(self.viewport().mapToGlobal(shown.topLeft()), shown.size())

    def _restyle(self) -> None:
        for item in self._boxes.values():
            item._style()

    def wheelEvent(self, event) -> None:
        self.zoom(1.25 if event.angleDelta().y() > 0 else 0.8)

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        if self._fit:
            self.fit()

    # ---- drawing a missed box ------------------------------------------------------------------
    def set_draw_mode(self, on: bool) -> None:
        self._draw_mode = on
        self.setDragMode(QGraphicsView.DragMode.NoDrag if on else QGraphicsView.DragMode.ScrollHandDrag)
        self.viewport().setCursor(Qt.CursorShape.CrossCursor if on else Qt.CursorShape.OpenHandCursor)
        self.drawModeChanged.emit(on)

    def mousePressEvent(self, event) -> None:
        if self._draw_mode and event.button() == Qt.MouseButton.LeftButton:
            self._draw_start = self.mapToScene(event.position().toPoint())
            self._rubber = self.scene().addRect(QRectF(self._draw_start, self._draw_start),
                                                QPen(QColor(80, 160, 255), 0, Qt.PenStyle.DashLine))
            return
        super().mousePressEvent(event)

    def mouseMoveEvent(self, event) -> None:
        if self._rubber is not None and self._draw_start is not None:
            self._rubber.setRect(QRectF(self._draw_start, self.mapToScene(event.position().toPoint())).normalized())
            return
        super().mouseMoveEvent(event)

    def mouseReleaseEvent(self, event) -> None:
        if self._rubber is not None:
            r = self._rubber.rect().intersected(self.image_rect())
            self.scene().removeItem(self._rubber)
            self._rubber, self._draw_start = None, None
            self.set_draw_mode(False)
            if r.width() >= 4 and r.height() >= 4:
                self.boxDrawn.emit(BBox(r.x(), r.y(), r.width(), r.height()))
            return
        super().mouseReleaseEvent(event)
