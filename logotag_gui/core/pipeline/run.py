"""The two-stage pipeline: frames → proposals → NMS/margin → tracks → verification → store.

Runs headless; the GUI calls it from a worker thread with `on_progress`, `on_batch` and `cancel`.
It commits once per batch of frames: a killed run loses at most one batch, and running the same
settings again resumes after the last stored frame.
"""

from __future__ import annotations

import dataclasses
import itertools
import logging
import time
from collections.abc import Callable, Collection, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from logotag_gui.core.base.config import RunConfig, default_workers
from logotag_gui.core.base.errors import Cancelled, InputError
from logotag_gui.core.base.records import BBox, Candidate, Frame, Progress, ReviewState, RunStatus
from logotag_gui.core.media.logos import LogoDictionary, load_dictionary
from logotag_gui.core.media.video import REENCODE_HINT, Source, describe_skipped, open_source
from logotag_gui.core.pipeline import keyframes
from logotag_gui.core.pipeline.backends import ModelCache, choose_backends, describe, resolved_threshold
from logotag_gui.core.pipeline.follow import extend_tracks, fill_between_keyframes
from logotag_gui.core.pipeline.parts import own_tracks
from logotag_gui.core.pipeline.ports import RunLockHeld, RunPartInfo, RunStore
from logotag_gui.core.pipeline.stage_one import StageOne, prefetch
from logotag_gui.core.pipeline.tracks import (
    TrackLinker,
    cross_brand_margin,
    filter_candidates,
    nms,
    not_doubled,
)
from logotag_gui.core.pipeline.verification import Verification
from logotag_gui.core.proposers import Proposer
from logotag_gui.core.verifiers import Verifier, prepare_verifier

log = logging.getLogger(__name__)
ProgressFn = Callable[[Progress], None]
BatchFn = Callable[[list[Candidate]], None]


@dataclass(slots=True)
class RunResult:
    run_id: int
    video_id: int
    status: RunStatus  # done | cancelled (running while it runs)
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
    already_done: bool = False  # nothing analysed: the clip's run with these settings was done (skip_done)


class _Eta:
    def __init__(self, total: int) -> None:
        self.total, self.start = total, time.perf_counter()

    def __call__(self, done: int) -> float | None:
        if done <= 0:
            return None
        elapsed = time.perf_counter() - self.start
        return elapsed / done * (self.total - done)


class _TrackIds:
    """Track ids for one run, reserved from the clip's counter in blocks (unique across runs and review)."""

    def __init__(self, repo: RunStore, video_id: int, block: int = 256) -> None:
        self.repo, self.video_id, self.block = repo, video_id, block
        self._next = self._end = 0

    def __call__(self) -> int:
        if self._next >= self._end:
            self._next = self.repo.reserve_track_ids(self.video_id, self.block)
            self._end = self._next + self.block
        self._next += 1
        return self._next - 1


@dataclass(slots=True)
class RunContext:
    """What every step of one run reads: the clip, the settings in effect, the store, and where results go."""

    source: Source
    config: RunConfig  # with the backends resolved
    repo: RunStore
    video_id: int
    run_id: int
    lock: RunLockHeld
    result: RunResult
    report: ProgressFn
    on_batch: BatchFn | None
    is_cancelled: Callable[[], bool]
    part: RunPartInfo | None = None  # the frame range this process runs of a split run (run-many)


def run_pipeline(config: RunConfig, *, repo: RunStore, models: ModelCache | None = None,
                 on_progress: ProgressFn | None = None, on_batch: BatchFn | None = None,
                 cancel: Callable[[], bool] | None = None, cache_root: str | None = None,
                 part_id: int | None = None, skip_done: bool = False) -> RunResult:
    """Run (or resume) the pipeline on one input. Raises LogoTagError subclasses with clear messages.

    One process at a time runs a clip: the clip's run lock is held in the database for the whole run
    (a second `logotag run`, or the app, gets a clear "being run by" message instead of duplicates).
    With `part_id`, this process runs (or resumes) one frame range of a split run (pipeline/split.py)
    under that part's lock, and leaves following and finishing the run to `finish_split`.
    With `skip_done`, a clip whose latest run is done with these settings is not analysed again: that run comes
    back, `already_done`, with a notice saying so (`logotag run` without --force).
    """
    config.check()  # the CLI's messages for values out of range, for the app's and run-many's runs too
    report = on_progress or (lambda p: None)
    models = models or ModelCache()
    # The clip's identity is its resolved path: `clip.mp4` and `/abs/clip.mp4` are one clip and one run.
    config = config.with_(input=str(Path(config.input).expanduser().resolve()))

    source = open_source(config.input)
    try:
        dictionary = load_dictionary(config.logos)
        repo.sync_brands(dictionary.aliases, dictionary.files_by_brand())
        # The project's dictionary is the one its latest run used (the app shows references from it).
        repo.set_setting("logos_dir", str(Path(config.logos).expanduser().resolve()))
        video_id = add_video(repo, config.input, source)
        with repo.run_lock(video_id, part_id=part_id) as lock:
            done = _finished(config, repo=repo, video_id=video_id, report=report) if skip_done and part_id is None \
                else None
            if done is not None:
                return done
            return _run_locked(config, source, dictionary, repo=repo, video_id=video_id, lock=lock, models=models,
                               report=report, on_batch=on_batch, is_cancelled=cancel or (lambda: False),
                               cache_root=cache_root, part_id=part_id)
    finally:
        source.close()


def _finished(config: RunConfig, *, repo: RunStore, video_id: int, report: ProgressFn) -> RunResult | None:
    """The clip's run with these settings when it is done (as stored, nothing analysed), else None."""
    embedder, verifier, _ = choose_backends(config)  # "auto" as the run would resolve it: the key it was stored by
    run_id = repo.finished_run(video_id=video_id, config=config.with_(embedder=embedder, verifier=verifier).as_dict())
    if run_id is None:
        return None
    info = repo.run_info(run_id)
    note = (f"'{Path(config.input).name}' was already run with these settings (run {run_id}, done); --force to run "
            "again.")
    log.info(note)
    report(Progress("notice", 0, 0, message=note))
    return RunResult(run_id, video_id, "done", info.frames_done, info.frames_total,
                     repo.count_candidates(video_id=video_id), None, info.embedder, info.verifier, [note],
                     already_done=True)


def add_video(repo: RunStore, path: str, source: Source) -> int:
    info = source.info
    return repo.add_video(path=path, kind=info.kind, fps=info.fps, frame_count=info.frame_count,
                          duration_s=info.duration_s, width=info.width, height=info.height)


@dataclass(slots=True)
class Backends:
    proposer: Proposer
    verifier: Verifier
    config: RunConfig  # the run's settings with "auto" resolved to the backends chosen
    notices: list[str]


def load_backends(config: RunConfig, dictionary: LogoDictionary, models: ModelCache, report: ProgressFn,
                  timings: dict[str, float], cache_root: str | None = None) -> Backends:
    """The run's stage 1 and verifier, loaded and prepared for the dictionary, and the notices of the choice."""
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
    return Backends(proposer, verifier, config.with_(embedder=embedder_name, verifier=verifier_name), notices)


def _run_locked(config: RunConfig, source: Source, dictionary: LogoDictionary, *, repo: RunStore, video_id: int,
                lock: RunLockHeld, models: ModelCache, report: ProgressFn, on_batch: BatchFn | None,
                is_cancelled: Callable[[], bool], cache_root: str | None, part_id: int | None) -> RunResult:
    info = source.info
    timings: dict[str, float] = {}
    backends = load_backends(config, dictionary, models, report, timings, cache_root)
    proposer, verifier, effective, notices = backends.proposer, backends.verifier, backends.config, backends.notices
    gap_frames = max(1, int(round(config.track_gap_s * info.fps)))
    linker = TrackLinker(max_gap_frames=gap_frames, new_id=_TrackIds(repo, video_id))
    verification = Verification(verifier, per_track=config.track_verify, k=config.track_verify_k)

    part = repo.run_part(part_id) if part_id is not None else None
    if part is not None:  # one range of a split run: its own frames and resume point
        run_id, start_after = part.run_id, part.last_frame_index
        all_indices = source.sampled_indices(fps=config.fps, start=part.start_frame, end=part.end_frame)
        repo.set_run_models(run_id, embedder=describe(proposer), verifier=describe(verifier))
        repo.mark_part(part.id, status="running")
        resume: dict | None = {"id": run_id} if start_after >= 0 else None
    else:
        all_indices = source.sampled_indices(fps=config.fps, start=config.start_frame, end=config.end_frame)
        resume = repo.resumable_run(video_id=video_id, config=effective.as_dict())
        if resume is not None:
            run_id, start_after = resume["id"], resume["last_frame_index"]
            repo.mark_run(run_id, status="running")
        else:
            run_id = repo.start_run(video_id=video_id, config=effective.as_dict(), embedder=describe(proposer),
                                    verifier=describe(verifier), frames_total=len(all_indices))
            start_after = -1
    if resume is not None:
        previous = repo.last_linked(run_id=run_id, since_frame=start_after - gap_frames, until_frame=start_after)
        linker.seed(previous)
        verification.seed(previous)
        log.info("resuming run %d after frame %d", run_id, start_after)
    todo = [i for i in all_indices if i > start_after]
    resumed_from = start_after if start_after >= 0 else None
    result = RunResult(run_id, video_id, "running", len(all_indices) - len(todo), len(all_indices), 0, resumed_from,
                       effective.embedder, effective.verifier, notices, timings)
    ctx = RunContext(source, effective, repo, video_id, run_id, lock, result, report, on_batch, is_cancelled, part)

    def mark(status: Literal["done", "cancelled", "failed"], error: str = "") -> None:
        if part is not None:
            repo.mark_part(part.id, status=status, error=error)
        else:
            repo.mark_run(run_id, status=status, error=error, timings=timings, notes=result.notices)

    try:
        _process(ctx, todo, proposer, linker, verification)
        # Detecting on keyframes only, following is what fills the frames between: it follows every detection.
        if part is None and (effective.propagate or effective.detect_every > 1) and info.kind == "video":
            propagate(ctx, verification)
        elif part is not None and effective.propagate and effective.detect_every == 1 and info.kind == "video":
            # A range follows, within its frames, the tracks no other range can join; the run's joining follows
            # the rest over the whole clip (pipeline/split.py).
            own = own_tracks(repo.candidates(run_id=run_id), part, repo.run_parts(run_id), gap_frames=gap_frames)
            ranged = effective.with_(start_frame=part.start_frame, end_frame=part.end_frame)
            propagate(dataclasses.replace(ctx, config=ranged), verification, only=own)
    except Cancelled:
        mark("cancelled")
        result.status = "cancelled"
        return result
    except Exception as exc:
        mark("failed", str(exc))
        raise
    skipped = getattr(source, "skipped", {})
    if skipped:
        note = describe_skipped(skipped)
        log.warning(describe_skipped(skipped, shown=len(skipped)))  # the log names every one
        result.notices.append(note)
        report(Progress("notice", 0, 0, message=note))
    mark("done")
    result.status = "done"
    return result


def _process(ctx: RunContext, todo: list[int], proposer: Proposer, linker: TrackLinker,
             verification: Verification) -> None:
    config, result, report, repo = ctx.config, ctx.result, ctx.report, ctx.repo
    threshold = resolved_threshold(config, config.embedder)
    eta = _Eta(len(todo))
    timings = result.timings
    timings.setdefault("propose_s", 0.0)
    timings.setdefault("verify_s", 0.0)
    done_here = 0
    report(Progress("frames", result.frames_done, result.frames_total))
    if not todo:
        return
    # Boxes a reviewer decided (earlier runs', drawn ones): this run adds no pending twin of one.
    decided = decided_boxes(repo.candidates(video_id=ctx.video_id, frame_from=todo[0]))
    cuts: list[int] = []  # where shots start, as the decoder passes them (it sees every frame)
    frames_iter = prefetch(ctx.source.sample(fps=config.fps, start=todo[0], end=todo[-1], cuts=cuts))
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
        stored = repo.add_batch(run_id=ctx.run_id, video_id=ctx.video_id, candidates=verified,
                                last_frame_index=last_index, frames_done=result.frames_done,
                                part_id=ctx.part.id if ctx.part is not None else None)
        timings["store_s"] = round(timings.get("store_s", 0.0) + time.perf_counter() - t2, 3)
        result.candidates += len(stored)
        if ctx.on_batch is not None:
            ctx.on_batch(stored)
        report(Progress("frames", result.frames_done, result.frames_total, eta(done_here),
                        f"frame {last_index}, {result.candidates} candidates"))

    try:
        while True:
            if ctx.is_cancelled():
                if in_flight is not None:  # searched and being verified: kept, as the batches before it
                    store(*in_flight)
                    in_flight = None
                raise Cancelled("run cancelled; finished batches are kept")
            ctx.lock.check()
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
            linked = not_on_decided(linked, decided)  # before verifying: no verifier time on a dropped box
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
        if ctx.source.info.kind == "video" and last_index >= 0:
            repo.add_cuts(ctx.video_id, [f for f in cuts if f <= last_index], looked=(todo[0], last_index))
        timings["unchanged_frames"] = timings.get("unchanged_frames", 0) + stage_one.unchanged_frames
    _check_decoded(ctx.source, todo, done_here, last_index, result)


DecidedBoxes = dict[tuple[int, str], list[BBox]]


def decided_boxes(candidates: Sequence[Candidate]) -> DecidedBoxes:
    """(frame, brand) -> the boxes a reviewer decided there (accepted or rejected), under the brand proposed and the
    brand decided, at the place proposed and the place decided: a new box on any of them repeats a decision."""
    found: DecidedBoxes = {}
    for c in candidates:
        if c.has_box and c.review.state is not ReviewState.PENDING:
            for brand in {c.brand, c.final_brand}:
                found.setdefault((c.frame.index, brand), []).extend({c.bbox, c.final_bbox})
    return found


def not_on_decided(new: Sequence[Candidate], decided: DecidedBoxes, *, iou: float = 0.5) -> list[Candidate]:
    """The new boxes that do not sit on a decided box of their brand (IoU >= `iou`) on their frame: a clip run again
    with other settings gets no pending box where its reviewer has answered already, rejected boxes included."""
    if not decided:
        return list(new)
    return [c for c in new if not (c.has_box and any(c.bbox.iou(box) >= iou
                                                     for box in decided.get((c.frame.index, c.brand), ())))]


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


def propagate(ctx: RunContext, verification: Verification, *, only: Collection[int] | None = None) -> None:
    """Carry every confident detection (of the tracks `only`, when given) through the sampled frames of the run's
    range where the detector missed it.

    Idempotent: a resumed run follows again and adds only what is not there yet.
    """
    config, repo, result, report = ctx.config, ctx.repo, ctx.result, ctx.report
    t0 = time.perf_counter()
    sampled = ctx.source.sampled_indices(fps=config.fps, start=config.start_frame, end=config.end_frame)
    first, last = (sampled[0], sampled[-1]) if sampled else (0, -1)
    mine = [c for c in repo.candidates(run_id=ctx.run_id) if first <= c.frame.index <= last]
    stop = lambda: ctx.is_cancelled() or ctx.lock.lost.is_set()  # noqa: E731
    progress = lambda done, total: report(Progress("following tracks", done, total))  # noqa: E731
    if config.detect_every > 1:  # keyframes: every detection fills its stretch of the clip
        added = fill_between_keyframes(ctx.source, mine, keyframes=keyframes_of(mine, result), sampled=sampled,
                                       cancel=stop, on_progress=progress)
    else:
        added = extend_tracks(ctx.source, mine, sampled=sampled, min_score=config.propagate_min_score, cancel=stop,
                              on_progress=progress, only=only)
    if ctx.is_cancelled():
        raise Cancelled("run cancelled; finished batches are kept")
    ctx.lock.check()
    if added:  # a reviewer may have boxed (or followed) the mark meanwhile, or decided it: no second box on it
        on_frames = {a.frame.index for a in added}
        there = [c for c in repo.candidates(video_id=ctx.video_id) if c.frame.index in on_frames]
        added = not_on_decided(not_doubled(added, there), decided_boxes(there))
    if added:
        frames = {i: ctx.source.frame(i) for i in sorted({c.frame.index for c in added})}
        verification.seed(mine)
        verified = verification(frames, added)
        stored = repo.add_batch(run_id=ctx.run_id, video_id=ctx.video_id, candidates=verified, last_frame_index=None,
                                frames_done=None)
        result.candidates += len(stored)
        if ctx.on_batch is not None:
            ctx.on_batch(stored)
    result.timings["propagate_s"] = round(result.timings.get("propagate_s", 0.0) + time.perf_counter() - t0, 3)
    report(Progress("following tracks", 1, 1, message=f"{len(added)} boxes added by following tracks"))
