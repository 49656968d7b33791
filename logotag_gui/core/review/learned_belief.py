"""How far LogoTag can stand behind a box that learning proposed, and how each learned view has fared.

A learned proposal (learning.py's `find_more`: method "learned", its reference "review:<view id>") carries a belief:
the chance a reviewer accepts it, from what the match itself says and from the view's track record:

- the match: its RANSAC inliers, how far the found box's shape strays from the view's (a sane homography keeps
  the mark's aspect; a far nearer or farther copy is less likely), how many sampled frames its track holds (a board
  found frame after frame, against a chance match that flickers once);
- the view: its proposals the reviewers accepted and rejected so far, counted per track (one exposure rejected whole
  is one wrong match, not twenty), as a Beta-binomial: `VIEW_PRIOR` pseudo-counts, then the decisions. A view
  whose mean falls under `LearnSettings.view_floor` proposes no more.

The belief is a logistic model over those features: hand-set weights (`PRIOR_WEIGHTS`) until the project holds
enough decided learned proposals, then fitted to them (maximum a posteriori, the hand-set weights as a Gaussian
prior: a few decisions move it a little, many decisions decide it). It is stored as the candidate's verdict (no
schema of its own): `Verdict(state, confidence=belief, method=BELIEF_METHOD, raw=the features as JSON)`, its state
YES at or above `LearnSettings.sure`, UNSURE from the floor, NO under `LearnSettings.floor`: such a proposal is
*maybe*: kept, but not grouped into the exposures to review (exposure_review.py) until the reviewer asks to see the
maybe lane. The analysis' belief (analysis/belief.py) then learns per verdict state how often reviewers accept
learned proposals, as it does for every proposer.

Pure functions over records: learning.py and the simulator call them; the exposures' builder reads `is_maybe`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import numpy as np

from logotag_gui.core.base.records import (
    TAUGHT_VIEW_PREFIX,
    BBox,
    Candidate,
    ReviewState,
    Verdict,
    VerdictState,
)

LEARNED = "learned"  # a learned proposal's method (learning.py)
BELIEF_METHOD = "learned belief"  # the verdict's method of a belief learning gave its proposal
VIEW_PRIOR = (2.0, 1.0)  # a view's Beta prior: pseudo-accepts, pseudo-rejects (a mean of 2/3 before any decision)
FEATURES = ("bias", "inliers", "aspect", "scale", "frames", "view")
# log-odds per feature before the project's decisions say more: a match at the inlier floor on one frame from a view
# nobody judged yet is a bit under even; twice the floor's inliers, a track of several frames or an accepted view
# lift it; a box of another shape than its view's lowers it.
PRIOR_WEIGHTS = np.array([-1.1, 1.0, -2.0, -0.4, 0.6, 1.0])
PRIOR_SD = 1.0  # how far the project's decisions may move each weight before they number many
MIN_FIT = 12  # decided learned tracks (both kinds present) before the weights are fitted to them
MIN_INLIERS = 8  # the keypoint finder's floor (LearnSettings.min_inliers): the inlier feature is log(n / this)


@dataclass(frozen=True, slots=True)
class ViewRecord:
    """A learned view's decided proposals, per track: accepted and rejected (a trimmed track counts its shares)."""

    accepted: float = 0.0
    rejected: float = 0.0

    def mean(self, prior: tuple[float, float] = VIEW_PRIOR) -> float:
        """The Beta-binomial posterior mean of the view's precision."""
        a, b = prior
        return (self.accepted + a) / (self.accepted + self.rejected + a + b)


@dataclass(frozen=True, slots=True)
class MatchFeatures:
    """What a learned match says of itself when it is found (stored with its belief, in the verdict's raw text)."""

    inliers: int  # RANSAC inliers (the keypoint finder's score is inliers / 40); MIN_INLIERS where unknown
    aspect: float = 0.0  # |log| of the found box's aspect over its view's
    scale: float = 0.0  # |log| of the found box's side over its view's (linear)
    frames: int = 1  # sampled frames its track holds among the finds of its search
    view_id: int | None = None

    def vector(self, view_mean: float) -> np.ndarray:
        p = min(max(view_mean, 1e-3), 1 - 1e-3)
        return np.array([1.0, math.log(max(self.inliers, 1) / MIN_INLIERS), self.aspect, self.scale,
                         math.log(max(self.frames, 1)), math.log(p / (1 - p))])

    def to_json(self, view_mean: float) -> str:
        return json.dumps({"inliers": self.inliers, "aspect": round(self.aspect, 4), "scale": round(self.scale, 4),
                           "frames": self.frames, "view_id": self.view_id, "view": round(view_mean, 4)})

    @classmethod
    def of(cls, c: Candidate, view_box: BBox | None, frames: int = 1) -> MatchFeatures:
        """The features of a learned match (`c.score`: the keypoint finder's inlier share, n / 40)."""
        aspect = scale = 0.0
        box = c.bbox
        if view_box is not None and view_box.area > 0 and box.area > 0:
            aspect = abs(math.log((box.w / box.h) / (view_box.w / view_box.h)))
            scale = abs(0.5 * math.log(box.area / view_box.area))
        return cls(max(1, round(c.score * 40)), aspect, scale, frames, view_of(c))


def view_of(c: Candidate) -> int | None:
    """The id of the learned view that found `c`, or None."""
    ref = c.reference or ""
    if not ref.startswith(TAUGHT_VIEW_PREFIX):
        return None
    tail = ref[len(TAUGHT_VIEW_PREFIX):]
    return int(tail) if tail.isdigit() else None


def stored_features(c: Candidate) -> tuple[MatchFeatures, float] | None:
    """The features and view mean a belief was given from (the verdict's raw text), or None."""
    if c.verdict.method != BELIEF_METHOD or not c.verdict.raw:
        return None
    try:
        d = json.loads(c.verdict.raw)
        return (MatchFeatures(int(d["inliers"]), float(d["aspect"]), float(d["scale"]), int(d["frames"]),
                              d.get("view_id")), float(d["view"]))
    except (ValueError, KeyError, TypeError):
        return None


def is_learned(c: Candidate) -> bool:
    return c.method == LEARNED


def accepted_right(c: Candidate) -> bool:
    """A decided learned proposal the reviewer accepted as the brand it was proposed for."""
    return c.review.state is ReviewState.ACCEPTED and c.final_brand == c.brand


def is_maybe(c: Candidate) -> bool:
    """A pending learned proposal whose belief is under the floor: kept, out of the exposures to review."""
    return (is_learned(c) and c.review.state is ReviewState.PENDING and c.verdict.method == BELIEF_METHOD
            and c.verdict.state is VerdictState.NO)


def _tracks(candidates: Iterable[Candidate]) -> dict[object, list[Candidate]]:
    out: dict[object, list[Candidate]] = {}
    for c in candidates:
        out.setdefault(("t", c.track_id) if c.track_id is not None else ("c", c.id), []).append(c)
    return out


def view_records(candidates: Iterable[Candidate]) -> dict[int, ViewRecord]:
    """Each learned view's record from the decided learned proposals among `candidates`, counted per track."""
    acc: dict[int, list[float]] = {}
    for members in _tracks(c for c in candidates if is_learned(c) and c.review.decided).values():
        by_view: dict[int, list[Candidate]] = {}
        for c in members:
            view = view_of(c)
            if view is not None:
                by_view.setdefault(view, []).append(c)
        for view, mine in by_view.items():
            share = sum(accepted_right(c) for c in mine) / len(mine)
            tally = acc.setdefault(view, [0.0, 0.0])
            tally[0] += share
            tally[1] += 1 - share
    return {v: ViewRecord(a, r) for v, (a, r) in acc.items()}


@dataclass(slots=True)
class BeliefModel:
    """A logistic model of a learned proposal's chance of acceptance (see the module's doc)."""

    weights: np.ndarray = field(default_factory=lambda: PRIOR_WEIGHTS.copy())
    fitted_on: int = 0  # decided tracks it was fitted on (0: the prior's weights)

    def p(self, features: MatchFeatures, view_mean: float) -> float:
        z = float(features.vector(view_mean) @ self.weights)
        return 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, z))))

    @classmethod
    def fit(cls, decided: Iterable[Candidate], *, min_fit: int = MIN_FIT) -> BeliefModel:
        """Fitted to the decided learned proposals that carry their features (one track weighs as one decision),
        the prior's weights as a Gaussian prior; the prior's weights alone under `min_fit` tracks of both kinds."""
        rows: list[np.ndarray] = []
        labels: list[float] = []
        weights: list[float] = []
        tracks = 0
        kinds: set[bool] = set()
        for members in _tracks(c for c in decided if is_learned(c) and c.review.decided).values():
            known = [(c, f) for c in members if (f := stored_features(c)) is not None]
            if not known:
                continue
            tracks += 1
            for c, (features, view_mean) in known:
                rows.append(features.vector(view_mean))
                labels.append(float(accepted_right(c)))
                weights.append(1.0 / len(known))
                kinds.add(accepted_right(c))
        if tracks < min_fit or len(kinds) < 2:
            return cls()
        x, y, w = np.array(rows), np.array(labels), np.array(weights)
        beta = PRIOR_WEIGHTS.copy()
        precision = 1.0 / PRIOR_SD ** 2
        for _ in range(50):  # Newton's method on the penalised log-likelihood
            p = 1.0 / (1.0 + np.exp(-np.clip(x @ beta, -30, 30)))
            grad = x.T @ (w * (y - p)) - precision * (beta - PRIOR_WEIGHTS)
            hess = (x * (w * p * (1 - p))[:, None]).T @ x + precision * np.eye(len(beta))
            step = np.linalg.solve(hess, grad)
            beta = beta + step
            if float(np.abs(step).max()) < 1e-6:
                break
        return cls(beta, tracks)


def learned_verdict(belief: float, features: MatchFeatures, view_mean: float, *, floor: float,
                    sure: float) -> Verdict:
    """The verdict a learned proposal is stored with: its belief as confidence; NO (maybe) under the floor."""
    state = VerdictState.YES if belief >= sure else VerdictState.UNSURE if belief >= floor else VerdictState.NO
    why = (f"learned view {features.view_id}: {features.inliers} inliers, {features.frames} frame"
           f"{'s' if features.frames != 1 else ''}, view's record {view_mean:.0%}; belief {belief:.0%}")
    return Verdict(state, round(belief, 4), why, features.to_json(view_mean), BELIEF_METHOD)


@dataclass(frozen=True, slots=True)
class LearnedTally:
    """A brand's learned proposals: how many were proposed, and what review made of them."""

    proposed: int = 0
    accepted: int = 0
    rejected: int = 0  # rejected, or relabelled as another brand
    maybe: int = 0  # pending under the floor (not among the exposures to review)

    @property
    def decided(self) -> int:
        return self.accepted + self.rejected

    @property
    def precision(self) -> float | None:
        """Accepted over decided; None before any decision."""
        return self.accepted / self.decided if self.decided else None

    def as_dict(self) -> dict[str, int | float | None]:
        p = self.precision
        return {"proposed": self.proposed, "accepted": self.accepted, "rejected": self.rejected,
                "maybe": self.maybe, "precision": None if p is None else round(p, 4)}


def learned_precision(candidates: Iterable[Candidate]) -> dict[str, LearnedTally]:
    """Per brand (the brand a proposal was made for): learned proposals, accepted, rejected and maybe."""
    counts: dict[str, list[int]] = {}
    for c in candidates:
        if not is_learned(c):
            continue
        t = counts.setdefault(c.brand, [0, 0, 0, 0])
        t[0] += 1
        if c.review.decided:
            t[1 if accepted_right(c) else 2] += 1
        elif is_maybe(c):
            t[3] += 1
    return {b: LearnedTally(*t) for b, t in sorted(counts.items())}


def precision_text(tallies: Mapping[str, LearnedTally]) -> str:
    """One line: each brand's learned proposals and their precision."""
    parts = []
    for b, t in tallies.items():
        p = "-" if t.precision is None else f"{t.precision:.0%}"
        parts.append(f"{b} {t.accepted}/{t.decided} ({p}) of {t.proposed}" + (f", {t.maybe} maybe" if t.maybe else ""))
    return "; ".join(parts) if parts else "none"
