"""The centre of the window: frame view, scrubber over sampled frames, exposure timeline, film strip.

Frames are decoded by a FrameLoader on its own thread (and the film strip's pictures by a ThumbLoader on
another); boxes are drawn when the frame they belong to arrives, so a box is always shown on exactly the
frame it was made for. Boxes and exposures are read from the review session, never copied: the view
subscribes to the session's changes and redraws only what they touch.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable

import numpy as np
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QScrollArea,
    QSizePolicy,
    QSlider,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from logotag_gui.core.base.records import Candidate, ReviewState
from logotag_gui.core.review import Changes, ReviewSession, VideoSummary
from logotag_gui.core.review.exposures import Exposure
from logotag_gui.qt.table_model import format_time
from logotag_gui.qt.widgets.film_strip import FilmStrip
from logotag_gui.qt.widgets.frame_view import FrameView
from logotag_gui.qt.widgets.timeline import MAX_VISIBLE_LANES, MIN_LANES, Timeline, strip_height
from logotag_gui.qt.workers import FrameLoader, ThumbLoader, start_in_thread

GALLERY_SCOPES: tuple[str | None, ...] = (None, "brand", "clip")  # what G steps through
MIN_FRAME_SIZE = (320, 180)  # the frame view never shrinks below this: the window's docks give way first


def _timeline_area(timeline: Timeline) -> QScrollArea:
    """The timeline in a scroll area of capped height: each new brand's lane scrolls rather than shrinking the
    frame (or the lanes, which then were too thin to click between)."""
    area = QScrollArea()
    area.setWidget(timeline)
    area.setWidgetResizable(True)
    area.setFrameShape(QFrame.Shape.NoFrame)
    area.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    area.setMinimumHeight(strip_height(min(2, MIN_LANES)))
    area.setMaximumHeight(strip_height(MAX_VISIBLE_LANES))
    area.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Maximum)
    return area


class ClipView(QWidget):
    frameShown = Signal(int, object)  # index, RGB array
    loaderFailed = Signal(str)
    exposureClicked = Signal(object, int)  # Exposure, frame (a bar of the timeline or a tile of the gallery)
    edgeDragged = Signal(object, str, int)  # Exposure, "in" / "out", frame
    _openClip = Signal(str)

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.view = FrameView()
        self.view.setMinimumSize(*MIN_FRAME_SIZE)
        self.timeline = Timeline()
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setToolTip("Sampled frames")
        self.slider.valueChanged.connect(self._slider_moved)
        self.position = QLabel("no clip")
        self.position.setMinimumWidth(220)
        self.play_btn = QToolButton()
        self.play_btn.setText("▶")
        self.play_btn.setToolTip("Play / pause (Space)")
        self.play_btn.clicked.connect(self.toggle_play)
        transport = QHBoxLayout()
        transport.addWidget(self.play_btn)
        transport.addWidget(self.slider, 1)
        transport.addWidget(self.position)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.view, 1)
        layout.addLayout(transport)
        self.timeline_area = _timeline_area(self.timeline)
        layout.addWidget(self.timeline_area)
        self.strip = FilmStrip()
        self.gallery_scope: str | None = None  # None: the exposure's frames; "brand" or "clip": a gallery (G)
        self._gallery: list[Exposure] | None = None  # what the gallery shows now
        self._strip_folded = False
        # Without the film strip (folded in a short window): the window may be resized that small in one go.
        self.setMinimumSize(MIN_FRAME_SIZE[0], MIN_FRAME_SIZE[1] + transport.sizeHint().height()
                            + self.timeline_area.minimumHeight() + 2 * layout.spacing())
        layout.addWidget(self.strip)

        self.loader = FrameLoader()
        self._loader_thread = start_in_thread(self.loader, "frame-loader")
        self._openClip.connect(self.loader.open)
        self.loader.frameReady.connect(self._frame_ready)
        self.loader.failed.connect(self.loaderFailed)
        self.timeline.frameClicked.connect(self.go_to)
        self.timeline.exposureClicked.connect(self.exposureClicked)
        self.timeline.edgeDragged.connect(self.edgeDragged)
        self.thumbs = ThumbLoader(width=640)  # wide enough that a tile's crop of a small logo is legible
        self._thumb_thread = start_in_thread(self.thumbs, "thumb-loader")
        self.thumbs.thumb.connect(self._thumb_ready)
        self.strip.thumbsWanted.connect(
            lambda frames: self.thumbs.want(self.video.path, frames) if self.video else None)
        self.strip.frameClicked.connect(self.go_to)
        self.strip.exposureClicked.connect(lambda e: self.exposureClicked.emit(e, e.first))
        self._unsubscribe: Callable[[], None] | None = None

        self.session: ReviewSession | None = None
        self.video: VideoSummary | None = None
        self.sampled: list[int] = []
        self.current = 0
        self.shown: int | None = None
        self.frame_array: np.ndarray | None = None
        self.selected_id: int | None = None
        self._play = QTimer(self)
        self._play.timeout.connect(self._tick)

    # ---- clip ----------------------------------------------------------------------------------
    def open_clip(self, session: ReviewSession) -> None:
        """Show the session's clip on its review grid, staying on `current` when it is the same clip."""
        self.stop()
        same = self.video is not None and self.video.id == session.video.id
        if self._unsubscribe is not None:
            self._unsubscribe()
        self.session, self.video = session, session.video
        self._unsubscribe = session.subscribe(self._changed)
        self.sampled = session.sampled or [0]
        self.slider.blockSignals(True)
        self.slider.setRange(0, len(self.sampled) - 1)
        self.slider.blockSignals(False)
        self.timeline.set_clip(self.video.frame_count)
        self._show_exposures()
        if not same:
            self.strip.forget_thumbs()
            self._openClip.emit(self.video.path)
            self.shown = None
            self.go_to(0)
        else:
            self._redraw_boxes()
            self._update_label()

    def close_clip(self) -> None:
        self.stop()
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        self.session = self.video = None
        self.shown = None
        self.frame_array = None
        self.view.set_candidates([])
        self.view.clear_frame()  # nothing of a closed clip (or project) stays on screen
        self.view.set_presences([])
        self.strip.show_exposure(None)
        self.strip.forget_thumbs()
        self._gallery = None
        self.timeline.set_exposures({}, None)
        self.timeline.set_clip(1)
        self.slider.blockSignals(True)
        self.slider.setRange(0, 0)
        self.slider.blockSignals(False)
        self.position.setText("")

    def fold_strip(self, fold: bool) -> None:
        """A short window: the frame keeps the height, the film strip is the first thing to go (G brings it
        back: a gallery is asked for)."""
        self._strip_folded = fold
        self._show_strip()

    def _show_strip(self) -> None:
        wanted = not self._strip_folded or self.gallery_scope is not None
        if self.strip.isVisibleTo(self) != wanted:
            self.strip.setVisible(wanted)

    def _changed(self, changes: Changes) -> None:
        """The session changed: redraw the boxes of the frame shown, the bars of the brands touched."""
        if self.session is None:
            return
        if changes.candidates:
            frames = {c.frame.index for c in changes.added + changes.changed}
            if changes.reset or changes.removed or self.shown in frames:
                self._redraw_boxes()
            self._update_label()
        if changes.exposures or changes.selection or changes.reset:
            self._show_exposures()
        if changes.coverage or changes.audit or changes.reset:
            self._show_views()
        if changes.selection:
            self.select(self.session.current_id)

    def _show_views(self) -> None:
        """The views lane: each view looked at, audited in part, or not looked at (what the sweep, V, visits)."""
        s = self.session
        if s is None:
            self.timeline.set_views([])
            return
        audited = s.audited_frames()
        self.timeline.set_views([(v.first, v.last, "looked" if s.view_looked(v) else
                                  "audited" if any(v.contains(f) for f in audited) else "not")
                                 for v in s.views])

    def _show_exposures(self) -> None:
        s = self.session
        if s is None:
            return
        current = s.current_exposure
        self.timeline.set_exposures({b: s.exposures(b) for b in s.brands_on_screen()}, current)
        self.timeline_area.updateGeometry()  # one lane more or less: the area's height follows, up to its cap
        if current is not None and current.brand in self.timeline.lanes:
            top = int(self.timeline.lane_top(current.brand))
            self.timeline_area.ensureVisible(0, top + int(self.timeline.lane_height()) // 2, 0,
                                             int(self.timeline.lane_height()))
        self._gallery = self._gallery_now()
        if self._gallery is not None:
            firsts = {(e.live or (e.first, e.last))[0]: e.brand for e in self._gallery}
            self.strip.show_gallery(self._gallery, every_brand=self.gallery_scope == "clip",
                                    boxes=self._boxes_of(firsts))
        elif current is not None:
            self.strip.show_exposure(current, boxes=self._boxes_of(dict.fromkeys(current.span, current.brand)))
        else:
            self.strip.show_exposure(None)

    def _boxes_of(self, brand_at: dict[int, str]) -> dict[int, Candidate]:
        """frame -> the largest box of the brand there that is not rejected: what a tile shows cropped."""
        s = self.session
        out: dict[int, Candidate] = {}
        for f, brand in brand_at.items():
            boxes = [c for c in s.at_frame(f) if c.final_brand == brand and c.has_box
                     and c.review.state is not ReviewState.REJECTED] if s is not None else []
            if boxes:
                out[f] = max(boxes, key=lambda c: c.final_bbox.area)
        return out

    def _gallery_now(self) -> list[Exposure] | None:
        s = self.session
        if s is None or self.gallery_scope is None:
            return None
        if self.gallery_scope == "clip":
            return s.gallery()
        current = s.current_exposure
        return s.gallery(current.brand) if current is not None else None

    def gallery_shown(self) -> list[Exposure] | None:
        """The exposures the gallery shows as it was last drawn (what Ctrl+Shift+A accepts: nothing a learning
        pass added since, unseen), or None where the strip shows frames."""
        return self._gallery

    def toggle_gallery(self) -> None:
        """G: the film strip shows the selected exposure's frames, then its brand's exposures still to review, then
        every brand's."""
        self.gallery_scope = GALLERY_SCOPES[(GALLERY_SCOPES.index(self.gallery_scope) + 1) % len(GALLERY_SCOPES)]
        self._show_strip()
        self._show_exposures()

    def _thumb_ready(self, path: str, index: int, image) -> None:
        if self.video is not None and path == self.video.path:
            self.strip.set_thumb(index, image)

    def candidates_here(self) -> list[Candidate]:
        if self.session is None or self.shown is None:
            return []
        return self.session.at_frame(self.shown)

    def _redraw_boxes(self) -> None:
        if self.shown is not None:
            here = self.candidates_here()
            self.view.set_candidates([c for c in here if c.has_box], self.selected_id)
            self.view.set_presences(sorted({c.final_brand for c in here if not c.has_box
                                            and c.review.state.value == "accepted"}))

    def select(self, candidate_id: int | None) -> None:
        self.selected_id = candidate_id
        self.view.select(candidate_id)

    # ---- moving ----------------------------------------------------------------------------------
    def go_to(self, index: int) -> None:
        if self.video is None:
            return
        index = max(0, min(int(index), self.video.frame_count - 1))
        self.current = index
        i = bisect.bisect_right(self.sampled, index) - 1
        self.slider.blockSignals(True)
        self.slider.setValue(max(0, i))
        self.slider.blockSignals(False)
        self.timeline.set_current(index)
        ahead = [index + 1, index + 2, *self.sampled[i + 1:i + 3]]
        self.loader.want(index, ahead)
        self._update_label()

    def step(self, frames: int) -> None:
        self.go_to(self.current + frames)

    def step_sampled(self, n: int) -> None:
        i = bisect.bisect_right(self.sampled, self.current) - 1
        if n > 0:
            target = min(len(self.sampled) - 1, i + n)
        else:
            # from between two samples, "back" goes to the sample at or before the frame first
            on_sample = i >= 0 and self.sampled[i] == self.current
            target = max(0, i + n if on_sample else i)
        self.go_to(self.sampled[target])

    def _slider_moved(self, value: int) -> None:
        if 0 <= value < len(self.sampled):
            self.go_to(self.sampled[value])

    def _frame_ready(self, path: str, index: int, image, array) -> None:
        if self.video is None or path != self.video.path or index != self.current:
            return  # stale: the user has moved on
        self.shown = index
        self.frame_array = array
        self.view.show_frame(index, image)
        self._redraw_boxes()
        self._update_label()
        self.frameShown.emit(index, array)

    def _update_label(self) -> None:
        if self.video is None:
            return
        t = self.current / self.video.fps if self.video.kind == "video" else float(self.current)
        n = sum(c.has_box for c in self.session.at_frame(self.current)) if self.session is not None else 0
        state = f"{n} box{'es' if n != 1 else ''}" if self.shown == self.current else "decoding…"
        self.position.setText(f"frame {self.current}/{self.video.frame_count - 1}  {format_time(t)}  {state}")

    # ---- playback ----------------------------------------------------------------------------
    def toggle_play(self) -> None:
        if self._play.isActive():
            self.stop()
        elif self.video is not None:
            self._play.start(max(15, int(1000 / min(self.video.fps, 30))))
            self.play_btn.setText("⏸")

    def stop(self) -> None:
        self._play.stop()
        self.play_btn.setText("▶")

    def _tick(self) -> None:
        if self.video is None or self.current >= self.video.frame_count - 1:
            self.stop()
            return
        if self.shown == self.current:  # never queue ahead of the decoder
            self.step(1)

    def shutdown(self) -> None:
        self.stop()
        for thread in (self._loader_thread, self._thumb_thread):
            thread.quit()
            thread.wait(3000)
