"""What learning can stand behind, as the learner's steps: each find's belief as its verdict (under the floor: a
"maybe", out of the exposures to review), the views whose finds keep being rejected silenced, and the pending finds
believed again after a decision. The learner (learning.py) is built on this; the belief's own functions are pure, in
learned_belief.py."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from logotag_gui.core.base.records import BBox, Candidate, Verdict
from logotag_gui.core.review.learned_belief import (
    BeliefModel,
    MatchFeatures,
    ViewRecord,
    is_learned,
    learned_verdict,
    stored_features,
    view_of,
    view_records,
)

if TYPE_CHECKING:
    from logotag_gui.core.store.repository import Repository


class BelievedProposals:
    if TYPE_CHECKING:  # what these steps use of the learner (learning.py)
        repo: Repository
        settings: Any  # LearnSettings: floor, sure, view_floor, min_inliers
        _views: dict[int, Any]  # view id -> the learner's view (its `ref`: a LearnedReference)
        _silenced: set[int]
        _tell: Callable[[str], None]

    def _track_records(self) -> tuple[dict[int, ViewRecord], BeliefModel]:
        """Each learned view's record, and the belief model, from the project's decided learned proposals."""
        decided = [c for _, c in self.repo.iter_candidates(reviewed_only=True) if is_learned(c)]
        return view_records(decided), BeliefModel.fit(decided)

    def _stopped(self, brand: str, views: Sequence[Any], records: Mapping[int, ViewRecord]) -> set[int]:
        """The views whose proposals keep being rejected (their record under the floor): they propose no more; each
        is told once."""
        out = {v.ref.id for v in views if records.get(v.ref.id, ViewRecord()).mean() < self.settings.view_floor}
        for ref_id in sorted(out - self._silenced):
            self._silenced.add(ref_id)
            r, ref = records[ref_id], self._views[ref_id].ref
            self._tell(f"A learned view of {brand} (taught on frame {ref.frame_index}) proposes no more: "
                       f"{r.rejected:.0f} of its {r.accepted + r.rejected:.0f} finds were rejected.")
        return out

    def _believed(self, found: Sequence[Candidate], view_boxes: Mapping[int, BBox], records: Mapping[int, ViewRecord],
                  model: BeliefModel, embedded: set[tuple[int, BBox]]) -> list[Candidate]:
        """The finds, each with its belief as its verdict (under the floor: maybe)."""
        frames: dict[int | None, int] = {}
        for c in found:
            frames[c.track_id] = frames.get(c.track_id, 0) + 1
        out = []
        for c in found:
            view = view_of(c)
            features = MatchFeatures.of(c, view_boxes.get(view) if view is not None else None,
                                        frames[c.track_id] if c.track_id is not None else 1)
            if (c.frame.index, c.bbox) in embedded:
                features = MatchFeatures(self.settings.min_inliers, features.aspect, features.scale, features.frames,
                                         features.view_id)
            out.append(c.with_(verdict=self._verdict(features, records, model)))
        return out

    def _verdict(self, features: MatchFeatures, records: Mapping[int, ViewRecord], model: BeliefModel) -> Verdict:
        view_mean = records.get(features.view_id, ViewRecord()).mean() if features.view_id is not None \
            else ViewRecord().mean()
        return learned_verdict(model.p(features, view_mean), features, view_mean, floor=self.settings.floor,
                               sure=self.settings.sure)

    def rescore(self, clip: Iterable[Candidate]) -> list[Candidate]:
        """Give the pending learned proposals among `clip` their belief again, from their views' records and the
        model as they stand now (a view's finds rejected: its other finds sink, maybe under the floor); returns those
        whose verdict's state changed or whose belief moved by 0.05 or more, as stored."""
        pending = [c for c in clip if is_learned(c) and not c.review.decided]
        if not pending:
            return []
        records, model = self._track_records()
        changed = {}
        for c in pending:
            known = stored_features(c)
            features = known[0] if known is not None else MatchFeatures.of(c, self._view_box(view_of(c)))
            v = self._verdict(features, records, model)
            if v.state is not c.verdict.state or abs((v.confidence or 0) - (c.verdict.confidence or 0)) >= 0.05:
                changed[c.stored_id] = v
        if not changed:
            return []
        self.repo.set_verdicts(changed)
        return self.repo.candidates(ids=sorted(changed))

    def _view_box(self, view: int | None) -> BBox | None:
        held = self._views.get(view) if view is not None else None
        return held.ref.bbox if held is not None else None
