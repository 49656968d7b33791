"""Stage 2 over a run's candidates: each box verified on its own, or per track (a few crops of a track
judged, the verdict carried to the rest), remembering track verdicts across batches and resumes."""

from __future__ import annotations

from collections.abc import Sequence

from logotag_gui.core.base.records import Candidate, Frame, Verdict, VerdictState
from logotag_gui.core.verifiers import Verifier, VerifyItem

CONTEXT = 1.25  # verify a crop a little larger than the box: a logo's edges matter


def _verify_items(frame_by_index: dict[int, Frame], cands: Sequence[Candidate]) -> list[VerifyItem]:
    items = []
    for c in cands:
        frame = frame_by_index[c.frame.index]
        items.append(VerifyItem(c, frame.crop(c.bbox.expanded(CONTEXT))))
    return items


def combine_track_verdicts(verdicts: Sequence[Verdict], *, confident_no: float = 0.5) -> Verdict:
    """One verdict for a track from its verified crops: the majority of its confident verdicts.

    Only a "yes" (verifiers say yes only above their threshold) or a "no" held with confidence >=
    `confident_no` counts. An "unsure" (OCR that read nothing on a symbol, a near miss), a hesitant
    "no" or an unparsable answer says nothing about the rest of the track, so it never outvotes a
    confident crop. The most confident verdict of the majority wins. Where no crop is confident, or
    confident crops split evenly, the result is not confident: an UNSURE verdict (the most confident
    unsure one, a hesitant "no" turned unsure, or "crops disagree"), or the first verdict when all are
    unparsable. The result is confident exactly when its state is YES or NO.
    """
    if not verdicts:
        return Verdict(VerdictState.NOT_RUN)
    yes = [v for v in verdicts if v.state is VerdictState.YES]
    no = [v for v in verdicts if v.state is VerdictState.NO and (v.confidence or 0.0) >= confident_no]
    if len(yes) != len(no):
        return max(yes if len(yes) > len(no) else no, key=lambda v: v.confidence or 0.0)
    if yes:
        best = max(yes + no, key=lambda v: v.confidence or 0.0)
        return Verdict(VerdictState.UNSURE, None, f"the track's crops disagree ({len(yes)} yes, {len(no)} no)",
                       "", best.method)
    unsure = [v for v in verdicts if v.state is VerdictState.UNSURE]
    if unsure:
        return max(unsure, key=lambda v: v.confidence or 0.0)
    hesitant = [v for v in verdicts if v.state is VerdictState.NO]
    if hesitant:
        v = max(hesitant, key=lambda v: v.confidence or 0.0)
        return Verdict(VerdictState.UNSURE, None, f"a hesitant no ({v.confidence}): {v.rationale}", v.raw, v.method)
    return verdicts[0]


class Verification:
    """Per-candidate or track-level verification, remembering track verdicts across batches.

    Track-level: the best `k` crops of a track are verified and combined (`combine_track_verdicts`).
    Only a confident verdict (a yes, or a firm no) is carried to the rest of the track as if it were
    theirs (`from_track=True`), and it settles the track. A track that leaves the verifier unsure (OCR
    reads nothing on a symbol or a small crop, a near miss, crops that disagree, unparsable answers)
    stays open: later batches verify their best `k` crops of it too, until a confident verdict comes or
    `max_crops` crops (default 3k) of the track were verified. So a logo that grows or sharpens later
    is judged on its clearer crops, and an unreadable symbol costs at most 3k verifier calls. The crops
    not verified meanwhile, and all later ones once the budget is spent, carry the track's verdict
    marked as unsure (state UNSURE, `from_track=True`), never as a final yes or no. Candidates without
    a track are verified one by one.
    """

    def __init__(self, verifier: Verifier, *, per_track: bool, k: int, max_crops: int | None = None) -> None:
        self.verifier, self.per_track, self.k = verifier, per_track, k
        self.max_crops = max(1, max_crops if max_crops is not None else 3 * k)
        self.track_verdicts: dict[int, Verdict] = {}
        # track -> (frame index, box) -> that crop's own verdict: what the track's verdict is combined from
        self._verified: dict[int, dict[tuple, Verdict]] = {}

    def seed(self, previous: Sequence[Candidate]) -> None:
        seeded = set()
        for c in previous:
            if c.track_id is not None and c.verdict.state is not VerdictState.NOT_RUN and not c.verdict.from_track:
                self._verified.setdefault(c.track_id, {})[(c.frame.index, c.bbox)] = c.verdict
                seeded.add(c.track_id)
        for track in seeded:
            self.track_verdicts[track] = combine_track_verdicts(list(self._verified[track].values()))

    def crops_verified(self, track: int) -> int:
        """How many of the track's crops the verifier has judged (each counted once, however often seeded)."""
        return len(self._verified.get(track, {}))

    def settled(self, track: int) -> bool:
        """The track has a confident verdict, or its budget of verified crops is spent."""
        v = self.track_verdicts.get(track)
        if v is None:
            return False
        return v.state in (VerdictState.YES, VerdictState.NO) or self.crops_verified(track) >= self.max_crops

    def __call__(self, frames: dict[int, Frame], cands: list[Candidate]) -> list[Candidate]:
        if self.verifier.name == "none" or not cands:
            return cands
        if not self.per_track:
            verdicts = self.verifier.verify(_verify_items(frames, cands))
            return [c.with_(verdict=v) for c, v in zip(cands, verdicts, strict=True)]
        by_track: dict[int, list[int]] = {}
        chosen = []
        for i, c in enumerate(cands):
            if c.track_id is None:
                chosen.append(i)
            elif not self.settled(c.track_id):
                by_track.setdefault(c.track_id, []).append(i)
        for track, idx in by_track.items():
            room = self.max_crops - len(self._verified.get(track, {}))
            chosen += sorted(idx, key=lambda i: -cands[i].score)[: min(self.k, room)]
        by_index = dict(zip(chosen, self.verifier.verify(_verify_items(frames, [cands[i] for i in chosen])),
                            strict=True))
        for track, idx in by_track.items():
            mine = self._verified.setdefault(track, {})
            mine.update({(cands[i].frame.index, cands[i].bbox): by_index[i] for i in idx if i in by_index})
            self.track_verdicts[track] = combine_track_verdicts(list(mine.values()))

        def verdict(i: int, c: Candidate) -> Verdict:
            if i in by_index:
                return by_index[i]
            assert c.track_id is not None  # every box without a track was chosen, so verified above
            return self.carried(self.track_verdicts[c.track_id])

        return [c.with_(verdict=verdict(i, c)) for i, c in enumerate(cands)]

    @staticmethod
    def carried(v: Verdict) -> Verdict:
        """The track's verdict for a crop that was not verified itself: as it is when confident, else unsure."""
        if v.state in (VerdictState.YES, VerdictState.NO):
            return Verdict(v.state, v.confidence, v.rationale, "", v.method, from_track=True)
        if v.state is VerdictState.UNSURE:
            return Verdict(VerdictState.UNSURE, v.confidence, v.rationale, "", v.method, from_track=True)
        return Verdict(VerdictState.UNSURE, None, f"not verified here; the track's crops gave {v.state.value}: "
                       f"{v.rationale}".rstrip(": "), "", v.method, from_track=True)


def rejudge_tracks(candidates: Sequence[Candidate], joined_at: dict[int, int]) -> dict[int, Verdict]:
    """New verdicts for the boxes of tracks joined after they were verified apart (a split run's parts meet
    at a border; `joined_at`: track -> the first frame of the range after its first border), as one process
    would have judged them: a track whose crops before the border were confident carries that verdict past
    it (one process would not have verified those crops again); otherwise the boxes that carry their track's
    verdict take the verdict combined from all the track's own crops. Returns candidate id -> verdict, for
    the boxes whose verdict changes."""
    by_track: dict[int, list[Candidate]] = {}
    for c in candidates:
        if c.track_id in joined_at:
            by_track.setdefault(c.track_id, []).append(c)
    changed: dict[int, Verdict] = {}
    for track, members in by_track.items():
        border = joined_at[track]

        def own(cands: Sequence[Candidate]) -> list[Verdict]:
            return [c.verdict for c in cands
                    if not c.verdict.from_track and c.verdict.state is not VerdictState.NOT_RUN]

        before = combine_track_verdicts(own([c for c in members if c.frame.index < border]))
        settled = before.state in (VerdictState.YES, VerdictState.NO)
        combined = before if settled else combine_track_verdicts(own(members))
        if combined.state is VerdictState.NOT_RUN:
            continue
        carried = Verification.carried(combined)
        for c in members:
            replace = c.verdict.from_track or (settled and c.frame.index >= border)
            if replace and c.id is not None and c.verdict != carried:
                changed[c.id] = carried
    return changed
