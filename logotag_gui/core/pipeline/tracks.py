"""Post-processing of raw proposals: NMS, cross-brand margin, and temporal linking into tracks.

Frames are the truth: a track groups per-frame candidates, and its id is reserved in the store for the clip
(review's T, following and undo refer to it), so it is kept, not recomputed, once candidates are stored.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from logotag_gui.core.base.records import Candidate, ReviewState


def nms(candidates: Sequence[Candidate], *, iou: float = 0.4) -> list[Candidate]:
    """Greedy NMS within each brand: overlapping windows of one brand become one candidate."""
    kept: list[Candidate] = []
    for cand in sorted(candidates, key=lambda c: -c.score):
        if all(k.brand != cand.brand or k.bbox.iou(cand.bbox) < iou for k in kept):
            kept.append(cand)
    return kept


def cross_brand_margin(candidates: Sequence[Candidate], *, iou: float = 0.3) -> list[Candidate]:
    """Set each candidate's margin to its score minus the best other brand's on the same spot."""
    out = []
    for cand in candidates:
        rivals = [o.score for o in candidates if o.brand != cand.brand and o.bbox.iou(cand.bbox) >= iou]
        margin = cand.score - max(rivals) if rivals else cand.score
        out.append(cand.with_(margin=round(min(cand.margin, margin) if cand.margin else margin, 4)))
    return out


def filter_candidates(candidates: Sequence[Candidate], *, threshold: float, min_margin: float) -> list[Candidate]:
    return [c for c in candidates if c.score >= threshold and (min_margin <= 0 or c.margin >= min_margin)]


def not_doubled(new: Sequence[Candidate], existing: Sequence[Candidate], *, iou: float = 0.5) -> list[Candidate]:
    """The new boxes that do not double a box of their brand already on their frame (IoU >= `iou` with one that
    is not rejected: the reviewer's own box, or one followed or found meanwhile, stays the one box there)."""
    held: dict[tuple[int, str], list[Candidate]] = {}
    for c in existing:
        if c.has_box and c.review.state is not ReviewState.REJECTED:
            held.setdefault((c.frame.index, c.final_brand), []).append(c)
    return [c for c in new if not any(h.final_bbox.iou(c.final_bbox) >= iou
                                      for h in held.get((c.frame.index, c.final_brand), ()))]


@dataclass(slots=True)
class _Track:
    id: int
    brand: str
    last: Candidate


@dataclass(slots=True)
class TrackLinker:
    """Links candidates across sampled frames: same brand, overlapping boxes, within `max_gap` frames.

    Stateful so that batches can be linked one after another (and after a resume, seeded with the
    last frames stored). New ids come from `new_id`: the pipeline hands out ids that are unique in
    the clip (the store reserves them), so that tracks of different runs and of review never share one.
    """

    max_gap_frames: int
    min_iou: float = 0.2
    new_id: Callable[[], int] = field(default_factory=lambda: itertools.count(1).__next__)
    _open: list[_Track] = field(default_factory=list)

    def seed(self, previous: Iterable[Candidate]) -> None:
        for cand in previous:
            if cand.track_id is not None:
                self._open.append(_Track(cand.track_id, cand.brand, cand))

    def link_frame(self, candidates: Sequence[Candidate]) -> list[Candidate]:
        """Assign track ids to one frame's candidates (all on the same frame)."""
        if not candidates:
            return []
        frame_index = candidates[0].frame.index
        self._open = [t for t in self._open if frame_index - t.last.frame.index <= self.max_gap_frames]
        taken: set[int] = set()
        # Best candidates claim their track first.
        order = sorted(range(len(candidates)), key=lambda i: -candidates[i].score)
        assigned: dict[int, Candidate] = {}
        for i in order:
            cand = candidates[i]
            best, best_iou = None, self.min_iou
            for track in self._open:
                if track.id in taken or track.brand != cand.brand or track.last.frame.index >= frame_index:
                    continue
                overlap = _motion_tolerant_iou(track.last, cand)
                if overlap >= best_iou:
                    best, best_iou = track, overlap
            if best is None:
                best = _Track(self.new_id(), cand.brand, cand)
                self._open.append(best)
            taken.add(best.id)
            linked = cand.with_(track_id=best.id)
            best.last = linked
            assigned[i] = linked
        return [assigned[i] for i in range(len(candidates))]


def _motion_tolerant_iou(a: Candidate, b: Candidate) -> float:
    """IoU, but a logo that moved a little between sampled frames still links: grow boxes first."""
    return a.bbox.expanded(1.5).iou(b.bbox.expanded(1.5))
