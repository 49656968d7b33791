"""Learning from review while it goes on: every accepted or drawn box teaches a view of its brand, every
rejected box a look-alike to avoid.

- `learn` keeps the crops in the project's database ("from review"): positives for accepted, drawn,
  tightened and relabelled boxes (a relabel is also a negative of the brand the model said), negatives
  for rejected ones; a crop that looks like one already kept adds nothing.
- `find_more` runs stage 1 with a brand's views from review (SIFT keypoints, as the keypoint backend
  does, with the crops as references) on the clip's sampled frames, and proposes what it finds as
  "learned" candidates, linked into tracks. The passes that run by themselves search only with boxes
  the reviewer set (drew, tightened, or followed from a drawing), and only in the other shots of the
  clip: following covers the shot a box is in, and a view that holds background (a logo over a
  textured scene) finds that background wherever the camera pans over it (measured on the generated
  clip: 113 learned boxes, nearly all rejected). "Find more like this" searches everywhere with every
  view of the brand.
- A view whose region is the same in the clip's other shots (a score graphic or a channel's mark taken in by a
  drawn box) is refused before it is kept: it would be found at that place on every frame of every clip. A view
  that, searching, fires at one place on most frames across shots (one kept before this check, or from another
  clip) is refused then: its finds are dropped and it leaves the project. Each refusal is told (`notify`, the
  app's status bar; `Lessons.refused`).
- Each learned proposal carries a belief (learned_belief.py: its inliers, its shape against its view's, its track's
  frames, its view's record; a logistic model fitted to the project's decided learned proposals, a prior until there
  are enough), stored as its verdict; under `LearnSettings.floor` it waits as "maybe", out of the exposures to review.
  A decided learned proposal moves its view's record, and the view's pending finds are believed anew (`rescore`); a
  view whose finds keep being rejected (its record under `view_floor`) proposes no more, and says so once.
- `mark_lookalikes` hints candidates that look more like a rejected box of their brand than like any
  view of it ("like_rejected": sorted last, or rejected at once where the reviewer asked for that).
- Views are the project's, not the clip's: `catch_up` searches a clip, when it is opened, with the views the
  reviewer set in the project's other clips that have not searched it yet (the same boards at the next
  match). Where the clip was run with SigLIP-2 and its weights are here, its embeddings search beside the
  keypoints (`embedder`: the views become its FAISS references).

It reads pixels (decoding frames), so the app runs it on a worker thread with its own repository and
decoder; the simulator calls it in line.
"""

from __future__ import annotations

import bisect
import io
import json
import logging
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, cast

import numpy as np
from PIL import Image

from logotag_gui.core.base.records import (
    BBox,
    Candidate,
    DecisionKind,
    Frame,
    Polarity,
    ReviewState,
    TaughtBy,
)
from logotag_gui.core.media.logos import LogoDictionary, Reference
from logotag_gui.core.media.shots import shot_cuts
from logotag_gui.core.pipeline.tracks import TrackLinker, nms
from logotag_gui.core.proposers.keypoint_store import KeypointStore
from logotag_gui.core.proposers.keypoints import FrameFeatures, KeypointProposer
from logotag_gui.core.review.believed_proposals import BelievedProposals
from logotag_gui.core.review.learned_belief import (
    LEARNED,
    is_learned,
)
from logotag_gui.core.review.session import LIKE_REJECTED
from logotag_gui.core.store.learned import LearnedReference
from logotag_gui.core.store.repository import Repository, VideoSummary
from logotag_gui.core.vision import appearance

log = logging.getLogger(__name__)
_NO_PIXELS = np.zeros((0, 0, 3), np.uint8)  # a frame known by its keypoints alone
REVIEW_ROOT = Path("review")  # references learned from review are named review/<id>.png


# Views from boxes the reviewer set: drawn, tightened, or followed from a drawn box (tight by construction).
SET_BY_REVIEWER = ("added", "box_edit", "followed")


@dataclass(frozen=True, slots=True)
class LearnSettings:
    pass_every: int = 3  # a pass with what was taught after this many new views of a brand (or one drawn box)
    max_views: int = 24  # per brand and polarity: the first, most varied ones
    duplicate: float = 0.9  # a crop this like a kept one teaches nothing new
    lookalike_margin: float = 0.05  # closer to a rejected box than to any view of the brand by this much
    min_lookalike: float = 0.6  # and at least this like the rejected box
    min_inliers: int = 8
    max_view_share: float = 0.5  # a view covering more of its frame than this is the scene, not a mark
    feature_cache: int = 160  # frames whose keypoints are kept in memory between passes (all are kept on disk)
    probe_frames: int = 6  # frames of the clip's other shots a new view is tried on before it is kept
    static_share: float = 0.6  # found at one place on this share of them (or of a search's frames): an overlay
    # A learned proposal's belief (learned_belief.py): under `floor` it waits as "maybe" (kept, out of the exposures
    # to review); from `sure` its verdict is yes. A view whose record (Beta-binomial mean of its proposals accepted,
    # per track) falls under `view_floor` proposes no more. On the held-out broadcast clip (bench/out/broadcast3) a
    # floor of 0.2 cut the learned exposures rejected from 12 to 5 (accepted 66 to 72) for 9 actions more of 415;
    # 0.35 cut them to 8 for 58 more (a wrong place is often the right brand on screen: hidden, it is drawn instead).
    floor: float = 0.2
    sure: float = 0.65
    view_floor: float = 0.3


class FrameSource(Protocol):
    """What learning reads of a clip's source (video.py): its frames by index."""

    def frame(self, index: int) -> Frame: ...


@dataclass(slots=True)
class _View:
    ref: LearnedReference
    descriptor: np.ndarray
    image: np.ndarray


def _png(crop: np.ndarray) -> bytes:
    out = io.BytesIO()
    Image.fromarray(crop).save(out, format="PNG")
    return out.getvalue()


def _decode(png: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(png)) as im:
        return np.asarray(im.convert("RGB"))


@dataclass
class Learner(BelievedProposals):
    repo: Repository
    source: FrameSource  # a video or image-folder source (video.py)
    video: VideoSummary
    sampled: Sequence[int]
    dictionary: LogoDictionary | None = None
    reviewer: str = ""
    settings: LearnSettings = field(default_factory=LearnSettings)
    _views: dict[int, _View] = field(default_factory=dict)
    _since_pass: dict[str, int] = field(default_factory=dict)
    _features: OrderedDict = field(default_factory=OrderedDict)
    _frames: OrderedDict = field(default_factory=OrderedDict)
    # A second finder beside the keypoints: SigLIP-2 (proposers/siglip2.py) where the clip was run with it.
    embedder: Any = None
    _reference_descriptors: dict[str, list[np.ndarray]] = field(default_factory=dict)
    _cuts: list[int] | None = None
    notify: Callable[[str], None] | None = None  # where refusals are told (the app: its status bar)
    refused: list[str] = field(default_factory=list)  # what was refused, told since the last lessons
    _refused: list[tuple[str, np.ndarray]] = field(default_factory=list)  # (brand, look): refused once, not retold
    _silenced: set[int] = field(default_factory=set)  # views told to propose no more (told once)
    # Where the clip's frame keypoints are kept between searches and sessions (keypoint_store.py); None: the
    # user's cache folder.
    cache_root: Path | None = None

    def __post_init__(self) -> None:
        self._keypoints = KeypointProposer(min_inliers=self.settings.min_inliers, synthesize=False, max_instances=2)
        if self.cache_root is None:
            from platformdirs import user_cache_dir

            self.cache_root = Path(user_cache_dir("logotag"))
        self._store = KeypointStore(self.cache_root, Path(self.video.path), self._keypoints)
        for ref in self.repo.review_references():
            self._views[ref.id] = self._view(ref)

    # ---- pixels ----------------------------------------------------------------------------------------
    def _frame(self, index: int) -> Frame:
        if index not in self._frames:
            self._frames[index] = self.source.frame(index)
            if len(self._frames) > 8:
                self._frames.popitem(last=False)
        return self._frames[index]

    def _crop(self, c: Candidate) -> np.ndarray:
        return np.ascontiguousarray(self._frame(c.frame.index).crop(c.final_bbox))

    def _view(self, ref: LearnedReference) -> _View:
        image = _decode(ref.image_png)
        return _View(ref, appearance.describe(image), image)

    def views(self, brand: str, polarity: str, *, set_by_reviewer: bool = False) -> list[_View]:
        return [v for v in self._views.values() if v.ref.brand == brand and v.ref.polarity == polarity
                and (not set_by_reviewer or v.ref.taught_by in SET_BY_REVIEWER)]

    # ---- learning --------------------------------------------------------------------------------------
    def learn(self, decided: Sequence[Candidate]) -> list[str]:
        """Keep what these decisions teach; returns the brands that are due a pass with it."""
        due: list[str] = []
        for c, brand, polarity, taught_by in self._lessons(decided):
            if polarity == "negative" and taught_by == "reject" and self._doubles(c):
                continue  # a second box on a mark that is the brand's: rejected as a double, not as a look-alike
            crop = self._crop(c)
            if min(crop.shape[:2]) < 8:
                continue
            descriptor = appearance.describe(crop)
            kept = self.views(brand, polarity)
            if len(kept) >= self.settings.max_views or appearance.best(descriptor, [v.descriptor for v in kept]) \
                    >= self.settings.duplicate:
                continue
            if polarity == "positive" and self._refuse_static(c, brand, crop, descriptor):
                continue
            ref_id = self.repo.add_review_reference(
                brand=brand, polarity=polarity, candidate_id=c.id, video_id=self.video.id, frame_index=c.frame.index,
                bbox=c.final_bbox, image_png=_png(crop), reviewer=self.reviewer, taught_by=taught_by)
            self._views[ref_id] = _View(LearnedReference(ref_id, brand, polarity, taught_by, c.id, self.video.id,
                                                         c.frame.index, c.final_bbox, b""), descriptor, crop)
            if polarity == "positive" and taught_by in SET_BY_REVIEWER:
                # A drawn box is a miss of the detector's: look for that mark elsewhere at once.
                self._since_pass[brand] = self._since_pass.get(brand, 0) + 1
                if self._since_pass[brand] >= self.settings.pass_every or c.method == "manual":
                    self._since_pass[brand] = 0
                    if brand not in due:
                        due.append(brand)
        return due

    def _refuse_static(self, c: Candidate, brand: str, crop: np.ndarray, descriptor: np.ndarray) -> bool:
        """True (and told once) when this view of `brand` covers what stays put across the clip's shots."""
        if appearance.best(descriptor, [d for b, d in self._refused if b == brand]) >= self.settings.duplicate:
            return True  # refused already: not probed, nor told, again
        if not self._static(c.frame.index, c.final_bbox, crop):
            return False
        self._refused.append((brand, descriptor))
        self._tell(f"Not learning the {brand} box on frame {c.frame.index}: what it covers stays at that place in the "
                   "clip's other shots (a score or channel graphic?), so it would be proposed on every frame. Draw "
                   "the box tight on the mark alone to teach it.")
        return True

    def _static(self, index: int, bbox: BBox, crop: np.ndarray) -> bool:
        """Whether the crop is found at its own place on most probed frames of the clip's other shots: a board
        moves or goes with a cut, an overlay stays. A clip of one shot cannot tell them apart: never static."""
        own = self._shot(index)
        others = [i for i in self.sampled if self._shot(i) != own]
        n = self.settings.probe_frames
        probes = others if len(others) <= n else [others[round(k * (len(others) - 1) / (n - 1))] for k in range(n)]
        if len(probes) < 2:
            return False
        finder = KeypointProposer(min_inliers=self.settings.min_inliers, synthesize=False, max_instances=1)
        finder.prepare(LogoDictionary(REVIEW_ROOT, [Reference("probe", REVIEW_ROOT / "probe.png", "opaque", crop)],
                                      {}, {}))
        fired = 0
        for i in probes:
            frame, features = self._described(i)
            fired += any(h.bbox.iou(bbox) >= 0.5 for h in finder.propose(frame, features))
        return fired >= self.settings.static_share * len(probes)

    def _tell(self, message: str) -> None:
        log.info(message)
        self.refused.append(message)
        if self.notify is not None:
            self.notify(message)

    def _told(self, lessons: Lessons) -> Lessons:
        """The lessons, with the refusals told since the last ones."""
        lessons.refused, self.refused = self.refused, []
        return lessons

    def _sync_views(self) -> None:
        """The views as stored now: one deleted in the Dictionary meanwhile searches no more, one whose delete was
        undone (or that another reviewer taught) searches again."""
        stored = self.repo.review_reference_ids()
        self._views = {k: v for k, v in self._views.items() if k in stored}
        missing = sorted(stored - set(self._views))
        for ref in self.repo.review_references(ids=missing) if missing else []:
            self._views[ref.id] = self._view(ref)

    def _doubles(self, c: Candidate) -> bool:
        """True when a box of the same brand that is not rejected sits on the same mark (IoU >= 0.5)."""
        return any(o.id != c.id and o.final_brand == c.final_brand and o.review.state is not ReviewState.REJECTED
                   and o.has_box and o.final_bbox.iou(c.final_bbox) >= 0.5
                   for o in self.repo.candidates(video_id=self.video.id, frame_index=c.frame.index))

    @staticmethod
    def _lessons(decided: Sequence[Candidate]) -> Iterator[tuple[Candidate, str, Polarity, TaughtBy]]:
        """(candidate, brand, polarity, taught_by) for each lesson; one view per track and decision is enough."""
        seen: set[tuple] = set()
        for c in sorted(decided, key=lambda c: -c.final_bbox.area):
            kind = c.review.kind.value if c.review.kind else "accept"
            taught_by = cast(TaughtBy, "followed" if c.method == "tracked" and kind == "accept" else kind)
            lessons: list[tuple[str, Polarity]] = []
            if c.review.state is ReviewState.ACCEPTED:
                lessons.append((c.final_brand, "positive"))
                if c.review.kind is DecisionKind.RELABEL or (c.review.brand and c.review.brand != c.brand):
                    lessons.append((c.brand, "negative"))
            elif c.review.state is ReviewState.REJECTED:
                lessons.append((c.final_brand, "negative"))
            for brand, polarity in lessons:
                key = (c.track_id, brand, polarity) if c.track_id is not None else (c.id, brand, polarity)
                if key not in seen:
                    seen.add(key)
                    yield c, brand, polarity, taught_by

    def unlearn(self, candidate_ids: Sequence[int], clip: Mapping[str, Sequence[Candidate]]) -> Lessons:
        """Forget what these (undone) decisions taught, and hint `clip`'s pending boxes again without it: a box
        that looked like the rejected one no longer comes last."""
        self.forget(candidate_ids)
        lessons = Lessons(video_id=self.video.id)
        for brand in sorted(clip):
            lessons.hinted += self.recheck(brand, clip[brand])
        return lessons

    def forget(self, candidate_ids: Sequence[int]) -> None:
        """Their decisions were undone: what they taught goes too."""
        self.repo.delete_review_references(candidate_ids=candidate_ids)
        gone = set(candidate_ids)
        self._views = {k: v for k, v in self._views.items() if v.ref.candidate_id not in gone}

    # ---- finding more ----------------------------------------------------------------------------------
    def find_more(self, brand: str, candidates: Sequence[Candidate], *, new_track_id: Callable[[], int],
                  cancel: Callable[[], bool] | None = None, every_view: bool = False) -> list[Candidate]:
        """Stage 1 with the brand's views from review on the clip's sampled frames.

        Returns new candidates (not stored): method "learned", linked into tracks, hinted where they look
        like a rejected box. Spots that a candidate of the brand holds (whatever its state) are left alone.
        """
        self._sync_views()
        area = max(1, self.video.width * self.video.height)
        # A close-up filling the frame matches the rest of its scene everywhere: search with the marks only.
        views = [v for v in self.views(brand, "positive", set_by_reviewer=not every_view)
                 if v.ref.bbox.area <= self.settings.max_view_share * area]
        if not views:
            return []
        records, model = self._track_records()
        views = [v for v in views if v.ref.id not in self._stopped(brand, views, records)]
        if not views:
            return []
        sizes = [v.ref.bbox.area for v in views]
        # Following covers the shot a view was taken in; a view from another clip says nothing of this one's shots.
        own_shots = set() if every_view else {self._shot(v.ref.frame_index) for v in views
                                              if v.ref.video_id == self.video.id}
        taught = LogoDictionary(REVIEW_ROOT, [Reference(brand, REVIEW_ROOT / f"{v.ref.id}.png", "opaque", v.image)
                                              for v in views], {}, {})
        self._keypoints.prepare(taught)
        if self.embedder is not None:
            self.embedder.prepare(taught, cache=False)
        held: dict[int, list[Candidate]] = {}
        for c in candidates:
            if c.final_brand == brand:
                held.setdefault(c.frame.index, []).append(c)
        found: list[Candidate] = []
        linker = TrackLinker(max_gap_frames=max(1, int(2 * self.video.fps)), new_id=new_track_id)
        searched: list[int] = []
        fired: dict[str, list[tuple[int, BBox]]] = {}  # view -> (frame, box) of each of its finds
        embedded: set[tuple[int, BBox]] = set()  # finds of the embedder's, not the keypoints'
        for index in self.sampled:
            if cancel is not None and cancel():
                break
            if own_shots and self._shot(index) in own_shots:
                continue
            frame, features = self._described(index)
            proposed = self._keypoints.propose(frame, features)
            if self.embedder is not None:
                proposed += self.embedder.propose(self._frame(index))
            searched.append(index)
            for h in proposed:
                fired.setdefault(Path(h.reference or "").stem, []).append((index, h.bbox))
            kept = [h for h in nms(proposed) if not any(c.final_bbox.overlaps(h.bbox) for c in held.get(index, []))
                    and min(sizes) / 16 <= h.bbox.area <= 16 * max(sizes)]  # a mark seen from 4x nearer or farther
            embedded |= {(index, h.bbox) for h in kept if h.method != self._keypoints.name}  # no inliers to count
            found += linker.link_frame([h.with_(method=LEARNED, reference=f"review:{Path(h.reference or '').stem}")
                                        for h in kept])
        stuck = self._stuck_views(brand, searched, fired)
        if stuck:
            found = [c for c in found if (c.reference or "").removeprefix("review:") not in stuck]
        return self.mark_lookalikes(self._believed(found, {v.ref.id: v.ref.bbox for v in views}, records, model,
                                                   embedded))

    def _stuck_views(self, brand: str, searched: Sequence[int], fired: Mapping[str, Sequence[tuple[int, BBox]]]
                     ) -> set[str]:
        """The views (by id) that fired at one place on most searched frames, across shots: refused, told, and
        removed from the project (their finds are not proposed; another clip would flood the same way)."""
        least = max(3.0, self.settings.static_share * len(searched))
        stuck: set[str] = set()
        for view, finds in fired.items():
            if len({f for f, _ in finds}) < least:
                continue  # too few frames to be stuck anywhere: no need to look where
            places: list[tuple[BBox, set[int]]] = []
            for index, box in finds:
                place = next((p for p in places if p[0].iou(box) >= 0.5), None)
                if place is None:
                    places.append((box, {index}))
                else:
                    place[1].add(index)
            frames = max((p[1] for p in places), key=len)
            if len(frames) >= least and len({self._shot(i) for i in frames}) >= 2:
                stuck.add(view)
        ids = [int(v) for v in stuck if v.isdigit() and int(v) in self._views]
        for ref_id in ids:
            ref = self._views.pop(ref_id).ref
            self._tell(f"Removed a learned view of {brand} (taught on frame {ref.frame_index}): it was found at the "
                       f"same place on most frames of this clip, across cuts (a score or channel graphic?), so its "
                       f"{len(fired[str(ref_id)])} finds are not proposed. Draw the box tight on the mark to teach it "
                       "again.")
        if ids:
            self.repo.remove_learned_views(ids)
        return stuck

    def catch_up(self, clip: Mapping[str, Sequence[Candidate]], *, cancel: Callable[[], bool] | None = None
                 ) -> Lessons:
        """Search this clip with the views reviewers set in the project's other clips that have not searched it
        yet (what they taught elsewhere finds the same boards here before the reviewer gets to them)."""
        self._sync_views()
        lessons = Lessons(video_id=self.video.id)
        key = f"learned.searched.{self.video.id}"
        done = set(json.loads(self.repo.setting(key) or "[]"))
        fresh = [v for v in self._views.values() if v.ref.video_id != self.video.id and v.ref.polarity == "positive"
                 and v.ref.taught_by in SET_BY_REVIEWER and v.ref.id not in done]
        for brand in sorted({v.ref.brand for v in fresh}):
            if cancel is not None and cancel():
                return self._told(lessons)
            lessons.added += self.search(brand, clip.get(brand, ()), cancel=cancel, every_view=False)
            lessons.searched.append(brand)
        if fresh and not (cancel is not None and cancel()):
            self.repo.set_setting(key, json.dumps(sorted(done | {v.ref.id for v in fresh})))
        return self._told(lessons)

    def locate(self, brand: str, frame_index: int) -> Candidate | None:
        """Where the brand's mark is on this frame, found with its dictionary references and every view review
        taught of it (SIFT keypoints, as the keypoint backend finds them), or None."""
        refs = [Reference(brand, REVIEW_ROOT / f"{v.ref.id}.png", "opaque", v.image)
                for v in self.views(brand, "positive")]
        if self.dictionary is not None:  # named under the review root: one dictionary for both
            refs += [Reference(brand, REVIEW_ROOT / f"logos-{i}-{r.path.name}", r.variant, r.image)
                     for i, r in enumerate(self.dictionary.references) if r.brand == brand]
        if not refs:
            return None
        finder = KeypointProposer(min_inliers=self.settings.min_inliers, synthesize=False, max_instances=1)
        finder.prepare(LogoDictionary(REVIEW_ROOT, refs, {}, {}))
        frame = self._frame(frame_index)
        hits = sorted(nms(finder.propose(frame, finder.frame_features(frame))), key=lambda h: -h.score)
        return hits[0].with_(method="located") if hits else None

    def _shot(self, index: int) -> int:
        """Which shot of the clip a frame is in (0 for the first): from the cuts the run found, else found once
        here (a clip run before runs recorded them) and stored for the review to group exposures by."""
        if self._cuts is None:
            self._cuts = self.repo.cuts(self.video.id)
            if self._cuts is None:
                self._cuts = shot_cuts(self.source)
                self.repo.add_cuts(self.video.id, self._cuts)
        return bisect.bisect_right(self._cuts, index)

    def _described(self, index: int) -> tuple[Frame, FrameFeatures | None]:
        """A sampled frame and its keypoints, from memory, else from the clip's keypoint store, else decoded and
        described (and stored). The frame's pixels are there only where it was decoded: matching needs its place
        in the clip (index, time, size) and its keypoints alone."""
        if index in self._features:
            self._features.move_to_end(index)
            ref, features = self._features[index]
        else:
            stored = self._store.get(index)
            if stored is None:
                frame = self._frame(index)
                ref, features = frame.ref, self._keypoints.frame_features(frame)
                self._store.put(ref, features)
            else:
                ref, features = stored
            self._features[index] = (ref, features)
            if len(self._features) > self.settings.feature_cache:
                self._features.popitem(last=False)
        decoded = self._frames.get(index)
        return (decoded if decoded is not None else Frame(ref, _NO_PIXELS)), features

    def describe(self, indices: Iterable[int] | None = None, *, cancel: Callable[[], bool] | None = None,
                 progress: Callable[[int, int], None] | None = None) -> int:
        """Describe the sampled frames (or `indices`) that the keypoint store lacks, in order, ahead of the first
        search (a job for a quiet worker: the clip's first search then reads them). Returns how many were."""
        if self._store.folder is None:
            return 0
        todo = [i for i in (self.sampled if indices is None else indices) if not self._store.has(i)]
        for n, index in enumerate(todo):
            if cancel is not None and cancel():
                return n
            frame = self._frame(index)
            self._store.put(frame.ref, self._keypoints.frame_features(frame))
            if progress is not None:
                progress(n + 1, len(todo))
        return len(todo)

    # ---- look-alikes of rejected boxes ---------------------------------------------------------------------
    def mark_lookalikes(self, candidates: Sequence[Candidate]) -> list[Candidate]:
        """The same candidates, hinted "like_rejected" where they look more like a rejected box of their
        brand than like any view of it (the dictionary's references and those from review)."""
        out = []
        for c in candidates:
            negatives = [v.descriptor for v in self.views(c.final_brand, "negative")
                         if v.ref.candidate_id != c.id]
            if c.review.decided:
                out.append(c)
                continue
            if not negatives:  # nothing rejected to look like (any more: an undone rejection's hint goes)
                out.append(c.with_(hint=None) if c.hint == LIKE_REJECTED else c)
                continue
            d = appearance.describe(self._crop(c))
            like_rejected = appearance.best(d, negatives)
            like_brand = appearance.best(d, [v.descriptor for v in self.views(c.final_brand, "positive")]
                                         + self._dictionary_views(c.final_brand))
            lookalike = (like_rejected >= self.settings.min_lookalike
                         and like_rejected > like_brand + self.settings.lookalike_margin)
            out.append(c.with_(hint=LIKE_REJECTED if lookalike else None))
        return out

    def _dictionary_views(self, brand: str) -> list[np.ndarray]:
        if self.dictionary is None:
            return []
        if brand not in self._reference_descriptors:
            self._reference_descriptors[brand] = [appearance.describe(r.image) for r in self.dictionary.references
                                                  if r.brand == brand]
        return self._reference_descriptors[brand]

    # ---- one step after decisions: what the app's worker and the simulator both run ------------------------
    def teach(self, decided: Sequence[Candidate], clip: Mapping[str, Sequence[Candidate]], *, search: bool = True,
              cancel: Callable[[], bool] | None = None) -> Lessons:
        """Learn from `decided`; hint the clip's pending look-alikes of newly rejected boxes; where a brand
        is due (or always, for "Find more like this"), search with its views. Writes what it finds.

        `clip`: the clip's candidates of the brands these decisions are about (see `brands_taught`)."""
        lessons = Lessons(video_id=self.video.id)
        due = self.learn(decided)
        rejected = {c.final_brand for c in decided if c.review.state is ReviewState.REJECTED}
        rejected |= {c.brand for c in decided if c.review.state is ReviewState.ACCEPTED and c.final_brand != c.brand}
        for brand in sorted(rejected):
            lessons.hinted += self.recheck(brand, clip.get(brand, ()))
        # A decided learned proposal changes its view's record: the view's other finds are believed anew.
        judged = sorted({c.brand for c in decided if is_learned(c)} | {c.final_brand for c in decided if is_learned(c)})
        hinted = {c.stored_id: c for c in lessons.hinted}
        for brand in judged:
            current = [hinted.get(c.stored_id, c) if c.id is not None else c for c in clip.get(brand, ())]
            for c in self.rescore(current):
                hinted[c.stored_id] = c
        lessons.hinted = list(hinted.values())
        if search:
            for brand in due:
                lessons.added += self.search(brand, clip.get(brand, ()), cancel=cancel, every_view=False)
                lessons.searched.append(brand)
        return self._told(lessons)

    def search(self, brand: str, clip: Sequence[Candidate], *, cancel: Callable[[], bool] | None = None,
               every_view: bool = True) -> list[Candidate]:
        """Find more of `brand` with what review taught, and store it (pending, no run: a new run keeps it).

        `every_view`: the reviewer asked ("Find more like this"), so accepted boxes' views search too."""
        found = self.find_more(brand, clip, new_track_id=lambda: self.repo.reserve_track_ids(self.video.id),
                               cancel=cancel, every_view=every_view)
        return self.repo.add_candidates(video_id=self.video.id, candidates=found) if found else []

    def recheck(self, brand: str, clip: Sequence[Candidate]) -> list[Candidate]:
        """Hint the clip's pending candidates of `brand` that now look like a rejected box; returns those
        whose hint changed, as stored."""
        pending = [c for c in clip if c.final_brand == brand and not c.review.decided]
        changed = [m for m, c in zip(self.mark_lookalikes(pending), pending, strict=True) if m.hint != c.hint]
        out: list[Candidate] = []
        for hint in (LIKE_REJECTED, None):
            ids = [c.stored_id for c in changed if c.hint == hint]
            if ids:
                out += self.repo.set_hint(ids, hint)
        return out


def clip_embedder(repo: Repository, video_id: int) -> Any:
    """SigLIP-2 as the clip's latest SigLIP-2 run loaded it, for learning to search with; None where the clip was
    never run with it or its weights are not here (learning then searches with keypoints alone, as it says)."""
    from dataclasses import fields

    from logotag_gui.core.base.config import RunConfig
    from logotag_gui.core.base.errors import LogoTagError
    from logotag_gui.core.pipeline.backends import ModelCache

    runs = [r for r in repo.runs(video_id) if r.embedder == "siglip2"]
    if not runs:
        return None
    known = {f.name for f in fields(RunConfig)}
    config = RunConfig(**{k: v for k, v in runs[-1].config.items() if k in known})
    try:
        return ModelCache().proposer("siglip2", config)
    except (LogoTagError, OSError) as exc:
        log.warning("learning searches without SigLIP-2: %s", exc)
        return None


def brands_taught(decided: Iterable[Candidate]) -> set[str]:
    """The brands these decisions teach about (a relabel teaches about the brand the model said, too): the
    candidates of these brands are all that `Learner.teach` reads of the clip."""
    out: set[str] = set()
    for c in decided:
        out |= {c.final_brand, c.brand}
    return out


@dataclass(slots=True)
class Lessons:
    video_id: int = 0  # the clip they are about (the reviewer may have moved on)
    added: list[Candidate] = field(default_factory=list)  # found with what review taught (stored)
    # whose look-alike hint, or belief (a learned proposal's, its view's record changed), changed (stored)
    hinted: list[Candidate] = field(default_factory=list)
    searched: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)  # views refused, each with why (also told as they happen)
