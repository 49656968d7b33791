"""The review assistant: what LogoTag does for the reviewer after each step, in one place for the app and the
oracle reviewer alike.

After a decision it teaches (views of the brand, look-alikes to avoid) and, where a brand is due, searches
the clip with what it learnt; after an undo it forgets what the undone decision taught; a drawn or
tightened box is followed through the clip; a brand marked on screen without a box is looked for on its
frame and followed from there; an exposure extended over missed frames is followed into them.

Everything that reads pixels is a `Job`: `compute(bench)` runs with a bench of its own (a decoder, a
repository, a learner), and `apply(result)` runs where the session lives. The app runs compute on its
worker threads and apply on the GUI thread (as Anki runs a CollectionOp); the simulator runs both in line.
Either way the policy below is the same code, so the oracle measures the app.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from typing import Any

from logotag_gui.core.base.records import TRACKED, BBox, Candidate, DecisionKind, ReviewState
from logotag_gui.core.media.shots import shot_cuts
from logotag_gui.core.media.views import View, find_views
from logotag_gui.core.pipeline.follow import FollowedBox, FollowResult, FollowSettings, follow_box
from logotag_gui.core.review.commands import key, keys
from logotag_gui.core.review.exposures import Exposure
from logotag_gui.core.review.learning import Learner, Lessons, brands_taught
from logotag_gui.core.review.session import ReviewSession
from logotag_gui.core.review.steps import Changes, Step

log = logging.getLogger(__name__)


@dataclass(slots=True)
class Bench:
    """What a job computes with: its own decoder, repository and learner (one per thread)."""

    source: Any  # a media.video Source
    learner: Learner | None
    sampled: Sequence[int]
    cancel: Callable[[], bool] = lambda: False
    progress: Callable[[int, int], None] = lambda done, total: None


@dataclass(slots=True)
class Job:
    lane: str  # "follow" or "learn": a follow never waits behind a learning pass
    text: str  # what the app shows while it runs
    compute: Callable[[Bench], Any]
    apply: Callable[[Any], None]


@dataclass(slots=True)
class Notice:
    """What the assistant tells the reviewer (the app's status bar; the simulator's log)."""

    text: str
    seconds: int = 6


@dataclass(slots=True)
class Assisted:
    """What the assistant's jobs added to the clip: boxes followed, and candidates learnt."""

    followed: int = 0
    learned: int = 0
    notices: list[Notice] = field(default_factory=list)


class ReviewAssistant:
    def __init__(self, session: ReviewSession, run: Callable[[Job], None], *, follow: bool = True,
                 learn: bool = True, notify: Callable[[Notice], None] | None = None,
                 follow_settings: FollowSettings | None = None) -> None:
        self.session, self._run = session, run
        self.follow_drawn, self.learn = follow, learn
        self.follow_settings = follow_settings or FollowSettings()
        self.totals = Assisted()
        self._notify = notify or (lambda n: self.totals.notices.append(n))

    # ---- boxes ------------------------------------------------------------------------------------------
    def accept(self, c: Candidate | None = None) -> Candidate:
        done = self.session.accept(c)
        self.teach([done])
        return done

    def reject(self, c: Candidate | None = None) -> Candidate:
        done = self.session.reject(c)
        self.teach([done])
        return done

    def decide_track(self, c: Candidate | None, kind: DecisionKind) -> list[Candidate]:
        done = self.session.decide_track(c, kind)
        self.teach(done)
        return done

    def relabel(self, c: Candidate | None, brand: str) -> Candidate:
        done = self.session.relabel(c, brand)
        self.teach([done])
        return done

    def edit_box(self, c: Candidate | None, bbox: BBox) -> Candidate:
        """A tightened box teaches its view and fixes its track: it is followed, and the track's boxes that are
        off the mark are replaced; a box alone on its track is followed to find the rest."""
        done = self.session.edit_box(c, bbox)
        self.teach([done])
        # A box alone on its track (the detector saw it once) is followed too: the fixed box finds the rest.
        track = self.session.track(done.track_id) if done.track_id is not None else [done]
        if self.follow_drawn and (len(track) <= 1 or any(not m.review.decided for m in track)):
            self.follow(done)
        return done

    def add_box(self, frame_index: int, bbox: BBox, brand: str) -> Candidate:
        """A drawn box (a miss of the detector's) is followed through the clip and teaches its view."""
        drawn = self.session.add_box(frame_index, bbox, brand)
        if self.follow_drawn:
            self.follow(drawn)
        self.teach([drawn])
        return drawn

    def find_more(self, c: Candidate) -> None:
        """Search the clip with every view review taught of the candidate's brand (M)."""
        self.teach([c], search=False)
        if self.learn:
            brand = c.final_brand
            held = self._held([brand])[brand]
            self._learn_job(f"Looking for more {brand}…", lambda b, learner: Lessons(
                video_id=self.session.video.id, searched=[brand], added=learner.search(brand, held, cancel=b.cancel)))

    # ---- exposures --------------------------------------------------------------------------------------
    def accept_exposure(self, e: Exposure | None = None) -> Changes:
        changes = self.session.accept_exposure(e)
        self.teach(_decided(changes))
        self._fill_gaps(changes)
        return changes

    def accept_exposures(self, exposures: Sequence[Exposure]) -> Changes:
        changes = self.session.accept_exposures(exposures)
        self.teach(_decided(changes))
        self._fill_gaps(changes)
        return changes

    def _fill_gaps(self, changes: Changes) -> None:
        """An accepted exposure's gaps hold presences: the nearest box of the brand is followed into them, so that
        the frames get their size and place where the mark can be found (the seconds are right either way)."""
        if not self.follow_drawn:
            return
        step = self.session.last_step  # the accept: the boxes followed into its gaps are undone with it
        gaps: dict[tuple[str, int], list[int]] = {}
        for c in changes.added:
            e = None if c.has_box else self.session.exposure_of(c)
            if e is not None:
                gaps.setdefault(e.key, []).append(c.frame.index)
        for (brand, first), frames in gaps.items():
            e = self.session.exposure_at(brand, first)
            boxes = [c for f in (e.span if e else ()) for c in self.session.at_frame(f)
                     if c.final_brand == brand and c.has_box and c.review.state is ReviewState.ACCEPTED]
            if boxes:
                seed = min(boxes, key=lambda c: (min(abs(c.frame.index - f) for f in frames), -c.final_bbox.area))
                self.follow(seed, only=frames, accept=True, quiet=True, join=step)

    def reject_exposure(self, e: Exposure | None = None) -> Changes:
        changes = self.session.reject_exposure(e)
        self.teach(_decided(changes))
        return changes

    def set_in(self, frame: int, e: Exposure | None = None) -> Changes:
        return self._move("in", frame, e)

    def set_out(self, frame: int, e: Exposure | None = None) -> Changes:
        return self._move("out", frame, e)

    def _move(self, edge: str, frame: int, e: Exposure | None) -> Changes:
        """Trim or extend; an extension over missed frames is followed from the box at the old edge, so that the
        presences it added get their boxes where the mark can be found."""
        before = self.session.resolve_exposure(e)
        old = before.live
        changes = (self.session.set_in if edge == "in" else self.session.set_out)(frame, before)
        added = [c for c in changes.added if not c.has_box]
        if old is not None and added and self.follow_drawn:
            seed = self._box_at(before.brand, old[0] if edge == "in" else old[1])
            if seed is not None:
                self.follow(seed, only=[c.frame.index for c in added], accept=True, quiet=True,
                            join=self.session.last_step)
        self.teach(_decided(changes), search=False)
        return changes

    def mark_present(self, frame: int, brand: str) -> Changes:
        """The brand is on screen here: LogoTag looks for its mark on the frame and, where it finds it, follows
        it through the shot (pending boxes around, the found one accepted); else the presence stays boxless."""
        changes = self.session.mark_present(frame, brand)
        made = [c for c in changes.added if not c.has_box]
        if made and (self.learn or self.follow_drawn):
            self._locate(made[0], join=self.session.last_step)
        self.teach(_decided(changes))
        return changes

    def split_exposure(self, frame: int, e: Exposure | None = None) -> Changes:
        return self.session.split_exposure(frame, e)

    # ---- undo -------------------------------------------------------------------------------------------
    def undo(self) -> Changes:
        return self._unlearn(self.session.undo())

    def redo(self) -> Changes:
        return self._unlearn(self.session.redo())

    def _unlearn(self, changes: Changes) -> Changes:
        """What undone decisions taught goes; a redone decision teaches again (without a new search)."""
        undone = [c for c in changes.changed if not c.review.decided]
        forgotten = list(changes.removed) + [c.stored_id for c in undone]
        if forgotten and self.learn:
            # The look-alike hints an undone rejection (or relabel) gave its brand's boxes go with it.
            held = self._held({c.brand for c in undone} | {c.final_brand for c in undone})
            self._learn_job("", lambda b, learner: learner.unlearn(forgotten, held))
        self.teach([c for c in changes.changed + changes.added if c.review.decided], search=False)
        return changes

    # ---- following ----------------------------------------------------------------------------------------
    def follow(self, c: Candidate, *, only: Collection[int] | None = None, accept: bool = False,
               quiet: bool = False, join: Step | None = None) -> None:
        """Follow the box through the clip (E); `only`: keep the boxes on these frames (an extension's, a gap's);
        `accept`: the reviewer said the brand is there (stored accepted); `quiet`: no word of it; `join`: the
        reviewer's step this follows up (undone with it)."""
        seed_frame, seed_box, seed_id = c.frame.index, c.final_bbox, c.stored_id
        session = self.session
        wanted = None if only is None else set(only)
        settings = self.follow_settings
        if wanted:  # no further than the farthest frame wanted
            reach = max(abs(f - seed_frame) for f in wanted) / max(1e-6, session.video.fps)
            settings = dataclasses.replace(settings, max_seconds=reach + 0.1)

        def compute(b: Bench) -> FollowResult:
            sampled = b.sampled if wanted is None else sorted(wanted)
            result = follow_box(b.source, frame_index=seed_frame, bbox=seed_box, sampled=sampled,
                                settings=settings, cancel=b.cancel, on_progress=b.progress)
            if wanted is not None:
                result.boxes = [x for x in result.boxes if x.frame.index in wanted]
            return result

        def apply(result: FollowResult | None) -> None:
            seed = session.get(seed_id)
            if result is None or seed is None:
                return  # it failed (said so), or the box was undone meanwhile
            added = session.add_followed(seed, result, accept=accept, join=join)
            tracked = sum(1 for a in added if a.method == TRACKED)
            self.totals.followed += tracked
            if quiet:
                return
            stops = "; ".join(f"{way}: {why}" for way, why in result.stops.items())
            self._notify(Notice(f"Followed {seed.final_brand}: {len(added)} boxes on its track ({key('accept_track')} "
                                f"accepts the track, {key('accept_exposure')} the exposure) — {stops}" if added else
                                f"Nothing to add by following this box — {stops}", 10))

        text = "" if quiet else f"Following the {c.final_brand} box through the clip…"
        self._run(Job("follow", text, compute, apply))

    def _locate(self, placeholder: Candidate, *, join: Step | None = None) -> None:
        brand, frame, pid = placeholder.final_brand, placeholder.frame.index, placeholder.stored_id
        settings, session = self.follow_settings, self.session

        def compute(b: Bench) -> FollowResult | None:
            found = b.learner.locate(brand, frame) if b.learner is not None else None
            if found is None:
                return None
            result = follow_box(b.source, frame_index=frame, bbox=found.bbox, sampled=b.sampled, settings=settings,
                                cancel=b.cancel) if self.follow_drawn else FollowResult()
            result.boxes.append(FollowedBox(found.frame, found.bbox, found.score, True))
            result.boxes.sort(key=lambda x: x.frame.index)
            return result

        def apply(result: FollowResult | None) -> None:
            seed = session.get(pid)
            if seed is None:
                return
            if result is None:
                self._notify(Notice(f"{brand} counted on screen at frame {frame} without a box: its mark was not "
                                    f"found there ({key('draw')} draws one, {keys('set_in', 'set_out')} move the "
                                    "exposure's ends)", 8))
                return
            added = session.add_followed(seed, result, join=join)
            self.totals.followed += sum(1 for a in added if a.method == TRACKED)

        # On the learning lane: its learner holds every view review taught (what finds a mark the detector missed).
        self._run(Job("learn", f"Looking for {brand} on frame {frame}…", compute, apply))

    def _box_at(self, brand: str, frame: int) -> Candidate | None:
        boxes = [c for c in self.session.at_frame(frame) if c.final_brand == brand and c.has_box
                 and c.review.state is not ReviewState.REJECTED]
        return max(boxes, key=lambda c: c.final_bbox.area) if boxes else None

    # ---- coverage -----------------------------------------------------------------------------------------
    def ensure_views(self) -> None:
        """Find the clip's views (what the sweep looks at) where they are not stored for its grid yet: one decode
        of the sampled frames, on the follow lane, stored for every later session."""
        session = self.session
        if session.views_known or not session.sampled:
            return

        def compute(b: Bench) -> list[View]:
            if b.source is None:  # no pixels to register (a clip not at hand): every sampled frame is a view
                return [View(f, f, f) for f in b.sampled]
            cuts = session.repo.cuts(session.video.id)
            if cuts is None:
                cuts = shot_cuts(b.source)
            return find_views(b.source, sampled=b.sampled, cuts=cuts)

        def apply(views: list[View]) -> None:
            if views and not session.views_known:
                session.set_views(views)

        self._run(Job("follow", "Finding the clip's views…", compute, apply))

    # ---- learning -----------------------------------------------------------------------------------------
    def catch_up(self) -> None:
        """A clip opened for review is searched with what reviewers taught in the project's other clips."""
        if self.learn:
            held = self._held(self.session.repo.brands())
            self._learn_job("", lambda b, learner: learner.catch_up(held, cancel=b.cancel))

    def describe_ahead(self) -> None:
        """Describe the clip's sampled frames into the keypoint store on the learning lane, quietly, so the first
        box taught reads them instead of decoding and describing the whole clip while the reviewer waits."""
        def compute(b: Bench, learner: Learner) -> None:
            learner.describe(cancel=b.cancel)  # stored on disk: nothing for the session to take in

        if self.learn:
            self._learn_job("", compute)

    def teach(self, decided: Sequence[Candidate], *, search: bool = True) -> None:
        """Learn from these decisions on the learning lane; what it finds joins the session when it is done."""
        decided = [c for c in decided if c.review.decided]
        if not self.learn or not decided:
            return
        held = self._held(brands_taught(decided))
        self._learn_job("", lambda b, learner: learner.teach(decided, held, search=search, cancel=b.cancel))

    def _held(self, brands: set[str] | list[str]) -> dict[str, list[Candidate]]:
        """A snapshot of the clip's candidates of these brands: all a learning job reads of the clip."""
        return {b: self.session.of_brand(b) for b in brands}

    def _learn_job(self, text: str, compute: Callable[[Bench, Learner], Lessons | None]) -> None:
        """`compute(bench, learner)` on the learning lane (nothing where the bench has no learner)."""
        session = self.session

        def apply(lessons: Lessons | None) -> None:
            if lessons is None or lessons.video_id != session.video.id:
                return  # another clip: what was found is stored and shows there
            session.ingest(lessons.added)
            session.update(lessons.hinted)
            self.totals.learned += len(lessons.added)
            if lessons.added:
                self._notify(Notice(f"Found {len(lessons.added)} more boxes of {', '.join(lessons.searched)} with "
                                    "what review taught (pending, on the timeline)", 8))
            elif lessons.searched and text:
                self._notify(Notice(f"No more {', '.join(lessons.searched)} found", 5))
            # `hinted` also holds learned proposals whose belief a decision changed: only look-alikes are said.
            lookalikes = sum(1 for c in lessons.hinted if c.hint == "like_rejected")
            if lookalikes:
                self._notify(Notice(f"{lookalikes} pending boxes look like a rejected one: they come last", 8))

        self._run(Job("learn", text, lambda b: compute(b, b.learner) if b.learner is not None else None, apply))


def _decided(changes: Changes) -> list[Candidate]:
    return [c for c in changes.changed + changes.added if c.review.decided and c.has_box]


def run_inline(bench: Bench) -> Callable[[Job], None]:
    """A job runner for the simulator and the tests: compute, then apply, at once."""

    def run(job: Job) -> None:
        job.apply(job.compute(bench))

    return run

