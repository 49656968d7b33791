"""Long work off the GUI thread: QObject workers moved to QThreads, talking through signals.

Never QThread.terminate(): the pipeline checks a cancel flag between batches and returns cleanly.
Each worker opens its own Project (no database session crosses threads).
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, QRunnable, QThread, QThreadPool, Signal, Slot
from PySide6.QtGui import QImage

from logotag_gui.core.base.config import RunConfig
from logotag_gui.core.base.errors import LogoTagError
from logotag_gui.core.base.records import Candidate, Progress
from logotag_gui.core.media.video import Source, open_source
from logotag_gui.core.pipeline.backends import ModelCache
from logotag_gui.core.review import Project
from logotag_gui.core.review.learning import Learner
from logotag_gui.qt.images import to_qimage

log = logging.getLogger(__name__)


class PipelineWorker(QObject):
    """Runs the pipeline for a queue of clips; keeps models loaded between runs."""

    progress = Signal(object)  # Progress
    batchStored = Signal(str, object)  # clip path, list[Candidate]
    clipFinished = Signal(str, object)  # clip path, RunResult
    clipFailed = Signal(str, str)  # clip path, message
    allFinished = Signal()

    def __init__(self, db_url: str) -> None:
        super().__init__()
        self._db_url = db_url
        self._cancel = threading.Event()
        self._models = ModelCache()

    def cancel(self) -> None:
        """Thread-safe: called from the GUI thread; the run stops after the batch in hand."""
        self._cancel.set()

    @Slot(object)
    def run(self, configs: list[RunConfig]) -> None:
        self._cancel.clear()
        try:
            project = Project.open(self._db_url, durable=False)  # batches can be redone: no fsync per commit
        except LogoTagError as exc:
            for config in configs:
                self.clipFailed.emit(config.input, str(exc))
            self.allFinished.emit()
            return
        try:
            for config in configs:
                if self._cancel.is_set():
                    break
                self._run_one(project, config)
        finally:
            project.close()
            self.allFinished.emit()

    def _run_one(self, project: Project, config: RunConfig) -> None:
        try:
            result = project.run(
                config, models=self._models, cancel=self._cancel.is_set,
                on_progress=lambda p: self.progress.emit(_with_clip(p, config.input)),
                on_batch=lambda stored: self.batchStored.emit(config.input, stored),
            )
            self.clipFinished.emit(config.input, result)
        except LogoTagError as exc:
            self.clipFailed.emit(config.input, str(exc))
        except Exception as exc:  # a bug: keep the app alive, say where the details are
            log.exception("pipeline failed on %s", config.input)
            self.clipFailed.emit(config.input, f"unexpected error: {exc.__class__.__name__}: {exc}")


def _with_clip(p: Progress, clip: str) -> Progress:
    name = Path(clip).name
    return Progress(p.stage, p.done, p.total, p.eta_s, f"{name}: {p.message}" if p.message else name, clip)


class FrameLoader(QObject):
    """Decodes frames for the viewer: latest request wins, small LRU cache, read-ahead.

    The GUI calls `want(index)` (thread-safe) as often as it likes while scrubbing; only the newest
    request is decoded, so the view never lags behind a stack of stale frames.
    """

    frameReady = Signal(str, int, object, object)  # clip path, index, QImage, numpy RGB (for crops)
    failed = Signal(str)
    _wake = Signal()

    def __init__(self, cache_size: int = 48, read_ahead: int = 4) -> None:
        super().__init__()
        self._lock = threading.Lock()
        self._wanted: int | None = None
        self._ahead: list[int] = []
        self._source: Source | None = None
        self._path: str | None = None
        self._cache: OrderedDict[int, tuple[QImage, np.ndarray]] = OrderedDict()
        self._cache_size = cache_size
        self._read_ahead = read_ahead
        self._wake.connect(self._work)

    def want(self, index: int, ahead: list[int] | None = None) -> None:
        with self._lock:
            self._wanted = index
            self._ahead = list(ahead or [])[: self._read_ahead]
        self._wake.emit()  # queued to the loader's thread

    @Slot(str)
    def open(self, path: str) -> None:
        # Requests made before this ran (the first frame of the new clip) stay wanted.
        if self._source is not None:
            self._source.close()
        self._cache.clear()
        self._source, self._path = None, path
        try:
            self._source = open_source(path)
        except LogoTagError as exc:
            self.failed.emit(str(exc))

    @Slot()
    def close(self) -> None:
        if self._source is not None:
            self._source.close()
            self._source = None

    def _decode(self, index: int) -> tuple[QImage, np.ndarray] | None:
        if index in self._cache:
            self._cache.move_to_end(index)
            return self._cache[index]
        if self._source is None:
            return None
        try:
            frame = self._source.frame(index)
        except IndexError:
            return None
        except LogoTagError as exc:
            self.failed.emit(str(exc))
            return None
        item = (to_qimage(frame.image), frame.image)
        self._cache[index] = item
        if len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        return item

    @Slot()
    def _work(self) -> None:
        with self._lock:
            index, self._wanted = self._wanted, None
            ahead = self._ahead
        if index is None:
            return
        item = self._decode(index)
        if item is not None:
            self.frameReady.emit(self._path or "", index, item[0], item[1])
        for nxt in ahead:
            with self._lock:
                if self._wanted is not None:  # a newer request: serve it first
                    return
            self._decode(nxt)


def start_in_thread(worker: QObject, name: str) -> QThread:
    thread = QThread()
    thread.setObjectName(name)
    worker.moveToThread(thread)
    thread.start()
    return thread


class _TaskSignals(QObject):
    done = Signal(object)
    failed = Signal(str)


class _Task(QRunnable):
    def __init__(self, fn, db_url: str, signals: _TaskSignals) -> None:
        super().__init__()
        self.fn, self.db_url, self.signals = fn, db_url, signals

    def run(self) -> None:
        try:
            project = Project.open(self.db_url, create=False, durable=False)  # this thread's own connection
            try:
                result = self.fn(project)
            finally:
                project.close()
        except (LogoTagError, OSError, ValueError) as exc:
            self.signals.failed.emit(str(exc))
            return
        except Exception as exc:  # a bug: keep the app alive, the log has the details
            log.exception("background task failed")
            self.signals.failed.emit(f"unexpected error: {exc.__class__.__name__}: {exc}")
            return
        self.signals.done.emit(result)


def run_in_background(fn, *, db_url: str, on_done, on_error, parent: QObject) -> _TaskSignals:
    """Run `fn(project)` on the global thread pool (exports, reports); results come back as signals."""
    signals = _TaskSignals(parent)
    signals.done.connect(on_done)
    signals.failed.connect(on_error)
    QThreadPool.globalInstance().start(_Task(fn, db_url, signals))
    return signals


class _ClipWorker(QObject):
    """A worker with its own project connection and decoder for the clip under review."""

    failed = Signal(str)

    def __init__(self, db_url: str) -> None:
        super().__init__()
        self._db_url = db_url
        self._project: Project | None = None
        self._source: Source | None = None
        self.cancel = threading.Event()  # set from the GUI thread: stop the job in hand

    @Slot(object, object, object)
    def open_clip(self, video, sampled: list[int], reviewer: str) -> None:
        self.close()
        self.cancel.clear()
        try:
            self._project = Project.open(self._db_url, create=False)
            self._source = open_source(video.path)
            self._opened(video, sampled, reviewer)
        except LogoTagError as exc:
            self.failed.emit(f"Following and learning are off for this clip: {exc}")
            self.close()

    def _opened(self, video, sampled: list[int], reviewer: str) -> None:
        pass

    @Slot()
    def close(self) -> None:
        if self._source is not None:
            self._source.close()
        if self._project is not None:
            self._project.close()
        self._project = self._source = None


class FollowWorker(_ClipWorker):
    """Follows a box through the clip (compute only: the session stores the proposal, as one undoable step).
    A thread of its own, so that a learning pass never keeps the reviewer waiting for a follow."""

    followed = Signal(object, object)  # seed Candidate, FollowResult
    progress = Signal(int, int)

    @Slot(object, object)
    def follow(self, seed: Candidate, sampled: list[int]) -> None:
        if self._source is None:
            self.failed.emit("The clip cannot be read: nothing to follow the box through.")
            self.followed.emit(seed, None)
            return
        from logotag_gui.core.pipeline.follow import follow_box

        self.cancel.clear()
        try:
            result = follow_box(self._source, frame_index=seed.frame.index, bbox=seed.final_bbox, sampled=sampled,
                                on_progress=lambda d, t: self.progress.emit(d, t), cancel=self.cancel.is_set)
        except LogoTagError as exc:
            self.failed.emit(f"Could not follow the box: {exc}")
            result = None
        self.followed.emit(seed, result)


class LearnWorker(_ClipWorker):
    """Learns from decisions in the background: keeps views and look-alikes, searches with them, and stores
    what it finds (handed back as stored candidates for the session to show)."""

    lessons = Signal(object)  # Lessons

    def __init__(self, db_url: str) -> None:
        super().__init__(db_url)
        self._learner: Learner | None = None

    def _opened(self, video, sampled: list[int], reviewer: str) -> None:
        self._learner = Learner(self._project.repo, self._source, video=video, sampled=sampled,
                                dictionary=self._project.dictionary(), reviewer=reviewer)

    def close(self) -> None:
        super().close()
        self._learner = None

    @Slot(object, object, bool)
    def teach(self, decided: list[Candidate], clip: list[Candidate], search: bool) -> None:
        if self._learner is None:
            return
        try:
            self.lessons.emit(self._learner.teach(decided, clip, search=search, cancel=self.cancel.is_set))
        except LogoTagError as exc:
            self.failed.emit(f"Learning from the decision failed: {exc}")

    @Slot(str, object)
    def search(self, brand: str, clip: list[Candidate]) -> None:
        if self._learner is None:
            return
        from logotag_gui.core.review.learning import Lessons

        try:
            self.lessons.emit(Lessons(video_id=self._learner.video.id, searched=[brand],
                                      added=self._learner.search(brand, clip, cancel=self.cancel.is_set)))
        except LogoTagError as exc:
            self.failed.emit(f"Finding more {brand} failed: {exc}")

    @Slot(object)
    def forget(self, candidate_ids: list[int]) -> None:
        if self._learner is not None:
            self._learner.forget(candidate_ids)
