"""The state of one process's run as its loop goes (run.py): where it starts, its counters, the batch in flight,
its profile."""

from __future__ import annotations

import time
from concurrent.futures import Future
from dataclasses import dataclass, field

from logotag_gui.core.base.progress import frames_on
from logotag_gui.core.base.records import Candidate, Frame
from logotag_gui.core.pipeline.ports import RunPartInfo
from logotag_gui.core.pipeline.profile import RunProfile

Verified = Future[tuple[list[Candidate], float]]  # a batch's verified candidates and the seconds verifying took


@dataclass(slots=True)
class RunStart:
    """Where this process's run (a whole clip's, or one range's of a split run) begins."""

    run_id: int
    sampled: list[int]  # the sampled frames it covers (a range's own, for a split run's part)
    after: int = -1  # the last frame stored before: the run carries on after it (-1: from the start)
    resumed: bool = False  # carried on: the linker and verification are seeded with the stored frames before
    part: RunPartInfo | None = None  # the range this process runs of a split run

    @property
    def todo(self) -> list[int]:
        return [i for i in self.sampled if i > self.after]

    @property
    def resumed_from(self) -> int | None:
        return self.after if self.after >= 0 else None


class Eta:
    """Seconds left, from the pace of the frames done so far in this process."""

    def __init__(self, total: int) -> None:
        self.total, self.start = total, time.perf_counter()

    def __call__(self, done: int) -> float | None:
        if done <= 0:
            return None
        elapsed = time.perf_counter() - self.start
        return elapsed / done * (self.total - done)


@dataclass(slots=True)
class Batch:
    """Frames stage 1 searched together, stored together: `groups` of sampled frames (one frame each, or
    detect_every's groups: their keyframe is searched), at positions `first`..`last` of the run's sampled frames."""

    groups: list[list[Frame]]
    first: int
    last: int
    total: int
    searched: dict[int, Frame] = field(default_factory=dict)  # its keyframes, by index, once stage 1 searched them
    verified: Verified | None = None  # set once stage 1 is done: the verification under way (or done)

    @property
    def size(self) -> int:
        return sum(len(g) for g in self.groups)

    @property
    def last_index(self) -> int:
        return self.groups[-1][-1].index

    @property
    def on(self) -> str:
        return frames_on(self.first, self.last, self.total)


@dataclass(slots=True)
class RunState:
    """One process's pass over its frames: the counters the loop keeps (the run's own are in its RunResult)."""

    todo: list[int]
    total: int  # the run's sampled frames (this process's part of them, resumed, is `todo`)
    done_before: int  # sampled frames the run had done before this process
    profile: RunProfile
    eta: Eta
    read: int = 0  # sampled frames this process took from the decoder
    done_here: int = 0  # sampled frames this process stored
    last_index: int = -1  # the last frame stored
    message: str = ""  # what the last stored batch reported
    eta_s: float | None = None
    cuts: list[int] = field(default_factory=list)  # where shots start, as the decoder passes them
    in_flight: Batch | None = None  # searched, verified meanwhile, stored once the next batch is searched

    def batch(self, groups: list[list[Frame]]) -> Batch:
        """The frames just read from the decoder, as the next batch."""
        first = self.done_before + self.read + 1
        self.read += sum(len(g) for g in groups)
        return Batch(groups, first, self.done_before + self.read, self.total)

    def next_on(self, most: int) -> str:
        """The frames the decoder is on next (at most `most`)."""
        first = self.done_before + self.read + 1
        return frames_on(first, min(first + most - 1, self.done_before + len(self.todo)), self.total)
