"""The selected exposure as a film strip: a small picture of each of its sampled frames, edged by the frame's
state, so that the reviewer sees at a glance where the brand is on screen and where not. A click shows that
frame (then I or O moves the exposure's in or out point there, S splits it there).

With the gallery on (G), the strip shows the brand's exposures still to review instead, one picture each
(G again: every brand's): what one key (Ctrl+Shift+A) accepts at once, after a glance at each picture.
"""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QColor, QIcon, QImage, QPainter, QPen, QPixmap
from PySide6.QtWidgets import QListView, QListWidget, QListWidgetItem

from logotag_gui.core.base.records import ReviewState
from logotag_gui.core.review.exposures import Exposure
from logotag_gui.qt.widgets.timeline import EXPOSURE_COLOURS, FRAME_COLOURS

THUMB = QSize(128, 72)
MAX_TILES = 48  # a longer exposure shows this many of its frames, evenly spread


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
        self.itemClicked.connect(self._clicked)

    def show_exposure(self, e: Exposure | None) -> None:
        self.gallery = False
        self.clear()
        self._items, self._edges, self._exposures = {}, {}, {}
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

    def show_gallery(self, exposures: list[Exposure], *, every_brand: bool = False) -> None:
        """Exposures still to review (a brand's, or every brand's), one picture each: its first frame still on
        screen, named by its brand where the gallery holds several."""
        self.gallery = True
        self.clear()
        self._items, self._edges, self._exposures = {}, {}, {}
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
        scaled = image.scaled(THUMB, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation)
        p.drawImage((THUMB.width() - scaled.width()) // 2, (THUMB.height() - scaled.height()) // 2, scaled)
        p.setPen(QPen(self._edges[frame], 5))
        p.drawRect(2, 2, THUMB.width() - 5, THUMB.height() - 5)
        p.end()
        self._items[frame].setIcon(QIcon(pixmap))

    def frames(self) -> list[int]:
        return list(self._items)

    def _clicked(self, item: QListWidgetItem) -> None:
        frame = int(item.data(Qt.ItemDataRole.UserRole))
        if self.gallery and frame in self._exposures:
            self.exposureClicked.emit(self._exposures[frame])
        self.frameClicked.emit(frame)
