"""The reviewer's keys and clicks, turned into review-session calls; and the session's events, into views.

Every decision goes through the ReviewSession (Qt-free, committed at once). What reads pixels, following
a box through the clip and learning from decisions, runs on the AssistWorker's thread; its results come
back here and enter the session as one step each.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, QThread, Signal
from PySide6.QtWidgets import QInputDialog, QMessageBox

from logotag_gui.core.base.errors import LogoTagError
from logotag_gui.core.base.records import BBox, Candidate, DecisionKind, ReviewState
from logotag_gui.core.review import ReviewSession
from logotag_gui.qt.dialogs.messages import show_error
from logotag_gui.qt.session_bridge import SessionBridge
from logotag_gui.qt.workers import FollowWorker, LearnWorker, start_in_thread

if TYPE_CHECKING:
    from logotag_gui.qt.main_window import MainWindow

log = logging.getLogger(__name__)


class ReviewController(QObject):
    _openClip = Signal(object, object, object)  # video, sampled frames, reviewer -> both workers
    _follow = Signal(object, object)  # seed, sampled frames
    _teach = Signal(object, object, bool)  # decided, the clip's candidates, search due brands
    _search = Signal(str, object)
    _forget = Signal(object)

    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self.w = window
        self.session: ReviewSession | None = None
        self.bridge: SessionBridge | None = None
        self.follower: FollowWorker | None = None
        self.learner: LearnWorker | None = None
        self._threads: list[QThread] = []
        self.following = False
        self.follow_drawn = True  # a drawn box is followed through the clip at once
        self.learn = True  # decisions teach views and look-alikes while the review goes on

    # ---- the project and the clip ------------------------------------------------------------------------
    def start(self, db_url: str) -> None:
        self.follower, self.learner = FollowWorker(db_url), LearnWorker(db_url)
        self._threads = [start_in_thread(self.follower, "follow"), start_in_thread(self.learner, "learn")]
        for worker in (self.follower, self.learner):
            self._openClip.connect(worker.open_clip)
            worker.failed.connect(lambda m: self.w.statusBar().showMessage(m, 10000))
        self._follow.connect(self.follower.follow)
        self._teach.connect(self.learner.teach)
        self._search.connect(self.learner.search)
        self._forget.connect(self.learner.forget)
        self.follower.followed.connect(self._followed)
        self.follower.progress.connect(self._follow_progress)
        self.learner.lessons.connect(self._lessons)

    def stop(self) -> list[QThread]:
        """Stop the worker threads; returns those that did not finish (their owner must keep them alive)."""
        self.set_session(None)
        for worker in (self.follower, self.learner):
            if worker is not None:
                worker.cancel.set()
        self.follower = self.learner = None
        threads, self._threads = self._threads, []
        for thread in threads:
            thread.quit()
        return [t for t in threads if not t.wait(30_000)]

    def set_session(self, session: ReviewSession | None) -> None:
        if self.bridge is not None:
            self.bridge.detach()
            self.bridge.deleteLater()
        self.session, self.bridge = session, None
        w = self.w
        w.table_model.set_session(session)
        if session is None:
            w.clip_view.close_clip()
            w.panel.show_candidate(None, None, None)
            return
        self.bridge = b = SessionBridge(session, self)
        for slot in (w.table_model.candidates_added, w.clip_view.candidates_changed, self._counts_changed):
            b.added.connect(slot)
        for slot in (w.table_model.candidates_changed, w.clip_view.candidates_changed, self._counts_changed):
            b.changed.connect(slot)
        for slot in (w.table_model.candidates_removed, w.clip_view.candidates_removed, self._counts_changed):
            b.removed.connect(slot)
        b.reset.connect(self._reset)
        b.selected.connect(self._selected)
        b.history.connect(w.update_enabled)
        w.clip_view.open_clip(session)
        w.exposure.set_clip(session.candidates, interval_s=1 / session.fps if session.video.kind == "video" else 1.0,
                            duration_s=session.video.duration_s)
        if self.learner is not None:
            self.learner.cancel.set()  # a pass over the previous clip stops; open_clip clears it
            self._openClip.emit(session.video, session.sampled, session.reviewer)

    def _reset(self) -> None:
        w = self.w
        w.table_model.set_session(self.session)
        w.clip_view.open_clip(self.session)  # same clip: stays on the frame shown
        self._counts_changed([])
        self._selected(self.session.current_id)

    def _counts_changed(self, _what) -> None:
        self.w.exposure.candidates_changed(self.session.candidates)
        self.w.refresh_clip_item()
        self.w.refresh_panel()

    # ---- selection ------------------------------------------------------------------------------------
    def select(self, candidate_id: int | None) -> None:
        if self.session is not None:
            self.session.select(candidate_id)

    def _selected(self, candidate_id: int | None) -> None:
        w = self.w
        c = self.session.get(candidate_id) if self.session else None
        w.clip_view.select(candidate_id)
        if c is not None and c.frame.index != w.clip_view.current:
            w.clip_view.go_to(c.frame.index)
        if c is not None:
            row = w.table_model.row_of(c.id)
            if row is not None and w.table.currentIndex().row() != row:
                w.table.selectRow(row)
        w.refresh_panel()

    def navigate(self, *, step: int = 1, unreviewed: bool = False, track: bool = False) -> None:
        if self.session is None:
            return
        w = self.w
        # With the table in focus and sorted or filtered its own way, keys follow the table's rows.
        in_table = w.table.hasFocus() and not w.table_model.sorted_by_review_order
        order = w.table_model.ids() if in_table else None
        c = self.session.next(step=step, unreviewed=unreviewed, track=track, frame=w.clip_view.current, order=order)
        if c is None:
            w.statusBar().showMessage("No more candidates that way" + (" to review" if unreviewed else ""), 3000)
            return
        if in_table:
            w.statusBar().showMessage("Moving in the table's order (its sort and filter)", 3000)
        self.session.select(c.id)

    # ---- deciding -------------------------------------------------------------------------------------
    def _target(self) -> Candidate | None:
        if self.session is None:
            return None
        c = self.session.current
        if c is None:
            here = self.w.clip_view.candidates_here()
            c = here[0] if len(here) == 1 else None
            if c is not None:  # the frame's only box: act on it, and show that it is the one
                self.session.select(c.id)
        if c is None:
            self.w.statusBar().showMessage("Select a box first (J/K move through candidates)", 3000)
        return c

    def _ask_brand(self, title: str, default: str | None) -> str | None:
        """A brand from the project's list; a new name only when the reviewer confirms it (no typo brands)."""
        brands = self.w.project.brands()
        index = brands.index(default) if default in brands else 0
        brand, ok = QInputDialog.getItem(self.w, title, "Brand:", brands, index, True)
        self.w.activateWindow()  # the keys go back to the review, whatever the window manager does
        self.w.clip_view.view.setFocus()
        brand = brand.strip() if ok else ""
        if not brand:
            return None
        known = {b.lower(): b for b in brands}
        if brand.lower() in known:
            return known[brand.lower()]
        answer = QMessageBox.question(self.w, title, f"'{brand}' is not a brand of this project yet. Add it?")
        return brand if answer == QMessageBox.StandardButton.Yes else None

    def _saving(self, fn, *args, **kwargs):
        """A write the reviewer made: a failure is said, never swallowed (nothing is pretended saved)."""
        try:
            return fn(*args, **kwargs)
        except LogoTagError as exc:
            show_error(self.w, "Not saved", f"The decision was not saved: {exc}")
        except LookupError:
            self.w.statusBar().showMessage("Select a box first (J/K move through candidates)", 3000)
        return None

    def decide(self, kind: DecisionKind) -> None:
        c = self._target()
        if c is None:
            return
        done = self._saving(self.session.accept if kind is DecisionKind.ACCEPT else self.session.reject, c)
        if done is None:
            return
        self._learn_from([done])
        if kind is DecisionKind.ACCEPT and len(self.session.track(done.track_id)) <= 2:
            self.w.statusBar().showMessage(f"Accepted {done.final_brand} on frame {done.frame.index}. The detector saw "
                                           "it only here: K goes back to it, E follows it through the clip", 8000)

    def decide_track(self, kind: DecisionKind) -> None:
        c = self._target()
        if c is None:
            return
        done = self._saving(self.session.decide_track, c, kind)
        if done:
            self.w.statusBar().showMessage(f"{kind.value.title()}ed {len(done)} boxes of the track", 4000)
            self._learn_from(done)

    def relabel(self, brand: str | None = None) -> None:
        c = self._target()
        if c is None:
            return
        if brand is None:
            brand = self._ask_brand("Relabel", c.final_brand)
            if brand is None:
                return
        if brand != c.final_brand:
            done = self._saving(self.session.relabel, c, brand)
            if done is not None:
                self._learn_from([done])

    def edit_box(self, candidate_id: int, bbox: BBox) -> None:
        c = self.session.get(candidate_id) if self.session else None
        if c is None:
            return
        done = self._saving(self.session.edit_box, c, bbox)
        if done is None:
            return
        self._learn_from([done])
        # A tightened box fixes its track: follow it, and the track's boxes that are off are replaced.
        if self.follow_drawn and any(not m.review.decided for m in self.session.track(done.track_id)):
            self.follow(done)

    def box_drawn(self, bbox: BBox) -> None:
        if self.session is None:
            return
        current = self.session.current
        brand = self._ask_brand("New box", self.session.last_brand or (current.final_brand if current else None))
        if brand is not None:
            self.add_box(bbox, brand)

    def add_box(self, bbox: BBox, brand: str) -> Candidate | None:
        drawn = self._saving(self.session.add_box, self.w.clip_view.current, bbox, brand)
        if drawn is None:
            return None
        if self.follow_drawn:
            self.follow(drawn)
        self._learn_from([drawn])
        return drawn

    def undo(self) -> None:
        self._undo_or_redo(self.session.undo if self.session else None)

    def redo(self) -> None:
        self._undo_or_redo(self.session.redo if self.session else None)

    def _undo_or_redo(self, step) -> None:
        if step is None:
            return
        before = {c.id: c.review.state for c in self.session.candidates}
        changed = self._saving(step) or []
        gone = [i for i in before if self.session.get(i) is None]
        # What the undone decisions taught goes; a redone one teaches again.
        self._forget.emit([c.id for c in changed] + gone)
        self._learn_from([c for c in changed if c.review.state is not ReviewState.PENDING], search=False)

    # ---- following and learning -----------------------------------------------------------------------
    def follow(self, c: Candidate | None = None) -> None:
        c = c or self._target()
        if c is None or self.follower is None or self.session is None:
            return
        if self.following:
            self.w.statusBar().showMessage("Already following a box (Esc cancels it)", 3000)
            return
        self.following = True
        self.w.show_busy(f"Following the {c.final_brand} box through the clip…", self.cancel_follow)
        self._follow.emit(c, self.session.sampled)

    def cancel_follow(self) -> None:
        if self.follower is not None and self.following:
            self.follower.cancel.set()

    def _follow_progress(self, done: int, total: int) -> None:
        self.w.show_busy(f"Following… {done}/{total} frames", self.cancel_follow, done=done, total=total)

    def _followed(self, seed: Candidate, result) -> None:
        self.following = False
        self.w.hide_busy()
        if result is None or self.session is None or self.session.get(seed.id) is None:
            return  # it failed (said so), or the clip changed, or the drawing was undone, meanwhile
        added = self._saving(self.session.add_followed, self.session.get(seed.id), result) or []
        stops = "; ".join(f"{way}: {why}" for way, why in result.stops.items())
        if added:
            self.w.statusBar().showMessage(f"Followed {seed.final_brand}: {len(added)} boxes proposed on its track "
                                           f"(T accepts the whole track, Shift+T rejects it) — {stops}", 12000)
        else:
            self.w.statusBar().showMessage(f"Nothing to add by following this box — {stops}", 8000)

    def find_more(self) -> None:
        c = self._target()
        if c is None or self.learner is None:
            return
        if c.review.state is not ReviewState.ACCEPTED:
            self.w.statusBar().showMessage("Accept, tighten or draw the box first: M searches the clip with the views "
                                           "of its brand that review taught", 6000)
            return
        self._learn_from([c], search=False)  # its view first (kept once), then the search with every view
        self.w.statusBar().showMessage(f"Looking for more {c.final_brand} with what review taught…", 5000)
        self._search.emit(c.final_brand, self.session.candidates)

    def _learn_from(self, decided: list[Candidate], *, search: bool = True) -> None:
        if self.learn and decided and self.learner is not None and self.session is not None:
            self._teach.emit(decided, self.session.candidates, search)

    def _lessons(self, lessons) -> None:
        if self.session is None or lessons.video_id != self.session.video.id:
            return  # the reviewer moved to another clip: what was found is stored and shows there
        self.session.ingest(lessons.added)
        self.session.update(lessons.hinted)
        if lessons.added:
            brands = ", ".join(lessons.searched)
            self.w.statusBar().showMessage(f"Found {len(lessons.added)} more boxes of {brands} with what review "
                                           "taught (pending, on the timeline)", 8000)
        elif lessons.searched:
            self.w.statusBar().showMessage(f"No more {', '.join(lessons.searched)} found", 5000)
        if lessons.hinted:
            self.w.statusBar().showMessage(f"{len(lessons.hinted)} pending boxes look like a rejected one: "
                                           "they come last", 8000)
