"""The main window: composes the clip view, review panel, table and docks, and wires actions.

It holds no pipeline or database logic: runs go to a PipelineWorker, decisions to the
ReviewController, queries to the Repository.
"""

from __future__ import annotations

import getpass
import hashlib
import logging
from pathlib import Path

from PIL import Image
from PySide6.QtCore import QSettings, Qt, QThread, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QDockWidget,
    QFileDialog,
    QInputDialog,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMainWindow,
    QProgressBar,
    QPushButton,
    QTableView,
    QTreeWidget,
    QTreeWidgetItem,
)

from logotag_gui.core.config import RunConfig
from logotag_gui.core.errors import LogoTagError
from logotag_gui.core.export import export
from logotag_gui.core.exposure import sampling_interval
from logotag_gui.core.logos import load_dictionary
from logotag_gui.core.navigation import next_candidate, next_track, review_order
from logotag_gui.core.records import BBox, Candidate, DecisionKind, FrameRef, Progress
from logotag_gui.core.store import Repository, open_repository
from logotag_gui.core.store.repository import VideoSummary, database_url
from logotag_gui.core.video import probe
from logotag_gui.qt.clip_view import ClipView
from logotag_gui.qt.dialogs.messages import ShortcutsDialog, show_error
from logotag_gui.qt.dialogs.run_dialog import RunDialog
from logotag_gui.qt.models import CandidateTableModel
from logotag_gui.qt.review import ReviewController
from logotag_gui.qt.widgets.exposure_panel import ExposurePanel
from logotag_gui.qt.widgets.review_panel import ReviewPanel
from logotag_gui.qt.workers import PipelineWorker, run_in_background, start_in_thread

log = logging.getLogger(__name__)
MAX_RECENT = 8


class MainWindow(QMainWindow):
    _runRequested = Signal(object)  # list[RunConfig], queued to the pipeline thread

    def __init__(self, *, reviewer: str | None = None) -> None:
        super().__init__()
        self.setWindowTitle("LogoTag")
        self.resize(1500, 920)
        self.settings = QSettings("LogoTag", "LogoTag")
        self.reviewer = reviewer or self.settings.value("reviewer", "") or getpass.getuser()
        self.repo: Repository | None = None
        self.db_url: str | None = None
        self.review: ReviewController | None = None
        self.video: VideoSummary | None = None
        self.ordered: list[Candidate] = []
        self._worker: PipelineWorker | None = None
        self._worker_thread: QThread | None = None
        self.running = False
        self._closing = False
        self._videos: dict[int, VideoSummary] = {}
        self._position_cache: dict[int, int] | None = None
        self._interval = 0.5
        self._run_states: dict[str, str] = {}  # clip path -> queued / running, while runs are under way

        self.clip_view = ClipView()
        self.setCentralWidget(self.clip_view)
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
        self._dock("Dictionary", self.dictionary, Qt.DockWidgetArea.LeftDockWidgetArea)
        self._dock("Review", self.panel, Qt.DockWidgetArea.RightDockWidgetArea)
        from logotag_gui.qt.filter_bar import FilterBar

        self.filter_bar = FilterBar(self.table_model)
        self.table_dock = self._dock("Candidates", self.filter_bar.wrap(self.table), Qt.DockWidgetArea.BottomDockWidgetArea)
        self.exposure = ExposurePanel()
        self.exposure_dock = self._dock("Exposure", self.exposure, Qt.DockWidgetArea.BottomDockWidgetArea)
        self.tabifyDockWidget(self.table_dock, self.exposure_dock)
        self.table_dock.raise_()

        self.progress = QProgressBar()
        self.progress.setMaximumWidth(260)
        self.progress.hide()
        self.progress_label = QLabel()
        self.cancel_btn = QPushButton("Cancel run")
        self.cancel_btn.hide()
        self.cancel_btn.clicked.connect(self.cancel_run)
        for w in (self.progress_label, self.progress, self.cancel_btn):
            self.statusBar().addPermanentWidget(w)

        from logotag_gui.qt.actions import build_actions

        self.actions_by_name: dict[str, QAction] = build_actions(self)
        self._connect()
        self._update_enabled()

    def _dock(self, title: str, widget, area) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(title)
        dock.setWidget(widget)
        self.addDockWidget(area, dock)
        return dock

    def _connect(self) -> None:
        cv = self.clip_view
        cv.view.candidateClicked.connect(self.select_candidate)
        cv.view.boxEdited.connect(self._box_edited)
        cv.view.boxDrawn.connect(self._box_drawn)
        cv.frameShown.connect(lambda *_: self._refresh_panel())
        cv.loaderFailed.connect(lambda m: show_error(self, "Cannot show this clip", m))
        self.clips.currentItemChanged.connect(self._clip_chosen)
        self.table.selectionModel().currentRowChanged.connect(self._table_row)
        self.panel.acceptClicked.connect(lambda: self.decide(DecisionKind.ACCEPT))
        self.panel.rejectClicked.connect(lambda: self.decide(DecisionKind.REJECT))
        self.panel.acceptTrackClicked.connect(lambda: self.decide_track(DecisionKind.ACCEPT))
        self.panel.relabelChosen.connect(self.relabel)
        self.panel.addToDictionaryClicked.connect(self.add_crop_to_dictionary)

    # ---- project -------------------------------------------------------------------------------
    def open_project(self, target: str) -> bool:
        try:
            repo = open_repository(target)
        except LogoTagError as exc:
            show_error(self, "Cannot open the project", str(exc))
            return False
        self.close_project()
        self.repo, self.db_url = repo, database_url(target)
        self.review = ReviewController(repo, self.reviewer, self)
        self.review.changed.connect(self._candidate_changed)
        self.review.removed.connect(self._candidate_removed)
        self.review.failed.connect(lambda m: show_error(self, "Not saved", m))
        self.review.stack.cleanChanged.connect(lambda *_: self._update_enabled())
        self._worker = PipelineWorker(self.db_url)
        self._worker_thread = start_in_thread(self._worker, "pipeline")
        self._runRequested.connect(self._worker.run)
        self._worker.progress.connect(self._run_progress)
        self._worker.batchStored.connect(self._batch_stored)
        self._worker.clipFinished.connect(self._clip_finished)
        self._worker.clipFailed.connect(self._clip_failed)
        self._worker.allFinished.connect(self._runs_finished)
        self._remember_recent(target)
        self.setWindowTitle(f"LogoTag — {Path(target).name if '://' not in target else target}")
        self.refresh_clips()
        self.refresh_dictionary()
        if self.clips.count():
            self.clips.setCurrentRow(0)
        self._update_enabled()
        return True

    def close_project(self) -> None:
        if self._worker is not None:
            self._worker.cancel()
        if self._worker_thread is not None:
            self._worker_thread.quit()
            self._worker_thread.wait(60_000)
        self._worker = self._worker_thread = None
        if self.repo is not None:
            self.repo.close()
        self.repo = None
        self.video = None

    def _remember_recent(self, target: str) -> None:
        recent = [r for r in (self.settings.value("recent", []) or []) if r != target]
        self.settings.setValue("recent", [target, *recent][:MAX_RECENT])

    def recent_projects(self) -> list[str]:
        return list(self.settings.value("recent", []) or [])

    @property
    def logos_dir(self) -> str | None:
        return self.repo.setting("logos_dir") if self.repo else None

    def set_logos(self, folder: str) -> bool:
        try:
            dictionary = load_dictionary(folder)
        except LogoTagError as exc:
            show_error(self, "Cannot use this logo folder", str(exc))
            return False
        self.repo.set_setting("logos_dir", str(Path(folder).resolve()))
        self.repo.sync_brands(dictionary.aliases, dictionary.files_by_brand())
        self.refresh_dictionary()
        self._update_enabled()
        return True

    def add_clips(self, paths: list[str]) -> None:
        problems = []
        for path in paths:
            try:
                info = probe(path)
            except LogoTagError as exc:
                problems.append(str(exc))
                continue
            self.repo.add_video(path=str(Path(path).resolve()), kind=info.kind, fps=info.fps,
                                frame_count=info.frame_count, duration_s=info.duration_s, width=info.width,
                                height=info.height)
        self.refresh_clips()
        if problems:
            show_error(self, "Some clips were not added", "\n\n".join(problems))
        if self.video is None and self.clips.count():
            self.clips.setCurrentRow(0)

    def refresh_clips(self) -> None:
        if self.repo is None:
            return
        current = self.video.id if self.video else None
        self.clips.blockSignals(True)
        self.clips.clear()
        self._videos = {v.id: v for v in self.repo.videos()}
        for v in self._videos.values():
            state = self._run_states.get(v.path) or v.last_run_status or "not run"
            item = QListWidgetItem(_clip_label(v.path, v.decided, v.candidates, state))
            item.setData(Qt.ItemDataRole.UserRole, v.id)
            item.setToolTip(v.path)
            self.clips.addItem(item)
            if v.id == current:
                self.clips.setCurrentItem(item)
        self.clips.blockSignals(False)

    def refresh_dictionary(self) -> None:
        self.dictionary.clear()
        if self.repo is None:
            return
        brands = self.repo.references()
        for brand, refs in brands.items():
            top = QTreeWidgetItem([brand, f"{len(refs)} refs"])
            for path, origin in refs:
                top.addChild(QTreeWidgetItem([path, origin]))
            self.dictionary.addTopLevelItem(top)
        self.panel.set_brands(self.repo.brands())

    # ---- clip and candidates ---------------------------------------------------------------------
    def _clip_chosen(self, item: QListWidgetItem | None, _previous=None) -> None:
        if item is None or self.repo is None:
            return
        self.show_clip(int(item.data(Qt.ItemDataRole.UserRole)))

    def show_clip(self, video_id: int) -> None:
        self.video = self._videos.get(video_id) or self.repo.video(video_id)
        runs = self.repo.runs(video_id)
        fps = float(runs[-1]["config"].get("fps", 2.0)) if runs else 2.0
        self._interval = sampling_interval(native_fps=self.video.fps, run_fps=fps, kind=self.video.kind)
        candidates = self.repo.candidates(video_id=video_id)  # already in review order
        self.ordered = candidates
        self._position_cache = None
        self.table_model.set_candidates(candidates)
        self.filter_bar.set_brands(sorted({c.final_brand for c in candidates} | set(self.repo.brands())))
        self.clip_view.selected_id = None
        self.clip_view.open_clip(self.video, fps=fps)
        self.clip_view.set_candidates(candidates)
        self.exposure.set_clip(candidates, interval_s=self._interval, duration_s=self.video.duration_s)
        self._refresh_panel()
        self._update_enabled()

    def current_candidate(self) -> Candidate | None:
        pos = self._positions().get(self.clip_view.selected_id)
        return self.ordered[pos] if pos is not None else None

    def select_candidate(self, candidate_id: int | None) -> None:
        pos = self._positions().get(candidate_id)
        c = self.ordered[pos] if pos is not None else None
        self.clip_view.select(candidate_id)
        if c is not None and c.frame.index != self.clip_view.current:
            self.clip_view.go_to(c.frame.index)
        if c is not None:
            row = self.table_model.row_of(c.id)
            if row is not None and self.table.currentIndex().row() != row:
                self.table.selectRow(row)
        self._refresh_panel()

    def _table_row(self, current, _previous) -> None:
        c = self.table_model.candidate_at(current.row())
        if c is not None and c.id != self.clip_view.selected_id:
            self.select_candidate(c.id)

    def _refresh_panel(self) -> None:
        c = self.current_candidate()
        frame = self.clip_view.frame_array if c is not None and self.clip_view.shown == c.frame.index else None
        ref = Path(self.logos_dir) / c.reference if c is not None and c.reference and self.logos_dir else None
        self.panel.show_candidate(c, frame, ref)

    def navigate(self, *, step: int = 1, unreviewed: bool = False, track: bool = False) -> None:
        args = {"frame": self.clip_view.current, "current_id": self.clip_view.selected_id, "step": step}
        c = next_track(self.ordered, **args) if track else next_candidate(self.ordered, unreviewed_only=unreviewed,
                                                                           **args)
        if c is None:
            self.statusBar().showMessage("No more candidates that way" + (" to review" if unreviewed else ""), 3000)
            return
        self.select_candidate(c.id)

    def _candidate_changed(self, c: Candidate) -> None:
        """One decision: update that candidate in place (never re-sort or redraw 100,000 rows)."""
        if self.video is None:
            return
        pos = self._positions().get(c.id)
        if pos is None:  # a box drawn by hand: insert it in review order
            self.ordered = review_order([*self.ordered, c])
            self._position_cache = None
        else:
            self.ordered[pos] = c
        self.table_model.update_candidate(c)
        self.clip_view.update_candidate(c)
        self.exposure.candidates_changed(self.ordered)
        self._refresh_panel()
        self.refresh_clip_item()

    def _positions(self) -> dict[int, int]:
        if self._position_cache is None or len(self._position_cache) != len(self.ordered):
            self._position_cache = {c.id: i for i, c in enumerate(self.ordered)}
        return self._position_cache

    def _candidate_removed(self, candidate_id: int) -> None:
        gone = next((c for c in self.ordered if c.id == candidate_id), None)
        self.ordered = [c for c in self.ordered if c.id != candidate_id]
        self._position_cache = None
        self.table_model.remove_candidate(candidate_id)
        if self.clip_view.selected_id == candidate_id:
            self.clip_view.selected_id = None
        if gone is not None:
            self.clip_view.remove_candidate(gone)
        self._refresh_panel()

    def refresh_clip_item(self) -> None:
        item = self.clips.currentItem()
        if item is not None and self.video is not None:
            decided = sum(c.review.decided for c in self.ordered)
            state = self._run_states.get(self.video.path) or self.video.last_run_status or "not run"
            item.setText(_clip_label(self.video.path, decided, len(self.ordered), state))

    # ---- decisions ---------------------------------------------------------------------------------
    def _target(self) -> Candidate | None:
        c = self.current_candidate()
        if c is None:
            here = self.clip_view.candidates_here()
            c = here[0] if len(here) == 1 else None
        if c is None:
            self.statusBar().showMessage("Select a box first (J/K move through candidates)", 3000)
        return c

    def decide(self, kind: DecisionKind, *, advance: bool = True) -> None:
        c = self._target()
        if c is None or self.review is None:
            return
        (self.review.accept if kind is DecisionKind.ACCEPT else self.review.reject)(c)
        self.select_candidate(c.id)
        if advance:
            nxt = next_candidate(self.ordered, frame=c.frame.index, current_id=c.id, unreviewed_only=True)
            if nxt is not None:
                self.select_candidate(nxt.id)

    def decide_track(self, kind: DecisionKind) -> None:
        c = self._target()
        if c is not None and self.review is not None:
            self.review.decide_track(c, kind, self.ordered)

    def relabel(self, brand: str | None = None) -> None:
        c = self._target()
        if c is None or self.review is None:
            return
        if brand is None:
            brand, ok = QInputDialog.getItem(self, "Relabel", "Brand:", self.repo.brands(), 0, True)
            if not ok or not brand:
                return
        if brand != c.final_brand:
            self.review.relabel(c, brand)

    def _box_edited(self, candidate_id: int, bbox: BBox) -> None:
        c = next((c for c in self.ordered if c.id == candidate_id), None)
        if c is not None and self.review is not None:
            self.review.edit_box(c, bbox)

    def start_drawing(self) -> None:
        if self.video is not None:
            self.clip_view.view.set_draw_mode(True)
            self.statusBar().showMessage("Drag a box around the missed logo (Esc cancels)", 5000)

    def _box_drawn(self, bbox: BBox) -> None:
        if self.video is None or self.review is None:
            return
        brands = self.repo.brands()
        brand, ok = QInputDialog.getItem(self, "New box", "Brand:", brands, 0, True)
        if ok and brand:
            self.add_box(bbox, brand)

    def add_box(self, bbox: BBox, brand: str) -> None:
        index = self.clip_view.current
        t = index / self.video.fps if self.video.kind == "video" else float(index)
        frame = FrameRef(index, round(t, 6), self.video.width, self.video.height)
        self.review.add_box(self.video.id, frame, bbox, brand)

    def add_crop_to_dictionary(self) -> None:
        """Save the reviewed box as a new reference of its brand; the index rebuilds on the next run."""
        c = self.current_candidate()
        array = self.clip_view.frame_array
        if c is None or array is None or not self.logos_dir or self.clip_view.shown != c.frame.index:
            return
        x1, y1, x2, y2 = c.final_bbox.clipped(array.shape[1], array.shape[0]).as_int_xyxy()
        folder = Path(self.logos_dir) / c.final_brand
        if (Path(self.logos_dir) / f"{c.final_brand}.png").exists() and not folder.exists():
            folder.mkdir()
        folder.mkdir(exist_ok=True)
        path = folder / f"review_{Path(self.video.path).stem}_{c.frame.index}_{c.id}.png"
        Image.fromarray(array[y1:y2, x1:x2]).save(path)
        self.repo.add_reference(brand=c.final_brand, path=str(path.relative_to(self.logos_dir)),
                                sha256=hashlib.sha256(path.read_bytes()).hexdigest(), origin="review")
        self.refresh_dictionary()
        self.statusBar().showMessage(f"Added {path.name} to {c.final_brand}; the index is rebuilt on the next run",
                                     6000)

    # ---- runs --------------------------------------------------------------------------------------
    def base_config(self, path: str) -> RunConfig:
        return RunConfig(input=path, logos=self.logos_dir or "")

    def run_clips(self, video_ids: list[int] | None = None, config: RunConfig | None = None) -> None:
        if self.repo is None or self.running:
            return
        if not self.logos_dir:
            show_error(self, "No logo folder", "Choose the logo dictionary first (File → Set logo folder).")
            return
        videos = [v for v in self.repo.videos() if video_ids is None or v.id in video_ids]
        if not videos:
            return
        if config is None:
            dialog = RunDialog(self.base_config(videos[0].path), frame_count=videos[0].frame_count, clips=len(videos),
                               parent=self)
            if dialog.exec() != RunDialog.DialogCode.Accepted:
                return
            config = dialog.config()
        configs = [config.with_(input=v.path, logos=self.logos_dir) for v in videos]
        if len(videos) > 1:  # a frame range only makes sense for one clip
            configs = [c.with_(start_frame=0, end_frame=None) for c in configs]
        self.running = True
        self._run_states = {v.path: "queued" for v in videos}
        self.refresh_clips()
        self.progress.show()
        self.progress.setRange(0, 0)
        self.cancel_btn.show()
        self._update_enabled()
        self._runRequested.emit(configs)

    def cancel_run(self) -> None:
        if self._worker is not None:
            self._worker.cancel()
            self.progress_label.setText("cancelling after this batch…")

    def _run_progress(self, p: Progress) -> None:
        if p.clip and self._run_states.get(p.clip) == "queued":
            self._run_states[p.clip] = "running"
            self.refresh_clips()
        if p.stage == "notice":
            self.statusBar().showMessage(p.message, 15000)
            return
        eta = f" · ETA {int(p.eta_s // 60)}:{int(p.eta_s % 60):02d}" if p.eta_s is not None else ""
        self.progress_label.setText(f"{p.stage} {p.done}/{p.total}{eta} · {p.message}")
        if p.total:
            self.progress.setRange(0, p.total)
            self.progress.setValue(p.done)

    def _batch_stored(self, clip: str, stored: list[Candidate]) -> None:
        if self.video is not None and clip == self.video.path and stored:
            self.ordered = review_order(self.ordered + stored)
            self._position_cache = None
            self.table_model.add_candidates(stored)
            self.clip_view.set_candidates(self.ordered)
            self.exposure.candidates_changed(self.ordered)
            self.refresh_clip_item()

    def _clip_finished(self, clip: str, result) -> None:
        self._run_states.pop(clip, None)
        self.statusBar().showMessage(f"{Path(clip).name}: {result.status}, {result.candidates} new candidates "
                                     f"({result.embedder} + {result.verifier})", 8000)

    def _clip_failed(self, clip: str, message: str) -> None:
        self._run_states.pop(clip, None)
        show_error(self, f"Run failed on {Path(clip).name}", message + "\n\nFinished batches are kept; run again "
                                                                       "to resume.")

    def _runs_finished(self) -> None:
        self.running = False
        self._run_states = {}
        self.progress.hide()
        self.cancel_btn.hide()
        self.progress_label.setText("")
        self.refresh_clips()
        self.refresh_dictionary()
        if self.video is not None:
            self.show_clip(self.video.id)
        self._update_enabled()

    # ---- export ------------------------------------------------------------------------------------
    def export_to(self, path: str, *, reviewed_only: bool, this_clip_only: bool = False):
        """Export in the background (a large project takes seconds); returns the task's signals."""
        video_id = self.video.id if this_clip_only and self.video else None

        def work(repo: Repository) -> int:
            return export(repo, path, video_id=video_id, reviewed_only=reviewed_only)

        return run_in_background(
            work, db_url=self.db_url, parent=self,
            on_done=lambda n: self.statusBar().showMessage(f"Exported {n} records to {path}", 8000),
            on_error=lambda m: show_error(self, "Export failed", m))

    def export_dialog(self, reviewed_only: bool) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export records", "logotag.jsonl", "JSON Lines (*.jsonl);;CSV (*.csv)")
        if path:
            self.export_to(path, reviewed_only=reviewed_only)

    def report_dialog(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Exposure report", "exposure.html", "HTML (*.html);;CSV (*.csv)")
        if path:
            self.write_report(path)

    def write_report(self, path: str):
        """Build and write the exposure report in the background; returns the task's signals."""
        from logotag_gui.core.report import build_report, write_csv, write_html

        rules = self.exposure.rules()

        def work(repo: Repository) -> str:
            (write_csv if path.lower().endswith(".csv") else write_html)(build_report(repo, rules=rules), path)
            return path

        return run_in_background(
            work, db_url=self.db_url, parent=self,
            on_done=lambda p: self.statusBar().showMessage(f"Exposure report written to {p}", 8000),
            on_error=lambda m: show_error(self, "Report failed", m))

    def show_calibration(self):
        """Scores and verdicts against this project's reviews (loaded off the GUI thread)."""
        from logotag_gui.core.calibration import calibrate, format_calibration
        from logotag_gui.qt.dialogs.messages import TextDialog

        def work(repo: Repository) -> str:
            rows = calibrate(repo.candidates())
            return format_calibration(rows, 0.9) if rows else "No reviewed candidates yet: accept or reject some first."

        return run_in_background(
            work, db_url=self.db_url, parent=self,
            on_done=lambda text: TextDialog("Calibration from reviews", text, self).exec(),
            on_error=lambda m: show_error(self, "Calibration failed", m))

    def show_shortcuts(self) -> None:
        from logotag_gui.qt.actions import SHORTCUT_SHEET

        ShortcutsDialog(SHORTCUT_SHEET, self).exec()

    def _update_enabled(self) -> None:
        if self._closing:
            return
        has_project, has_clip = self.repo is not None, self.video is not None
        for action in self.actions_by_name.values():
            needs = getattr(action, "needs", "")
            action.setEnabled(not needs or (needs == "project" and has_project) or (needs == "clip" and has_clip)
                              or (needs == "idle" and has_project and not self.running))

    def closeEvent(self, event) -> None:
        self._closing = True
        self.clip_view.shutdown()
        self.close_project()
        super().closeEvent(event)


def _clip_label(path: str, decided: int, total: int, state: str) -> str:
    return f"{Path(path).name}\n  {decided}/{total} reviewed · {state}"
