"""Where a run's time went: each stage on the run's own thread, the work beside it on other threads (decoding,
each proposer of stage 1, verification), and the process's CPU time and peak memory.

The run's own thread does one thing at a time, so its stages add up to no more than the wall time (the rest,
opening the clip and the store's small calls, is "other"). Beside it, the decoder's thread, stage 1's workers
and the verification thread work at once: their figures are thread-seconds (busy time summed over threads), and
over the wall time they say how many threads each kept busy. A timer is two perf_counter calls around a call
that takes milliseconds or more (a frame, a batch, a proposer's part of a frame): nothing on a per-pixel path.

OCR detection and recognition are timed inside rapidocr's engine (shared by every reader of a process) only on
a thread that is proposing for a profiled run: its methods are wrapped while such a run is on, and a thread-local
says which run's profile a call belongs to (the verifier's reads, on other threads, are not counted there).
"""

from __future__ import annotations

import copy
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from logotag_gui.core.base.records import Candidate, Frame
    from logotag_gui.core.media.logos import LogoDictionary
    from logotag_gui.core.proposers import Proposer

# The run's own thread, in the order a run passes them (their seconds add up to at most the wall time).
READING_LOGOS = "reading the logos"
CHOOSING_BACKENDS = "choosing the backends"  # "auto": whether a model's weights are in the local cache
LOADING_MODELS = "loading the models"
INDEXING_LOGOS = "indexing the logos"
STARTING = "starting the run"  # the run (or the range) started or carried on in the store, tracks seeded
DECODE_WAIT = "waiting for the decoder"
STAGE_ONE = "stage 1 (proposals, NMS, tracks)"
VERIFYING = "verifying"  # a batch verified on the run's thread (--no-overlap)
VERIFY_WAIT = "waiting for verification"  # a batch verified beside stage 1, waited for before it is stored
STORING = "storing"
FOLLOWING = "following tracks"
FOLLOWED_VERIFYING = "verifying followed boxes"
OTHER = "other"  # wall time no stage above measured: opening the clip, the run lock, the decided boxes, closing

# Beside it: thread-seconds on other threads.
DECODING = "decoding, finding shots"
STAGE_ONE_WORK = "stage 1's proposers"  # all of each frame's proposing, over stage 1's threads
VERIFICATION = "verification"  # on the verification thread, beside stage 1
OCR = "ocr"
OCR_DETECTION = "ocr: detection"
OCR_RECOGNITION = "ocr: recognition"
OCR_REST = "ocr: the rest"  # name matching, word boxes, the text direction classifier
FUSION = "fusion and the rest"  # the offline detector's own work around its three sources
# The offline detector's sources (its attributes) and the name of each one's part.
OFFLINE_PARTS = {"keypoints": "keypoints", "ocr": OCR, "shape": "shape matcher"}
PROPOSER_PARTS = {**OFFLINE_PARTS, "siglip2": "siglip2"}  # a proposer chosen alone: its name -> its part


@dataclass(slots=True)
class ProfileRow:
    name: str
    seconds: float
    beside: bool  # thread-seconds on other threads (not part of the wall time's sum)
    level: int = 0  # 1: a part of the row above it


@dataclass(slots=True)
class RunProfile:
    """One process's run, timed (see the module's doc). `stages` are the run's own thread, `beside` the others."""

    stages: dict[str, float] = field(default_factory=dict)
    beside: dict[str, float] = field(default_factory=dict)
    wall_s: float = 0.0
    cpu_s: float = 0.0  # the process's CPU time (user and system, every thread) during the run
    peak_rss_mib: float | None = None  # the process's peak resident memory so far (None where unknown)
    frames: int = 0  # sampled frames this process analysed
    _t0: float = field(default_factory=time.perf_counter)
    _cpu0: float = field(default_factory=time.process_time)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, stage: str, seconds: float) -> None:
        """Time on the run's own thread."""
        self.stages[stage] = self.stages.get(stage, 0.0) + seconds

    def add_beside(self, part: str, seconds: float) -> None:
        """Time on another thread (any thread may call this)."""
        with self._lock:
            self.beside[part] = self.beside.get(part, 0.0) + seconds

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        t = time.perf_counter()
        try:
            yield
        finally:
            self.add(name, time.perf_counter() - t)

    def finish(self) -> RunProfile:
        self.wall_s = time.perf_counter() - self._t0
        self.cpu_s = time.process_time() - self._cpu0
        self.peak_rss_mib = peak_rss_mib()
        return self

    @property
    def cores_busy(self) -> float:
        """CPU time over wall time: how many cores the process kept busy on average."""
        return self.cpu_s / self.wall_s if self.wall_s > 0 else 0.0

    def rows(self) -> list[ProfileRow]:
        """The run's stages (and "other", what they leave of the wall time), then the work beside them, stage 1's
        proposers broken down into their parts."""
        out = [ProfileRow(name, s, False) for name, s in self.stages.items()]
        out.append(ProfileRow(OTHER, max(0.0, self.wall_s - sum(self.stages.values())), False))
        beside = dict(self.beside)
        if DECODING in beside:
            out.append(ProfileRow(DECODING, beside.pop(DECODING), True))
        if STAGE_ONE_WORK in beside:
            work = beside.pop(STAGE_ONE_WORK)
            out.append(ProfileRow(STAGE_ONE_WORK, work, True))
            ocr = beside.pop(OCR, None)
            engine = {k: beside.pop(k) for k in (OCR_DETECTION, OCR_RECOGNITION) if k in beside}
            parts = {k: beside.pop(k) for k in PROPOSER_PARTS.values() if k in beside}
            for name, s in parts.items():
                out.append(ProfileRow(name, s, True, 1))
            if ocr is not None:
                out += [ProfileRow(name, s, True, 1) for name, s in engine.items()]
                out.append(ProfileRow(OCR_REST if engine else OCR, max(0.0, ocr - sum(engine.values())), True, 1))
            if len(parts) + (ocr is not None) > 1:  # the offline detector: what its sources leave of its time
                out.append(ProfileRow(FUSION, max(0.0, work - sum(parts.values()) - (ocr or 0.0)), True, 1))
        out += [ProfileRow(name, s, True) for name, s in beside.items()]
        return out


def peak_rss_mib() -> float | None:
    """The process's peak resident memory in MiB (getrusage's ru_maxrss: KiB on Linux, bytes on macOS)."""
    try:
        import resource
    except ImportError:  # Windows
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def timed_frames(frames: Iterable[Frame], profile: RunProfile) -> Iterator[Frame]:
    """`frames`, each one's decoding timed (on whichever thread iterates: the decoder's)."""
    it = iter(frames)
    while True:
        t = time.perf_counter()
        try:
            frame = next(it)
        except StopIteration:
            profile.add_beside(DECODING, time.perf_counter() - t)
            return
        profile.add_beside(DECODING, time.perf_counter() - t)
        yield frame


_proposing = threading.local()  # .profile: the run a thread is proposing for (OCR engine calls report to it)


class _TimedPart:
    """One source of the offline detector, its public methods timed as one part of stage 1."""

    def __init__(self, inner: Any, part: str, profile: RunProfile) -> None:
        self._inner, self._part, self._profile = inner, part, profile

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._inner, name)
        if name.startswith("_") or not callable(attr):
            return attr
        part, profile = self._part, self._profile

        def timed(*args: Any, **kwargs: Any) -> Any:
            t = time.perf_counter()
            try:
                return attr(*args, **kwargs)
            finally:
                profile.add_beside(part, time.perf_counter() - t)

        return timed


class ProfiledProposer:
    """The run's proposer with each frame's proposing timed, and the offline detector's sources apart. The
    proposer handed in is not changed (the offline detector is copied, its sources wrapped in the copy)."""

    def __init__(self, inner: Proposer, profile: RunProfile) -> None:
        self.name, self.model_id, self.revision = inner.name, inner.model_id, inner.revision
        self.thread_safe = inner.thread_safe
        self._profile = profile
        self._part: str | None = PROPOSER_PARTS.get(inner.name)
        sources = {attr: getattr(inner, attr, None) for attr in OFFLINE_PARTS}
        if inner.name == "offline" and any(s is not None for s in sources.values()):
            inner = copy.copy(inner)
            for attr, source in sources.items():
                if source is not None:
                    setattr(inner, attr, _TimedPart(source, OFFLINE_PARTS[attr], profile))
            self._part = None  # its sources are the parts
        self._inner = inner
        self.uses_ocr = inner.name in ("offline", "ocr")

    def prepare(self, dictionary: LogoDictionary) -> None:
        self._inner.prepare(dictionary)

    def propose(self, frame: Frame) -> list[Candidate]:
        _proposing.profile = self._profile
        t = time.perf_counter()
        try:
            return self._inner.propose(frame)
        finally:
            took = time.perf_counter() - t
            _proposing.profile = None
            self._profile.add_beside(STAGE_ONE_WORK, took)
            if self._part is not None:
                self._profile.add_beside(self._part, took)


_ENGINE_STEPS = {"detect_and_crop": OCR_DETECTION, "recognize_txt": OCR_RECOGNITION}
_engine_lock = threading.Lock()
_engine_users = 0
_engine_originals: dict[str, Callable[..., Any]] = {}


def _timed_engine_step(original: Callable[..., Any], part: str) -> Callable[..., Any]:
    def timed(self: Any, *args: Any, **kwargs: Any) -> Any:
        profile: RunProfile | None = getattr(_proposing, "profile", None)
        if profile is None:
            return original(self, *args, **kwargs)
        t = time.perf_counter()
        try:
            return original(self, *args, **kwargs)
        finally:
            profile.add_beside(part, time.perf_counter() - t)

    return timed


def _ocr_engine_class() -> Any:
    try:
        from rapidocr import RapidOCR
    except ImportError:
        return None
    return RapidOCR


@contextmanager
def ocr_engine_timed(enabled: bool = True) -> Iterator[None]:
    """While this is open, rapidocr's detection and recognition steps report their time to the profile of the
    run a thread is proposing for (see the module's doc). Runs in one process at once share the wrapping."""
    global _engine_users
    engine = _ocr_engine_class() if enabled else None
    if engine is None:
        yield
        return
    with _engine_lock:
        if _engine_users == 0:
            for method, part in _ENGINE_STEPS.items():
                original = getattr(engine, method, None)
                if original is not None:
                    _engine_originals[method] = original
                    setattr(engine, method, _timed_engine_step(original, part))
        _engine_users += 1
    try:
        yield
    finally:
        with _engine_lock:
            _engine_users -= 1
            if _engine_users == 0:
                for method, original in _engine_originals.items():
                    setattr(engine, method, original)
                _engine_originals.clear()
