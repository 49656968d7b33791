"""The two-stage pipeline: frames → proposals → NMS/margin → tracks → verification → store.

Runs headless; the GUI calls it from a worker thread with `on_progress`, `on_batch` and `cancel`.
It commits once per batch of frames: a killed run loses at most one batch, and running the same
settings again resumes after the last stored frame.
"""

from __future__ import annotations

import itertools
import logging
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from logotag_gui.core.base.config import RunConfig, default_workers
from logotag_gui.core.base.errors import Cancelled, InputError
from logotag_gui.core.base.records import Candidate, Frame, Progress, Verdict, VerdictState
from logotag_gui.core.media.logos import load_dictionary
from logotag_gui.core.media.video import REENCODE_HINT, open_source
from logotag_gui.core.pipeline import keyframes
from logotag_gui.core.pipeline.backends import ModelCache, choose_backends, describe, resolved_threshold
from logotag_gui.core.pipeline.follow import extend_tracks, fill_between_keyframes
from logotag_gui.core.pipeline.stage_one import StageOne, prefetch
from logotag_gui.core.pipeline.tracks import (
    TrackLinker,
    cross_brand_margin,
    filter_candidates,
    nms,
    not_doubled,
)
from logotag_gui.core.verifiers import Verifier, VerifyItem, prepare_verifier

if TYPE_CHECKING:  # the store sits above the pipeline: it is handed in, never imported
    from logotag_gui.core.store import Repository
    from logotag_gui.core.store.run_lock import RunLock

log = logging.getLogger(__name__)
ProgressFn = Callable[[Progress], None]
BatchFn = Callable[[list[Candidate]], None]
CONTEXT = 1.25  # verify a crop a little larger than the box: a logo's edges matter


@dataclass(slots=True)
class RunResult:
    run_id: int
    video_id: int
    status: str  # done | cancelled
    frames_done: int
    frames_total: int
    candidates: int
    resumed_from: int | None
    embedder: str
    verifier: str
    notices: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    keyframes: int = 0  # sampled frames stage 1 searched (all of them where detect_every is 1)
    searched: list[int] = field(default_factory=list)  # which (this process's part of the run)


class _Eta:
    def __init__(self, total: int) -> None:
        self.total, self.start = total, time.perf_counter()

    def __call__(self, done: int) -> float | None:
        if done <= 0:
            return None
        elapsed = time.perf_counter() - self.start
        return elapsed / done * (self.total - done)


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


class _Verification:
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

    def settled(self, track: int) -> bool:
        """The track has a confident verdict, or its budget of verified crops is spent."""
        v = self.track_verdicts.get(track)
        if v is None:
            return False
        return v.state in (VerdictState.YES, VerdictState.NO) or len(self._verified.get(track, {})) >= self.max_crops

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
            return self._carried(self.track_verdicts[c.track_id])

        return [c.with_(verdict=verdict(i, c)) for i, c in enumerate(cands)]

    @staticmethod
    def _carried(v: Verdict) -> Verdict:
        """The track's verdict for a crop that was not verified itself: as it is when confident, else unsure."""
        if v.state in (VerdictState.YES, VerdictState.NO):
            return Verdict(v.state, v.confidence, v.rationale, "", v.method, from_track=True)
        if v.state is VerdictState.UNSURE:
            return Verdict(VerdictState.UNSURE, v.confidence, v.rationale, "", v.method, from_track=True)
        return Verdict(VerdictState.UNSURE, None, f"not verified here; the track's crops gave {v.state.value}: "
                       f"{v.rationale}".rstrip(": "), "", v.method, from_track=True)


class _TrackIds:
    """Track ids for one run, reserved from the clip's counter in blocks (unique across runs and review)."""

    def __init__(self, repo: Repository, video_id: int, block: int = 256) -> None:
        self.repo, self.video_id, self.block = repo, video_id, block
        self._next = self._end = 0

    def __call__(self) -> int:
        if self._next >= self._end:
            self._next = self.repo.reserve_track_ids(self.video_id, self.block)
            self._end = self._next + self.block
        self._next += 1
        return self._next - 1


def run_pipeline(config: RunConfig, *, repo: Repository, models: ModelCache | None = None,
                 on_progress: ProgressFn | None = None, on_batch: BatchFn | None = None,
                 cancel: Callable[[], bool] | None = None, cache_root: str | None = None) -> RunResult:
    """Run (or resume) the pipeline on one input. Raises LogoTagError subclasses with clear messages.

    One process at a time runs a clip: the clip's run lock is held in the database for the whole run
    (a second `logotag run`, or the app, gets a clear "being run by" message instead of duplicates).
    """
    report = on_progress or (lambda p: None)
    is_cancelled = cancel or (lambda: False)
    models = models or ModelCache()
    timings: dict[str, float] = {}
    # The clip's identity is its resolved path: `clip.mp4` and `/abs/clip.mp4` are one clip and one run.
    config = config.with_(input=str(Path(config.input).expanduser().resolve()))

    source = open_source(config.input)
    try:
        dictionary = load_dictionary(config.logos)
        repo.sync_brands(dictionary.aliases, dictionary.files_by_brand())
        # The project's dictionary is the one its latest run used (the app shows references from it).
        repo.set_setting("logos_dir", str(Path(config.logos).expanduser().resolve()))
        info = source.info
        video_id = repo.add_video(path=config.input, kind=info.kind, fps=info.fps, frame_count=info.frame_count,
                                  duration_s=info.duration_s, width=info.width, height=info.height)
        with repo.run_lock(video_id) as lock:
            return _run_locked(config, source, dictionary, repo=repo, video_id=video_id, lock=lock, models=models,
                               report=report, on_batch=on_batch, is_cancelled=is_cancelled, cache_root=cache_root,
                               timings=timings)
    finally:
        source.close()


def _run_locked(config: RunConfig, source, dictionary, *, repo: Repository, video_id: int, lock: RunLock,
                models: ModelCache, report: ProgressFn, on_batch: BatchFn | None, is_cancelled: Callable[[], bool],
                cache_root: str | None, timings: dict[str, float]) -> RunResult:
    info = source.info
    embedder_name, verifier_name, notices = choose_backends(config)
    for notice in notices:
        log.info(notice)
        report(Progress("notice", 0, 0, message=notice))

    t0 = time.perf_counter()
    report(Progress("loading models", 0, 2, message=f"{embedder_name} + {verifier_name}"))
    proposer = models.proposer(embedder_name, config, cache_root=cache_root)
    verifier = models.verifier(verifier_name, config)
    timings["load_s"] = round(time.perf_counter() - t0, 3)
    report(Progress("indexing logos", 1, 2, message=f"{len(dictionary.references)} references"))
    t0 = time.perf_counter()
    proposer.prepare(dictionary)
    prepare_verifier(verifier, dictionary)  # the OCR verifier learns which marks hold their name
    timings["index_s"] = round(time.perf_counter() - t0, 3)

    effective = config.with_(embedder=embedder_name, verifier=verifier_name)
    all_indices = source.sampled_indices(fps=config.fps, start=config.start_frame, end=config.end_frame)
    gap_frames = max(1, int(round(config.track_gap_s * info.fps)))
    linker = TrackLinker(max_gap_frames=gap_frames, new_id=_TrackIds(repo, video_id))
    verification = _Verification(verifier, per_track=config.track_verify, k=config.track_verify_k)

    resume = repo.resumable_run(video_id=video_id, config=effective.as_dict())
    if resume is not None:
        run_id, start_after = resume["id"], resume["last_frame_index"]
        previous = repo.last_linked(run_id=run_id, since_frame=start_after - gap_frames)
        linker.seed(previous)
        verification.seed(previous)
        repo.mark_run(run_id, status="running")
        log.info("resuming run %d after frame %d", run_id, start_after)
    else:
        run_id = repo.start_run(video_id=video_id, config=effective.as_dict(), embedder=describe(proposer),
                                verifier=describe(verifier), frames_total=len(all_indices))
        start_after = -1
    todo = [i for i in all_indices if i > start_after]
    frames_done = len(all_indices) - len(todo)
    result = RunResult(run_id, video_id, "running", frames_done, len(all_indices), 0,
                       start_after if start_after >= 0 else None, embedder_name, verifier_name, notices, timings)
    try:
        _process(source, effective, todo, repo=repo, run_id=run_id, video_id=video_id, proposer=proposer,
                 linker=linker, verification=verification, result=result, report=report, on_batch=on_batch,
                 is_cancelled=is_cancelled, lock=lock)
        # Detecting on keyframes only, following is what fills the frames between: it follows every detection.
        if (effective.propagate or effective.detect_every > 1) and info.kind == "video":
            _propagate(source, effective, repo=repo, run_id=run_id, video_id=video_id, verification=verification,
                       result=result, report=report, on_batch=on_batch, is_cancelled=is_cancelled, lock=lock)
    except Cancelled:
        repo.mark_run(run_id, status="cancelled", timings=timings, notes=result.notices)
        result.status = "cancelled"
        return result
    except Exception as exc:
        repo.mark_run(run_id, status="failed", error=str(exc), timings=timings, notes=result.notices)
        raise
    skipped = getattr(source, "skipped", {})
    if skipped:
        note = (f"{len(skipped)} unreadable image(s) skipped: {', '.join(sorted(skipped)[:5])}"
                f"{' …' if len(skipped) > 5 else ''}. Replace them and run again to include them.")
        log.warning(note)
        result.notices.append(note)
        report(Progress("notice", 0, 0, message=note))
    repo.mark_run(run_id, status="done", timings=timings, notes=result.notices)
    result.status = "done"
    return result


def _process(source, config: RunConfig, todo: list[int], *, repo: Repository, run_id: int, video_id: int, proposer,
             linker: TrackLinker, verification: _Verification, result: RunResult, report: ProgressFn,
             on_batch: BatchFn | None, is_cancelled: Callable[[], bool], lock: RunLock) -> None:
    threshold = resolved_threshold(config, config.embedder)
    eta = _Eta(len(todo))
    timings = result.timings
    timings.setdefault("propose_s", 0.0)
    timings.setdefault("verify_s", 0.0)
    done_here = 0
    report(Progress("frames", result.frames_done, result.frames_total))
    if not todo:
        return
    cuts: list[int] = []  # where shots start, as the decoder passes them (it sees every frame)
    frames_iter = prefetch(source.sample(fps=config.fps, start=todo[0], end=config.end_frame, cuts=cuts))
    # Stage 1 on one frame of each group (every frame where detect_every is 1); following fills the others.
    grouped = keyframes.groups(frames_iter, k=max(1, config.detect_every), cuts=cuts)
    stage_one = StageOne(proposer, workers=config.workers or default_workers(), skip_unchanged=config.skip_unchanged)
    # Verification runs on a thread of its own, beside stage 1's search of the next batch (a batch is stored, in
    # order, once it is verified): the cores stage 1 leaves idle while a batch ends, and the verifier's own
    # (one OCR thread, or a GPU), are used. One batch in flight at most, so a cancel or a kill loses one batch.
    verifying = ThreadPoolExecutor(max_workers=1, thread_name_prefix="verify") if config.overlap else None
    in_flight: tuple[Future[tuple[list[Candidate], float]], list[list[Frame]]] | None = None
    last_index = -1

    def verify(frames: dict[int, Frame], linked: list[Candidate]) -> tuple[list[Candidate], float]:
        t = time.perf_counter()
        return verification(frames, linked), time.perf_counter() - t

    def store(job: Future[tuple[list[Candidate], float]], chunk: list[list[Frame]]) -> None:
        nonlocal done_here, last_index
        t_wait = time.perf_counter()
        verified, took = job.result()
        timings["verify_s"] = round(timings["verify_s"] + took, 3)
        timings["verify_wait_s"] = round(timings.get("verify_wait_s", 0.0) + time.perf_counter() - t_wait, 3)
        t2 = time.perf_counter()
        sampled_here = sum(len(g) for g in chunk)
        done_here += sampled_here
        result.frames_done += sampled_here
        last_index = chunk[-1][-1].index
        stored = repo.add_batch(run_id=run_id, video_id=video_id, candidates=verified,
                                last_frame_index=last_index, frames_done=result.frames_done)
        timings["store_s"] = round(timings.get("store_s", 0.0) + time.perf_counter() - t2, 3)
        result.candidates += len(stored)
        if on_batch is not None:
            on_batch(stored)
        report(Progress("frames", result.frames_done, result.frames_total, eta(done_here),
                        f"frame {last_index}, {result.candidates} candidates"))

    try:
        while True:
            if is_cancelled():
                if in_flight is not None:  # searched and being verified: kept, as the batches before it
                    store(*in_flight)
                    in_flight = None
                raise Cancelled("run cancelled; finished batches are kept")
            lock.check()
            t_wait = time.perf_counter()
            chunk = list(itertools.islice(grouped, config.batch_frames))
            timings["decode_wait_s"] = round(timings.get("decode_wait_s", 0.0) + time.perf_counter() - t_wait, 3)
            if not chunk:
                break
            t0 = time.perf_counter()
            batch = [keyframes.keyframe(g) for g in chunk]
            linked: list[Candidate] = []
            for raw in stage_one.propose(batch):
                kept = filter_candidates(cross_brand_margin(nms(raw, iou=config.nms_iou)), threshold=threshold,
                                         min_margin=config.min_margin)
                linked += linker.link_frame(kept)
            timings["propose_s"] = round(timings["propose_s"] + time.perf_counter() - t0, 3)
            result.keyframes += len(batch)
            result.searched += [f.index for f in batch]
            if in_flight is not None:  # the batch before, verified meanwhile: stored first, in order
                store(*in_flight)
                in_flight = None
            frames = {f.index: f for f in batch}
            if verifying is None:
                done: Future[tuple[list[Candidate], float]] = Future()
                done.set_result(verify(frames, linked))
                store(done, chunk)
            else:
                in_flight = (verifying.submit(verify, frames, linked), chunk)
        if in_flight is not None:
            store(*in_flight)
            in_flight = None
    finally:
        if verifying is not None:
            verifying.shutdown(wait=True, cancel_futures=True)  # a batch being verified ends before the source goes
        frames_iter.close()  # stops the decoder's thread before anything else reads the source
        stage_one.close()
        if source.info.kind == "video" and last_index >= 0:
            repo.add_cuts(video_id, [f for f in cuts if f <= last_index], looked=(todo[0], last_index))
        timings["unchanged_frames"] = timings.get("unchanged_frames", 0) + stage_one.unchanged_frames
    _check_decoded(source, todo, done_here, last_index, result)


def _check_decoded(source, todo: list[int], decoded: int, last_index: int, result: RunResult) -> None:
    """A clip that ends early (cut off, but its index says otherwise) must not pass as done."""
    if source.info.kind != "video" or decoded >= len(todo):
        return
    step = max(1, todo[1] - todo[0]) if len(todo) > 1 else 1
    if last_index < todo[-1] - step:
        raise InputError(
            f"Video '{Path(source.info.path).name}' stops decoding after frame {max(last_index, 0)} of "
            f"{source.info.frame_count}: {len(todo) - decoded} of {len(todo)} sampled frames were not analysed. The "
            f"file is probably cut off; {REENCODE_HINT} or copy it again. What was analysed is kept; running again "
            "retries the rest.")
    note = f"{len(todo) - decoded} sampled frame(s) could not be decoded inside the clip and were skipped."
    log.warning(note)
    result.notices.append(note)


def keyframes_of(candidates: Sequence[Candidate], result: RunResult) -> list[int]:
    """The frames stage 1 searched: this process's, and for a resumed run those before it (where its stored
    detections lie: a keyframe that found nothing has nothing to follow from either)."""
    return sorted(set(result.searched) | {c.frame.index for c in candidates if c.method != "tracked"})


def _propagate(source, config: RunConfig, *, repo: Repository, run_id: int, video_id: int,
               verification: _Verification, result: RunResult, report: ProgressFn, on_batch: BatchFn | None,
               is_cancelled: Callable[[], bool], lock: RunLock) -> None:
    """Carry every confident detection through the sampled frames where the detector missed it.

    Idempotent: a resumed run follows again and adds only what is not there yet.
    """
    t0 = time.perf_counter()
    sampled = source.sampled_indices(fps=config.fps, start=config.start_frame, end=config.end_frame)
    mine = repo.candidates(run_id=run_id)
    stop = lambda: is_cancelled() or lock.lost.is_set()  # noqa: E731
    progress = lambda done, total: report(Progress("following tracks", done, total))  # noqa: E731
    if config.detect_every > 1:  # keyframes: every detection fills its stretch of the clip
        added = fill_between_keyframes(source, mine, keyframes=keyframes_of(mine, result), sampled=sampled,
                                       cancel=stop, on_progress=progress)
    else:
        added = extend_tracks(source, mine, sampled=sampled, min_score=config.propagate_min_score, cancel=stop,
                              on_progress=progress)
    if is_cancelled():
        raise Cancelled("run cancelled; finished batches are kept")
    lock.check()
    if added:  # a reviewer may have boxed (or followed) the mark meanwhile: no second box on it
        added = not_doubled(added, [c for c in repo.candidates(video_id=video_id) if c.frame.index in
                                    {a.frame.index for a in added}])
    if added:
        frames = {i: source.frame(i) for i in sorted({c.frame.index for c in added})}
        verification.seed(mine)
        verified = verification(frames, added)
        stored = repo.add_batch(run_id=run_id, video_id=video_id, candidates=verified, last_frame_index=None,
                                frames_done=None)
        result.candidates += len(stored)
        if on_batch is not None:
            on_batch(stored)
    result.timings["propagate_s"] = round(result.timings.get("propagate_s", 0.0) + time.perf_counter() - t0, 3)
    report(Progress("following tracks", 1, 1, message=f"{len(added)} boxes added by following tracks"))
