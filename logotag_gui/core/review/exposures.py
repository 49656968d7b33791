"""Exposures: a brand's continuous appearance, the unit an analyst reviews and is paid for.

A brand's candidates (of any state) are grouped by their sampled frames: consecutive frames join one exposure while
the gap between them stays within the exposure report's gap rule, and a reviewer's split starts a new one. A shot cut
does not: a brand on both sides of a cut is one appearance to the report, and grouping by shot instead cost the oracle
more actions on the broadcast-like clip (86 against 78: more exposures to draw and accept than trims saved). An
exposure covers every sampled frame from its first to its last (the frames in its gaps too: accepting it says the
brand is on screen there). Its state says what its seconds rest on: the model (pending: yes, unsure, no), the reviewer
(accepted, rejected, trimmed), or both (partly).

Pure functions over records: the review session keeps the exposures of its clip up to date with them.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from logotag_gui.core.analysis.belief import COUNTED, Belief
from logotag_gui.core.analysis.exposure import grid_frame
from logotag_gui.core.base.records import Candidate, ExposureState, ReviewState

UNSURE_BAND = (0.35, 0.65)  # a pending exposure's model state: "no" below, "yes" above, "unsure" between


@dataclass(frozen=True, slots=True)
class Exposure:
    brand: str
    span: tuple[int, ...]  # every sampled frame from its first to its last
    frame_states: Mapping[int, ReviewState]  # frames holding a candidate of the brand: accepted beats pending
    ids: tuple[int, ...]  # its candidates
    belief: float  # how likely its pending frames hold the brand (the mean over them), 1 or 0 when decided
    counted_frames: int  # sampled frames the project counts before review (accepted, or pending and likely right)
    interval_s: float
    # frame -> the sampled frame its seconds count on (analysis/exposure.grid_frame), for frames off the grid
    grid: Mapping[int, int] = field(default_factory=dict)

    @property
    def key(self) -> tuple[str, int]:
        """(brand, first frame): which exposure, until review moves its start."""
        return self.brand, self.span[0]

    @property
    def first(self) -> int:
        return self.span[0]

    @property
    def last(self) -> int:
        return self.span[-1]

    def _with(self, state: ReviewState) -> list[int]:
        return [f for f, s in self.frame_states.items() if s is state]

    def _on_grid(self, frames: Iterable[int]) -> set[int]:
        return {self.grid.get(f, f) for f in frames}

    def _grid_states(self) -> dict[int, ReviewState]:
        """Sampled frame -> its state, as seconds count it: accepted beats pending beats rejected."""
        out: dict[int, ReviewState] = {}
        for f, s in self.frame_states.items():
            g = self.grid.get(f, f)
            if out.get(g) is not ReviewState.ACCEPTED and (s is not ReviewState.REJECTED or g not in out):
                out[g] = s
        return out

    @property
    def live(self) -> tuple[int, int] | None:
        """Its first and last frame not rejected (its in and out points), or None when all are rejected."""
        frames = [f for f, s in self.frame_states.items() if s is not ReviewState.REJECTED]
        return (min(frames), max(frames)) if frames else None

    @property
    def live_span(self) -> list[int]:
        live = self.live
        return [] if live is None else [f for f in self.span if live[0] <= f <= live[1]]

    @property
    def state(self) -> ExposureState:
        accepted, rejected = self._with(ReviewState.ACCEPTED), self._with(ReviewState.REJECTED)
        pending = self._with(ReviewState.PENDING)
        if not pending:
            if not accepted:
                return ExposureState.REJECTED
            return ExposureState.ACCEPTED if not rejected else ExposureState.TRIMMED
        if accepted or rejected:
            return ExposureState.PARTLY
        if self.belief >= UNSURE_BAND[1]:
            return ExposureState.PENDING_YES
        return ExposureState.PENDING_NO if self.belief < UNSURE_BAND[0] else ExposureState.PENDING_UNSURE

    @property
    def pending(self) -> bool:
        return any(s is ReviewState.PENDING for s in self.frame_states.values())

    @property
    def seconds(self) -> float:
        """Seconds the review has settled as on screen, on the review grid (a box between two sampled frames adds
        none where its sampled frame is counted already: the reports count so too)."""
        return sum(s is ReviewState.ACCEPTED for s in self._grid_states().values()) * self.interval_s

    @property
    def pending_seconds(self) -> float:
        return sum(s is ReviewState.PENDING for s in self._grid_states().values()) * self.interval_s

    @property
    def counted_seconds(self) -> float:
        """Seconds the project counts now: reviewed ones, and the model's where nobody has looked yet."""
        return self.counted_frames * self.interval_s

    @property
    def length_s(self) -> float:
        return len(self._on_grid(self.live_span)) * self.interval_s

    @property
    def effect(self) -> float:
        """Expected seconds that reviewing it changes: its length times how unsure the model is of it."""
        if not self.pending:
            return 0.0
        return self.length_s * 2 * min(self.belief, 1 - self.belief)

    def contains(self, frame: int) -> bool:
        return self.first <= frame <= self.last


def group_exposures(candidates: Sequence[Candidate], *, sampled: Sequence[int], interval_s: float,
                    gap_tolerance_s: float, splits: Sequence[int] = (), belief: Belief | None = None
                    ) -> list[Exposure]:
    """One brand's candidates (their `final_brand` is that brand) as exposures, in time order."""
    if not candidates:
        return []
    belief = belief or Belief()
    brand = candidates[0].final_brand
    by_frame: dict[int, list[Candidate]] = {}
    for c in candidates:
        by_frame.setdefault(c.frame.index, []).append(c)
    cuts = sorted(splits)
    runs: list[list[int]] = []
    last_t = last_f = None
    for f in sorted(by_frame):
        t = by_frame[f][0].frame.t
        cut = last_f is not None and bisect.bisect_right(cuts, last_f) != bisect.bisect_right(cuts, f)
        if last_t is None or cut or t - last_t > interval_s + gap_tolerance_s + 1e-9:
            runs.append([])
        runs[-1].append(f)
        last_t, last_f = t, f
    return [_exposure(brand, run, by_frame, sampled, interval_s, belief) for run in runs]


def _exposure(brand: str, run: list[int], by_frame: dict[int, list[Candidate]], sampled: Sequence[int],
              interval_s: float, belief: Belief) -> Exposure:
    lo, hi = bisect.bisect_left(sampled, run[0]), bisect.bisect_right(sampled, run[-1])
    span = tuple(sorted(set(sampled[lo:hi]) | set(run)))
    grid = {f: g for f in run if sampled and (g := grid_frame(f, sampled)) != f}  # frames off the grid
    states: dict[int, ReviewState] = {}
    pending_p: list[float] = []
    counted: set[int] = set()  # sampled frames counted (two frames of one sampled frame count once)
    ids: list[int] = []
    for f in run:
        cands = by_frame[f]
        ids += [c.stored_id for c in cands]
        reviews = {c.review.state for c in cands}
        if ReviewState.ACCEPTED in reviews:
            states[f] = ReviewState.ACCEPTED
            counted.add(grid.get(f, f))
        elif ReviewState.PENDING in reviews:
            states[f] = ReviewState.PENDING
            p = max(belief.p(c) for c in cands if c.review.state is ReviewState.PENDING)
            pending_p.append(p)
            if p >= COUNTED:
                counted.add(grid.get(f, f))
        else:
            states[f] = ReviewState.REJECTED
    accepted = sum(s is ReviewState.ACCEPTED for s in states.values())
    p = sum(pending_p) / len(pending_p) if pending_p else (1.0 if accepted else 0.0)
    return Exposure(brand, span, states, tuple(ids), p, len(counted), interval_s, grid)
