"""The reviewer's keys and clicks, turned into review-assistant calls; and the session's changes, into the
window's selection, panel and meter.

Every decision goes through the ReviewAssistant (core/review/assistant.py), which decides through the
Qt-free ReviewSession (committed at once) and says what LogoTag does next: its jobs (following a box,
learning from a decision, looking for a brand marked on screen) run on two JobWorker threads here, and
their results are applied back on this thread. The views subscribe to the session themselves.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Protocol

from PySide6.QtCore import QObject, QThread, Signal, Slot
from PySide6.QtWidgets import QMessageBox, QStatusBar, QTableView, QWidget

from logotag_gui.core.base.errors import LogoTagError, NothingSelected
from logotag_gui.core.base.records import BBox, Candidate, DecisionKind, ReviewState
from logotag_gui.core.review import Changes, Project, ReviewSession
from logotag_gui.core.review.assistant import Job, Notice, ReviewAssistant
from logotag_gui.core.review.audit import Audit
from logotag_gui.core.review.commands import key, keys
from logotag_gui.core.review.exposure_edits import ExposureEditError
from logotag_gui.core.review.exposures import Exposure
from logotag_gui.core.review.figure import clip_figure
from logotag_gui.core.review.steps import Step
from logotag_gui.qt.clip_view import ClipView
from logotag_gui.qt.dialogs.brand_picker import BrandPicker
from logotag_gui.qt.dialogs.messages import show_error
from logotag_gui.qt.table_model import CandidateTableModel
from logotag_gui.qt.widgets.audit_panel import AuditPanel
from logotag_gui.qt.widgets.exposure_panel import ExposurePanel
from logotag_gui.qt.widgets.review_panel import ReviewPanel
from logotag_gui.qt.workers import JobWorker, start_in_thread

log = logging.getLogger(__name__)
LANES = ("follow", "learn")


class ReviewHost(Protocol):
    """What the controller shows the review in: the main window (main_window.py), which builds the controller,
    so the controller names what it uses here rather than importing the window."""

    clip_view: ClipView
    panel: ReviewPanel
    exposure: ExposurePanel
    audit_panel: AuditPanel
    table: QTableView
    table_model: CandidateTableModel

    @property
    def opened(self) -> Project: ...

    def window(self) -> QWidget: ...  # the top-level widget: the dialogs' parent
    def statusBar(self) -> QStatusBar: ...
    def activateWindow(self) -> None: ...
    def refresh_clip_item(self) -> None: ...
    def refresh_panel(self) -> None: ...
    def show_audit(self) -> None: ...
    def update_enabled(self) -> None: ...
    def update_meter(self) -> None: ...
    def show_following(self, text: str, cancel: Callable[[], None]) -> None: ...
    def hide_following(self) -> None: ...


class ReviewController(QObject):
    _openClip = Signal(object, object, object)  # video, sampled frames, reviewer -> both workers
    _follow_job = Signal(object)
    _learn_job = Signal(object)

    def __init__(self, window: ReviewHost) -> None:
        super().__init__(window.window())
        self.w = window
        self.session: ReviewSession | None = None
        self.assistant: ReviewAssistant | None = None
        self.audit: Audit | None = None
        self.workers: dict[str, JobWorker] = {}
        self._threads: list[QThread] = []
        self._unsubscribe: Callable[[], None] | None = None
        self.following = False
        self._in_flight = 0  # jobs sent to the lanes whose result has not come back yet
        # The follow lane's jobs in order (the first one is at work), each with the step it follows up: the one on
        # top of the undo stack when it was sent (None for a follow the reviewer asked for, E).
        self._follows: list[tuple[Job, Step | None]] = []
        self._asked = False  # a follow asked for (E) is being sent
        self._dropped: list[Job] = []  # follows of an undone step: what they find is not applied
        self.follow_drawn = True  # a drawn box is followed through the clip at once
        self.learn = True  # decisions teach views and look-alikes while the review goes on

    # ---- the project and the clip ------------------------------------------------------------------------
    def start(self, db_url: str) -> None:
        self.workers = {lane: JobWorker(db_url, lane=lane) for lane in LANES}
        self._threads = [start_in_thread(worker, lane) for lane, worker in self.workers.items()]
        for worker in self.workers.values():
            self._openClip.connect(worker.open_clip)
            worker.done.connect(self._job_done)
            worker.failed.connect(self._job_failed)
            worker.notice.connect(self._worker_notice)  # a slot of this GUI-thread object: queued, never run on
            # the worker's thread (a lambda has no thread of its own and would touch the status bar from there)
        self._follow_job.connect(self.workers["follow"].run)
        self._learn_job.connect(self.workers["learn"].run)
        self.workers["follow"].progress.connect(self._follow_progress)

    @Slot(str)
    def _worker_notice(self, message: str) -> None:
        self.w.statusBar().showMessage(message, 10000)

    def stop(self) -> list[QThread]:
        """Stop the worker threads; returns those that did not finish (their owner must keep them alive)."""
        self.set_session(None)
        for worker in self.workers.values():
            worker.cancel.set()
        self.workers = {}
        self._in_flight = 0  # the stopped lanes send nothing back
        self._follows, self._dropped, self.following = [], [], False
        threads, self._threads = self._threads, []
        for thread in threads:
            thread.quit()
        return [t for t in threads if not t.wait(30_000)]

    def set_session(self, session: ReviewSession | None) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        self.session = session
        self.assistant = None if session is None else ReviewAssistant(
            session, self._dispatch, follow=self.follow_drawn, learn=self.learn, notify=self._notice)
        self.audit = None if session is None else Audit(session)
        w = self.w
        w.table_model.set_session(session)
        w.exposure.set_session(session)
        if session is None:
            w.clip_view.close_clip()
            w.panel.show_candidate(None, None, None)
            w.panel.show_exposure(None)
            w.show_audit()
            return
        self._unsubscribe = session.subscribe(self._changed)
        w.clip_view.open_clip(session)
        w.show_audit()
        for worker in self.workers.values():
            worker.cancel.set()  # a pass over the previous clip stops; open_clip clears it
        self._openClip.emit(session.video, session.sampled, session.reviewer)
        if self.assistant is not None:
            self.assistant.ensure_views()  # what the sweep (V) looks at, found once per clip
            self.assistant.catch_up()  # queued behind open_clip on the learning lane
            self.assistant.describe_ahead()  # then the frames' keypoints, for the first box taught

    def set_option(self, name: str, on: bool) -> None:
        """The Review menu's switches: follow drawn boxes, learn from decisions."""
        setattr(self, name, on)
        if self.assistant is not None:
            setattr(self.assistant, {"follow_drawn": "follow_drawn", "learn": "learn"}[name], on)

    def _changed(self, changes: Changes) -> None:
        w = self.w
        if changes.reset:
            self._selected()
        if changes.candidates:
            w.refresh_clip_item()
            w.refresh_panel()
        if changes.candidates or changes.audit:
            w.show_audit()
        if changes.selection:
            self._selected()
        if changes.history:
            w.update_enabled()
        if changes.coverage:
            w.clip_view.timeline.update()
        w.update_meter()

    # ---- jobs -------------------------------------------------------------------------------------------
    @property
    def idle(self) -> bool:
        """No following or learning job is queued or at work (each one's result has been applied)."""
        return self._in_flight == 0

    def _dispatch(self, job: Job) -> None:
        if not self.workers:
            return
        self._in_flight += 1
        if job.lane == "follow":
            self._follows.append((job, None if self._asked or self.session is None else self.session.last_step))
            self.following = True
            if job.text:
                self.w.show_following(job.text, self.cancel_follow)
            self._follow_job.emit(job)
        else:
            self._learn_job.emit(job)

    def _job_done(self, job: Job, result) -> None:
        self._in_flight = max(0, self._in_flight - 1)  # a stopped lane's late result counts for nothing
        if job.lane == "follow":
            self._follow_finished(job)
        if any(j is job for j in self._dropped):  # its seed was undone (its id may name another box by now)
            self._dropped = [j for j in self._dropped if j is not job]
            return
        if self.session is None:
            return
        try:
            job.apply(result)
        except LogoTagError as exc:
            show_error(self.w.window(), "Not saved",
                       f"What {job.text.rstrip('…') or 'learning'} found was not saved: {exc}")

    def _job_failed(self, job: Job, message: str) -> None:
        self._in_flight = max(0, self._in_flight - 1)  # a stopped lane's late result counts for nothing
        if job.lane == "follow":
            self._follow_finished(job)
        if any(j is job for j in self._dropped):  # stopped by an undo: nothing to say
            self._dropped = [j for j in self._dropped if j is not job]
            return
        self.w.statusBar().showMessage(f"{job.text.rstrip('…') or 'Learning from the decision'} failed: {message}",
                                       10000)

    def _follow_finished(self, job: Job) -> None:
        self._follows = [(j, step) for j, step in self._follows if j is not job]
        self.following = bool(self._follows)
        if not self.following:
            self.w.hide_following()

    def _notice(self, notice: Notice) -> None:
        self.w.statusBar().showMessage(notice.text, notice.seconds * 1000)

    def cancel_follow(self) -> None:
        worker = self.workers.get("follow")
        if worker is not None and self.following:
            worker.cancel.set()

    def _follow_progress(self, done: int, total: int) -> None:
        self.w.show_following(f"Following… {done}/{total} frames", self.cancel_follow)

    # ---- selection ------------------------------------------------------------------------------------
    def select(self, candidate_id: int | None) -> None:
        if self.session is not None:
            self.session.select(candidate_id)

    def select_exposure(self, e: Exposure, frame: int | None = None) -> None:
        if self.session is None:
            return
        self.session.select_exposure(e)
        self.w.clip_view.go_to(frame if frame is not None else (e.live or (e.first, e.last))[0])

    def _selected(self) -> None:
        w, s = self.w, self.session
        c = s.current if s else None
        w.clip_view.select(c.id if c else None)
        if s is not None and c is not None and c.frame.index != w.clip_view.current and (
                s.current_exposure is None or not s.current_exposure.contains(w.clip_view.current)):
            w.clip_view.go_to(c.frame.index)
        if c is not None:
            row = w.table_model.row_of(c.stored_id)
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

    def navigate_exposures(self, step: int = 1) -> None:
        """X / Shift+X: the next (previous) exposure to review, where the seconds are least certain first."""
        if self.session is None:
            return
        e = self.session.next_exposure(step=step)
        if e is None:
            left = self.session.meter()
            self.w.statusBar().showMessage("Every exposure is reviewed" if not left.pending_exposures else
                                           "No more exposures that way", 4000)
            return
        self.select_exposure(e)
        self.w.statusBar().showMessage(f"{e.brand}: frames {e.first}-{e.last}, {e.length_s:.1f} s, model "
                                       f"{e.state.value.replace('_', ' ')} ({e.belief:.0%}) — {key('accept_exposure')} "
                                       f"accepts, {key('reject_exposure')} rejects, {keys('set_in', 'set_out')} move "
                                       f"its ends to the frame shown, {key('split')} splits it", 8000)

    # ---- the sweep ------------------------------------------------------------------------------------
    def sweep(self, *, complete: bool = True) -> None:
        """V: the view shown is complete (every brand on screen there is marked), then on to the next view nobody
        has looked at, shown at its sharpest frame. Shift+V moves on without saying so."""
        session = self.session
        if session is None or self.assistant is None:
            return
        w = self.w
        if not session.views_known:
            w.statusBar().showMessage("Finding the clip's views (where the camera moves or the shot cuts)… "
                                      f"press {key('sweep')} again in a moment", 4000)
            return
        here = session.view_at(w.clip_view.current)
        if complete and here is not None and not session.view_looked(here):
            self.saving(session.complete_view, here)
        view = session.next_view(after=w.clip_view.current)
        figure = clip_figure(session)
        if view is None:
            w.statusBar().showMessage(f"Every view is looked at: {figure.format()}", 8000)
            return
        w.clip_view.go_to(view.key)
        w.statusBar().showMessage(f"View {view.first}-{view.last}, {figure.coverage.views_left} left: "
                                  f"{keys('draw', 'present')} mark what is not boxed, {key('sweep')}: complete", 8000)

    # ---- deciding -------------------------------------------------------------------------------------
    def _target(self) -> Candidate | None:
        if self.session is None:
            return None
        c = self.session.current
        if c is None:
            here = [h for h in self.w.clip_view.candidates_here() if h.has_box]
            c = here[0] if len(here) == 1 else None
            if c is not None:  # the frame's only box: act on it, and show that it is the one
                self.session.select(c.id)
        if c is None:
            self.w.statusBar().showMessage(f"Select a box first ({keys('next', 'prev')} move through candidates)", 3000)
        return c

    def ask_brand(self, title: str, suggestion: str | None, *, box: BBox | None = None) -> str | None:
        """A brand from the project's list, typed (never pre-filled: Enter alone must not name a box after the
        last brand; Tab takes `suggestion`), beside `box`; a new name only when the reviewer confirms it."""
        brands = self.w.opened.brands()
        near = self.w.clip_view.view.global_rect(box) if box is not None else None
        picker = BrandPicker(title, brands, suggestion=suggestion, near=near, parent=self.w.window())
        accepted = picker.exec() == BrandPicker.DialogCode.Accepted
        self.w.activateWindow()  # the keys go back to the review, whatever the window manager does
        self.w.clip_view.view.setFocus()
        brand = picker.chosen().strip() if accepted else ""
        if not brand:
            return None
        known = {b.lower(): b for b in brands}
        if brand.lower() in known:
            return known[brand.lower()]
        answer = QMessageBox.question(self.w.window(), title, f"'{brand}' is not a brand of this project yet. Add it?")
        return brand if answer == QMessageBox.StandardButton.Yes else None

    def saving(self, fn, *args, **kwargs):
        """A write the reviewer made: a failure is said, never swallowed (nothing is pretended saved)."""
        try:
            return fn(*args, **kwargs)
        except ExposureEditError as exc:
            self.w.statusBar().showMessage(str(exc), 8000)
        except NothingSelected as exc:  # only this: another LookupError is a bug, reported as one
            hint = (f"{key('next_exposure')} moves through the exposures" if exc.what == "exposure" else
                    f"{keys('next', 'prev')} move through the boxes")
            self.w.statusBar().showMessage(f"{str(exc).rstrip('.')} ({hint})", 5000)
        except LogoTagError as exc:  # the step failed before its commit (a view failing after it is only logged)
            show_error(self.w.window(), "Not saved", f"The decision was not saved: {exc}")
        return None

    def decide(self, kind: DecisionKind) -> None:
        c = self._target()
        if c is None or self.assistant is None:
            return
        done = self.saving(self.assistant.accept if kind is DecisionKind.ACCEPT else self.assistant.reject, c)
        if done is not None and kind is DecisionKind.ACCEPT and len(self.assistant.session.track(done.track_id)) <= 2:
            self.w.statusBar().showMessage(f"Accepted {done.final_brand} on frame {done.frame.index}. The detector saw "
                                           f"it only here: {key('prev')} goes back to it, {key('follow')} follows it "
                                           "through the clip", 8000)

    def decide_track(self, kind: DecisionKind) -> None:
        c = self._target()
        if c is None or self.assistant is None:
            return
        done = self.saving(self.assistant.decide_track, c, kind)
        if done:
            boxes = f"{len(done)} box{'es' if len(done) != 1 else ''}"
            self.w.statusBar().showMessage(f"{kind.value.title()}ed {boxes} of the track", 4000)

    def relabel(self, brand: str | None = None) -> None:
        c = self._target()
        if c is None or self.assistant is None:
            return
        if brand is None:
            brand = self.ask_brand("Relabel", self.assistant.session.last_brand, box=c.final_bbox)
            if brand is None:
                return
        if brand != c.final_brand:
            self.saving(self.assistant.relabel, c, brand)

    def edit_box(self, candidate_id: int, bbox: BBox) -> None:
        c = self.session.get(candidate_id) if self.session else None
        if c is not None and self.assistant is not None:
            self.saving(self.assistant.edit_box, c, bbox)

    def box_drawn(self, bbox: BBox) -> None:
        if self.session is None:
            return
        current = self.session.current
        brand = self.ask_brand("New box", self.session.last_brand or (current.final_brand if current else None),
                               box=bbox)
        if brand is not None:
            self.add_box(bbox, brand)

    def add_box(self, bbox: BBox, brand: str) -> Candidate | None:
        if self.assistant is None:
            return None
        return self.saving(self.assistant.add_box, self.w.clip_view.current, bbox, brand)

    def undo(self) -> None:
        """Ctrl+Z: the last step and what followed it up; the status bar says what was undone. A follow of that
        step still at work is stopped (what it finds would be dropped: its box is gone)."""
        if self.assistant is None:
            return
        session = self.assistant.session
        if not session.can_undo:
            self.w.statusBar().showMessage("Nothing to undo", 3000)
            return
        step, text = session.last_step, session.undo_text
        if self.saving(self.assistant.undo) is None:
            return
        stopped = self._stop_follows_of(step)
        again = f" — its follow, still at work, was stopped ({key('follow')} follows the box again once it is back)"
        self.w.statusBar().showMessage(f"Undid: {text}" + (again if stopped else ""), 8000)

    def redo(self) -> None:
        """Ctrl+Shift+Z: the last undone step again, with its follow-ups; its box is selected again."""
        if self.assistant is None:
            return
        session = self.assistant.session
        if not session.can_redo:
            self.w.statusBar().showMessage("Nothing to redo", 3000)
            return
        text = session.redo_text
        if self.saving(self.assistant.redo) is not None:
            self.w.statusBar().showMessage(f"Redid: {text}", 8000)

    def _stop_follows_of(self, step: Step | None) -> bool:
        """Cancel the follow at work that follows up `step` (just undone); what it and those queued behind it find
        is dropped. True when there was one."""
        if step is None:
            return False
        mine = [job for job, of in self._follows if of is step]
        self._dropped += mine
        if mine and self._follows[0][0] is mine[0]:  # at work now: the lane's cancel flag is its
            self.cancel_follow()
        return bool(mine)

    # ---- exposures ----------------------------------------------------------------------------------------
    def decide_exposure(self, kind: DecisionKind) -> None:
        """Shift+A / Shift+R: the whole selected exposure."""
        if self.assistant is None:
            return
        fn = self.assistant.accept_exposure if kind is DecisionKind.ACCEPT else self.assistant.reject_exposure
        before = self.assistant.session.current_exposure
        if self.saving(fn) is not None and before is not None:
            verb = "Accepted" if kind is DecisionKind.ACCEPT else "Rejected"
            self.w.statusBar().showMessage(f"{verb} {before.brand}, {before.length_s:.1f} s — "
                                           f"{self.assistant.session.meter().format()}", 5000)
            nxt = self.assistant.session.current_exposure
            if nxt is not None and nxt.key != before.key:
                self.w.clip_view.go_to((nxt.live or (nxt.first, nxt.last))[0])

    def accept_gallery(self) -> None:
        """Ctrl+Shift+A: the exposures the gallery shows (G), at once; with the film strip showing frames, every
        exposure of the selected exposure's brand still to review."""
        if self.assistant is None:
            return
        shown = self.w.clip_view.gallery_shown()
        if shown is None:
            current = self.assistant.session.current_exposure
            if current is None:
                self.w.statusBar().showMessage(f"Select an exposure first ({key('next_exposure')} moves through "
                                               f"them), or show the gallery ({key('gallery')})", 3000)
                return
            shown = self.assistant.session.gallery(current.brand)
        if not shown:
            self.w.statusBar().showMessage("No exposure left to review in the gallery", 3000)
            return
        if self.saving(self.assistant.accept_exposures, shown) is not None:
            brands = sorted({e.brand for e in shown})
            named = brands[0] if len(brands) == 1 else f"{len(brands)} brands"
            self.w.statusBar().showMessage(f"Accepted {len(shown)} exposure{'s' if len(shown) != 1 else ''} of "
                                           f"{named} — {self.assistant.session.meter().format()}", 6000)

    def move_edge(self, edge: str, frame: int | None = None, e: Exposure | None = None) -> None:
        """I / O (or a drag of the bar's end): the exposure's in or out point to the frame shown."""
        if self.assistant is None:
            return
        frame = self.w.clip_view.current if frame is None else frame
        fn = self.assistant.set_in if edge == "in" else self.assistant.set_out
        self.saving(fn, frame, e)

    def split_exposure(self) -> None:
        if self.assistant is not None:
            self.saving(self.assistant.split_exposure, self.w.clip_view.current)

    def mark_present(self) -> None:
        """P: a brand on screen on the frame shown, without drawing (LogoTag looks for its mark)."""
        if self.assistant is None:
            return
        current = self.assistant.session.current_exposure
        brand = self.ask_brand("On screen here",
                               self.assistant.session.last_brand or (current.brand if current else None))
        if brand is not None:
            self.saving(self.assistant.mark_present, self.w.clip_view.current, brand)

    # ---- following and learning -----------------------------------------------------------------------
    def follow(self, c: Candidate | None = None) -> None:
        c = c or self._target()
        if c is None or self.assistant is None:
            return
        if self.following:
            self.w.statusBar().showMessage("Already following a box (Esc cancels it)", 3000)
            return
        self._asked = True
        try:
            self.assistant.follow(c)
        finally:
            self._asked = False

    def find_more(self) -> None:
        c = self._target()
        if c is None or self.assistant is None:
            return
        if c.review.state is not ReviewState.ACCEPTED:
            self.w.statusBar().showMessage(f"Accept, tighten or draw the box first: {key('find_more')} searches the "
                                           "clip with the views of its brand that review taught", 6000)
            return
        self.w.statusBar().showMessage(f"Looking for more {c.final_brand} with what review taught…", 5000)
        self.assistant.find_more(c)

    # ---- the audit ----------------------------------------------------------------------------------------
    def draw_audit(self, frames: int) -> None:
        if self.audit is None:
            return
        a = self.audit
        if a.sample is not None and not a.stale and frames > len(a.frames):
            self.saving(a.extend, frames - len(a.frames))
        else:
            if a.answers and QMessageBox.question(
                    self.w.window(), "Audit sample", f"This clip's sample has {len(a.answers)} answers. Draw a "
                    "new sample (the old one is kept in the project, inactive)?") != QMessageBox.StandardButton.Yes:
                return
            self.saving(a.draw, frames=frames, seed=a.sample.seed + 1 if a.sample is not None else 0)
        self.next_audit_frame(from_start=True)

    def next_audit_frame(self, *, from_start: bool = False) -> None:
        """U: the next frame of the sample still to answer (in the sample's order)."""
        if self.audit is None or self.audit.sample is None:
            self.w.statusBar().showMessage("Draw an audit sample first (the Audit panel)", 4000)
            return
        frame = self.audit.next_unanswered(None if from_start else self.w.clip_view.current)
        if frame is None:
            self.w.statusBar().showMessage("Every frame of the sample is answered", 4000)
            return
        self.w.clip_view.go_to(frame)

    def confirm_audit_frame(self) -> None:
        panel = self.w.audit_panel
        if self.audit is None or panel.frame is None:
            self.w.statusBar().showMessage(f"This frame is not in the audit sample ({key('audit_next')} goes to the "
                                           "next one)", 4000)
            return
        try:
            self.audit.answer(panel.frame, panel.checked())
        except LogoTagError as exc:
            show_error(self.w.window(), "Not saved", f"The answer was not saved: {exc}")
            return
        self.next_audit_frame()

    def add_audit_brand(self) -> None:
        if self.w.audit_panel.frame is None:
            return
        brand = self.ask_brand("On screen on this frame", self.session.last_brand if self.session else None)
        if brand is not None:
            self.w.audit_panel.add_brand(brand)
