"""Coverage: which sampled frames a reviewer has looked at (the one figure that follows from it: figure.py).

Every sampled frame is *looked at* (a reviewer saw its view and said every brand on screen there is marked),
*audited* (answered in the clip's random sample) or *not looked at*. A looked-at frame with no pending candidate
is settled: its brands are exact. The figure per brand and for the clip is the settled seconds plus an estimate
for the rest (the project's prediction there, corrected by the audited frames: analysis/audit.py), with its 95%
interval. "Done" means every view looked at and every exposure reviewed, or an interval as narrow as the
analyst asked for. The meter, the exposure panel, `logotag videos` and the reports all read
`figure.clip_figure`.

A wrong box is not an absent brand: only a looked-at view or an audit answer says a brand is not on screen
(`absent`), and that, not a rejected box, is where following and learning stop.

`SweepReview` is a part of ReviewSession (session.py): the views and the looks, and the sweep's one step.
"""

from __future__ import annotations

import bisect
from typing import TYPE_CHECKING

from logotag_gui.core.analysis.exposure import grid_frame
from logotag_gui.core.base.records import Candidate, ReviewState
from logotag_gui.core.media.views import MOVE_SHARE, View, view_of
from logotag_gui.core.review.learned_belief import is_maybe
from logotag_gui.core.review.steps import Changes, Step
from logotag_gui.core.store.edits import ReviewEdit

if TYPE_CHECKING:
    from logotag_gui.core.store.repository import Repository, VideoSummary

DEFAULT_TARGET = 0.05  # the interval an analyst asks for: ±5% of the total


class SweepReview:
    if TYPE_CHECKING:  # what this part uses of ReviewSession (session.py)
        repo: Repository
        video: VideoSummary
        sampled: list[int]
        fps: float
        showing_maybe: bool

        def at_frame(self, index: int) -> list[Candidate]: ...

        @property
        def candidates(self) -> list[Candidate]: ...

        def _emit(self, changes: Changes) -> None: ...

        def _run(self, step: Step) -> Changes: ...

    _views: list[View] | None = None
    _looks: set[tuple[int, int]]
    _looked: set[int]
    _answers: dict[int, frozenset[str]]

    def load_coverage(self) -> None:
        """Read the clip's views (those found on this review grid) and the views reviewers looked at."""
        stored = self.repo.clip_views(self.video.id)
        self._views = list(stored.views) if stored is not None and abs(stored.fps - self.fps) < 1e-6 else None
        self._looks = self.repo.looks(self.video.id)
        self._relook()
        self.reload_answers()

    def reload_answers(self) -> None:
        """The clip's audit answers on this grid (what an audited frame says is, and is not, on screen)."""
        sample = self.repo.audit_sample(self.video.id)
        fits = sample is not None and abs(sample.fps - self.fps) <= 1e-6
        self._answers = {f.frame_index: frozenset(f.brands) for f in sample.frames
                         if f.brands is not None} if sample is not None and fits else {}

    def _relook(self) -> None:
        looked: set[int] = set()
        for first, last in self._looks:
            lo, hi = bisect.bisect_left(self.sampled, first), bisect.bisect_right(self.sampled, last)
            looked.update(self.sampled[lo:hi])
        self._looked = looked

    @property
    def views_known(self) -> bool:
        return self._views is not None

    @property
    def views(self) -> list[View]:
        """The clip's views in time order ([] until they are found: `set_views`)."""
        return list(self._views or [])

    def set_views(self, views: list[View], *, share: float = MOVE_SHARE) -> None:
        """The views found on the clip's review grid (media/views.py), stored for every later session."""
        self.repo.set_clip_views(self.video.id, fps=self.fps, share=share, views=views)
        self._views = list(views)
        self._emit(Changes(coverage=True))

    def has_look(self, first: int, last: int) -> bool:
        return (first, last) in self._looks

    @property
    def looked_frames(self) -> frozenset[int]:
        return frozenset(self._looked)

    def looked(self, frame: int) -> bool:
        return frame in self._looked

    def view_at(self, frame: int) -> View | None:
        return view_of(self._views or [], frame)

    def view_looked(self, view: View) -> bool:
        return (view.first, view.last) in self._looks

    def unlooked_views(self) -> list[View]:
        return [v for v in self._views or [] if not self.view_looked(v)]

    def next_view(self, *, after: int | None = None, step: int = 1) -> View | None:
        """The next (or previous) view nobody has looked at, in time order from frame `after`, wrapping round."""
        left = self.unlooked_views()
        if not left:
            return None
        if after is None:
            return left[0] if step > 0 else left[-1]
        if step > 0:
            return next((v for v in left if v.first > after), left[0])
        return next((v for v in reversed(left) if v.last < after), left[-1])

    def complete_view(self, view: View) -> Changes:
        """The reviewer looked at this view and every brand on screen there is marked: one step, one undo."""
        if self.view_looked(view):
            return Changes()
        self._absorb_looks()  # another reviewer's look since this session read them: theirs, no step to undo here
        if self.view_looked(view):
            self._emit(Changes(coverage=True))
            return Changes(coverage=True)
        return self._run(Step(f"View {view.first}-{view.last} complete", ReviewEdit(add_looks=((view.first,
                                                                                             view.last),))))

    def _absorb_looks(self) -> None:
        self._looks = self.repo.looks(self.video.id)
        self._relook()

    def audited_frames(self) -> frozenset[int]:
        """Frames answered in the clip's audit sample on this grid."""
        return frozenset(self._answers)

    # ---- what a look says ----------------------------------------------------------------------------------
    def grid_candidates(self) -> dict[int, list[Candidate]]:
        """Sampled frame -> the candidates counted on it (a box drawn between two sampled frames counts on the
        nearer one: analysis/exposure.grid_frame, as the reports and the exposures count it)."""
        out: dict[int, list[Candidate]] = {}
        if not self.sampled:
            return out
        for c in self.candidates:
            out.setdefault(grid_frame(c.frame.index, self.sampled), []).append(c)
        return out

    def settled(self) -> dict[int, frozenset[str]]:
        """Looked-at frames where nothing is left to decide -> the brands on screen there (exact). A pending box of a
        brand already accepted on the frame changes no second: it does not keep the frame open. Nor does a learned
        "maybe" out of the exposures to review: the look said every brand on screen there is marked."""
        out: dict[int, frozenset[str]] = {}
        slots = self.grid_candidates()
        for f in sorted(self._looked):
            here = slots.get(f, [])
            accepted = frozenset(c.final_brand for c in here if c.review.state is ReviewState.ACCEPTED)
            if any(c.review.state is ReviewState.PENDING and c.final_brand not in accepted
                   and (self.showing_maybe or not is_maybe(c)) for c in here):
                continue
            out[f] = accepted
        return out

    def absent(self, brand: str, frame: int) -> bool:
        """A reviewer said the brand is not on screen here: an audit answer without it, or a looked-at frame where it
        is not marked (a rejected box alone never says so)."""
        if frame in self._answers:
            return brand not in self._answers[frame]
        if frame not in self._looked:
            return False
        return not any(c.final_brand == brand and c.review.state is not ReviewState.REJECTED
                       for c in self.at_frame(frame))
