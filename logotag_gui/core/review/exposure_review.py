"""The review session's exposures: grouping a brand's frames, review order, the meter, and the decisions
about whole exposures (accept, reject, in and out points, split, a brand marked on screen).

A part of ReviewSession (session.py), which owns the candidate indexes, the undo stack and the listeners;
each decision here is one step (steps.py) through the session, committed before the call returns.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from logotag_gui.core.analysis.belief import Belief
from logotag_gui.core.base.errors import NothingSelected
from logotag_gui.core.base.records import Candidate, FrameRef
from logotag_gui.core.review import exposure_edits
from logotag_gui.core.review.exposures import Exposure, group_exposures
from logotag_gui.core.review.learned_belief import is_maybe
from logotag_gui.core.review.steps import Changes, Step
from logotag_gui.core.store.edits import ReviewEdit

if TYPE_CHECKING:
    from logotag_gui.core.store.repository import Repository, VideoSummary

REFIT_EVERY = 25  # decisions between refits of the belief (what review order and the meter read)
GALLERY_SIZE = 48  # exposures a gallery shows at once: what one key accepts after a glance at each


@dataclass(frozen=True, slots=True)
class Meter:
    """Where the clip's seconds stand: settled by review, or still resting on the model."""

    settled_s: float  # seconds of exposures the reviewer accepted (frames decided)
    on_model_s: float  # seconds the project counts that nobody reviewed yet
    pending_exposures: int
    pending_s: float  # seconds of frames still to review (whatever the model says of them)

    def format(self) -> str:
        return (f"settled by review {self.settled_s:.1f} s · resting on the model {self.on_model_s:.1f} s "
                f"({self.pending_exposures} exposure{'s' if self.pending_exposures != 1 else ''} to review)")


class ExposureReview:
    # Learned proposals under the belief's floor ("maybe": learned_belief.py) are kept out of the exposures (the
    # gallery, the review order, the meter) until the reviewer asks to see them (`show_maybe`).
    showing_maybe: bool = False

    if TYPE_CHECKING:  # what this part uses of ReviewSession (session.py)
        repo: Repository
        video: VideoSummary
        sampled: list[int]
        gap_tolerance_s: float
        belief: Belief
        current_id: int | None
        current_exposure_key: tuple[str, int] | None
        last_brand: str | None
        _decided_at_fit: int
        _by_id: dict[int, Candidate]
        _by_brand: dict[str, set[int]]
        _splits: dict[str, list[int]]
        _exposures: dict[str, list[Exposure]]

        @property
        def interval_s(self) -> float: ...

        @property
        def current(self) -> Candidate | None: ...

        def decided_count(self) -> int: ...

        def at_frame(self, index: int) -> list[Candidate]: ...

        def frame_ref(self, index: int) -> FrameRef: ...

        def on_grid(self, index: int, *, after: bool = False) -> int: ...

        def _emit(self, changes: Changes) -> None: ...

        def _run(self, step: Step) -> Changes: ...

    # ---- exposures --------------------------------------------------------------------------------------
    def _due_refit(self) -> bool:
        return abs(self.decided_count() - self._decided_at_fit) >= REFIT_EVERY

    def _refit(self) -> None:
        """Learn again how likely each kind of pending candidate is right; every exposure is grouped again."""
        self.belief = Belief.fit(self._by_id.values())
        self._decided_at_fit = self.decided_count()
        self._exposures = {}
        self._regroup(set(self._by_brand))

    def _regroup(self, brands: Iterable[str]) -> None:
        for brand in brands:
            members = [self._by_id[i] for i in self._by_brand.get(brand, ())]
            if not self.showing_maybe:
                members = [c for c in members if not is_maybe(c)]
            grouped = group_exposures(members, sampled=self.sampled, interval_s=self.interval_s,
                                      gap_tolerance_s=self.gap_tolerance_s,
                                      splits=self._splits.get(brand, ()), belief=self.belief)
            if grouped:
                self._exposures[brand] = grouped
            else:
                self._exposures.pop(brand, None)

    def maybe(self, brand: str | None = None) -> list[Candidate]:
        """The learned proposals waiting as "maybe" (under the belief's floor): kept, not among the exposures to
        review unless shown; a brand's, or every brand's, in review order."""
        ids = self._by_brand.get(brand, set()) if brand is not None else self._by_id
        return sorted((c for i in ids if is_maybe(c := self._by_id[i])), key=lambda c: (c.frame.index, c.stored_id))

    def show_maybe(self, on: bool) -> Changes:
        """Show the maybe lane among the exposures (the gallery, the film strip), or hide it again."""
        if on == self.showing_maybe:
            return Changes()
        self.showing_maybe = on
        brands = {c.final_brand for c in self.maybe()}
        self._regroup(brands)
        changes = Changes(exposures=frozenset(brands))
        self._emit(changes)
        return changes

    def has_split(self, brand: str, frame: int) -> bool:
        return frame in self._splits.get(brand, ())

    def exposures(self, brand: str | None = None) -> list[Exposure]:
        """The clip's exposures (or one brand's), in time order."""
        if brand is not None:
            return list(self._exposures.get(brand, []))
        return sorted((e for es in self._exposures.values() for e in es), key=lambda e: (e.first, e.brand))

    def brands_on_screen(self) -> list[str]:
        return sorted(self._exposures)

    def exposure_at(self, brand: str, frame: int) -> Exposure | None:
        """The brand's exposure that covers `frame`, or None."""
        for e in self._exposures.get(brand, []):
            if e.contains(frame):
                return e
        return None

    def exposure_of(self, c: Candidate) -> Exposure | None:
        return self.exposure_at(c.final_brand, c.frame.index)

    @property
    def current_exposure(self) -> Exposure | None:
        if self.current_exposure_key is not None:
            brand, frame = self.current_exposure_key
            found = self.exposure_at(brand, frame)
            if found is not None:
                return found
        c = self.current
        return self.exposure_of(c) if c is not None else None

    def review_queue(self) -> list[Exposure]:
        """Exposures still to review, where the seconds are least certain first (length x how unsure the model
        is), then in time order."""
        if self._due_refit():
            self._refit()
        return sorted((e for e in self.exposures() if e.pending), key=lambda e: (-round(e.effect, 6), e.first))

    def gallery(self, brand: str | None = None, *, size: int = GALLERY_SIZE) -> list[Exposure]:
        """The exposures still to review that a gallery shows at once, in review order: a brand's, or every
        brand's (`brand` None). The reviewer glances at each picture, deals with the wrong ones (reject, trim,
        split) and accepts the rest with one key."""
        queue = self.review_queue()
        return [e for e in queue if brand is None or e.brand == brand][:size]

    def next_exposure(self, *, step: int = 1, pending: bool = True) -> Exposure | None:
        """The next (or previous) exposure after the current one: in review order among those still to review,
        or in time order among all of them."""
        order = self.review_queue() if pending else self.exposures()
        if not order:
            return None
        current = self.current_exposure
        keys = [e.key for e in order]
        if current is None or current.key not in keys:
            return order[0] if step > 0 else order[-1]
        i = keys.index(current.key) + step
        return order[i] if 0 <= i < len(order) else None

    def select_exposure(self, e: Exposure | None) -> Exposure | None:
        """Make `e` the current exposure; its first frame's box (if any) becomes the current candidate."""
        if e is None:
            self.current_exposure_key = None
            self._emit(Changes(selection=True))
            return None
        self.current_exposure_key = (e.brand, e.first)
        live = e.live or (e.first, e.last)
        here = [c for f in e.span if live[0] <= f <= live[1] for c in self.at_frame(f)
                if c.final_brand == e.brand and c.has_box]
        pending = [c for c in here if not c.review.decided]
        self.current_id = (pending or here)[0].stored_id if here else None
        self._emit(Changes(selection=True))
        return e

    def meter(self) -> Meter:
        """Seconds settled by review and seconds still resting on the model, for the clip."""
        exposures = self.exposures()
        pending = [e for e in exposures if e.pending]
        on_model = sum(e.counted_seconds - e.seconds for e in pending)
        return Meter(round(sum(e.seconds for e in exposures), 6), round(on_model, 6), len(pending),
                     round(sum(e.pending_seconds for e in pending), 6))

    def resolve_exposure(self, e: Exposure | None) -> Exposure:
        """`e` as it is now (or the current exposure): decisions reshape exposures."""
        e = e if e is not None else self.current_exposure
        if e is None:
            raise NothingSelected("No exposure is selected: select one first.", what="exposure")
        found = self.exposure_at(e.brand, e.first)
        if found is None:
            raise NothingSelected(f"The {e.brand} exposure at frame {e.first} is gone (a decision reshaped it): "
                                  "select it again.", what="exposure")
        return found

    def accept_exposure(self, e: Exposure | None = None, *, advance: bool = True) -> Changes:
        """The brand is on screen through the whole exposure (its gaps get presences)."""
        e = self.resolve_exposure(e)
        return self._exposure_step(e, exposure_edits.accept(e, self.at_frame, self.frame_ref),
                                   f"Accept {e.brand} exposure ({e.length_s:.1f} s)", advance=advance)

    def accept_exposures(self, exposures: Sequence[Exposure], *, advance: bool = True) -> Changes:
        """Several exposures accepted at once (a brand's gallery, checked at a glance): one step, one undo."""
        current = [self.resolve_exposure(e) for e in exposures]
        if not current:
            return Changes()
        edits = [exposure_edits.accept(e, self.at_frame, self.frame_ref) for e in current]
        edit = ReviewEdit(decide=tuple(d for x in edits for d in x.decide),
                          add_decided=tuple(a for x in edits for a in x.add_decided))
        brands = sorted({e.brand for e in current})
        return self._exposure_step(current[0], edit, f"Accept {len(current)} exposures of {', '.join(brands)}",
                                   advance=advance)

    def reject_exposure(self, e: Exposure | None = None, *, advance: bool = True) -> Changes:
        e = self.resolve_exposure(e)
        return self._exposure_step(e, exposure_edits.reject(e, self.at_frame),
                                   f"Reject {e.brand} exposure ({e.length_s:.1f} s)", advance=advance)

    def set_in(self, frame: int, e: Exposure | None = None) -> Changes:
        """Move the exposure's in point to `frame` (the sampled frame at or after it): trim, or extend."""
        return self._move(e, "in", self.on_grid(frame, after=True))

    def set_out(self, frame: int, e: Exposure | None = None) -> Changes:
        """Move the exposure's out point to `frame` (the sampled frame at or before it): trim, or extend."""
        return self._move(e, "out", self.on_grid(frame))

    def _move(self, e: Exposure | None, edge: str, to: int) -> Changes:
        e = self.resolve_exposure(e)
        edit = exposure_edits.move_edge(e, edge, to, sampled=self.sampled, here=self.at_frame,
                                        frame_ref=self.frame_ref, splits=self._splits.get(e.brand, ()))
        changes = self._exposure_step(e, edit, f"{'In' if edge == 'in' else 'Out'} point of {e.brand} to frame {to}",
                                      advance=False)
        self.current_exposure_key = (e.brand, to)
        self._emit(Changes(selection=True))
        return changes

    def split_exposure(self, frame: int, e: Exposure | None = None) -> Changes:
        """Cut the exposure in two: a new one starts at `frame` (the sampled frame at or after it)."""
        e = self.resolve_exposure(e)
        at = self.on_grid(frame, after=True)
        changes = self._exposure_step(e, exposure_edits.split(e, at, sampled=self.sampled),
                                      f"Split {e.brand} at frame {at}", advance=False)
        self.current_exposure_key = (e.brand, at)
        self._emit(Changes(selection=True))
        return changes

    def mark_present(self, frame: int, brand: str) -> Changes:
        """The brand is on screen on this sampled frame, box or not (a presence where no box of it is)."""
        at = self.on_grid(frame)
        self.last_brand = brand
        edit = exposure_edits.mark_present(brand, at, self.at_frame, self.frame_ref)
        changes = self._run(Step(f"{brand} on screen at frame {at}", edit))
        self.current_exposure_key = (brand, at)
        made = [c for c in changes.added if c.final_brand == brand]
        if made:
            self.current_id = made[0].stored_id
        self._emit(Changes(selection=True))
        return changes

    def _exposure_step(self, e: Exposure, edit: ReviewEdit, text: str, *, advance: bool) -> Changes:
        if edit.empty:
            return Changes()
        changes = self._run(Step(text, edit))
        if advance:
            self.current_exposure_key = (e.brand, e.first)
            nxt = self.next_exposure()
            self.select_exposure(nxt)
        return changes
