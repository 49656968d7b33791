"""Stage 1 at the machine's pace: decode ahead, propose frames on several threads, skip unchanged frames.

- Decoding runs ahead on its own thread (a bounded queue), so the proposer never waits for the decoder.
- Proposers that say they are thread-safe (`thread_safe = True`: the offline ones; OpenCV, ONNX Runtime
  and torch release the GIL) work on several frames at once, results kept in frame order. SigLIP-2
  batches its crops itself and runs one frame at a time.
- A sampled frame whose picture did not change since the previous one (a static shot, a held
  graphic) is not searched again: the previous frame's proposals are carried to it. "Unchanged" is
  judged on a grid of 20x20-pixel block means of the luma plane, so encoder noise does not count and a
  logo of a block's size appearing does.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Generator, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import cv2
import numpy as np

from logotag_gui.core.base.config import default_workers
from logotag_gui.core.base.records import Candidate, Frame

if TYPE_CHECKING:
    from logotag_gui.core.proposers import Proposer

BLOCK = 20  # pixels per side of a block whose mean is compared
UNCHANGED_LEVELS = 3.0  # the largest change of a block's mean luma (0-255) that still counts as unchanged


def prefetch(frames: Iterable[Frame], depth: int = 4) -> Generator[Frame, None, None]:
    """Iterate `frames` on a worker thread, `depth` frames ahead; exceptions arrive in order.

    Closing the returned generator (or leaving the loop) stops the thread.
    """
    items: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()
    done = object()

    def put(item: object) -> bool:
        while not stop.is_set():
            try:
                items.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for frame in frames:
                if not put(frame):
                    return
            put(done)
        except BaseException as exc:  # handed to the consumer, raised there
            put(exc)

    thread = threading.Thread(target=produce, name="logotag-decode-ahead", daemon=True)
    thread.start()
    try:
        while True:
            item = items.get()
            if item is done:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        thread.join()


def block_means(image: np.ndarray) -> np.ndarray:
    """The mean luma of each BLOCK x BLOCK block (float32), the fingerprint frames are compared by."""
    gray = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY) if image.ndim == 3 else image
    h, w = gray.shape[:2]
    return cv2.resize(gray, (max(1, w // BLOCK), max(1, h // BLOCK)), interpolation=cv2.INTER_AREA).astype(np.float32)


def unchanged(a: np.ndarray | None, b: np.ndarray, levels: float = UNCHANGED_LEVELS) -> bool:
    return a is not None and a.shape == b.shape and float(np.abs(a - b).max()) <= levels


@dataclass
class StageOne:
    """Proposes the frames of a run in order, as fast as the machine allows (see the module docstring)."""

    proposer: Proposer
    workers: int = field(default_factory=default_workers)
    skip_unchanged: bool = True
    unchanged_frames: int = 0  # frames whose proposals were carried from the previous frame
    _last: tuple[np.ndarray, list[Candidate]] | None = None
    _pool: ThreadPoolExecutor | None = None

    def __post_init__(self) -> None:
        if self.workers > 1 and self.proposer.thread_safe:
            self._pool = ThreadPoolExecutor(self.workers, thread_name_prefix="logotag-propose")

    @property
    def parallel(self) -> bool:
        """Frames are proposed on several threads (more than one worker, and a proposer that says it is safe)."""
        return self._pool is not None

    def propose(self, frames: Sequence[Frame]) -> list[list[Candidate]]:
        """Raw proposals for each frame, in order."""
        prints = [block_means(f.image) for f in frames] if self.skip_unchanged else [None] * len(frames)
        # A frame like the one before it (in this batch or the last one) takes that frame's proposals.
        copies: dict[int, int] = {}  # position -> position of the frame whose proposals it takes (-1: the last batch's)
        previous = self._last[0] if self._last is not None else None
        for pos, fp in enumerate(prints):
            if fp is not None and unchanged(previous, fp):
                copies[pos] = copies.get(pos - 1, pos - 1)
            previous = fp
        work = [f for pos, f in enumerate(frames) if pos not in copies]
        found = iter(self._map(self.proposer.propose, work))
        results: list[list[Candidate]] = []
        for pos, frame in enumerate(frames):
            if pos in copies:
                source = copies[pos]
                if source >= 0:
                    carried = results[source]
                else:  # like the last batch's final frame, so that batch was kept
                    assert self._last is not None
                    carried = self._last[1]
                results.append([c.with_(frame=frame.ref) for c in carried])
                self.unchanged_frames += 1
            else:
                results.append(next(found))
        if frames and prints[-1] is not None:
            self._last = (prints[-1], results[-1])
        return results

    def _map(self, fn: Callable[[Frame], list[Candidate]], frames: list[Frame]) -> list[list[Candidate]]:
        if self._pool is None or len(frames) < 2:
            return [fn(f) for f in frames]
        return list(self._pool.map(fn, frames))

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None
