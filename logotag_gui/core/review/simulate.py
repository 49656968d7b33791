"""The oracle reviewer: reviews a clip through the app's own review session and assistant, against the truth,
and counts what it costs.

Strategies:
- boxes: box by box, as review was before exposures. A box matching a truth box of its brand at IoU >= 0.5
  is accepted (its whole track with T when every pending box of it qualifies), one of another brand's is
  relabelled, one at IoU 0.1-0.5 tightened, the rest rejected; then each truth box still uncovered is drawn
  (and followed). Exact boxes and exact seconds.
- exposures: exposure by exposure, in the app's review order. One whose frames all hold the brand is accepted
  (one key; or, with the gallery, every pending exposure of every brand at once after a glance at each, once the wrong
  ones are dealt with), one whose frames hold none rejected; one that holds it only in part has its in or out point
  moved to where the brand is, or is split where it leaves; an accepted one is extended over the frames the brand
  stays on screen. Then a brand on screen where nothing counts it is marked there (LogoTag looks for its mark and
  follows it) and extended to the end of its appearance. Exact seconds; boxes where found.
  Then the sweep: every view nobody has looked at (coverage.py), in time order, is looked at once (its sharpest
  frame: V), a brand on screen there that nothing marks is drawn (followed, taught), and the view is complete.
  The oracle finds a miss only where it looked: on a view's sharpest frame, an audited frame, or the frames of an
  exposure it reviewed. Exact seconds where every view was looked at; boxes where found.
- audit: K seeded stratified samples of N frames answered (which brands are on screen), the seconds
  estimated with a 95% interval from them; prints the error, the interval's width (beside the classical one,
  from the same answers without the model) and how often it holds the truth. Optionally after reviewing the
  most uncertain exposures first.
- mixed: review what the model proposes (exposures, no sweep), then audit the rest as `audit` does.

The project's counting rule is set from the truth's (`rule`: what the clip maker counted as on screen, as an analyst
sets the client's), and the reviewed and model seconds are counted under it, as the reports count them.

Each key press or drag is an action; `ACTIONS` says how many each step takes and how long it takes a person
(published per-action times, where there are any), from which `analyst_minutes_per_hour` comes.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from logotag_gui.core.analysis.audit import ALL, ClipEstimate
from logotag_gui.core.analysis.evaluate import Truth
from logotag_gui.core.analysis.exposure import ExposureRules, clip_exposure, counts_in_view
from logotag_gui.core.base.counting import DEFAULT, CountingRule
from logotag_gui.core.base.records import (
    MANUAL,
    PRESENCE,
    Candidate,
    DecisionKind,
    Review,
    ReviewState,
    VerdictState,
)
from logotag_gui.core.review.assistant import Bench, ReviewAssistant, run_inline
from logotag_gui.core.review.audit import Audit
from logotag_gui.core.review.exposures import Exposure
from logotag_gui.core.review.figure import clip_figure
from logotag_gui.core.review.learned_belief import LearnedTally, is_learned, learned_precision, precision_text
from logotag_gui.core.review.learning import Learner
from logotag_gui.core.review.oracle import Oracle
from logotag_gui.core.review.session import ReviewSession

log = logging.getLogger(__name__)
STRATEGIES = ("boxes", "exposures", "audit", "mixed")
MISSES = ("draw", "mark")  # how exposure review fixes a brand nothing counts: draw its box, or mark it on screen
GALLERIES = ("clip", "brand", "none")  # what one key accepts at once: every brand's pending exposures, one brand's


@dataclass(frozen=True, slots=True)
class Action:
    keys: int  # key presses or drags
    seconds: float  # a person's time for it
    why: str  # where the time comes from


VERIFY = 1.6  # a yes/no check of a proposal (Papadopoulos et al., CVPR 2016: 1.6 s per verification)
ACTIONS = {
    "accept": Action(1, VERIFY, "yes/no check"),
    "reject": Action(1, VERIFY, "yes/no check"),
    "accept_track": Action(1, VERIFY, "yes/no check"),
    "reject_track": Action(1, VERIFY, "yes/no check"),
    "accept_exposure": Action(1, VERIFY, "yes/no check"),
    # The pending exposures a gallery shows (every brand's, or one brand's) checked at a glance and accepted with
    # one key: the key once, a yes/no check per exposure (counted apart, as "gallery_check", which takes no key).
    "accept_gallery": Action(1, 0.0, "one key for the lot"),
    "gallery_check": Action(0, VERIFY, "yes/no check of each exposure in the gallery"),
    "reject_exposure": Action(1, VERIFY, "yes/no check"),
    "audit_frame": Action(1, VERIFY, "yes/no check: the frame's brands as the project says"),
    # A look at a view's sharpest frame with the boxes LogoTag proposed there, and V (complete, on to the next view).
    "look": Action(1, 1.5, "a glance at a picture and one key (LogoTag's estimate; a yes/no check is 1.6 s)"),
    "audit_toggle": Action(1, VERIFY, "yes/no check of one brand"),
    "next": Action(1, 1.0, "a key to move on (LogoTag's estimate)"),
    "go_to_frame": Action(1, 1.0, "a click on the timeline or film strip (LogoTag's estimate)"),
    "relabel": Action(2, 2 * VERIFY, "L and a brand from the list: two checks (LogoTag's estimate)"),
    "presence": Action(2, 2 * VERIFY, "P and a brand from the list: two checks (LogoTag's estimate)"),
    "audit_add": Action(1, VERIFY, "a tick in the frame's list of the project's brands: a check"),
    "trim": Action(2, 2 * VERIFY, "a frame picked on the film strip and I or O (LogoTag's estimate)"),
    "extend": Action(2, 2 * VERIFY, "a frame picked on the film strip and I or O (LogoTag's estimate)"),
    "split": Action(2, 2 * VERIFY, "a frame picked on the film strip and S (LogoTag's estimate)"),
    # A box drawn tight in one drag: as fast as extreme clicking (Papadopoulos et al., ICCV 2017: 7.0 s a box;
    # drawing one from scratch the ImageNet way takes 34.5-42 s); B, the drag and Enter on the brand.
    "draw": Action(3, 7.0, "extreme clicking"),
    "tighten": Action(2, 7.0, "a box redrawn: extreme clicking"),
}


@dataclass(slots=True)
class AuditSummary:
    frames: int  # asked per sample
    seeds: int
    answered: float  # frames answered per sample (the clip may have fewer)
    mean_error: float  # mean over seeds of (estimated - true) / true, all brands together: near 0 when unbiased
    mean_abs_error: float
    mean_half_width: float  # mean 95% half-width / true seconds
    coverage: float  # share of seeds whose 95% interval holds the true total
    brand_coverage: float  # the same over every (seed, brand)
    more_frames: float | None  # mean frames more for the total's half-width to reach 5%
    mean_brand_error: float = 0.0  # mean over seeds of the per-brand seconds error (as `error` counts it)
    classical_half_width: float = 0.0  # the same answers without the model (lambda 0), finite-population corrected

    def as_dict(self) -> dict:
        return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in (
            ("frames", self.frames), ("seeds", self.seeds), ("answered", self.answered),
            ("mean_error", self.mean_error), ("mean_abs_error", self.mean_abs_error),
            ("mean_half_width", self.mean_half_width), ("coverage", self.coverage),
            ("brand_coverage", self.brand_coverage), ("more_frames", self.more_frames),
            ("mean_brand_error", self.mean_brand_error), ("classical_half_width", self.classical_half_width))}


@dataclass(slots=True)
class SimulationResult:
    footage_s: float
    interval_s: float
    strategy: str = "boxes"
    counts: dict[str, int] = field(default_factory=dict)
    boxes_drawn: int = 0
    truth_s: dict[str, float] = field(default_factory=dict)
    reviewed_s: dict[str, float] = field(default_factory=dict)
    model_s: dict[str, float] = field(default_factory=dict)
    learned_candidates: int = 0
    followed_candidates: int = 0
    stopped_early: bool = False
    audit: AuditSummary | None = None
    views: int = 0  # the clip's views
    looked_share: float = 0.0  # share of sampled frames looked at when review ended
    done: bool = False  # the clip reads done (coverage.Figure.done)
    rule: CountingRule = DEFAULT  # the project's counting rule the seconds were counted under
    # Learned proposals per brand when review ended (proposed, accepted, rejected, maybe), and the exposures holding
    # a pending learned proposal that the oracle accepted, rejected or trimmed (in or out point, split).
    learned: dict[str, LearnedTally] = field(default_factory=dict)
    learned_exposures: dict[str, int] = field(default_factory=lambda: {"accepted": 0, "rejected": 0, "trimmed": 0})

    def count(self, step: str, n: int = 1) -> None:
        self.counts[step] = self.counts.get(step, 0) + n

    @property
    def actions(self) -> int:
        return sum(ACTIONS[k].keys * n for k, n in self.counts.items())

    @property
    def actions_per_minute(self) -> float:
        return self.actions / (self.footage_s / 60) if self.footage_s else 0.0

    @property
    def analyst_seconds(self) -> float:
        return sum(ACTIONS[k].seconds * n for k, n in self.counts.items())

    @property
    def analyst_minutes_per_hour(self) -> float:
        """The review's time per hour of footage, from per-action times (ACTIONS)."""
        return self.analyst_seconds / 60 / (self.footage_s / 3600) if self.footage_s else 0.0

    @staticmethod
    def _error(got: dict[str, float], truth: dict[str, float]) -> float:
        total = sum(truth.values())
        wrong = sum(abs(got.get(b, 0.0) - truth.get(b, 0.0)) for b in set(got) | set(truth))
        return wrong / total if total else 0.0

    @property
    def error(self) -> float:
        """Reviewed exposure seconds wrong (over and under, summed per brand) as a share of the true seconds;
        for an audit, the estimates' (the mean over samples of each sample's error)."""
        if self.audit is not None:
            return self.audit.mean_brand_error
        return self._error(self.reviewed_s, self.truth_s)

    @property
    def model_error(self) -> float:
        return self._error(self.model_s, self.truth_s)

    def as_dict(self) -> dict:
        brands = sorted(set(self.truth_s) | set(self.reviewed_s) | set(self.model_s))
        out = {"strategy": self.strategy, "actions": self.actions,
               "actions_per_minute": round(self.actions_per_minute, 2),
               "analyst_minutes_per_hour": round(self.analyst_minutes_per_hour, 2),
               "counts": dict(sorted(self.counts.items())), "boxes_drawn": self.boxes_drawn,
               "footage_s": round(self.footage_s, 3), "followed_candidates": self.followed_candidates,
               "learned_candidates": self.learned_candidates, "stopped_early": self.stopped_early,
               "error": round(self.error, 4), "model_error": round(self.model_error, 4),
               "looked_share": round(self.looked_share, 4), "views": self.views, "looks": self.counts.get("look", 0),
               "done": self.done, "rule": self.rule.as_dict(),
               "learned": {b: t.as_dict() for b, t in self.learned.items()},
               "learned_exposures": dict(self.learned_exposures),
               "brands": [{"brand": b, "truth_s": round(self.truth_s.get(b, 0), 3),
                           "reviewed_s": round(self.reviewed_s.get(b, 0), 3),
                           "model_s": round(self.model_s.get(b, 0), 3)} for b in brands]}
        if self.audit is not None:
            out["audit"] = self.audit.as_dict()
        return out

    def format(self) -> str:
        lines = [f"{'brand':<20} {'truth s':>8} {'model s':>8} {'reviewed s':>10}"]
        for row in self.as_dict()["brands"]:
            lines.append(f"{row['brand']:<20} {row['truth_s']:>8.1f} {row['model_s']:>8.1f} {row['reviewed_s']:>10.1f}")
        lines.append(f"{'all':<20} {sum(self.truth_s.values()):>8.1f} {sum(self.model_s.values()):>8.1f} "
                     f"{sum(self.reviewed_s.values()):>10.1f}")
        what = "estimated (mean over samples)" if self.audit else "after review"
        lines.append(f"exposure error: before review {self.model_error:.1%} (model verdicts), {what} "
                     f"{self.error:.1%} of {sum(self.truth_s.values()):.1f} true seconds")
        if self.audit is not None:
            a = self.audit
            more = f"; {a.more_frames:.0f} frames more for ±5%" if a.more_frames else ""
            lines.append(f"audit: {a.seeds} samples of {a.frames} frames ({a.answered:.0f} answered): total off by "
                         f"{a.mean_error:+.1%} on average ({a.mean_abs_error:.1%} mean absolute), 95% interval "
                         f"±{a.mean_half_width:.1%} (classical ±{a.classical_half_width:.1%}), holds the truth in "
                         f"{a.coverage:.0%} of samples (per brand: {a.brand_coverage:.0%}){more}")
        steps = ", ".join(f"{k} {n}" for k, n in sorted(self.counts.items()) if n)
        lines.append(f"actions: {self.actions} ({self.actions_per_minute:.1f} per minute of footage; {steps}); "
                     f"analyst time {self.analyst_minutes_per_hour:.0f} min per hour of footage; boxes drawn: "
                     f"{self.boxes_drawn}; proposed by following: {self.followed_candidates}, by learning: "
                     f"{self.learned_candidates}" + ("; STOPPED at the action limit" if self.stopped_early else ""))
        lx = self.learned_exposures
        lines.append(f"learned proposals, accepted/decided per brand: {precision_text(self.learned)}; exposures "
                     f"holding one: {lx['accepted']} accepted, {lx['rejected']} rejected, {lx['trimmed']} trimmed")
        lines.append(self.rule.describe())
        lines.append(f"coverage: {self.counts.get('look', 0)} looks at {self.views} views, {self.looked_share:.0%} of "
                     f"sampled frames looked at; the clip reads {'done' if self.done else 'not done'}")
        return "\n".join(lines)


def simulate_review(session: ReviewSession, truth: Truth, *, strategy: str = "boxes", source=None,
                    learner: Learner | None = None, propagate: bool = True, max_actions: int | None = None,
                    frames: int = 60, seeds: int = 20, review_first: int = 0, misses: str = "draw",
                    gallery: str = "clip", on_step: Callable[[SimulationResult], None] | None = None,
                    rule: CountingRule | None = None) -> SimulationResult:
    """Review `session`'s clip as an oracle would. `source` (the clip's decoder) is needed to follow boxes and
    learn; `max_actions` stops box or exposure review there; `frames`, `seeds`: the audit's sample size and
    how many samples; `review_first`: actions of exposure review before the audit; `misses`: how exposure
    review fixes a brand on screen that nothing counts ("draw" its box on its largest view there, which is
    followed and teaches; or "mark" it on screen and move the exposure's out point to where it leaves);
    `gallery`: what exposure review accepts with one key once the gallery's wrong exposures are dealt with
    (every brand's pending exposures, "clip"; the current one's brand's, "brand"; or one at a time, "none");
    `rule`: the counting rule set as the project's first (`counting.read_truth_rule` of the truth file: what it
    counted as on screen), else the project's own."""
    if strategy not in STRATEGIES:
        raise ValueError(f"unknown strategy {strategy!r}: use one of {', '.join(STRATEGIES)}")
    if misses not in MISSES:
        raise ValueError(f"unknown way to fix misses {misses!r}: use one of {', '.join(MISSES)}")
    if gallery not in GALLERIES:
        raise ValueError(f"unknown gallery {gallery!r}: use one of {', '.join(GALLERIES)}")
    video = session.video
    if rule is not None:
        session.repo.set_counting_rule(rule, by="oracle")
    result = SimulationResult(footage_s=video.duration_s, interval_s=session.interval_s, strategy=strategy,
                              rule=session.repo.counting_rule())
    oracle = Oracle(truth, grid=session.sampled, brands=session.repo.brands())
    result.truth_s = oracle.seconds(session.interval_s)
    result.model_s = _seconds(session, model=True, rule=result.rule)
    bench = Bench(source, learner, session.sampled)
    assistant = ReviewAssistant(session, run_inline(bench), follow=propagate and source is not None,
                                learn=learner is not None)
    limit = max_actions or 40 * max(1, sum(len(b) for b in oracle.truth.values())) + 200
    session.select(None)
    if strategy == "boxes":
        _review_boxes(session, assistant, oracle, result, limit, on_step)
    elif strategy == "exposures":
        assistant.ensure_views()
        _review_exposures(session, assistant, oracle, result, limit, on_step, misses, gallery, sweep=True)
    else:
        assistant.ensure_views()
        first = limit if strategy == "mixed" else review_first
        if first:
            _review_exposures(session, assistant, oracle, result, first, on_step, misses, gallery, sweep=False)
            result.stopped_early = False
        _audit(session, oracle, result, frames=frames, seeds=seeds)
    result.followed_candidates = assistant.totals.followed
    result.learned_candidates = assistant.totals.learned
    result.learned = learned_precision(session.candidates)
    figure = clip_figure(session)
    result.views, result.looked_share = len(session.views), figure.coverage.looked_share
    result.done = figure.done
    if result.audit is None:
        result.reviewed_s = _seconds(session, model=False, rule=result.rule)
    return result


# ---- boxes ----------------------------------------------------------------------------------------------
def _review_boxes(session: ReviewSession, assistant: ReviewAssistant, oracle: Oracle, result: SimulationResult,
                  limit: int, on_step) -> None:
    while True:
        if result.actions >= limit:
            result.stopped_early = True
            return
        c = session.next(unreviewed=True)
        if c is not None:
            session.select(c.id)
            _decide_box(session, assistant, oracle, c, result)
            continue
        spot = oracle.uncovered_box(session.candidates)
        if spot is None:
            return
        frame, i = spot
        t = oracle.truth[frame][i]
        current = session.current
        if current is None or current.frame.index != frame:
            result.count("go_to_frame")
        result.count("draw")
        result.boxes_drawn += 1
        assistant.add_box(frame, t.bbox, oracle.name(t.brand))
        oracle.claim(frame, i)
        if on_step is not None:
            on_step(result)


def _decide_box(session: ReviewSession, assistant: ReviewAssistant, oracle: Oracle, c: Candidate,
                result: SimulationResult) -> None:
    """One reviewer step on `c` (or its whole track). A tightened box is followed through its track by the
    assistant, as the app does."""
    members = [m for m in session.track(c.track_id) if not m.review.decided] if c.track_id is not None else []
    if len(members) > 1:
        verdicts = [oracle.judge(m) for m in members]
        frames = [m.frame.index for m in members]
        distinct = len({(f, v[1]) for f, v in zip(frames, verdicts, strict=True)}) == len(members)
        if all(v[0] == "accept" for v in verdicts) and distinct:
            for m, (_, t) in zip(members, verdicts, strict=True):
                oracle.claim(m.frame.index, t)
            result.count("accept_track")
            assistant.decide_track(c, DecisionKind.ACCEPT)
            return
        if all(v[0] == "reject" for v in verdicts):
            result.count("reject_track")
            assistant.decide_track(c, DecisionKind.REJECT)
            return
    action, t = oracle.judge(c)
    oracle.claim(c.frame.index, t)
    if action == "accept":
        result.count("accept")
        assistant.accept(c)
        return
    if action == "reject":
        result.count("reject")
        assistant.reject(c)
        return
    assert t is not None  # judge() names a truth box for everything but a reject
    truth = oracle.truth[c.frame.index][t]
    decided = c
    if action.startswith("relabel"):
        result.count("relabel")
        decided = assistant.relabel(c, oracle.name(truth.brand))
    if action.endswith("tighten"):
        result.count("tighten")
        assistant.edit_box(decided, truth.bbox)
    result.count("next")  # relabel and tighten leave the box selected: N moves on


# ---- exposures -------------------------------------------------------------------------------------------
def _counted(session: ReviewSession, *, proposed: bool = False) -> Callable[[str, int], bool]:
    """Whether review counts the brand on the frame; with `proposed`, or a pending exposure of the brand covers it
    (the reviewer sees it on the timeline: it is dealt with in the gallery, no box is drawn for it)."""
    def counted(brand: str, frame: int) -> bool:
        if any(c.final_brand == brand and c.review.state is ReviewState.ACCEPTED for c in session.at_frame(frame)):
            return True
        e = session.exposure_at(brand, frame) if proposed else None
        return e is not None and e.pending

    return counted


def _review_exposures(session: ReviewSession, assistant: ReviewAssistant, oracle: Oracle,
                      result: SimulationResult, limit: int, on_step, misses: str = "draw",
                      gallery: str = "clip", *, sweep: bool = True) -> None:
    shown: list[int] = [-1]  # the frame on screen: moving elsewhere to draw a box costs a click

    def fix_miss(brand: str, frame: int) -> None:
        """A brand on screen on the frame looked at that nothing marks: draw its box there (followed through the
        shot; what it teaches looks for the brand in the other shots), or mark it on screen."""
        boxes = [b.bbox for b in oracle.truth.get(frame, []) if oracle.name(b.brand) == brand]
        if misses == "draw" and boxes:
            result.count("draw")
            result.boxes_drawn += 1
            assistant.add_box(frame, max(boxes, key=lambda b: b.area), brand)
        else:
            result.count("presence")
            assistant.mark_present(frame, brand)
        here = session.exposure_at(brand, frame)
        if here is not None and not here.pending:
            _extend_to_truth(session, assistant, oracle, here, result)

    def look_at_next_view() -> bool:
        """V: the next view nobody has looked at (its sharpest frame); what is on screen there and not marked is
        drawn; V again says the view is complete and moves on. False where every view was looked at."""
        view = session.next_view(after=shown[0] if shown[0] >= 0 else None)
        if view is None:
            return False
        result.count("look")
        shown[0] = view.key
        marked = _counted(session, proposed=True)
        for brand in sorted(oracle.brands_at(view.key)):
            if not marked(brand, view.key):
                fix_miss(brand, view.key)
        session.complete_view(view)
        return True

    while True:
        if result.actions >= limit:
            result.stopped_early = True
            return
        # What the app shows next: the exposure a decision moved on to, else the top of the review order.
        e = session.current_exposure if session.current_exposure and session.current_exposure.pending else None
        e = e or session.next_exposure()
        if e is None:
            if not sweep or not look_at_next_view():
                return
            continue
        # The gallery of pending exposures (every brand's, or this one's brand's): those whose brand is on screen
        # throughout are accepted with one key once the others are dealt with one by one (rejected, trimmed or
        # split).
        mine = [] if gallery == "none" else session.gallery(None if gallery == "clip" else e.brand)
        whole = [x for x in mine if all(oracle.present(x.brand, f) for f in x.live_span)]
        if mine and len(whole) == len(mine) and len(whole) > 1:
            result.count("accept_gallery")
            result.count("gallery_check", len(whole))
            _tally_learned(session, result, whole, "accepted")
            assistant.accept_exposures(whole)
            for x in whole:
                after = session.exposure_at(x.brand, x.live_span[0])
                if after is not None:
                    _extend_to_truth(session, assistant, oracle, after, result)
            continue
        target = next((x for x in mine if x not in whole), e)
        session.select_exposure(target)
        shown[0] = target.first
        _decide_exposure(session, assistant, oracle, target, result)
        if on_step is not None:
            on_step(result)


def _decide_exposure(session: ReviewSession, assistant: ReviewAssistant, oracle: Oracle, e: Exposure,
                     result: SimulationResult) -> None:
    """One step on a pending exposure: accept or reject it whole, or trim or split it towards that."""
    live = e.live_span
    # A frame whose boxes the project's rule does not count (too little of the mark in view, too small) needs no
    # edge: it is seen, not counted (as the truth made under that rule did not count it). The frames that matter
    # are those the brand is on (in truth) and those it would be counted on wrongly.
    rule = result.rule
    present = {f: oracle.present(e.brand, f) for f in live}
    frames = [f for f in live if present[f] or _counted_at(session, e.brand, f, rule)]
    labels = [present[f] for f in frames]
    _tally_learned(session, result, [e], "accepted" if all(labels) else "rejected" if not any(labels) else "trimmed")
    if all(labels) and any(labels):
        result.count("accept_exposure")
        assistant.accept_exposure(e)
        after = session.exposure_at(e.brand, live[0])
        if after is not None:
            _extend_to_truth(session, assistant, oracle, after, result)
        return
    if not any(labels):
        result.count("reject_exposure")
        assistant.reject_exposure(e)
        return
    if not labels[0]:
        result.count("trim")
        assistant.set_in(frames[labels.index(True)], e)
    elif not labels[-1]:
        result.count("trim")
        assistant.set_out(frames[len(labels) - 1 - labels[::-1].index(True)], e)
    else:
        result.count("split")
        assistant.split_exposure(frames[labels.index(False)], e)


def _counted_at(session: ReviewSession, brand: str, frame: int, rule: CountingRule) -> bool:
    """Whether the brand's boxes on the frame (those not rejected) would count under the rule: one is enough."""
    boxes = [c for c in session.at_frame(frame)
             if c.final_brand == brand and c.review.state is not ReviewState.REJECTED]
    return not boxes or any(counts_in_view(c, rule) for c in boxes)


def _tally_learned(session: ReviewSession, result: SimulationResult, exposures: list[Exposure], how: str) -> None:
    """Count the exposures holding a pending learned proposal, by what the oracle does with them."""
    for e in exposures:
        if any((c := session.get(i)) is not None and is_learned(c) and not c.review.decided for i in e.ids):
            result.learned_exposures[how] += 1


def _extend_to_truth(session: ReviewSession, assistant: ReviewAssistant, oracle: Oracle, e: Exposure,
                     result: SimulationResult) -> None:
    """Move an accepted exposure's ends out to where the brand's appearance (in truth) begins and ends."""
    live = e.live
    if live is None:
        return
    run = oracle.truth_run(e.brand, live[0])
    if run and run[0] < live[0]:
        result.count("extend")
        assistant.set_in(run[0], e)
    e = session.exposure_at(e.brand, live[1]) or e
    end = oracle.truth_run(e.brand, live[1])
    if end and end[-1] > live[1]:
        result.count("extend")
        assistant.set_out(end[-1], e)


# ---- audit ------------------------------------------------------------------------------------------------
def _audit(session: ReviewSession, oracle: Oracle, result: SimulationResult, *, frames: int, seeds: int) -> None:
    truth_total = sum(result.truth_s.values())
    errors, abs_errors, widths, covered, brand_hits, brand_n, answered, more = [], [], [], 0, 0, 0, [], []
    classical: list[float] = []
    brand_errors = []
    reviewed: dict[str, float] = {}
    counts_before = dict(result.counts)
    per_seed: list[dict[str, int]] = []
    audit = Audit(session)
    for seed in range(seeds):
        sample = audit.draw(frames=frames, seed=seed)
        steps: dict[str, int] = {}
        for f in sample.frames:
            on = oracle.brands_at(f.frame_index)
            said = audit.predicted(f.frame_index)
            steps["audit_frame"] = steps.get("audit_frame", 0) + 1
            steps["audit_toggle"] = steps.get("audit_toggle", 0) + len(said - on)
            steps["audit_add"] = steps.get("audit_add", 0) + len(on - said)
            audit.answer(f.frame_index, on)
        per_seed.append(steps)
        est: ClipEstimate | None = audit.estimate()
        assert est is not None and est.total is not None
        answered.append(est.total.answered)
        errors.append((est.total.seconds - truth_total) / truth_total if truth_total else 0.0)
        abs_errors.append(abs(errors[-1]))
        widths.append(est.total.half_width / truth_total if truth_total else 0.0)
        plain = clip_figure(session, sample=audit.sample, lam=0.0).total
        classical.append(plain.half_width / truth_total if truth_total else 0.0)
        covered += est.total.low - 1e-9 <= truth_total <= est.total.high + 1e-9
        got = {b: e.seconds for b, e in est.brands.items() if b != ALL}
        brand_errors.append(SimulationResult._error(got, result.truth_s))
        for b in set(result.truth_s) | set(est.brands):
            e = est.brands.get(b)
            brand_n += 1
            brand_hits += e is not None and e.low - 1e-9 <= result.truth_s.get(b, 0.0) <= e.high + 1e-9
        for b, s in got.items():
            reviewed[b] = reviewed.get(b, 0.0) + s / seeds
        if est.more_frames is not None:
            more.append(est.more_frames)
    # The actions are one sample's (the mean over seeds): a reviewer answers one sample, not K.
    result.counts = dict(counts_before)
    for step in ("audit_frame", "audit_toggle", "audit_add"):
        result.count(step, round(sum(s.get(step, 0) for s in per_seed) / max(1, seeds)))
    result.reviewed_s = reviewed
    result.audit = AuditSummary(frames, seeds, sum(answered) / max(1, seeds), sum(errors) / max(1, seeds),
                                sum(abs_errors) / max(1, seeds), sum(widths) / max(1, seeds), covered / max(1, seeds),
                                brand_hits / max(1, brand_n), sum(more) / len(more) if more else None,
                                sum(brand_errors) / max(1, seeds), sum(classical) / max(1, seeds))


def _seconds(session: ReviewSession, *, model: bool, rule: CountingRule = DEFAULT) -> dict[str, float]:
    """Exposure seconds per brand under the counting rule: reviewed (accepted), or the model's own (a "yes", or any
    box where no verifier ran) as the exposure report counts them."""
    from logotag_gui.core.analysis import sharpness

    candidates = session.candidates
    if model:
        chosen = [c.with_(review=Review(ReviewState.ACCEPTED)) for c in candidates
                  if c.verdict.state in (VerdictState.YES, VerdictState.NOT_RUN) and c.method not in (MANUAL, PRESENCE)]
    else:
        chosen = candidates
    measured = (sharpness.measure(session.video.path, [c for c in chosen if c.review.state is ReviewState.ACCEPTED])
                if rule.needs_pixels else None)
    return {b: s.seconds for b, s in clip_exposure(chosen, interval_s=session.interval_s, rule=rule,
                                                   rules=ExposureRules(source="accepted"),
                                                   sharpness=measured).items()}
