"""How likely a pending candidate is right, learnt from this project's own reviews.

A verifier's word alone is a poor probability (an OCR "unsure" is right half the time on one clip and
a tenth on another), so the belief in a candidate is the share of reviewed candidates like it that the
reviewers accepted: grouped by the verifier's verdict and the proposer, with the verdict's prior share
as a few pseudo-reviews so that a group nobody reviewed yet still has a sensible value. Review order
(spend the reviewer where the seconds are uncertain) and what the project counts before review (the
prediction an audit corrects) both read it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from logotag_gui.core.base.records import MANUAL, PRESENCE, Candidate, ReviewState, VerdictState

# The share of candidates with each verdict that reviewers accept, before this project's reviews say more.
PRIOR = {VerdictState.YES: 0.8, VerdictState.UNSURE: 0.5, VerdictState.NO: 0.15, VerdictState.NOT_RUN: 0.5,
         VerdictState.UNPARSABLE: 0.5}
PRIOR_WEIGHT = 4.0  # the prior counts as this many reviews
COUNTED = 0.5  # a pending candidate the project counts (before review) is at least this likely right
REVIEW_MADE = (MANUAL, PRESENCE)


def _group(c: Candidate) -> tuple[str, str]:
    return c.verdict.state.value, c.method


@dataclass(slots=True)
class Belief:
    """accepted / reviewed counts per (verdict, proposer) group."""

    accepted: dict[tuple[str, str], int] = field(default_factory=dict)
    reviewed: dict[tuple[str, str], int] = field(default_factory=dict)

    @classmethod
    def fit(cls, candidates: Iterable[Candidate]) -> Belief:
        belief = cls()
        for c in candidates:
            if c.review.state is ReviewState.PENDING or c.method in REVIEW_MADE:
                continue
            key = _group(c)
            belief.reviewed[key] = belief.reviewed.get(key, 0) + 1
            if c.review.state is ReviewState.ACCEPTED and c.final_brand == c.brand:
                belief.accepted[key] = belief.accepted.get(key, 0) + 1
        return belief

    @property
    def reviews(self) -> int:
        return sum(self.reviewed.values())

    def p(self, c: Candidate) -> float:
        """The chance this candidate is a right box of its brand: 1 or 0 once reviewed."""
        if c.review.state is ReviewState.ACCEPTED:
            return 1.0
        if c.review.state is ReviewState.REJECTED:
            return 0.0
        key = _group(c)
        prior = PRIOR[c.verdict.state]
        return (self.accepted.get(key, 0) + PRIOR_WEIGHT * prior) / (self.reviewed.get(key, 0) + PRIOR_WEIGHT)

    def counted(self, c: Candidate) -> bool:
        """Whether the project counts this candidate's frame for its brand before anyone reviews it."""
        return self.p(c) >= COUNTED
