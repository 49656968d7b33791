"""An oracle reviewer: walks a clip through the review session as a person would, against the truth.

For each candidate in review order (or its whole track, when every pending box of the track
qualifies), it accepts a box that matches a truth box of the same brand at IoU >= 0.5, relabels one
that matches another brand's, tightens one at IoU 0.1-0.5, and rejects the rest. Then it draws each
truth box still uncovered (which follows it through the clip, where propagation is on) and reviews
what that proposes the same way. Each key press or drag is one action. It counts the actions and
compares reviewed exposure seconds with the truth, and with the model's own before review.

The session, the following and the learning are the app's own: only the worker threads are not.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from logotag_gui.core.analysis.evaluate import Box, Truth, brand_key
from logotag_gui.core.analysis.exposure import ExposureRules, clip_exposure, sampling_interval
from logotag_gui.core.base.records import Candidate, DecisionKind, Review, ReviewState, VerdictState
from logotag_gui.core.review.learning import Learner
from logotag_gui.core.review.session import ReviewSession

log = logging.getLogger(__name__)
# What each step costs, in key presses or drags.
COST = {"accept": 1, "reject": 1, "accept_track": 1, "reject_track": 1, "relabel": 2, "tighten": 2,
        "next": 1, "go_to_frame": 1, "draw": 3}  # draw: B, the drag, Enter on the brand prompt


@dataclass(slots=True)
class SimulationResult:
    footage_s: float
    interval_s: float
    counts: dict[str, int] = field(default_factory=dict)
    boxes_drawn: int = 0
    truth_s: dict[str, float] = field(default_factory=dict)
    reviewed_s: dict[str, float] = field(default_factory=dict)
    model_s: dict[str, float] = field(default_factory=dict)
    learned_candidates: int = 0
    followed_candidates: int = 0
    stopped_early: bool = False

    @property
    def actions(self) -> int:
        return sum(COST[k] * n for k, n in self.counts.items())

    @property
    def actions_per_minute(self) -> float:
        return self.actions / (self.footage_s / 60) if self.footage_s else 0.0

    @staticmethod
    def _error(got: dict[str, float], truth: dict[str, float]) -> float:
        total = sum(truth.values())
        wrong = sum(abs(got.get(b, 0.0) - truth.get(b, 0.0)) for b in set(got) | set(truth))
        return wrong / total if total else 0.0

    @property
    def error(self) -> float:
        """Reviewed exposure seconds wrong (over and under, summed per brand) as a share of the true seconds."""
        return self._error(self.reviewed_s, self.truth_s)

    @property
    def model_error(self) -> float:
        return self._error(self.model_s, self.truth_s)

    def as_dict(self) -> dict:
        brands = sorted(set(self.truth_s) | set(self.reviewed_s) | set(self.model_s))
        return {"actions": self.actions, "actions_per_minute": round(self.actions_per_minute, 2),
                "counts": dict(sorted(self.counts.items())), "boxes_drawn": self.boxes_drawn,
                "footage_s": round(self.footage_s, 3), "followed_candidates": self.followed_candidates,
                "learned_candidates": self.learned_candidates, "stopped_early": self.stopped_early,
                "error": round(self.error, 4), "model_error": round(self.model_error, 4),
                "brands": [{"brand": b, "truth_s": round(self.truth_s.get(b, 0), 3),
                            "reviewed_s": round(self.reviewed_s.get(b, 0), 3),
                            "model_s": round(self.model_s.get(b, 0), 3)} for b in brands]}

    def format(self) -> str:
        lines = [f"{'brand':<20} {'truth s':>8} {'model s':>8} {'reviewed s':>10}"]
        for row in self.as_dict()["brands"]:
            lines.append(f"{row['brand']:<20} {row['truth_s']:>8.1f} {row['model_s']:>8.1f} {row['reviewed_s']:>10.1f}")
        lines.append(f"{'all':<20} {sum(self.truth_s.values()):>8.1f} {sum(self.model_s.values()):>8.1f} "
                     f"{sum(self.reviewed_s.values()):>10.1f}")
        lines.append(f"exposure error: before review {self.model_error:.1%} (model verdicts), after review "
                     f"{self.error:.1%} of {sum(self.truth_s.values()):.1f} true seconds")
        steps = ", ".join(f"{k} {n}" for k, n in sorted(self.counts.items()) if n)
        lines.append(f"actions: {self.actions} ({self.actions_per_minute:.1f} per minute of footage; {steps}); "
                     f"boxes drawn: {self.boxes_drawn}; proposed by following: {self.followed_candidates}, by "
                     f"learning: {self.learned_candidates}" + ("; STOPPED at the action limit" if self.stopped_early
                                                              else ""))
        return "\n".join(lines)


class _Oracle:
    def __init__(self, session: ReviewSession, truth: Truth, brands: list[str]) -> None:
        self.session = session
        grid = set(session.sampled)
        self.truth: dict[int, list[Box]] = {f: boxes for f, boxes in truth.boxes.items()
                                            if isinstance(f, int) and f in grid and boxes}
        self.claimed: dict[int, set[int]] = {}
        self.names = {brand_key(b): b for b in brands}

    def name(self, brand: str) -> str:
        """The project's spelling of a truth brand (truth files spell brands their own way)."""
        return self.names.get(brand_key(brand), brand)

    def judge(self, c: Candidate) -> tuple[str, int | None]:
        """What the oracle does with one box: accept, relabel, tighten (+relabel), or reject; and which truth box."""
        boxes = self.truth.get(c.frame.index, [])
        taken = self.claimed.get(c.frame.index, set())
        best, best_iou = None, 0.0
        for i, t in enumerate(boxes):
            iou = c.final_bbox.iou(t.bbox)
            if i not in taken and iou > best_iou:
                best, best_iou = i, iou
        if best is None or best_iou < 0.1:
            return "reject", None
        same = brand_key(boxes[best].brand) == brand_key(c.final_brand)
        if best_iou >= 0.5:
            return ("accept" if same else "relabel"), best
        return ("tighten" if same else "relabel+tighten"), best

    def claim(self, frame: int, index: int | None) -> None:
        if index is not None:
            self.claimed.setdefault(frame, set()).add(index)

    def uncovered(self) -> tuple[int, int] | None:
        """The first truth box (frame order) that no accepted box covers."""
        accepted: dict[int, list[Candidate]] = {}
        for c in self.session.candidates:
            if c.review.state is ReviewState.ACCEPTED:
                accepted.setdefault(c.frame.index, []).append(c)
        for frame in sorted(self.truth):
            for i, t in enumerate(self.truth[frame]):
                if not any(brand_key(c.final_brand) == brand_key(t.brand) and c.final_bbox.iou(t.bbox) >= 0.5
                           for c in accepted.get(frame, [])):
                    return frame, i
        return None


def simulate_review(session: ReviewSession, truth: Truth, *, source=None, learner: Learner | None = None,
                    propagate: bool = True, max_actions: int | None = None,
                    on_step: Callable[[SimulationResult], None] | None = None) -> SimulationResult:
    """Review `session`'s clip as an oracle would; `source` (the clip's decoder) is needed to follow boxes."""
    video = session.video
    interval = sampling_interval(native_fps=video.fps, run_fps=session.fps, kind=video.kind)
    result = SimulationResult(footage_s=video.duration_s, interval_s=interval)
    oracle = _Oracle(session, truth, session.repo.brands())
    result.truth_s = _truth_seconds(oracle.truth, interval, oracle.name)
    result.model_s = _seconds(session.candidates, interval, model=True)
    limit = max_actions or 40 * max(1, sum(len(b) for b in oracle.truth.values())) + 200

    def count(step: str, n: int = 1) -> None:
        result.counts[step] = result.counts.get(step, 0) + n

    def taught(decided: list[Candidate]) -> None:
        if learner is None or not decided:
            return
        lessons = learner.teach(decided, session.candidates)
        session.ingest(lessons.added)
        session.update(lessons.hinted)
        result.learned_candidates += len(lessons.added)

    def follow(box: Candidate) -> None:
        added = session.add_followed(box, session.follow(box, source))
        result.followed_candidates += sum(1 for a in added if a.method == "tracked")

    session.select(None)
    while True:
        if result.actions >= limit:
            result.stopped_early = True
            break
        c = session.next(unreviewed=True)
        if c is not None:
            session.select(c.id)
            taught(_decide(session, oracle, c, count, follow=follow if propagate and source is not None else None))
            continue
        spot = oracle.uncovered()
        if spot is None:
            break
        frame, i = spot
        t = oracle.truth[frame][i]
        current = session.current
        if current is None or current.frame.index != frame:
            count("go_to_frame")
        count("draw")
        result.boxes_drawn += 1
        drawn = session.add_box(frame, t.bbox, oracle.name(t.brand))
        oracle.claim(frame, i)
        if propagate and source is not None:
            follow(drawn)
        taught([drawn])
        if on_step is not None:
            on_step(result)
    result.reviewed_s = _seconds(session.candidates, interval, model=False)
    return result


def _decide(session: ReviewSession, oracle: _Oracle, c: Candidate, count, *, follow=None) -> list[Candidate]:
    """One reviewer step on `c` (or its whole track); returns what was decided. `follow`: the app follows a
    tightened box through its track (as it does a drawn one), where the track has boxes left to review."""
    members = [m for m in session.track(c.track_id) if not m.review.decided] if c.track_id is not None else []
    if len(members) > 1:
        verdicts = [oracle.judge(m) for m in members]
        frames = [m.frame.index for m in members]
        distinct = len({(f, v[1]) for f, v in zip(frames, verdicts, strict=True)}) == len(members)
        if all(v[0] == "accept" for v in verdicts) and distinct:
            for m, (_, t) in zip(members, verdicts, strict=True):
                oracle.claim(m.frame.index, t)
            count("accept_track")
            return session.decide_track(c, DecisionKind.ACCEPT)
        if all(v[0] == "reject" for v in verdicts):
            count("reject_track")
            return session.decide_track(c, DecisionKind.REJECT)
    action, t = oracle.judge(c)
    oracle.claim(c.frame.index, t)
    if action == "accept":
        count("accept")
        return [session.accept(c)]
    if action == "reject":
        count("reject")
        return [session.reject(c)]
    assert t is not None  # judge() names a truth box for everything but a reject
    truth = oracle.truth[c.frame.index][t]
    decided = c
    if action.startswith("relabel"):
        count("relabel")
        decided = session.relabel(c, oracle.name(truth.brand))
    if action.endswith("tighten"):
        count("tighten")
        decided = session.edit_box(decided, truth.bbox)
        if follow is not None and any(not m.review.decided for m in session.track(decided.track_id)):
            follow(decided)
    count("next")  # relabel and tighten leave the box selected: N moves on
    return [decided]


def _seconds(candidates: list[Candidate], interval: float, *, model: bool) -> dict[str, float]:
    """Exposure seconds per brand: reviewed (accepted), or the model's own (a "yes", or any box where no
    verifier ran) as the exposure report counts them."""
    if model:
        chosen = [c.with_(review=Review(ReviewState.ACCEPTED)) for c in candidates
                  if c.verdict.state in (VerdictState.YES, VerdictState.NOT_RUN) and c.method != "manual"]
    else:
        chosen = candidates
    return {b: s.seconds for b, s in clip_exposure(chosen, interval_s=interval,
                                                   rules=ExposureRules(source="accepted")).items()}


def _truth_seconds(truth: dict[int, list[Box]], interval: float, name: Callable[[str], str]) -> dict[str, float]:
    out: dict[str, float] = {}
    for boxes in truth.values():
        for brand in {name(b.brand) for b in boxes}:
            out[brand] = round(out.get(brand, 0.0) + interval, 6)
    return out
