"""The main window: composes the clip view, review panel, table and docks, and wires actions.

It holds no pipeline, database or review logic: the project (core.review.Project) answers questions
about clips and the dictionary, the ReviewController turns keys into review-session calls, the
RunController queues runs on the pipeline worker.
"""

from __future__ import annotations

import getpass
import logging
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QSettings, Qt, QThread, QTimer
from PySide6.QtGui import QAction, QGuiApplication
from PySide6.QtWidgets import (
    QDockWidget,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMainWindow,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QTableView,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from logotag_gui.core.base.errors import LogoTagError
from logotag_gui.core.base.logsetup import set_log_context
from logotag_gui.core.base.records import REVIEW_VIEW, TAUGHT_VIEW_PREFIX, Candidate, DecisionKind, ReviewState
from logotag_gui.core.media.video import distinct_names
from logotag_gui.core.review import Project, ReviewSession, VideoSummary
from logotag_gui.core.review.commands import key
from logotag_gui.core.review.figure import clip_figure
from logotag_gui.core.review.learned_views import LearnedViews
from logotag_gui.qt.actions import SHORTCUT_SHEET, build_actions
from logotag_gui.qt.clip_view import ClipView
from logotag_gui.qt.dialogs.messages import ShortcutsDialog, show_error
from logotag_gui.qt.filter_bar import FilterBar
from logotag_gui.qt.outputs import Outputs
from logotag_gui.qt.review_controller import ReviewController
from logotag_gui.qt.run_controller import RunController
from logotag_gui.qt.table_model import CandidateTableModel
from logotag_gui.qt.widgets.audit_panel import AuditPanel
from logotag_gui.qt.widgets.exposure_panel import ExposurePanel
from logotag_gui.qt.widgets.learned_views import LearnedViewsPanel
from logotag_gui.qt.widgets.message_bar import MessageBar
from logotag_gui.qt.widgets.review_panel import ReviewPanel
from logotag_gui.qt.workers import TaskSignals, run_in_background

log = logging.getLogger(__name__)
MAX_RECENT = 8


BUSY_TEXT_PX = 220  # how wide a run's progress text may be in the status bar
FRAME_SHARE = (0.45, 0.4)  # below this share of the window's width / height the frame takes room from the docks
SIDE_SHARE = (0.18, 0.26)  # ... the left and right docks' widths, down to this share of the window's
BOTTOM_SHARE = 0.2  # ... and the table's height
SCROLLBAR_ROOM = 24  # a side panel's vertical scroll bar and the dock's frame
LAYOUT_VERSION = 1  # raise when the docks change: a saved layout of other docks is not restored
STRIP_FROM_H = 640  # a shorter window folds the film strip away: the frame keeps its height


class MainWindow(Outputs, QMainWindow):
    def __init__(self, *, reviewer: str | None = None) -> None:
        super().__init__()
        self.setWindowTitle("LogoTag")
        self._fit_screen(1500, 920)
        # In the default format: the app's is the platform's own, and tests point it at a temporary folder (with
        # QSettings("LogoTag", "LogoTag") they wrote the developer's, and one test's window layout reached the next).
        self.settings = QSettings(QSettings.defaultFormat(), QSettings.Scope.UserScope, "LogoTag", "LogoTag")
        self.reviewer: str = reviewer or str(self.settings.value("reviewer", "") or "") or getpass.getuser()
        self.project: Project | None = None
        self.video: VideoSummary | None = None
        self._videos: dict[int, VideoSummary] = {}
        self._names: dict[str, str] = {}  # clip path -> the short name the list shows
        self._closing = False
        self._stragglers: list[QThread] = []
        self._first_reference: dict[str, Path] = {}  # brand -> its first reference file (the panel shows it)
        self._logos_root: Path | None = None  # threads that outlived their wait: kept alive, never dropped

        self.clip_view = ClipView()
        self.setStatusBar(MessageBar())
        self.setCentralWidget(_with_banner(self.clip_view, self.message_bar.banner))
        self.panel = ReviewPanel()
        self.table_model = CandidateTableModel(self)
        self.table = QTableView()
        self.table.setModel(self.table_model)
        self.table.setSortingEnabled(True)
        self.table.sortByColumn(0, Qt.SortOrder.AscendingOrder)
        self.table.setSelectionBehavior(QTableView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QTableView.SelectionMode.SingleSelection)
        self.table.verticalHeader().setDefaultSectionSize(20)
        self.table.verticalHeader().hide()
        self.clips = QListWidget()
        self.dictionary = QTreeWidget()
        self.dictionary.setHeaderLabels(["Brand / reference", "origin"])
        self._dock("Clips", self.clips, Qt.DockWidgetArea.LeftDockWidgetArea)
        self.learned_views = LearnedViewsPanel()  # below the references: what review taught, to delete
        self.learned_views.changed.connect(self.refresh_dictionary)
        self._dock("Dictionary", _scrolling(self.learned_views.under(self.dictionary)),
                   Qt.DockWidgetArea.LeftDockWidgetArea)
        self.review_dock = self._dock("Review", _scrolling(self.panel), Qt.DockWidgetArea.RightDockWidgetArea)
        self.filter_bar = FilterBar(self.table_model)
        self.table_dock = self._dock("Candidates", self.filter_bar.wrap(self.table),
                                     Qt.DockWidgetArea.BottomDockWidgetArea)
        self.exposure = ExposurePanel()
        self.exposure_dock = self._dock("Exposure", _scrolling(self.exposure), Qt.DockWidgetArea.BottomDockWidgetArea)
        self.tabifyDockWidget(self.table_dock, self.exposure_dock)
        self.audit_panel = AuditPanel()
        self.audit_dock = self._dock("Audit", _scrolling(self.audit_panel), Qt.DockWidgetArea.RightDockWidgetArea)
        self.tabifyDockWidget(self.review_dock, self.audit_dock)
        self.review_dock.raise_()
        self.table_dock.raise_()
        self._shown_once = False
        self.meter = QLabel()
        self.meter.setToolTip(METER_HELP)

        self.progress = QProgressBar()
        self.progress.setMaximumWidth(140)  # the status bar's messages need the room more (1366 px wide screens)
        self.progress.hide()
        self.progress_label = QLabel()
        self.cancel_btn = QPushButton("Cancel run")
        self.cancel_btn.hide()
        self._cancel_run: Callable[[], None] | None = None
        self.cancel_btn.clicked.connect(lambda: self._cancel_run() if self._cancel_run else None)
        # Following a box has its own indicator and button: it must not hide a run's progress, and one
        # "Cancel" for both said nothing of what it would stop.
        self.follow_label = QLabel()
        self.follow_btn = QPushButton("Stop following")
        self.follow_btn.hide()
        self._stop_following: Callable[[], None] | None = None
        self.follow_btn.clicked.connect(lambda: self._stop_following() if self._stop_following else None)
        for w in (self.meter, self.follow_label, self.follow_btn, self.progress_label, self.progress, self.cancel_btn):
            self.statusBar().addPermanentWidget(w)

        self.review = ReviewController(self)
        self.runs = RunController(self)
        self.actions_by_name: dict[str, QAction] = build_actions(self)
        self._connect()
        self.update_enabled()
        self._restored = self.restore_layout()

    @property
    def message_bar(self) -> MessageBar:
        """The status bar: its messages yield their width to the meter, the whole text in a banner and a log."""
        bar = self.statusBar()
        assert isinstance(bar, MessageBar)
        return bar

    def showEvent(self, event) -> None:
        super().showEvent(event)
        if not self._shown_once:
            # The frame, its timeline and film strip come first: the table starts short (drag its edge to grow
            # it), once the window is on screen (before, the docks' split is laid out again); a layout the
            # reviewer left last time is kept as it was.
            self._shown_once = True
            if not self._restored:
                QTimer.singleShot(50, self._first_layout)

    def _first_layout(self) -> None:
        """The table short, and the side dock as wide as its panels need (up to its share of the window): no
        panel's buttons cut, no sideways scrolling where the screen has the room."""
        self.resizeDocks([self.table_dock], [min(170, self.height() // 5)], Qt.Orientation.Vertical)
        needed = max(self.panel.minimumSizeHint().width(), self.audit_panel.minimumSizeHint().width())
        side = min(needed + SCROLLBAR_ROOM, int(self.width() * SIDE_SHARE[1]))
        if self.review_dock.width() < side:
            self.resizeDocks([self.review_dock], [side], Qt.Orientation.Horizontal)

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self.clip_view.fold_strip(self.height() < STRIP_FROM_H)
        if self._shown_once:
            QTimer.singleShot(0, self._give_frame_room)

    def _give_frame_room(self) -> None:
        """A small window: the docks give way to the frame, down to a share of the window each (they scroll)."""
        view = self.clip_view.view.size()
        if view.width() < self.width() * FRAME_SHARE[0]:
            for area, share in ((Qt.DockWidgetArea.LeftDockWidgetArea, SIDE_SHARE[0]),
                                (Qt.DockWidgetArea.RightDockWidgetArea, SIDE_SHARE[1])):
                docks = [d for d in self._docks_in(area) if d.width() > self.width() * share]
                if docks:
                    self.resizeDocks(docks, [int(self.width() * share)] * len(docks), Qt.Orientation.Horizontal)
        if view.height() < self.height() * FRAME_SHARE[1]:
            docks = [d for d in self._docks_in(Qt.DockWidgetArea.BottomDockWidgetArea)
                     if d.height() > self.height() * BOTTOM_SHARE]
            if docks:
                self.resizeDocks(docks, [int(self.height() * BOTTOM_SHARE)] * len(docks), Qt.Orientation.Vertical)

    def _docks_in(self, area: Qt.DockWidgetArea) -> list[QDockWidget]:
        return [d for d in self.findChildren(QDockWidget)
                if d.isVisible() and not d.isFloating() and self.dockWidgetArea(d) == area]

    def _fit_screen(self, width: int, height: int) -> None:
        """The window's first size, within the screen (on a 1366x768 laptop the docks' buttons went off it)."""
        screen = QGuiApplication.primaryScreen()
        area = screen.availableGeometry() if screen is not None else None
        if area is not None and (area.width() < width or area.height() < height):
            width, height = area.width(), area.height()
        self.resize(width, height)

    def _dock(self, title: str, widget, area) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(title)
        dock.setWidget(widget)
        self.addDockWidget(area, dock)
        return dock

    def _connect(self) -> None:
        cv, r = self.clip_view, self.review
        cv.view.candidateClicked.connect(r.select)
        cv.view.boxEdited.connect(r.edit_box)
        cv.view.boxDrawn.connect(r.box_drawn)
        cv.frameShown.connect(lambda index, _array: self._frame_shown(index))
        cv.exposureClicked.connect(r.select_exposure)
        cv.edgeDragged.connect(lambda e, edge, frame: r.move_edge(edge, frame, e))
        cv.loaderFailed.connect(lambda m: show_error(self, "Cannot show this clip", m))
        self.clips.currentItemChanged.connect(self._clip_chosen)
        self.table.selectionModel().currentRowChanged.connect(self._table_row)
        self.panel.acceptClicked.connect(lambda: r.decide(DecisionKind.ACCEPT))
        self.panel.rejectClicked.connect(lambda: r.decide(DecisionKind.REJECT))
        self.panel.acceptTrackClicked.connect(lambda: r.decide_track(DecisionKind.ACCEPT))
        self.panel.followClicked.connect(lambda: r.follow())
        self.panel.findMoreClicked.connect(r.find_more)
        self.panel.relabelChosen.connect(r.relabel)
        self.panel.addToDictionaryClicked.connect(self.add_crop_to_dictionary)
        self.audit_panel.drawRequested.connect(r.draw_audit)
        self.audit_panel.confirmRequested.connect(r.confirm_audit_frame)
        self.audit_panel.nextRequested.connect(r.next_audit_frame)
        self.audit_panel.addBrandRequested.connect(r.add_audit_brand)

    def _frame_shown(self, index: int) -> None:
        self.refresh_panel()
        self.show_audit_frame(index)

    # ---- project -------------------------------------------------------------------------------
    def open_project(self, target: str) -> bool:
        try:
            project = Project.open(target)
        except LogoTagError as exc:
            show_error(self, "Cannot open the project", str(exc))
            return False
        self.close_project()
        self.project = project
        set_log_context(project=project.url)  # the log file is shared: its lines say which project they are about
        self.learned_views.set_views(LearnedViews(project.repo))
        self.review.start(project.url)
        self.runs.start(project.url)
        self._remember_recent(target)
        self.setWindowTitle(f"LogoTag — {project.name}")
        self.refresh_clips()
        self.refresh_dictionary()
        if self.clips.count():
            self.clips.setCurrentRow(0)
        self.update_enabled()
        return True

    def close_project(self) -> None:
        for thread in [self.runs.stop(), *self.review.stop()]:
            if thread is not None:  # a run or a learning pass still busy: keep the thread, say so in the log
                log.warning("a worker thread (%s) is still finishing; kept until it does", thread.objectName())
                self._stragglers.append(thread)
        if self.project is not None:
            self.project.close()
        self.project = None
        set_log_context(project="-")
        self.learned_views.set_views(None)
        self.video = None

    @property
    def opened(self) -> Project:
        """The open project, for what only runs with one (its actions are disabled without: update_enabled)."""
        if self.project is None:
            raise RuntimeError("no project is open")
        return self.project

    def _remember_recent(self, target: str) -> None:
        recent = [r for r in self.recent_projects() if r != target]
        self.settings.setValue("recent", [target, *recent][:MAX_RECENT])

    def recent_projects(self) -> list[str]:
        stored = self.settings.value("recent", []) or []
        return [str(r) for r in (stored if isinstance(stored, list) else [stored])]

    @property
    def logos_dir(self) -> str | None:
        return self.project.logos_dir if self.project else None

    def set_logos(self, folder: str) -> bool:
        try:
            self.opened.set_logos(folder)
        except LogoTagError as exc:
            show_error(self, "Cannot use this logo folder", str(exc))
            return False
        self.refresh_dictionary()
        self.update_enabled()
        return True

    def add_clips(self, paths: list[str]) -> None:
        problems = self.opened.add_clips(paths)
        self.refresh_clips()
        if problems:
            show_error(self, "Some clips were not added", "\n\n".join(problems))
        if self.video is None and self.clips.count():
            self.clips.setCurrentRow(0)

    def refresh_clips(self) -> None:
        if self.project is None:
            return
        current = self.video.id if self.video else None
        self.clips.blockSignals(True)
        self.clips.clear()
        self._videos = {v.id: v for v in self.project.videos()}
        self._names = distinct_names(v.path for v in self._videos.values())  # two "match.mp4" are told apart
        for v in self._videos.values():
            state = self.runs.state_of(v.path) or v.last_run_status or "not run"
            item = QListWidgetItem(_clip_label(self._names[v.path], v.decided, v.candidates, state))
            item.setData(Qt.ItemDataRole.UserRole, v.id)
            item.setToolTip(v.path)
            self.clips.addItem(item)
            if v.id == current:
                self.clips.setCurrentItem(item)
        self.clips.blockSignals(False)

    def refresh_clip_item(self) -> None:
        item, session = self.clips.currentItem(), self.review.session
        if item is not None and session is not None:
            state = self.runs.state_of(session.video.path) or self._videos.get(session.video.id, session.video) \
                .last_run_status or "not run"
            name = self._names.get(session.video.path, Path(session.video.path).name)
            figure = clip_figure(session)
            review = "review done" if figure.done else f"looked at {figure.coverage.looked_share:.0%}"
            item.setText(_clip_label(name, session.decided_count(), len(session), state, review))

    def refresh_dictionary(self) -> None:
        self.dictionary.clear()
        self._first_reference, self._logos_root = {}, None
        if self.project is None:
            return
        folder = self.logos_dir
        self._logos_root = Path(folder) if folder else None
        for brand, refs in self.project.references().items():
            top = QTreeWidgetItem([brand, f"{len(refs)} refs"])
            for path, origin in refs:
                top.addChild(QTreeWidgetItem([path, origin]))
                if folder and origin != REVIEW_VIEW and brand not in self._first_reference:
                    self._first_reference[brand] = Path(folder) / path
            self.dictionary.addTopLevelItem(top)
        self.panel.set_brands(self.project.brands())
        self.learned_views.refresh()

    # ---- the clip under review ---------------------------------------------------------------------
    def _clip_chosen(self, item: QListWidgetItem | None, _previous=None) -> None:
        if item is not None and self.project is not None:
            self.show_clip(int(item.data(Qt.ItemDataRole.UserRole)))

    def show_clip(self, video_id: int) -> None:
        try:
            session = self.opened.session(video_id, reviewer=self.reviewer)
        except LogoTagError as exc:
            show_error(self, "Cannot open this clip", str(exc))
            return
        self.video = session.video
        self.filter_bar.set_brands(sorted({c.final_brand for c in session.candidates} | set(self.opened.brands())))
        self.review.set_session(session)
        self.refresh_panel()
        self.update_enabled()
        running = self.runs.state_of(session.video.path) in ("queued", "running")
        if not len(session) and not session.video.last_run_status and not running:
            self.statusBar().showMessage(f"{Path(session.video.path).name} has not been run: press "
                                         f"{key('run_clip')} to find its logos (or {key('draw')} to draw a box)", 15000)

    @property
    def session(self) -> ReviewSession | None:
        return self.review.session

    def current_candidate(self) -> Candidate | None:
        return self.session.current if self.session else None

    def select_candidate(self, candidate_id: int | None) -> None:
        self.review.select(candidate_id)

    def _table_row(self, current, _previous) -> None:
        c = self.table_model.candidate_at(current.row())
        if c is not None and self.session is not None and c.id != self.session.current_id:
            self.review.select(c.id)

    def update_meter(self) -> None:
        session = self.session
        if session is None:
            self.meter.setText("")
            return
        # The one figure (core/review/coverage.py): what `logotag videos` and the reports say too.
        figure = clip_figure(session)
        self.meter.setText(figure.format(short=True))
        self.meter.setToolTip(f"{figure.format()}\n\n{METER_HELP}")

    def show_audit(self) -> None:
        """The audit panel and the exposure panel's estimates, for the clip under review."""
        audit, session = self.review.audit, self.session
        # An estimate says something once a frame is answered (before that its interval is the whole clip).
        estimate = audit.estimate() if audit is not None and audit.answers else None
        self.exposure.set_estimate(estimate)
        self.audit_panel.show_audit(audit, estimate, len(session.sampled) if session else 0)
        if session is not None:
            self.show_audit_frame(self.clip_view.current)
        self.update_meter()

    def show_audit_panel(self) -> None:
        """Review → Audit sample: the Audit tab, its frame count ready to draw (or the sample to answer)."""
        self.audit_dock.show()
        self.audit_dock.raise_()
        self.audit_panel.frames.setFocus()

    def show_audit_frame(self, index: int) -> None:
        audit = self.review.audit
        likely = self.likely_brands(index) if audit is not None and index in audit.frames else []
        self.audit_panel.show_frame(audit, index, self.project.brands() if self.project else [], likely)

    def likely_brands(self, index: int) -> list[str]:
        """The brands the run proposed in this clip, nearest this frame first (what an audit answer most likely
        ticks besides what is counted there): the audit panel lists them before the rest of the dictionary."""
        session = self.session
        if session is None:
            return []
        nearest: dict[str, int] = {}
        for c in session.candidates:
            if c.review.state is not ReviewState.REJECTED:
                distance = abs(c.frame.index - index)
                nearest[c.final_brand] = min(distance, nearest.get(c.final_brand, distance))
        return sorted(nearest, key=lambda brand: (nearest[brand], brand))

    def refresh_panel(self) -> None:
        self.panel.show_exposure(self.session.current_exposure if self.session else None)
        c = self.current_candidate()
        frame = self.clip_view.frame_array if c is not None and self.clip_view.shown == c.frame.index else None
        self.panel.show_candidate(c, frame, self.reference_for(c),
                                  frame_on_screen=c is None or self.clip_view.current == c.frame.index)

    def reference_for(self, c: Candidate | None) -> Path | None:
        """The file the candidate matched, else its brand's first reference file (OCR and drawn boxes).

        Read from what the dictionary panel last loaded: no database query on each selection or frame."""
        if c is None:
            return None
        if c.reference and not c.reference.startswith(TAUGHT_VIEW_PREFIX) and self._logos_root is not None:
            matched = self._logos_root / c.reference
            if matched.exists():
                return matched
        return self._first_reference.get(c.final_brand)

    def add_crop_to_dictionary(self) -> None:
        """Save the reviewed box as a new reference of its brand; the index rebuilds on the next run."""
        c = self.current_candidate()
        array = self.clip_view.frame_array
        if c is None or array is None or self.video is None or self.clip_view.shown != c.frame.index:
            return
        try:
            path = self.opened.add_crop_to_dictionary(c, array, clip=self.video.path)
        except (LogoTagError, OSError) as exc:
            show_error(self, "Not added to the dictionary", str(exc))
            return
        self.refresh_dictionary()
        self.statusBar().showMessage(f"Added {path.name} to {c.final_brand}; the index is rebuilt on the next run",
                                     6000)

    # ---- busy indicator (runs, following) -----------------------------------------------------------------
    def show_busy(self, text: str, cancel: Callable[[], None], *, done: int = 0, total: int = 0) -> None:
        # Shortened to leave the messages room (they were cut off beside it); all of it in the tooltip.
        self.progress_label.setText(self.progress_label.fontMetrics().elidedText(text, Qt.TextElideMode.ElideRight,
                                                                                 BUSY_TEXT_PX))
        self.progress_label.setToolTip(text)
        self.progress.show()
        self.progress.setRange(0, total)
        self.progress.setValue(done)
        self.cancel_btn.show()
        self._cancel_run = cancel

    def hide_busy(self) -> None:
        self.progress.hide()
        self.cancel_btn.hide()
        self.progress_label.setText("")

    def show_following(self, text: str, cancel: Callable[[], None]) -> None:
        """Following a box (E, a drawn or fixed box): beside a run's progress, with its own Stop button."""
        self.follow_label.setText(text)
        self.follow_label.show()
        self.follow_btn.show()
        self._stop_following = cancel

    def hide_following(self) -> None:
        self.follow_label.setText("")
        self.follow_label.hide()
        self.follow_btn.hide()

    def cancel_busy(self) -> None:
        """Esc: stop drawing, or stop following a box."""
        self.clip_view.view.set_draw_mode(False)
        self.review.cancel_follow()

    def show_calibration(self) -> TaskSignals:
        """Scores and verdicts against this project's reviews (loaded off the GUI thread)."""
        from logotag_gui.qt.dialogs.messages import TextDialog

        return run_in_background(
            lambda project: project.calibration_text(), db_url=self.opened.url, parent=self,
            on_done=lambda text: TextDialog("Calibration from reviews", text, self).exec(),
            on_error=lambda m: show_error(self, "Calibration failed", m))

    def show_shortcuts(self) -> None:
        ShortcutsDialog(SHORTCUT_SHEET, self).exec()

    def update_enabled(self) -> None:
        if self._closing:
            return
        has_project, has_clip = self.project is not None, self.video is not None
        for action in self.actions_by_name.values():
            needs = getattr(action, "needs", "")
            action.setEnabled(not needs or (needs == "project" and has_project) or (needs == "clip" and has_clip)
                              or (needs == "idle" and has_project and not self.runs.running))
        session = self.session
        undo, redo = self.actions_by_name["undo"], self.actions_by_name["redo"]
        undo.setEnabled(bool(session and session.can_undo))
        redo.setEnabled(bool(session and session.can_redo))
        undo.setText(f"Undo {session.undo_text}" if session and session.can_undo else "Undo")
        redo.setText(f"Redo {session.redo_text}" if session and session.can_redo else "Redo")

    def save_layout(self) -> None:
        """The window's size and place and its docks' layout, for the next start (QSettings)."""
        self.settings.setValue("window/geometry", self.saveGeometry())
        self.settings.setValue("window/state", self.saveState(LAYOUT_VERSION))

    def restore_layout(self) -> bool:
        """The size and docks the window had when it was last closed; False when there is none to restore."""
        geometry, state = self.settings.value("window/geometry"), self.settings.value("window/state")
        if geometry is None or state is None:
            return False
        return bool(self.restoreGeometry(geometry)) and bool(self.restoreState(state, LAYOUT_VERSION))

    def closeEvent(self, event) -> None:
        self.save_layout()
        self._closing = True
        # A run stops at the end of its batch (kept, with the batches before it): seconds on a laptop's CPU.
        # The window goes at once rather than sitting there while it does (quitting took 3 s and more).
        self.hide()
        QGuiApplication.sync()
        self.clip_view.shutdown()
        self.close_project()
        super().closeEvent(event)


METER_HELP = ("The clip's seconds on screen: exact where a reviewer looked at every view, else the settled seconds "
              "plus an estimate for the rest (with its 95% interval once an audit sample is answered); the share of "
              "sampled frames looked at; what is left to do (exposures to review: X; views to look at: V).")


def _with_banner(centre: QWidget, banner: QWidget) -> QWidget:
    """The clip view with the status bar's banner under it (a long message, shown whole while it lasts)."""
    box = QWidget()
    layout = QVBoxLayout(box)
    layout.setContentsMargins(0, 0, 0, 0)
    layout.setSpacing(0)
    layout.addWidget(centre, 1)
    layout.addWidget(banner)
    return box


def _scrolling(panel) -> QScrollArea:
    """A side panel that scrolls rather than making the window taller than a laptop's screen."""
    area = QScrollArea()
    area.setWidget(panel)
    area.setWidgetResizable(True)
    area.setFrameShape(QScrollArea.Shape.NoFrame)
    return area


def _clip_label(name: str, decided: int, total: int, state: str, review: str = "") -> str:
    """The run's state is the run's ("run done" is not "review done": that is the clip's figure's word)."""
    return f"{name}\n  {decided}/{total} boxes reviewed · run {state}" + (f" · {review}" if review else "")

