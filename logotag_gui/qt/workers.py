"""Long work off the GUI thread: QObject workers moved to QThreads, talking through signals.

Never QThread.terminate(): the pipeline checks a cancel flag between batches and returns cleanly.
Each worker opens its own Project (no database session crosses threads).
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from collections import OrderedDict
from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, QRunnable, Qt, QThread, QThreadPool, Signal, Slot
from PySide6.QtGui import QImage

from logotag_gui.core.base.config import RunConfig
from logotag_gui.core.base.errors import LogoTagError
from logotag_gui.core.base.records import Progress
from logotag_gui.core.media.video import Source, open_source
from logotag_gui.core.pipeline.backends import ModelCache
from logotag_gui.core.review import Project
from logotag_gui.core.review.assistant import Bench, Job
from logotag_gui.core.review.learning import Learner, clip_embedder
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
    """The progress with its clip named (a run's step, RunProgress.step, kept)."""
    name = Path(clip).name
    return dataclasses.replace(p, message=f"{name}: {p.message}" if p.message else name, clip=clip)


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


class TaskSignals(QObject):
    done = Signal(object)
    failed = Signal(str)


class _Task(QRunnable):
    def __init__(self, fn, db_url: str, signals: TaskSignals) -> None:
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


def run_in_background(fn, *, db_url: str, on_done, on_error, parent: QObject) -> TaskSignals:
    """Run `fn(project)` on the global thread pool (exports, reports); results come back as signals."""
    signals = TaskSignals(parent)
    signals.done.connect(on_done)
    signals.failed.connect(on_error)
    QThreadPool.globalInstance().start(_Task(fn, db_url, signals))
    return signals


class JobWorker(QObject):
    """Runs the review assistant's jobs for the clip under review on its own thread, with its own project
    connection, decoder and (on the learning lane) learner: compute here, apply back on the GUI thread.

    Two of them run, one per lane, so that a learning pass never keeps the reviewer waiting for a follow."""

    done = Signal(object, object)  # Job, its result
    failed = Signal(object, str)  # Job, message
    progress = Signal(int, int)
    notice = Signal(str)

    def __init__(self, db_url: str, *, lane: str) -> None:
        super().__init__()
        self._db_url, self.lane = db_url, lane
        self._project: Project | None = None
        self._bench: Bench | None = None
        self._video_id: int | None = None
        self.cancel = threading.Event()  # set from the GUI thread: stop the job in hand

    @Slot(object, object, object)
    def open_clip(self, video, sampled: list[int], reviewer: str) -> None:
        self.close()
        self.cancel.clear()
        try:
            self._project = Project.open(self._db_url, create=False)
            source = open_source(video.path)
            learner = Learner(self._project.repo, source, video=video, sampled=sampled,
                              dictionary=self._project.dictionary(), reviewer=reviewer,
                              embedder=clip_embedder(self._project.repo, video.id),
                              notify=self.notice.emit) if self.lane == "learn" else None  # a refused view: told
            self._bench = Bench(source, learner, sampled, cancel=self.cancel.is_set,
                                progress=lambda d, t: self.progress.emit(d, t))
            self._video_id = video.id
        except LogoTagError as exc:
            self.notice.emit(f"Following and learning are off for this clip: {exc}")
            self.close()

    @Slot(object)
    def run(self, job: Job) -> None:
        if self._bench is None:
            self.failed.emit(job, "The clip cannot be read: following and learning are off for it.")
            return
        self.cancel.clear()
        try:
            result = job.compute(self._bench)
        except LogoTagError as exc:
            self.failed.emit(job, str(exc))
            return
        except Exception as exc:  # a bug: keep the app alive, the log has the details
            log.exception("review job failed: %s", job.text)
            self.failed.emit(job, f"unexpected error: {exc.__class__.__name__}: {exc}")
            return
        self.done.emit(job, result)

    @Slot()
    def close(self) -> None:
        if self._bench is not None and self._bench.source is not None:
            self._bench.source.close()
        if self._project is not None:
            self._project.close()
        self._project = self._bench = None


class ThumbLoader(QObject):
    """Small frames for the film strip, decoded on its own thread; the newest request wins."""

    thumb = Signal(str, int, object)  # clip path, frame index, QImage
    _wake = Signal()

    def __init__(self, width: int = 176) -> None:
        super().__init__()
        self._lock = threading.Lock()
        self._wanted: tuple[str, list[int]] | None = None
        self._source: Source | None = None
        self._path: str | None = None
        self._width = width
        self._cache: OrderedDict[tuple[str, int], QImage] = OrderedDict()
        self._wake.connect(self._work)

    def want(self, path: str, frames: list[int]) -> None:
        with self._lock:
            self._wanted = (path, list(frames))
        self._wake.emit()

    @Slot()
    def _work(self) -> None:
        with self._lock:
            wanted, self._wanted = self._wanted, None
        if wanted is None:
            return
        path, frames = wanted
        for index in frames:
            with self._lock:
                if self._wanted is not None:  # a newer request (its wake-up is queued): serve it instead
                    return
            image = self._thumb(path, index)
            if image is not None:
                self.thumb.emit(path, index, image)

    def _thumb(self, path: str, index: int) -> QImage | None:
        key = (path, index)
        if key in self._cache:
            return self._cache[key]
        try:
            if self._path != path:
                if self._source is not None:
                    self._source.close()
                self._source, self._path = open_source(path), path
            assert self._source is not None
            frame = self._source.frame(index)
        except (LogoTagError, IndexError):
            return None
        image = to_qimage(frame.image).scaledToWidth(self._width, Qt.TransformationMode.SmoothTransformation)
        self._cache[key] = image
        if len(self._cache) > 400:
            self._cache.popitem(last=False)
        return image

    @Slot()
    def close(self) -> None:
        if self._source is not None:
            self._source.close()
        self._source = self._path = None
