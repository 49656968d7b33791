"""The review session: one clip's candidate list, and everything a reviewer does to it.

Qt-free: the app's table, timeline and frame view are views of this object (they subscribe to its
change events), and the review simulator drives the very same object. Every decision is committed
before the method returns; undo and redo write new decisions (history is kept) and are bounded.
"""

from __future__ import annotations

import bisect
import logging
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from logotag_gui.core.base.records import BBox, Candidate, DecisionKind, FrameRef
from logotag_gui.core.media.video import sample_indices
from logotag_gui.core.pipeline.follow import FollowResult, FollowSettings, follow_box
from logotag_gui.core.pipeline.navigation import next_candidate, next_track
from logotag_gui.core.review.commands import AddBox, AddTrack, Decide
from logotag_gui.core.store.repository import Repository, VideoSummary

log = logging.getLogger(__name__)
LIKE_REJECTED = "like_rejected"


@dataclass(frozen=True, slots=True)
class ReviewEvent:
    """What changed: "changed" / "added" (candidates), "removed" (ids), "reset" (everything),
    "selected" (ids: the new current one, or none), "history" (undo/redo availability)."""

    kind: str
    candidates: tuple[Candidate, ...] = ()
    ids: tuple[int, ...] = ()


Listener = Callable[[ReviewEvent], None]


def _key(c: Candidate) -> tuple:
    return (c.frame.index, c.bbox.x, c.id or 0)


class ReviewSession:
    def __init__(self, repo: Repository, video: VideoSummary, *, reviewer: str, undo_limit: int = 200) -> None:
        self.repo, self.video, self.reviewer = repo, video, reviewer
        self.fps = 0.0
        self.sampled: list[int] = []
        self.current_id: int | None = None
        self.last_brand: str | None = None  # what a new box is labelled by default
        self._undo: deque = deque(maxlen=undo_limit)
        self._redo: list = []
        self._listeners: list[Listener] = []
        self._by_id: dict[int, Candidate] = {}
        self._order: list[tuple] = []  # review-order keys, sorted
        self._by_frame: dict[int, list[int]] = {}
        self._by_track: dict[int, set[int]] = {}
        self.reload()

    # ---- listening ----------------------------------------------------------------------------------
    def subscribe(self, listener: Listener) -> Callable[[], None]:
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    def _emit(self, kind: str, *, candidates: Iterable[Candidate] = (), ids: Iterable[int] = ()) -> None:
        event = ReviewEvent(kind, tuple(candidates), tuple(ids))
        for listener in list(self._listeners):
            listener(event)

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
        self._order = sorted(_key(c) for c in found)
        self._by_frame, self._by_track = {}, {}
        for c in found:
            self._by_frame.setdefault(c.frame.index, []).append(c.stored_id)
            self._track_add(c)
        if self.current_id not in self._by_id:
            self.current_id = None
        self._emit("reset")

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

    def track(self, track_id: int | None) -> list[Candidate]:
        """The track's candidates in review order."""
        if track_id is None:
            return []
        return sorted((self._by_id[i] for i in self._by_track.get(track_id, ())), key=_key)

    def _track_add(self, c: Candidate) -> None:
        if c.track_id is not None:
            self._by_track.setdefault(c.track_id, set()).add(c.stored_id)

    def _track_drop(self, c: Candidate) -> None:
        if c.track_id is not None:
            self._by_track.get(c.track_id, set()).discard(c.id)

    @property
    def current(self) -> Candidate | None:
        return self.get(self.current_id)

    def decided_count(self) -> int:
        return sum(c.review.decided for c in self._by_id.values())

    def frame_ref(self, index: int) -> FrameRef:
        t = index / self.video.fps if self.video.kind == "video" else float(index)
        return FrameRef(index, round(t, 6), self.video.width, self.video.height)

    def _inserted(self, cands: Sequence[Candidate]) -> None:
        for c in cands:
            if c.id in self._by_id:
                self._replace_one(c)
                continue
            self._by_id[c.stored_id] = c
            bisect.insort(self._order, _key(c))
            self._by_frame.setdefault(c.frame.index, []).append(c.stored_id)
            self._track_add(c)
        if cands:
            self._emit("added", candidates=cands)

    def _replace_one(self, c: Candidate) -> None:
        old = self._by_id[c.stored_id]
        if _key(old) != _key(c):  # the order follows the model's box: only an id-level change moves it
            self._order.remove(_key(old))
            bisect.insort(self._order, _key(c))
        self._track_drop(old)
        self._by_id[c.stored_id] = c
        self._track_add(c)

    def _replaced(self, cands: Sequence[Candidate]) -> None:
        for c in cands:
            if c.id in self._by_id:
                self._replace_one(c)
        if cands:
            self._emit("changed", candidates=cands)

    def _removed(self, ids: Sequence[int]) -> None:
        for i in ids:
            c = self._by_id.pop(i, None)
            if c is None:
                continue
            self._order.remove(_key(c))
            self._by_frame[c.frame.index].remove(i)
            self._track_drop(c)
        if self.current_id in ids:
            self.current_id = None
        if ids:
            self._emit("removed", ids=ids)

    def ingest(self, cands: Sequence[Candidate]) -> None:
        """Candidates stored elsewhere (a run's batches, a pass with what review taught) join the list."""
        self._inserted([c for c in cands if c.id is not None])

    def update(self, cands: Sequence[Candidate]) -> None:
        """Candidates changed elsewhere (a look-alike hint, another reviewer): take the stored records."""
        self._replaced([c for c in cands if c.id in self._by_id])

    # ---- moving ---------------------------------------------------------------------------------------
    def select(self, candidate_id: int | None) -> Candidate | None:
        self.current_id = candidate_id if candidate_id in self._by_id else None
        self._emit("selected", ids=() if self.current_id is None else (self.current_id,))
        return self.current

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

    # ---- deciding ---------------------------------------------------------------------------------------
    def _run(self, command) -> list[Candidate]:
        changed = command.do(self)
        self._undo.append(command)
        self._redo.clear()
        self._emit("history")
        return changed

    def _target(self, c: Candidate | None) -> Candidate:
        c = self.get(c.id) if c is not None else self.current
        if c is None:
            raise LookupError("no candidate is selected")
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
        done = self._run(Decide((c.stored_id,), kind, text, brand=brand, bbox=bbox))[0]
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
        done = self._run(Decide(tuple(m.stored_id for m in members), kind, text))
        if advance:
            self._advance(c)
        return done

    def add_box(self, frame_index: int, bbox: BBox, brand: str) -> Candidate:
        """A missed logo drawn on a frame: accepted at once, with a track of its own for what follows it."""
        self.last_brand = brand
        track_id = self.repo.reserve_track_ids(self.video.id)
        added = self._run(AddBox(self.video.id, self.frame_ref(frame_index), bbox, brand, track_id,
                                 text=f"Add {brand} box"))[0]
        self.select(added.id)
        return added

    # ---- following a box through the clip -----------------------------------------------------------------
    def follow(self, c: Candidate, source, *, settings: FollowSettings | None = None,
               on_progress=None, cancel=None) -> FollowResult:
        """Where the mark in `c`'s box goes (compute only: safe on a worker thread with its own source)."""
        return follow_box(source, frame_index=c.frame.index, bbox=c.final_bbox, sampled=self.sampled,
                          settings=settings or FollowSettings(), on_progress=on_progress, cancel=cancel)

    def add_followed(self, seed: Candidate, result: FollowResult) -> list[Candidate]:
        """The proposed track: a pending "tracked" box on each sampled frame the mark reached, unless a box of
        the brand is already there: a pending one joins the track, a decided one is left as it is, and a
        pending box of the seed's own track that the followed box says is off the mark (IoU < 0.5; the
        reviewer tightened the seed) is rejected and replaced by the followed one, so that one T accepts
        a right track."""
        seed = self._target(seed)
        track_id = seed.track_id
        if track_id is None:  # a model box without a track: give it one
            track_id = self.repo.reserve_track_ids(self.video.id)
        brand = seed.final_brand
        proposed: list[Candidate] = []
        replace: list[int] = []
        join: dict[int, int | None] = {} if seed.track_id == track_id else {seed.stored_id: seed.track_id}
        for box in result.boxes:
            same = [c for c in self.at_frame(box.frame.index) if c.final_brand == brand]
            if any(c.review.decided and c.final_bbox.overlaps(box.bbox) for c in same):
                continue
            own = [c for c in same if c.track_id == track_id and not c.review.decided]
            if any(c.final_bbox.iou(box.bbox) >= 0.5 for c in own):
                continue  # the track's box is there already
            here = [c for c in same if not c.review.decided and c.track_id != track_id
                    and c.final_bbox.overlaps(box.bbox)]
            if here and not own:
                join.update({c.stored_id: c.track_id for c in here})
                continue
            replace += [c.stored_id for c in own]
            proposed.append(Candidate(box.frame, box.bbox, brand, box.score, "tracked", reference=seed.reference,
                                      track_id=track_id))
        if not proposed and not join:
            return []
        return self._run(AddTrack(self.video.id, track_id, proposed, join, replace=tuple(replace),
                                  text=f"Follow {brand} ({len(proposed) + len(join)} boxes)"))

    # ---- undo and redo ---------------------------------------------------------------------------------
    @property
    def can_undo(self) -> bool:
        return bool(self._undo)

    @property
    def can_redo(self) -> bool:
        return bool(self._redo)

    @property
    def undo_text(self) -> str:
        return self._undo[-1].text if self._undo else ""

    @property
    def redo_text(self) -> str:
        return self._redo[-1].text if self._redo else ""

    def undo(self) -> list[Candidate]:
        if not self._undo:
            return []
        command = self._undo.pop()
        changed = command.undo(self)
        self._redo.append(command)
        self._emit("history")
        return changed

    def redo(self) -> list[Candidate]:
        if not self._redo:
            return []
        command = self._redo.pop()
        changed = command.do(self)
        self._undo.append(command)
        self._emit("history")
        return changed
