"""The one figure of a clip: its seconds per brand and in total, how sure they are, and whether review is done.

Exact where frames are settled (looked at, nothing pending: coverage.py); for the rest, the project's prediction
corrected by the clip's audit answers (analysis/audit.py: PPI++), with a 95% interval. The status bar's meter,
the exposure panel, `logotag videos`, the reports and the oracle reviewer all read `clip_figure`.

Beside them stand the reviewed seconds under the project's counting rule (`rule_s`, base/counting.py), counted by
the reports' one count (`analysis/exposure.clip_exposure`) from the stored boxes: what a client's report will say
of what review accepted so far (not counted under the "any" rule, which counts what `accepted_s` counts). The
estimate itself counts a brand on screen (an audit answer says no more); a rule that reads sharpness uses the boxes
already measured (a report measures them), and counts the others as unmeasured.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from logotag_gui.core.analysis import audit as ppi
from logotag_gui.core.analysis.belief import COUNTED
from logotag_gui.core.analysis.exposure import clip_exposure
from logotag_gui.core.base.counting import DEFAULT, CountingRule
from logotag_gui.core.base.records import Candidate, ReviewState
from logotag_gui.core.review.coverage import DEFAULT_TARGET
from logotag_gui.core.review.session import ReviewSession
from logotag_gui.core.store.audits import AuditSampleRecord


@dataclass(frozen=True, slots=True)
class Coverage:
    frames: int  # sampled frames of the clip
    looked: int  # of them, looked at (a view said complete)
    settled: int  # looked at and nothing pending there
    audited: int  # answered in the audit sample (not looked at)
    views: int  # views found (0 until found)
    views_looked: int
    views_known: bool

    @property
    def looked_share(self) -> float:
        return self.looked / self.frames if self.frames else 1.0

    @property
    def views_left(self) -> int:
        return self.views - self.views_looked


@dataclass(frozen=True, slots=True)
class Figure:
    """What the clip's seconds are, how sure, and whether review is done."""

    estimate: ppi.ClipEstimate
    coverage: Coverage
    pending_exposures: int
    audited: bool  # an answered audit sample corrects the part nobody looked at
    accepted_s: float = 0.0  # seconds of exposures a reviewer accepted (looked at or not)
    rule: CountingRule = DEFAULT  # the project's counting rule
    # Accepted seconds per brand under it; None under the "any" rule (it counts what `accepted_s` counts: the meter
    # of a project without a rule does no more work than before).
    rule_s: dict[str, float] | None = None

    @property
    def done(self) -> bool:
        if self.pending_exposures:
            return False
        if self.coverage.settled >= self.coverage.frames:
            return True
        return self.audited and self.estimate.narrow_enough

    @property
    def total(self) -> ppi.Estimate:
        assert self.estimate.total is not None
        return self.estimate.total

    def brand_seconds(self) -> dict[str, float]:
        return {b: e.seconds for b, e in self.estimate.brands.items() if e.seconds > 0 or e.se > 0}

    def format(self, *, short: bool = False) -> str:
        """The figure, what it rests on and what is left to do; `short` for a status bar."""
        t, c = self.total, self.coverage
        if t.exact or t.se == 0:
            figure = f"{t.seconds:.1f} s exact"
        elif self.audited:
            figure = f"{t.seconds:.1f} ± {t.half_width:.1f} s"
        else:
            figure = f"{t.seconds:.1f} s ± ? (no audit)" if short else \
                f"{t.seconds:.1f} s, interval unknown (audit the rest)"
        if short:
            views = f"{c.views_left} views" if c.views_known else "views…"
            left = "done" if self.done else f"to do: {self.pending_exposures} exposures, {views}"
            return f"{figure} · accepted {self.accepted_s:.1f} s · looked {c.looked_share:.0%} · {left}"
        views = (f"{c.views_left} view{'s' if c.views_left != 1 else ''} to look at" if c.views_known
                 else "views not found yet")
        plural = "s" if self.pending_exposures != 1 else ""
        state = "done" if self.done else f"{self.pending_exposures} exposure{plural} to review · {views}"
        accepted = f"accepted {self.accepted_s:.1f} s{self.rule_text()}"
        return f"{figure} · {accepted} · looked at {c.looked_share:.0%} · {state}"

    def rule_text(self) -> str:
        """The accepted seconds under the project's rule, where it is not the "any" rule (which counts them all)."""
        if self.rule_s is None:
            return ""
        return f" ({sum(self.rule_s.values()):.1f} s under rule '{self.rule.name}')"


def frame_prediction(session: ReviewSession, f: int, here: list[Candidate] | None = None) -> ppi.FrameView:
    """What the project says of one sampled frame: the brands it counts there, and how sure it is. `here`: the
    candidates counted on it (`grid_candidates`), where the caller has them."""
    belief = session.belief
    every = session.grid_candidates().get(f, []) if here is None else here
    here = [c for c in every if c.review.state is not ReviewState.REJECTED]
    counted = frozenset(c.final_brand for c in here if belief.p(c) >= COUNTED)
    pending = [c for c in here if c.review.state is ReviewState.PENDING]
    lead = max(here, key=belief.p).final_brand if here else None
    p = max((belief.p(c) for c in pending), default=None)
    return ppi.FrameView(f, counted, lead, p, bool(every) and not pending)


def clip_figure(session: ReviewSession, *, sample: AuditSampleRecord | None = None,
                target: float = DEFAULT_TARGET, lam: float | None = None) -> Figure:
    """The clip's seconds per brand and in total: exact where frames are settled, estimated for the rest from
    the prediction corrected by the clip's audit answers (when its sample is on this grid), with 95% intervals.
    `lam`: a fixed weight on the prediction (0: the classical estimate, for comparison), else power-tuned."""
    if sample is None:
        sample = session.repo.audit_sample(session.video.id)
    if sample is not None and abs(sample.fps - session.fps) > 1e-6:
        sample = None  # drawn on another grid: its frames are not this grid's
    settled = session.settled()
    slots = session.grid_candidates()
    predicted = {f: frame_prediction(session, f, slots.get(f, [])).counted for f in session.sampled
                 if f not in settled}
    answers = ({f.frame_index: frozenset(f.brands) for f in sample.frames if f.brands is not None}
               if sample is not None else {})
    strata = dict(sample.strata) if sample is not None else {"all": list(session.sampled)}
    est = ppi.estimate(strata=strata, predicted=predicted, answers=answers, interval_s=session.interval_s,
                       target=target, settled=settled, lam=lam, brands=session.repo.brands())
    audited = any(f not in settled for f in answers)
    if not audited:  # no answer where nobody looked: the rest rests on the model, with no interval to give
        for b, e in list(est.brands.items()):
            est.brands[b] = dataclasses.replace(e, se=0.0 if e.exact else float("inf"))
        if est.total is not None:
            every = settled.keys() >= set(session.sampled)
            est.total = dataclasses.replace(est.total, se=0.0 if every else float("inf"))
    views = session.views
    coverage = Coverage(len(session.sampled), len(session.looked_frames), len(settled),
                        sum(1 for f in answers if not session.looked(f)), len(views),
                        sum(1 for v in views if session.view_looked(v)), session.views_known)
    exposures = session.exposures()
    pending = sum(1 for e in exposures if e.pending)
    rule = session.repo.counting_rule()
    return Figure(est, coverage, pending, audited, round(sum(e.seconds for e in exposures), 6), rule,
                  None if rule == DEFAULT else rule_seconds(session, rule))


def rule_seconds(session: ReviewSession, rule: CountingRule) -> dict[str, float]:
    """The clip's accepted seconds per brand under `rule`, on the session's grid (the reports' count)."""
    from logotag_gui.core.analysis import sharpness

    candidates = session.candidates
    measured = sharpness.cached(session.video.path, candidates) if rule.needs_pixels else None
    counted = clip_exposure(candidates, interval_s=session.interval_s, grid=session.sampled, rule=rule,
                            sharpness=measured)
    return {b: s.seconds for b, s in counted.items() if s.seconds > 0}
