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

from logotag_gui.core.base import progress as steps
from logotag_gui.core.base.config import RunConfig, default_workers
from logotag_gui.core.base.errors import Cancelled, InputError
from logotag_gui.core.base.progress import RunProgress
from logotag_gui.core.base.records import TRACKED, BBox, Candidate, Frame, Progress, ReviewState, RunStatus
from logotag_gui.core.media.logos import LogoDictionary, load_dictionary
from logotag_gui.core.media.video import REENCODE_HINT, Source, describe_skipped, open_source
from logotag_gui.core.pipeline import keyframes
from logotag_gui.core.pipeline import profile as stages
from logotag_gui.core.pipeline.backends import ModelCache, choose_backends, describe, resolved_threshold
from logotag_gui.core.pipeline.follow import extend_tracks, fill_between_keyframes
from logotag_gui.core.pipeline.parts import own_tracks
from logotag_gui.core.pipeline.ports import RunLockHeld, RunPartInfo, RunStore
from logotag_gui.core.pipeline.profile import ProfiledProposer, RunProfile, ocr_engine_timed, timed_frames
from logotag_gui.core.pipeline.run_state import Batch, Eta, RunStart, RunState, Verified
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
    profile: RunProfile = field(default_factory=RunProfile)  # where this process's time went (pipeline/profile.py)


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
    The progress reported says what the run is doing (`RunProgress.step`); the result's `profile` where its time
    went (pipeline/profile.py).
    """
    config.check()  # the CLI's messages for values out of range, for the app's and run-many's runs too
    profile = RunProfile()
    report = on_progress or (lambda p: None)
    models = models or ModelCache()
    # The clip's identity is its resolved path: `clip.mp4` and `/abs/clip.mp4` are one clip and one run.
    config = config.with_(input=str(Path(config.input).expanduser().resolve()))

    source = open_source(config.input)
    try:
        report(RunProgress("loading models", 0, 2, step=steps.READING_LOGOS))
        with profile.stage(stages.READING_LOGOS):
            dictionary = load_dictionary(config.logos)
            repo.sync_brands(dictionary.aliases, dictionary.files_by_brand())
            # The project's dictionary is the one its latest run used (the app shows references from it).
            repo.set_setting("logos_dir", str(Path(config.logos).expanduser().resolve()))
        video_id = add_video(repo, config.input, source)
        with repo.run_lock(video_id, part_id=part_id) as lock:
            done = _finished(config, repo=repo, video_id=video_id, report=report) if skip_done and part_id is None \
                else None
            if done is not None:
                done.profile = profile.finish()
                return done
            result = _run_locked(config, source, dictionary, repo=repo, video_id=video_id, lock=lock, models=models,
                                 report=report, on_batch=on_batch, is_cancelled=cancel or (lambda: False),
                                 cache_root=cache_root, part_id=part_id, profile=profile)
    finally:
        source.close()
    profile.finish()
    return result


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
                  timings: dict[str, float], cache_root: str | None = None,
                  profile: RunProfile | None = None) -> Backends:
    """The run's stage 1 and verifier, loaded and prepared for the dictionary, and the notices of the choice."""
    profile = profile if profile is not None else RunProfile()
    report(RunProgress("loading models", 0, 2, step=steps.LOADING_MODELS))
    with profile.stage(stages.CHOOSING_BACKENDS):  # whether a model's weights are there: a second or two
        embedder_name, verifier_name, notices = choose_backends(config)
    for notice in notices:
        log.info(notice)
        report(Progress("notice", 0, 0, message=notice))
    t0 = time.perf_counter()
    report(RunProgress("loading models", 0, 2, message=f"{embedder_name} + {verifier_name}",
                       step=steps.LOADING_MODELS))
    proposer = models.proposer(embedder_name, config, cache_root=cache_root)
    verifier = models.verifier(verifier_name, config)
    timings["load_s"] = round(_took(profile, stages.LOADING_MODELS, t0), 3)
    report(RunProgress("indexing logos", 1, 2, message=f"{len(dictionary.references)} references",
                       step=steps.INDEXING_LOGOS))
    t0 = time.perf_counter()
    proposer.prepare(dictionary)
    prepare_verifier(verifier, dictionary)  # the OCR verifier learns which marks hold their name
    timings["index_s"] = round(_took(profile, stages.INDEXING_LOGOS, t0), 3)
    return Backends(proposer, verifier, config.with_(embedder=embedder_name, verifier=verifier_name), notices)


def _took(profile: RunProfile, stage: str, since: float) -> float:
    """The seconds since `since`, added to the profile's `stage`."""
    seconds = time.perf_counter() - since
    profile.add(stage, seconds)
    return seconds


def _run_locked(config: RunConfig, source: Source, dictionary: LogoDictionary, *, repo: RunStore, video_id: int,
                lock: RunLockHeld, models: ModelCache, report: ProgressFn, on_batch: BatchFn | None,
                is_cancelled: Callable[[], bool], cache_root: str | None, part_id: int | None,
                profile: RunProfile) -> RunResult:
    """Load the backends, start (or carry on) the run or the split run's part, analyse its frames, follow, mark."""
    timings: dict[str, float] = {}
    backends = load_backends(config, dictionary, models, report, timings, cache_root, profile)
    gap_frames = max(1, int(round(config.track_gap_s * source.info.fps)))
    linker = TrackLinker(max_gap_frames=gap_frames, new_id=_TrackIds(repo, video_id))
    verification = Verification(backends.verifier, per_track=config.track_verify, k=config.track_verify_k)
    with profile.stage(stages.STARTING):
        start = _start_part(repo.run_part(part_id), config, source, repo, backends) if part_id is not None \
            else _start_whole(config, source, repo, video_id, backends)
        if start.resumed:
            previous = repo.last_linked(run_id=start.run_id, since_frame=start.after - gap_frames,
                                        until_frame=start.after)
            linker.seed(previous)
            verification.seed(previous)
            log.info("resuming run %d after frame %d", start.run_id, start.after)
    todo = start.todo
    effective = backends.config
    result = RunResult(start.run_id, video_id, "running", len(start.sampled) - len(todo), len(start.sampled), 0,
                       start.resumed_from, effective.embedder, effective.verifier, backends.notices, timings,
                       profile=profile)
    ctx = RunContext(source, effective, repo, video_id, start.run_id, lock, result, report, on_batch, is_cancelled,
                     start.part)
    mark = _mark_part if start.part is not None else _mark_whole
    try:
        with ocr_engine_timed(enabled=backends.proposer.name in ("offline", "ocr")):
            _analyse(ctx, todo, ProfiledProposer(backends.proposer, profile), linker, verification)
        if start.part is None:
            _follow_whole(ctx, verification)
        else:
            _follow_part(ctx, verification, start.part, gap_frames)
    except Cancelled:
        mark(ctx, "cancelled")
        result.status = "cancelled"
        return result
    except Exception as exc:
        mark(ctx, "failed", str(exc))
        raise
    _note_skipped(ctx)
    mark(ctx, "done")
    result.status = "done"
    return result


def _start_whole(config: RunConfig, source: Source, repo: RunStore, video_id: int, backends: Backends) -> RunStart:
    """The clip's run with these settings carried on where it stopped, else a new one."""
    sampled = source.sampled_indices(fps=config.fps, start=config.start_frame, end=config.end_frame)
    resume = repo.resumable_run(video_id=video_id, config=backends.config.as_dict())
    if resume is not None:
        repo.mark_run(resume["id"], status="running")
        return RunStart(resume["id"], sampled, resume["last_frame_index"], resumed=True)
    run_id = repo.start_run(video_id=video_id, config=backends.config.as_dict(), embedder=describe(backends.proposer),
                            verifier=describe(backends.verifier), frames_total=len(sampled))
    return RunStart(run_id, sampled)


def _start_part(part: RunPartInfo, config: RunConfig, source: Source, repo: RunStore, backends: Backends) -> RunStart:
    """One range of a split run: its own frames and resume point."""
    sampled = source.sampled_indices(fps=config.fps, start=part.start_frame, end=part.end_frame)
    repo.set_run_models(part.run_id, embedder=describe(backends.proposer), verifier=describe(backends.verifier))
    repo.mark_part(part.id, status="running")
    after = part.last_frame_index
    return RunStart(part.run_id, sampled, after, resumed=after >= 0, part=part)


def _mark_whole(ctx: RunContext, status: Literal["done", "cancelled", "failed"], error: str = "") -> None:
    ctx.repo.mark_run(ctx.run_id, status=status, error=error, timings=ctx.result.timings, notes=ctx.result.notices)


def _mark_part(ctx: RunContext, status: Literal["done", "cancelled", "failed"], error: str = "") -> None:
    assert ctx.part is not None
    ctx.repo.mark_part(ctx.part.id, status=status, error=error)


def _follow_whole(ctx: RunContext, verification: Verification) -> None:
    # Detecting on keyframes only, following is what fills the frames between: it follows every detection.
    config = ctx.config
    if (config.propagate or config.detect_every > 1) and ctx.source.info.kind == "video":
        propagate(ctx, verification)


def _follow_part(ctx: RunContext, verification: Verification, part: RunPartInfo, gap_frames: int) -> None:
    # A range follows, within its frames, the tracks no other range can join; the run's joining follows the rest
    # over the whole clip (pipeline/split.py).
    config = ctx.config
    if config.propagate and config.detect_every == 1 and ctx.source.info.kind == "video":
        own = own_tracks(ctx.repo.candidates(run_id=ctx.run_id), part, ctx.repo.run_parts(ctx.run_id),
                         gap_frames=gap_frames)
        ranged = config.with_(start_frame=part.start_frame, end_frame=part.end_frame)
        propagate(dataclasses.replace(ctx, config=ranged), verification, only=own)


def _note_skipped(ctx: RunContext) -> None:
    """The frames the decoder skipped (undecodable inside the clip), as a notice."""
    skipped = getattr(ctx.source, "skipped", {})
    if skipped:
        note = describe_skipped(skipped)
        log.warning(describe_skipped(skipped, shown=len(skipped)))  # the log names every one
        ctx.result.notices.append(note)
        ctx.report(Progress("notice", 0, 0, message=note))


def _analyse(ctx: RunContext, todo: list[int], proposer: Proposer, linker: TrackLinker,
             verification: Verification) -> None:
    """Stage 1, verification and the store over this process's frames `todo`, in batches (see _FrameLoop)."""
    result = ctx.result
    result.timings.setdefault("propose_s", 0.0)
    result.timings.setdefault("verify_s", 0.0)
    state = RunState(todo, result.frames_total, result.frames_done, result.profile, Eta(len(todo)))
    ctx.report(Progress("frames", result.frames_done, result.frames_total))
    if not todo:
        return
    loop = _FrameLoop(ctx, state, proposer, linker, verification)
    try:
        loop.run()
    finally:
        loop.close()
    result.profile.frames += state.done_here
    _check_decoded(ctx.source, todo, state.done_here, state.last_index, result)


class _FrameLoop:
    """One process's frames, batch by batch: read a batch from the decoder, search it (stage 1), verify it and
    store it. Verification runs on a thread of its own, beside stage 1's search of the next batch (a batch is
    stored, in order, once it is verified): the cores stage 1 leaves idle while a batch ends, and the verifier's
    own (one OCR thread, or a GPU), are used. One batch in flight at most, so a cancel or a kill loses one batch.
    """

    def __init__(self, ctx: RunContext, state: RunState, proposer: Proposer, linker: TrackLinker,
                 verification: Verification) -> None:
        config, todo = ctx.config, state.todo
        self.ctx, self.state, self.linker, self.verification = ctx, state, linker, verification
        self.timings, self.profile = ctx.result.timings, state.profile
        self.threshold = resolved_threshold(config, config.embedder)
        # Boxes a reviewer decided (earlier runs', drawn ones): this run adds no pending twin of one.
        self.decided = decided_boxes(ctx.repo.candidates(video_id=ctx.video_id, frame_from=todo[0]))
        self.finds_shots = ctx.source.info.kind == "video"
        self.frames = prefetch(timed_frames(ctx.source.sample(fps=config.fps, start=todo[0], end=todo[-1],
                                                              cuts=state.cuts), self.profile))
        # Stage 1 on one frame of each group (every frame where detect_every is 1); following fills the others.
        self.group_size = max(1, config.detect_every)
        self.groups = keyframes.groups(self.frames, k=self.group_size, cuts=state.cuts,
                                       move_share=config.keyframe_move)
        self.stage_one = StageOne(proposer, workers=config.workers or default_workers(),
                                  skip_unchanged=config.skip_unchanged)
        self.verifying = ThreadPoolExecutor(max_workers=1, thread_name_prefix="verify") if config.overlap else None

    def run(self) -> None:
        while True:
            self.stop_if_cancelled()
            self.ctx.lock.check()
            batch = self.read()
            if batch is None:
                break
            linked = self.propose(batch)
            self.store_in_flight()  # the batch before, verified meanwhile: stored first, in order
            self.verify(batch, linked)
            if self.verifying is None:
                self.store_in_flight()
        self.store_in_flight()

    def say(self, step: str, on: str) -> None:
        """What the run is doing now, with the frames' progress as it stands."""
        result, state = self.ctx.result, self.state
        self.ctx.report(RunProgress("frames", result.frames_done, result.frames_total, state.eta_s, state.message,
                                    step=step, on=on))

    def stop_if_cancelled(self) -> None:
        if self.ctx.is_cancelled():
            self.store_in_flight()  # searched and being verified: kept, as the batches before it
            raise Cancelled("run cancelled; finished batches are kept")

    def read(self) -> Batch | None:
        """The next batch of groups from the decoder (None at the end)."""
        state = self.state
        if state.read < len(state.todo):
            self.say(steps.FINDING_SHOTS if self.finds_shots else steps.DECODING,
                     state.next_on(self.ctx.config.batch_frames * self.group_size))
        t = time.perf_counter()
        chunk = list(itertools.islice(self.groups, self.ctx.config.batch_frames))
        self._add("decode_wait_s", stages.DECODE_WAIT, t)
        return state.batch(chunk) if chunk else None

    def propose(self, batch: Batch) -> list[Candidate]:
        """Stage 1 on the batch's keyframes, its boxes filtered and linked into tracks."""
        config, result = self.ctx.config, self.ctx.result
        self.say(steps.PROPOSING, batch.on)
        t = time.perf_counter()
        searched = [keyframes.keyframe(g) for g in batch.groups]
        linked: list[Candidate] = []
        for raw in self.stage_one.propose(searched):
            kept = filter_candidates(cross_brand_margin(nms(raw, iou=config.nms_iou)), threshold=self.threshold,
                                     min_margin=config.min_margin)
            linked += self.linker.link_frame(kept)
        linked = not_on_decided(linked, self.decided)  # before verifying: no verifier time on a dropped box
        self._add("propose_s", stages.STAGE_ONE, t)
        result.keyframes += len(searched)
        result.searched += [f.index for f in searched]
        batch.searched = {f.index: f for f in searched}
        return linked

    def verify(self, batch: Batch, linked: list[Candidate]) -> None:
        """The batch's verification: under way beside stage 1 (overlap), or done here."""
        if self.verifying is not None:
            batch.verified = self.verifying.submit(self._verified, batch.searched, linked)
        else:
            done: Verified = Future()
            t = time.perf_counter()
            done.set_result(self._verified(batch.searched, linked))
            self.profile.add(stages.VERIFYING, time.perf_counter() - t)
            batch.verified = done
        self.state.in_flight = batch

    def _verified(self, frames: dict[int, Frame], linked: list[Candidate]) -> tuple[list[Candidate], float]:
        t = time.perf_counter()
        verified = self.verification(frames, linked)
        took = time.perf_counter() - t
        if self.verifying is not None:
            self.profile.add_beside(stages.VERIFICATION, took)
        return verified, took

    def store_in_flight(self) -> None:
        """The batch in flight, once verified, stored (with the run's progress)."""
        ctx, state, result, timings = self.ctx, self.state, self.ctx.result, self.timings
        batch, state.in_flight = state.in_flight, None
        if batch is None:
            return
        assert batch.verified is not None
        self.say(steps.VERIFYING, batch.on)
        t_wait = time.perf_counter()
        verified, took = batch.verified.result()
        timings["verify_s"] = round(timings["verify_s"] + took, 3)
        timings["verify_wait_s"] = round(timings.get("verify_wait_s", 0.0) + time.perf_counter() - t_wait, 3)
        if self.verifying is not None:
            self.profile.add(stages.VERIFY_WAIT, time.perf_counter() - t_wait)
        self.say(steps.STORING, batch.on)
        t = time.perf_counter()
        state.done_here += batch.size
        result.frames_done += batch.size
        state.last_index = batch.last_index
        stored = ctx.repo.add_batch(run_id=ctx.run_id, video_id=ctx.video_id, candidates=verified,
                                    last_frame_index=state.last_index, frames_done=result.frames_done,
                                    part_id=ctx.part.id if ctx.part is not None else None)
        self._add("store_s", stages.STORING, t)
        result.candidates += len(stored)
        if ctx.on_batch is not None:
            ctx.on_batch(stored)
        state.eta_s = state.eta(state.done_here)
        state.message = f"frame {state.last_index}, {result.candidates} candidates"
        ctx.report(Progress("frames", result.frames_done, result.frames_total, state.eta_s, state.message))

    def _add(self, key: str, stage: str, since: float) -> None:
        """The seconds since `since`, to the run's timings (`key`) and its profile (`stage`)."""
        seconds = time.perf_counter() - since
        self.timings[key] = round(self.timings.get(key, 0.0) + seconds, 3)
        self.profile.add(stage, seconds)

    def close(self) -> None:
        ctx, state = self.ctx, self.state
        if self.verifying is not None:
            self.verifying.shutdown(wait=True, cancel_futures=True)  # a batch being verified ends before the source
        self.frames.close()  # stops the decoder's thread before anything else reads the source
        self.stage_one.close()
        if ctx.source.info.kind == "video" and state.last_index >= 0:
            ctx.repo.add_cuts(ctx.video_id, [f for f in state.cuts if f <= state.last_index],
                              looked=(state.todo[0], state.last_index))
        self.timings["unchanged_frames"] = self.timings.get("unchanged_frames", 0) + self.stage_one.unchanged_frames


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


def _check_decoded(source: Source, todo: list[int], decoded: int, last_index: int, result: RunResult) -> None:
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
    return sorted(set(result.searched) | {c.frame.index for c in candidates if c.method != TRACKED})


def propagate(ctx: RunContext, verification: Verification, *, only: Collection[int] | None = None) -> None:
    """Carry every confident detection (of the tracks `only`, when given) through the sampled frames of the run's
    range where the detector missed it.

    Idempotent: a resumed run follows again and adds only what is not there yet.
    """
    config, repo, result, report, profile = ctx.config, ctx.repo, ctx.result, ctx.report, ctx.result.profile
    t0 = time.perf_counter()
    sampled = ctx.source.sampled_indices(fps=config.fps, start=config.start_frame, end=config.end_frame)
    first, last = (sampled[0], sampled[-1]) if sampled else (0, -1)
    mine = [c for c in repo.candidates(run_id=ctx.run_id) if first <= c.frame.index <= last]
    stop = lambda: ctx.is_cancelled() or ctx.lock.lost.is_set()  # noqa: E731
    progress = lambda done, total: report(RunProgress("following tracks", done, total,  # noqa: E731
                                                      step=steps.FOLLOWING))
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
    profile.add(stages.FOLLOWING, time.perf_counter() - t0)
    if added:
        report(RunProgress("following tracks", 0, 1, step=steps.VERIFYING_FOLLOWED, on=f"{len(added)} boxes"))
        with profile.stage(stages.FOLLOWED_VERIFYING):
            frames = {i: ctx.source.frame(i) for i in sorted({c.frame.index for c in added})}
            verification.seed(mine)
            verified = verification(frames, added)
        report(RunProgress("following tracks", 0, 1, step=steps.STORING, on=f"{len(added)} followed boxes"))
        with profile.stage(stages.STORING):
            stored = repo.add_batch(run_id=ctx.run_id, video_id=ctx.video_id, candidates=verified,
                                    last_frame_index=None, frames_done=None)
        result.candidates += len(stored)
        if ctx.on_batch is not None:
            ctx.on_batch(stored)
    result.timings["propagate_s"] = round(result.timings.get("propagate_s", 0.0) + time.perf_counter() - t0, 3)
    report(Progress("following tracks", 1, 1, message=f"{len(added)} boxes added by following tracks"))
