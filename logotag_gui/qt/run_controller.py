"""Runs of the pipeline from the app: the queue, its progress and cancel, and what its batches add."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from PySide6.QtCore import QObject, QThread, Signal
from PySide6.QtWidgets import QLabel, QStatusBar, QWidget

from logotag_gui.core.base.config import RunConfig
from logotag_gui.core.base.progress import progress_line
from logotag_gui.core.base.records import Candidate, Progress
from logotag_gui.core.review import Project, ReviewSession
from logotag_gui.qt.dialogs.messages import show_error
from logotag_gui.qt.dialogs.run_dialog import RunDialog
from logotag_gui.qt.workers import PipelineWorker, start_in_thread


class RunHost(Protocol):
    """What the controller shows runs in: the main window (main_window.py), which builds the controller, so the
    controller names what it uses here rather than importing the window."""

    project: Project | None
    progress_label: QLabel

    @property
    def logos_dir(self) -> str | None: ...

    @property
    def session(self) -> ReviewSession | None: ...

    def window(self) -> QWidget: ...  # the top-level widget: the dialogs' parent
    def statusBar(self) -> QStatusBar: ...
    def refresh_clips(self) -> None: ...
    def refresh_dictionary(self) -> None: ...
    def update_enabled(self) -> None: ...
    def show_busy(self, text: str, cancel: Callable[[], None], *, done: int = 0, total: int = 0) -> None: ...
    def hide_busy(self) -> None: ...


class RunController(QObject):
    _runRequested = Signal(object)  # list[RunConfig], queued to the pipeline thread

    def __init__(self, window: RunHost) -> None:
        super().__init__(window.window())
        self.w = window
        self.worker: PipelineWorker | None = None
        self._thread: QThread | None = None
        self.running = False
        self._states: dict[str, str] = {}  # clip path -> queued / running, while runs are under way
        self._last_settings: RunConfig | None = None  # the dialog opens with what the last run used

    def start(self, db_url: str) -> None:
        self.worker = PipelineWorker(db_url)
        self._thread = start_in_thread(self.worker, "pipeline")
        self._runRequested.connect(self.worker.run)
        self.worker.progress.connect(self._progress)
        self.worker.batchStored.connect(self._batch_stored)
        self.worker.clipFinished.connect(self._clip_finished)
        self.worker.clipFailed.connect(self._clip_failed)
        self.worker.allFinished.connect(self._all_finished)

    def stop(self) -> QThread | None:
        """Cancel and stop the pipeline thread; returns it when it did not finish in time (keep it alive)."""
        if self.worker is not None:
            self.worker.cancel()
        thread, self._thread, self.worker = self._thread, None, None
        self.running = False
        if thread is None:
            return None
        thread.quit()
        return None if thread.wait(60_000) else thread

    def state_of(self, clip_path: str) -> str | None:
        return self._states.get(clip_path)

    def run_clips(self, video_ids: list[int] | None = None, config: RunConfig | None = None) -> None:
        w = self.w
        if w.project is None or self.running:
            return
        if not w.logos_dir:
            show_error(w.window(), "No logo folder", "Choose the logo dictionary first (File → Set logo folder).")
            return
        videos = [v for v in w.project.videos() if video_ids is None or v.id in video_ids]
        if not videos:
            return
        if config is None:
            base = (self._last_settings or RunConfig()).with_(input=videos[0].path, logos=w.logos_dir, start_frame=0,
                                                               end_frame=None)
            dialog = RunDialog(base, frame_count=videos[0].frame_count, clips=len(videos),
                               images=all(v.kind == "images" for v in videos), parent=w.window())
            if dialog.exec() != RunDialog.DialogCode.Accepted:
                return
            config = self._last_settings = dialog.config()
        configs = [config.with_(input=v.path, logos=w.logos_dir) for v in videos]
        if len(videos) > 1:  # a frame range only makes sense for one clip
            configs = [c.with_(start_frame=0, end_frame=None) for c in configs]
        self.running = True
        self._states = {v.path: "queued" for v in videos}
        w.refresh_clips()
        w.show_busy("starting…", self.cancel)
        w.update_enabled()
        self._runRequested.emit(configs)

    def cancel(self) -> None:
        if self.worker is not None and self.running:
            self.worker.cancel()
            self.w.progress_label.setText("cancelling after this batch…")

    def _progress(self, p: Progress) -> None:
        w = self.w
        if p.clip and self._states.get(p.clip) == "queued":
            self._states[p.clip] = "running"
            w.refresh_clips()
        if p.stage == "notice":
            w.statusBar().showMessage(p.message, 15000)
            return
        w.show_busy(progress_line(p), self.cancel, done=p.done, total=p.total)

    def _batch_stored(self, clip: str, stored: list[Candidate]) -> None:
        session = self.w.session
        if session is not None and clip == session.video.path and stored:
            session.ingest(stored)  # the candidates appear on the timeline while the run goes on

    def _clip_finished(self, clip: str, result) -> None:
        self._states.pop(clip, None)
        session = self.w.session
        if session is not None and clip == session.video.path:
            # A new run replaces the pending candidates of earlier ones: read the clip again, staying put.
            session.reload()
        notes = f" — {'; '.join(result.notices)}" if result.notices else ""
        self.w.statusBar().showMessage(f"{Path(clip).name}: {result.status}, {result.candidates} new candidates "
                                       f"({result.embedder} + {result.verifier}){notes}", 10000)

    def _clip_failed(self, clip: str, message: str) -> None:
        self._states.pop(clip, None)
        show_error(self.w.window(), f"Run failed on {Path(clip).name}",
                   message + "\n\nFinished batches are kept; run again to resume.")

    def _all_finished(self) -> None:
        w = self.w
        self.running = False
        self._states = {}
        w.hide_busy()
        w.refresh_clips()
        w.refresh_dictionary()
        w.update_enabled()
