"""The review session: one clip's candidates and exposures, and everything a reviewer decides about them.

Qt-free: the app's table, timeline, film strip and frame view are views of this object (each subscribes
to its typed changes), and the review simulator drives the very same object. Every decision is committed
before the method returns (one transaction per step); undo and redo write new decisions (history is kept)
and are bounded. What needs pixels (following a box, learning from a decision) is the review assistant's
(assistant.py), which calls back in here with what it found.
"""

from __future__ import annotations

import bisect
import logging
from collections import deque
from collections.abc import Callable, Sequence

from logotag_gui.core.analysis.belief import Belief
from logotag_gui.core.analysis.exposure import ExposureRules
from logotag_gui.core.base.errors import NothingSelected
from logotag_gui.core.base.records import (
    MANUAL,
    TRACKED,
    BBox,
    Candidate,
    DecisionKind,
    FrameRef,
    ReviewState,
    review_key,
)
from logotag_gui.core.media.video import sample_indices
from logotag_gui.core.pipeline.follow import FollowResult
from logotag_gui.core.pipeline.navigation import next_candidate, next_track
from logotag_gui.core.review.coverage import SweepReview
from logotag_gui.core.review.exposure_review import ExposureReview
from logotag_gui.core.review.exposures import Exposure
from logotag_gui.core.review.steps import Changes, Step
from logotag_gui.core.store.edits import Decision, EditResult, ReviewEdit
from logotag_gui.core.store.repository import Repository, VideoSummary

log = logging.getLogger(__name__)
LIKE_REJECTED = "like_rejected"
Listener = Callable[[Changes], None]


class ReviewSession(ExposureReview, SweepReview):
    def __init__(self, repo: Repository, video: VideoSummary, *, reviewer: str, undo_limit: int = 200,
                 gap_tolerance_s: float = ExposureRules().gap_tolerance_s) -> None:
        self.repo, self.video, self.reviewer = repo, video, reviewer
        self.gap_tolerance_s = gap_tolerance_s
        self.fps = 0.0
        self.sampled: list[int] = []
        self.current_id: int | None = None
        self.current_exposure_key: tuple[str, int] | None = None
        self.last_brand: str | None = None  # what a new box is labelled by default
        self.belief = Belief()
        self._decided_at_fit = 0
        self._undo: deque[Step] = deque(maxlen=undo_limit)
        self._redo: list[Step] = []
        # candidate id -> the step that drew or tightened it: what a follow of it joins (one undo takes back both)
        self._seeds: dict[int, Step] = {}
        self._listeners: list[Listener] = []
        self._by_id: dict[int, Candidate] = {}
        self._order: list[tuple] = []  # review-order keys, sorted
        self._by_frame: dict[int, list[int]] = {}
        self._by_track: dict[int, set[int]] = {}
        self._by_brand: dict[str, set[int]] = {}
        self._splits: dict[str, list[int]] = {}
        self._exposures: dict[str, list[Exposure]] = {}
        self.reload()

    # ---- listening ----------------------------------------------------------------------------------
    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Call `listener(changes)` after every change; returns what unsubscribes it."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener) if listener in self._listeners else None

    def _emit(self, changes: Changes) -> None:
        """Tell every listener, each apart: a change is told after it is committed, so a listener that fails (a
        view that cannot redraw) is logged and neither stops the others nor makes the step look unsaved."""
        for listener in list(self._listeners):
            try:
                listener(changes)
            except Exception:
                log.exception("A view of the review failed to follow a change (%s); the change is saved", listener)

    def notify(self, changes: Changes) -> None:
        """Tell the views about a change made beside the candidates (the clip's audit sample and answers)."""
        if changes.audit:
            self.reload_answers()
        self._emit(changes)

    # ---- the candidate list ---------------------------------------------------------------------------
    def reload(self) -> None:
        """Read the clip's candidates again (after a run, or another reviewer's work)."""
        video = self.video
        # The grid the clip is reviewed on: its latest run's sampling rate.
        self.fps = self.repo.clip_fps(video.id)
        self.sampled = (list(range(video.frame_count)) if video.kind == "images"
                        else sample_indices(frame_count=video.frame_count, native_fps=video.fps, fps=self.fps))
        found = self.repo.candidates(video_id=video.id)
        self._by_id = {c.stored_id: c for c in found}
        self._order = sorted(review_key(c) for c in found)
        self._by_frame, self._by_track, self._by_brand = {}, {}, {}
        for c in found:
            self._by_frame.setdefault(c.frame.index, []).append(c.stored_id)
            self._index(c)
        self._splits = self.repo.splits(video.id)
        self.load_coverage()
        self._refit()
        if self.current_id not in self._by_id:
            self.current_id = None
        self._emit(Changes(reset=True, exposures=frozenset(self._exposures), coverage=True))

    @property
    def interval_s(self) -> float:
        """What one sampled frame stands for, in seconds."""
        if self.video.kind != "video":
            return 1.0
        return 1.0 / min(self.fps or self.video.fps, self.video.fps)

    @property
    def candidates(self) -> list[Candidate]:
        """In review order: frame, then left to right."""
        return [self._by_id[k[2]] for k in self._order]

    def __len__(self) -> int:
        return len(self._by_id)

    def get(self, candidate_id: int | None) -> Candidate | None:
        return self._by_id.get(candidate_id) if candidate_id is not None else None

    def at_frame(self, index: int) -> list[Candidate]:
        return [self._by_id[i] for i in self._by_frame.get(index, [])]

    def of_brand(self, brand: str) -> list[Candidate]:
        return sorted((self._by_id[i] for i in self._by_brand.get(brand, ())), key=review_key)

    def track(self, track_id: int | None) -> list[Candidate]:
        """The track's candidates in review order."""
        if track_id is None:
            return []
        return sorted((self._by_id[i] for i in self._by_track.get(track_id, ())), key=review_key)

    def _index(self, c: Candidate) -> None:
        if c.track_id is not None:
            self._by_track.setdefault(c.track_id, set()).add(c.stored_id)
        self._by_brand.setdefault(c.final_brand, set()).add(c.stored_id)

    def _unindex(self, c: Candidate) -> None:
        if c.track_id is not None:
            self._by_track.get(c.track_id, set()).discard(c.stored_id)
        self._by_brand.get(c.final_brand, set()).discard(c.stored_id)

    @property
    def current(self) -> Candidate | None:
        return self.get(self.current_id)

    def decided_count(self) -> int:
        return sum(c.review.decided for c in self._by_id.values())

    def frame_ref(self, index: int) -> FrameRef:
        t = index / self.video.fps if self.video.kind == "video" else float(index)
        return FrameRef(index, round(t, 6), self.video.width, self.video.height)

    def on_grid(self, index: int, *, after: bool = False) -> int:
        """The sampled frame at or before `index` (or at or after it), where review counts seconds."""
        if not self.sampled:
            return index
        i = bisect.bisect_left(self.sampled, index) if after else bisect.bisect_right(self.sampled, index) - 1
        return self.sampled[min(max(i, 0), len(self.sampled) - 1)]

    # ---- absorbing what the store wrote ---------------------------------------------------------------
    def write(self, edit: ReviewEdit) -> EditResult:
        """One review edit in one transaction (what a step calls); inside an undo or redo, in that one's."""
        return self.repo.apply_edit(edit, video_id=self.video.id, reviewer=self.reviewer)

    def _absorb(self, result: EditResult) -> Changes:
        brands: set[str] = set()
        for i in result.removed:
            c = self._by_id.pop(i, None)
            if c is None:
                continue
            self._order.remove(review_key(c))
            self._by_frame[c.frame.index].remove(i)
            self._unindex(c)
            brands.add(c.final_brand)
        for c in result.added:
            if c.stored_id in self._by_id:
                brands |= self._replace(c)
                continue
            self._by_id[c.stored_id] = c
            bisect.insort(self._order, review_key(c))
            self._by_frame.setdefault(c.frame.index, []).append(c.stored_id)
            self._index(c)
            brands.add(c.final_brand)
        for c in result.changed:
            if c.stored_id in self._by_id:
                brands |= self._replace(c)
        if result.splits:
            before, self._splits = self._splits, self.repo.splits(self.video.id)
            brands |= {b for b in set(before) | set(self._splits) if before.get(b) != self._splits.get(b)}
        if self.current_id in result.removed:
            self.current_id = None
        if result.looks:
            self._absorb_looks()
        if self._due_refit():
            self._refit()
            brands = set(self._exposures) | brands
        self._regroup(brands)
        return Changes(tuple(result.added), tuple(result.changed), tuple(result.removed), frozenset(brands),
                       coverage=result.looks)

    def _replace(self, c: Candidate) -> set[str]:
        old = self._by_id[c.stored_id]
        if review_key(old) != review_key(c):  # the order follows the model's box: only an id-level change moves it
            self._order.remove(review_key(old))
            bisect.insort(self._order, review_key(c))
        self._unindex(old)
        self._by_id[c.stored_id] = c
        self._index(c)
        return {old.final_brand, c.final_brand}

    def ingest(self, cands: Sequence[Candidate]) -> None:
        """Candidates stored elsewhere (a run's batches, a pass with what review taught) join the list."""
        stored = [c for c in cands if c.id is not None]
        if stored:
            self._emit(self._absorb(EditResult(added=stored)))

    def update(self, cands: Sequence[Candidate]) -> None:
        """Candidates changed elsewhere (a look-alike hint, another reviewer): take the stored records."""
        known = [c for c in cands if c.id in self._by_id]
        if known:
            self._emit(self._absorb(EditResult(changed=known)))

    # ---- moving ---------------------------------------------------------------------------------------
    def select(self, candidate_id: int | None) -> Candidate | None:
        self.current_id = candidate_id if candidate_id in self._by_id else None
        c = self.current
        if c is not None:
            e = self.exposure_of(c)
            self.current_exposure_key = e.key if e is not None else None
        self._emit(Changes(selection=True))
        return c

    def next(self, *, step: int = 1, unreviewed: bool = False, track: bool = False, frame: int = 0,
             order: Sequence[int] | None = None) -> Candidate | None:
        """The next (or previous) candidate from the current one, or from `frame` when none is current.

        `order`: candidate ids in another order (the table's sort and filter) to move through instead.
        Unreviewed candidates that look like a rejected box come after all the others.
        """
        ordered = [self._by_id[i] for i in order if i in self._by_id] if order is not None else self.candidates
        if track:
            return next_track(ordered, frame=frame, current_id=self.current_id, step=step)
        if not unreviewed:
            return next_candidate(ordered, frame=frame, current_id=self.current_id, step=step)
        found = next_candidate([c for c in ordered if c.hint != LIKE_REJECTED or c.id == self.current_id],
                               frame=frame, current_id=self.current_id, step=step, unreviewed_only=True)
        if found is None:  # only look-alikes of rejected boxes are left
            found = next_candidate(ordered, frame=frame, current_id=self.current_id, step=step, unreviewed_only=True)
        if found is None and step > 0:  # past the end: what is left earlier (added since, or skipped)
            found = next((c for c in ordered if not c.review.decided and c.hint != LIKE_REJECTED), None) or next(
                (c for c in ordered if not c.review.decided), None)
        return found

    def _advance(self, after: Candidate) -> None:
        self.current_id = after.id
        nxt = self.next(unreviewed=True, frame=after.frame.index)
        if nxt is not None:
            self.select(nxt.id)

    # ---- deciding boxes ---------------------------------------------------------------------------------
    def _run(self, step: Step) -> Changes:
        changes = self._absorb(step.do(self)) | Changes(history=True)
        self._undo.append(step)
        self._redo.clear()
        self._emit(changes)
        return changes

    def _target(self, c: Candidate | None) -> Candidate:
        c = self.get(c.id) if c is not None else self.current
        if c is None:
            raise NothingSelected("No box is selected: select one first.", what="box")
        return c

    def accept(self, c: Candidate | None = None, *, advance: bool = True) -> Candidate:
        return self._decide(c, DecisionKind.ACCEPT, advance=advance)

    def reject(self, c: Candidate | None = None, *, advance: bool = True) -> Candidate:
        return self._decide(c, DecisionKind.REJECT, advance=advance)

    def relabel(self, c: Candidate | None, brand: str) -> Candidate:
        self.last_brand = brand
        return self._decide(c, DecisionKind.RELABEL, brand=brand, advance=False)

    def edit_box(self, c: Candidate | None, bbox: BBox) -> Candidate:
        return self._decide(c, DecisionKind.BOX_EDIT, bbox=bbox, advance=False)

    def _decide(self, c: Candidate | None, kind: DecisionKind, *, brand: str | None = None, bbox: BBox | None = None,
                advance: bool) -> Candidate:
        c = self._target(c)
        text = {DecisionKind.RELABEL: f"Relabel to {brand}", DecisionKind.BOX_EDIT: "Edit box"}.get(
            kind, f"{kind.value.title()} {c.final_brand}")
        step = Step(text, ReviewEdit(decide=(Decision((c.stored_id,), kind, brand, bbox),)))
        self._run(step)
        if kind is DecisionKind.BOX_EDIT:  # what follows the tightened box is undone with the tightening
            self._seeds[c.stored_id] = step
        done = self._by_id[c.stored_id]
        if advance:
            self._advance(done)
        return done

    def decide_track(self, c: Candidate | None, kind: DecisionKind, *, advance: bool = True) -> list[Candidate]:
        """One decision for the candidate's whole track (those not decided yet), in one transaction."""
        c = self._target(c)
        members = [m for m in self.track(c.track_id) if not m.review.decided] if c.track_id is not None else [c]
        if not members:
            return []
        text = f"{kind.value.title()} track of {c.final_brand} ({len(members)} boxes)"
        ids = tuple(m.stored_id for m in members)
        self._run(Step(text, ReviewEdit(decide=(Decision(ids, kind),))))
        if advance:
            self._advance(c)
        return [self._by_id[i] for i in ids]

    def add_box(self, frame_index: int, bbox: BBox, brand: str) -> Candidate:
        """A missed logo drawn on a frame: accepted at once, with a track of its own for what follows it."""
        self.last_brand = brand
        track_id = self.repo.reserve_track_ids(self.video.id)
        drawn = Candidate(self.frame_ref(frame_index), bbox, brand, 1.0, MANUAL, track_id=track_id)
        step = Step(f"Draw a {brand} box at {self._when(frame_index)}",
                    ReviewEdit(add_decided=((drawn, DecisionKind.ADDED),)))
        changes = self._run(step)
        added = changes.added[0]
        self._seeds[added.stored_id] = step  # the boxes followed from it are undone and redone with it
        self.select(added.id)
        return added

    def add_followed(self, seed: Candidate, result: FollowResult, *, accept: bool = False,
                     join: Step | None = None) -> list[Candidate]:
        """The proposed track: a pending "tracked" box on each sampled frame the mark reached, unless a box of
        the brand is already there: a pending one joins the track, a decided one is left as it is, and a pending box
        of the seed's own track that the followed box says is off the mark (IoU < 0.5; the reviewer tightened the
        seed) is rejected and replaced by the followed one, so that one T accepts a right track. On a frame where the
        reviewer marked the brand on screen (a presence), the box found is stored accepted: it gives the presence its
        size and place. `accept`: the reviewer already said the brand is on screen there (an extended exposure): the
        boxes are stored accepted. `join`: the step this follows up (an exposure accepted or extended, a brand marked
        on screen; a drawn or tightened box's own step where `join` is None): undone and redone with it, and nothing
        is added where it was undone meanwhile (what lands after its seed was taken back is dropped)."""
        seed = self._target(seed)
        if join is None:  # a drawn or tightened box: its follow is one step with it while that can be undone
            made = self._seeds.get(seed.stored_id)
            if made is not None and any(step is made for step in self._redo):
                return []  # the tightening was taken back meanwhile: what followed the box it gave is dropped
            join = made if made is not None and any(step is made for step in self._undo) else None
        elif not any(step is join for step in self._undo):
            return []
        track_id = seed.track_id
        if track_id is None:  # a model box without a track: give it one
            track_id = self.repo.reserve_track_ids(self.video.id)
        brand = seed.final_brand
        proposed: list[Candidate] = []
        replace: list[int] = []
        retrack: dict[int, int | None] = {} if seed.track_id == track_id else {seed.stored_id: track_id}
        on_screen: set[int] = set()  # frames where the reviewer already said the brand is (a presence)
        for box in result.boxes:
            same = [c for c in self.at_frame(box.frame.index) if c.final_brand == brand]
            if any(not c.has_box and c.review.state is ReviewState.ACCEPTED for c in same):
                on_screen.add(box.frame.index)
            same = [c for c in same if c.has_box]
            # A rejected box says "not this box", not "not this brand": only the same box rejected (IoU >= 0.5), a
            # box already accepted there, or a look that found the brand absent stops the followed box.
            if any((c.review.state is ReviewState.ACCEPTED and c.final_bbox.overlaps(box.bbox))
                   or (c.review.state is ReviewState.REJECTED and c.final_bbox.iou(box.bbox) >= 0.5) for c in same):
                continue
            if self.absent(brand, box.frame.index):
                continue
            own = [c for c in same if c.track_id == track_id and not c.review.decided]
            if any(c.final_bbox.iou(box.bbox) >= 0.5 for c in own):
                continue  # the track's box is there already
            here = [c for c in same if not c.review.decided and c.track_id != track_id
                    and c.final_bbox.overlaps(box.bbox)]
            if here and not own:
                retrack.update({c.stored_id: track_id for c in here})
                continue
            replace += [c.stored_id for c in own]
            proposed.append(Candidate(box.frame, box.bbox, brand, box.score, TRACKED, reference=seed.reference,
                                      track_id=track_id))
        if not proposed and not retrack:
            return []
        # Where the reviewer said the brand is on screen, the box found there is theirs already: accepted.
        accepted = [accept or c.frame.index in on_screen for c in proposed]
        edit = ReviewEdit(add=tuple(c for c, a in zip(proposed, accepted, strict=True) if not a),
                          add_decided=tuple((c, DecisionKind.ACCEPT) for c, a in zip(proposed, accepted, strict=True)
                                            if a),
                          retrack=retrack, decide=(Decision(tuple(replace), DecisionKind.REJECT),) if replace else ())
        n = len(proposed) + len(retrack)
        step = Step(f"Follow {brand} ({n} box{'es' if n != 1 else ''})", edit)
        if join is None:
            changes = self._run(step)
        else:
            changes = self._absorb(step.do(self))
            join.then.append(step)
            self._emit(changes)
        return list(changes.added) + [c for c in changes.changed if c.stored_id in retrack]

    # ---- undo and redo ---------------------------------------------------------------------------------
    @property
    def can_undo(self) -> bool:
        return bool(self._undo)

    @property
    def can_redo(self) -> bool:
        return bool(self._redo)

    @property
    def undo_text(self) -> str:
        """What the next undo takes back, with what followed it up ("Draw a redbull box at 12.5 s (and its 14
        followed boxes)")."""
        return describe(self._undo[-1]) if self._undo else ""

    @property
    def redo_text(self) -> str:
        return describe(self._redo[-1]) if self._redo else ""

    def _when(self, frame_index: int) -> str:
        return f"{self.frame_ref(frame_index).t:.1f} s" if self.video.kind == "video" else f"image {frame_index}"

    @property
    def last_step(self) -> Step | None:
        """The step the next undo takes back: what a follow-up of it (`add_followed(join=...)`) joins."""
        return self._undo[-1] if self._undo else None

    def undo(self) -> Changes:
        """Take back the last step and what followed it up, in one transaction: a failure leaves the project, the
        session and both stacks as they were."""
        if not self._undo:
            return Changes()
        step = self._undo[-1]
        results = self._in_one_transaction(lambda unit: [later.undo(unit) for later in reversed(_all_then(step))]
                                           + [step.undo(unit)])
        self._undo.pop()
        self._redo.append(step)
        changes = Changes(history=True)
        for result in results:
            changes |= self._absorb(result)
        if self.current_id is None:  # the box undone is gone: the one whose decision came back is selected
            back = next((c for c in (self.get(c.stored_id) for c in results[-1].changed)
                         if c is not None and c.has_box), None)
            if back is not None:
                self.current_id = back.stored_id
                changes |= Changes(selection=True)
        self._emit(changes)
        return changes

    def redo(self) -> Changes:
        """Do the last undone step and its follow-ups again, in one transaction. What they add is stored under new
        ids: every step that names those candidates (its follow-ups, the steps to redo after it, the inverses
        below it) is told the new ids, and the step's own candidate is selected again."""
        if not self._redo:
            return Changes()
        step = self._redo[-1]
        steps = [step, *_all_then(step)]
        every = [x for top in (*self._undo, *self._redo) if top is not step for x in (top, *_all_then(top))]
        kept = [(x, x.edit, x.inverse) for x in steps]
        renamed: dict[int, int] = {}

        def do_all(unit: _Unit) -> list[EditResult]:
            results = []
            for x in steps:
                made_before = x.inverse.delete  # what it added when it was done last: the same rows, in order
                x.edit = x.edit.renamed(renamed)
                result = x.do(unit)
                renamed.update((old, c.stored_id) for old, c in zip(made_before, result.added, strict=False)
                               if old != c.stored_id)
                results.append(result)
            return results

        try:
            results = self._in_one_transaction(do_all)
        except BaseException:
            for x, edit, inverse in kept:
                x.edit, x.inverse = edit, inverse
            raise
        for x in every:
            x.edit, x.inverse = x.edit.renamed(renamed), x.inverse.renamed(renamed)
        if self.current_id in renamed:
            self.current_id = renamed[self.current_id]
        self._seeds = {renamed.get(i, i): made for i, made in self._seeds.items()}
        self._redo.pop()
        self._undo.append(step)
        changes = Changes(history=True)
        for result in results:
            changes |= self._absorb(result)
        own = [c for c in (*results[0].added, *results[0].changed) if c.has_box and c.stored_id in self._by_id]
        if own:  # the redone box selected, as it was when the step was done
            self.current_id = own[0].stored_id
            e = self.exposure_of(own[0])
            self.current_exposure_key = e.key if e is not None else None
            changes |= Changes(selection=True)
        self._emit(changes)
        return changes

    def _in_one_transaction(self, work: Callable[[_Unit], list[EditResult]]) -> list[EditResult]:
        """`work(unit)` writes its steps through `unit` (a StepTarget) in one transaction; the session absorbs
        nothing until it is committed."""
        with self.repo.edit_transaction():
            return work(_Unit(self))


def describe(step: Step) -> str:
    """The step as the reviewer made it, with the boxes LogoTag added or moved to follow it up."""
    later = _all_then(step)
    boxes = sum(len(x.edit.add) + len(x.edit.add_decided) + len(x.edit.retrack) for x in later)
    if not later:
        return step.text
    return f"{step.text} (and its {boxes} followed box{'es' if boxes != 1 else ''})"


def _all_then(step: Step) -> list[Step]:
    """The step's follow-ups, theirs after each, in the order they were done."""
    return [x for later in step.then for x in (later, *_all_then(later))]


class _Unit:
    """What the steps of one undo or redo see of the session: as the writes before them in the same transaction
    left it (the session itself absorbs them once they are committed)."""

    def __init__(self, session: ReviewSession) -> None:
        self.session, self.reviewer = session, session.reviewer
        self._seen: dict[int, Candidate | None] = {}
        self._splits: dict[tuple[str, int], bool] = {}
        self._looks: dict[tuple[int, int], bool] = {}

    def get(self, candidate_id: int | None) -> Candidate | None:
        if candidate_id in self._seen:
            return self._seen[candidate_id]
        return self.session.get(candidate_id)

    def has_split(self, brand: str, frame: int) -> bool:
        return self._splits.get((brand, frame), self.session.has_split(brand, frame))

    def has_look(self, first: int, last: int) -> bool:
        return self._looks.get((first, last), self.session.has_look(first, last))

    def write(self, edit: ReviewEdit) -> EditResult:
        result = self.session.write(edit)
        self._seen.update({i: None for i in result.removed})
        self._seen.update({c.stored_id: c for c in (*result.added, *result.changed)})
        self._splits.update({sp: False for sp in edit.remove_splits} | {sp: True for sp in edit.add_splits})
        self._looks.update({lk: False for lk in edit.remove_looks} | {lk: True for lk in edit.add_looks})
        return result
