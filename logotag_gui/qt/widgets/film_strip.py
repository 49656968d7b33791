"""The selected exposure as a film strip: a small picture of each of its sampled frames, edged by the frame's
state, so that the reviewer sees at a glance where the brand is on screen and where not. A click shows that
frame (then I or O moves the exposure's in or out point there, S splits it there).

With the gallery on (G), the strip shows the brand's exposures still to review instead, one picture each
(G again: every brand's): what one key (Ctrl+Shift+A) accepts at once, after a glance at each picture.
"""

from __future__ import annotations

import base64
import html
from collections.abc import Mapping

from PySide6.QtCore import QBuffer, QByteArray, QEvent, QIODevice, QRect, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QIcon, QImage, QPainter, QPen, QPixmap
from PySide6.QtWidgets import QListView, QListWidget, QListWidgetItem, QToolTip

from logotag_gui.core.base.records import Candidate, ReviewState
from logotag_gui.core.review.exposures import Exposure
from logotag_gui.qt.widgets.timeline import EXPOSURE_COLOURS, FRAME_COLOURS

THUMB = QSize(128, 72)
MAX_TILES = 48  # a longer exposure shows this many of its frames, evenly spread
CROP_MARGIN = 0.5  # a tile's crop shows the box and half its size again on each side (what is around a logo helps)
HOVER_WIDTH = 360  # the whole frame a tile's tooltip shows, in pixels


def crop_rect(c: Candidate, *, image: QSize, margin: float = CROP_MARGIN, aspect: float = THUMB.width() / THUMB.height()
              ) -> QRect:
    """Where a tile's crop lies in a picture of the candidate's frame (of any size: the film strip's pictures are
    small): its box with `margin` of its size on each side, widened or heightened to the tile's shape, inside the
    picture (shifted in from an edge rather than cut)."""
    sx = image.width() / max(c.frame.width, 1)
    sy = image.height() / max(c.frame.height, 1)
    b = c.final_bbox
    w, h = b.w * (1 + 2 * margin) * sx, b.h * (1 + 2 * margin) * sy
    w, h = max(w, h * aspect), max(h, w / aspect)
    w, h = min(w, image.width()), min(h, image.height())
    cx, cy = (b.x + b.w / 2) * sx, (b.y + b.h / 2) * sy
    x = min(max(cx - w / 2, 0.0), image.width() - w)
    y = min(max(cy - h / 2, 0.0), image.height() - h)
    return QRectF(x, y, w, h).toAlignedRect().intersected(QRect(0, 0, image.width(), image.height()))


def _data_uri(image: QImage) -> str:
    data = QByteArray()
    buf = QBuffer(data)
    buf.open(QIODevice.OpenModeFlag.WriteOnly)
    image.save(buf, "PNG")  # type: ignore[call-overload]  # a str at run time: the stubs say bytes, which fails
    return f"data:image/png;base64,{base64.b64encode(bytes(data.data())).decode()}"


def _spread(frames: list[int], n: int) -> list[int]:
    if len(frames) <= n:
        return frames
    step = (len(frames) - 1) / (n - 1)
    return sorted({frames[round(i * step)] for i in range(n)})


class FilmStrip(QListWidget):
    frameClicked = Signal(int)
    exposureClicked = Signal(object)  # Exposure (in the gallery)
    thumbsWanted = Signal(object)  # list of frame indices to decode

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setViewMode(QListView.ViewMode.IconMode)
        self.setFlow(QListView.Flow.LeftToRight)
        self.setWrapping(False)
        self.setMovement(QListView.Movement.Static)
        self.setIconSize(THUMB)
        self.setFixedHeight(THUMB.height() + 46)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # the review keys stay with the frame view
        self.setToolTip("The selected exposure's frames: click one to show it, then I / O move the exposure's in / "
                        "out point there and S splits it there. G shows the brand's exposures still to review.")
        self.gallery = False
        self._items: dict[int, QListWidgetItem] = {}
        self._edges: dict[int, QColor] = {}
        self._exposures: dict[int, Exposure] = {}
        self._images: dict[int, QImage] = {}
        self._boxes: dict[int, Candidate] = {}  # frame -> the box its tile shows cropped (the whole frame on hover)
        self.itemClicked.connect(self._clicked)

    def show_exposure(self, e: Exposure | None, *, boxes: Mapping[int, Candidate] | None = None) -> None:
        """`boxes`: frame -> the box of the exposure there, which its tile shows cropped (else the whole frame)."""
        self.gallery = False
        self.clear()
        self._items, self._edges, self._exposures = {}, {}, {}
        self._boxes = dict(boxes or {})
        if e is None:
            return
        base = EXPOSURE_COLOURS[e.state]
        for f in _spread(list(e.span), MAX_TILES):
            state = e.frame_states.get(f)
            if state is None:
                self._add(f, f"{f}  gap", QColor(120, 120, 130))
                continue
            label = {ReviewState.ACCEPTED: "on screen", ReviewState.REJECTED: "rejected"}.get(state, "to review")
            self._add(f, f"{f}  {label}", FRAME_COLOURS.get(state, base))
        self.thumbsWanted.emit(list(self._items))

    def show_gallery(self, exposures: list[Exposure], *, every_brand: bool = False,
                     boxes: Mapping[int, Candidate] | None = None) -> None:
        """Exposures still to review (a brand's, or every brand's), one picture each: its first frame still on
        screen, named by its brand where the gallery holds several. `boxes`: first frame -> the exposure's box
        there: the tile shows its crop, where a logo is more than the few pixels it is in a whole frame, and the
        whole frame on hover."""
        self.gallery = True
        self.clear()
        self._items, self._edges, self._exposures = {}, {}, {}
        self._boxes = dict(boxes or {})
        by_frame: dict[int, list[Exposure]] = {}
        for e in exposures:  # exposures of several brands that start on one frame share its picture
            by_frame.setdefault((e.live or (e.first, e.last))[0], []).append(e)
        for first, here in by_frame.items():
            e = here[0]
            self._exposures[first] = e
            name = f"{' + '.join(x.brand for x in here)} · " if every_brand else ""
            self._add(first, f"{name}{e.first}-{e.last} · {e.length_s:.1f} s", EXPOSURE_COLOURS[e.state])
            self._items[first].setToolTip("\n".join(f"{x.brand}: frames {x.first}-{x.last}, {x.length_s:.1f} s"
                                                      for x in here))
        self.thumbsWanted.emit(list(self._items))

    def _add(self, frame: int, text: str, edge: QColor) -> None:
        item = QListWidgetItem(text)
        item.setData(Qt.ItemDataRole.UserRole, frame)
        item.setSizeHint(QSize(THUMB.width() + 12, THUMB.height() + 30))
        self._items[frame], self._edges[frame] = item, edge
        self.addItem(item)
        image = self._images.get(frame)
        if image is not None:
            self._paint(frame, image)

    def set_thumb(self, frame: int, image: QImage) -> None:
        self._images[frame] = image
        if len(self._images) > 600:
            self._images.pop(next(iter(self._images)))
        if frame in self._items:
            self._paint(frame, image)

    def forget_thumbs(self) -> None:
        """Another clip: the pictures of this one's frames are of no use."""
        self._images = {}

    def _paint(self, frame: int, image: QImage) -> None:
        pixmap = QPixmap(THUMB)
        pixmap.fill(QColor(30, 30, 34))
        p = QPainter(pixmap)
        box = self._boxes.get(frame)
        shown = image.copy(crop_rect(box, image=image.size())) if box is not None else image
        scaled = shown.scaled(THUMB, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation)
        p.drawImage((THUMB.width() - scaled.width()) // 2, (THUMB.height() - scaled.height()) // 2, scaled)
        p.setPen(QPen(self._edges[frame], 5))
        p.drawRect(2, 2, THUMB.width() - 5, THUMB.height() - 5)
        p.end()
        self._items[frame].setIcon(QIcon(pixmap))

    def frames(self) -> list[int]:
        return list(self._items)

    def cropped(self, frame: int) -> bool:
        """The frame's tile shows a box's crop (not the whole frame)."""
        return frame in self._boxes and frame in self._items

    def hover_html(self, frame: int) -> str:
        """A tile's tooltip: what it is, and the whole frame with the box marked where the tile shows a crop."""
        item = self._items.get(frame)
        if item is None:
            return ""
        text = html.escape(item.toolTip() or item.text()).replace("\n", "<br>")
        image, box = self._images.get(frame), self._boxes.get(frame)
        if image is None or box is None:
            return text
        whole = image.scaledToWidth(min(HOVER_WIDTH, max(image.width(), 1)), Qt.TransformationMode.SmoothTransformation)
        p = QPainter(whole)
        p.setPen(QPen(self._edges[frame], 2))
        s = whole.width() / max(box.frame.width, 1)
        b = box.final_bbox
        p.drawRect(QRectF(b.x * s, b.y * s, b.w * s, b.h * s))
        p.end()
        return f"{text}<br><img src='{_data_uri(whole)}'>"

    def viewportEvent(self, event: QEvent) -> bool:
        if event.type() == QEvent.Type.ToolTip:
            item = self.itemAt(event.pos())  # type: ignore[attr-defined]
            if item is not None:
                tip = self.hover_html(int(item.data(Qt.ItemDataRole.UserRole)))
                QToolTip.showText(event.globalPos(), tip, self.viewport())  # type: ignore[attr-defined]
                return True
        return super().viewportEvent(event)

    def _clicked(self, item: QListWidgetItem) -> None:
        frame = int(item.data(Qt.ItemDataRole.UserRole))
        if self.gallery and frame in self._exposures:
            self.exposureClicked.emit(self._exposures[frame])
        self.frameClicked.emit(frame)
