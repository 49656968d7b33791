"""The two-stage pipeline: frames → proposals → NMS/margin → tracks → verification → store.

Runs headless; the GUI calls it from a worker thread with `on_progress`, `on_batch` and `cancel`.
It commits once per batch of frames: a killed run loses at most one batch, and running the same
settings again resumes after the last stored frame.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from logotag_gui.core.backends import ModelCache, choose_backends, describe
from logotag_gui.core.config import RunConfig
from logotag_gui.core.errors import Cancelled
from logotag_gui.core.logos import load_dictionary
from logotag_gui.core.records import Candidate, Frame, Progress, Verdict, VerdictState
from logotag_gui.core.store import Repository
from logotag_gui.core.tracks import TrackLinker, cross_brand_margin, filter_candidates, nms
from logotag_gui.core.verifiers import Verifier, VerifyItem
from logotag_gui.core.video import open_source

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


def combine_track_verdicts(verdicts: Sequence[Verdict]) -> Verdict:
    """One verdict for a track from its best crops: majority of yes/no, most confident on ties."""
    usable = [v for v in verdicts if v.state in (VerdictState.YES, VerdictState.NO, VerdictState.UNSURE)]
    if not usable:
        return verdicts[0]
    yes = [v for v in usable if v.state is VerdictState.YES]
    no = [v for v in usable if v.state is VerdictState.NO]
    pool = yes if len(yes) > len(no) else no if len(no) > len(yes) else usable
    return max(pool, key=lambda v: v.confidence or 0.0)


class _Verification:
    """Per-candidate or track-level verification, remembering track verdicts across batches."""

    def __init__(self, verifier: Verifier, *, per_track: bool, k: int) -> None:
        self.verifier, self.per_track, self.k = verifier, per_track, k
        self.track_verdicts: dict[int, Verdict] = {}

    def seed(self, previous: Sequence[Candidate]) -> None:
        for c in previous:
            if c.track_id is not None and c.verdict.state is not VerdictState.NOT_RUN and not c.verdict.from_track:
                self.track_verdicts.setdefault(c.track_id, c.verdict)

    def __call__(self, frames: dict[int, Frame], cands: list[Candidate]) -> list[Candidate]:
        if self.verifier.name == "none" or not cands:
            return cands
        if not self.per_track:
            verdicts = self.verifier.verify(_verify_items(frames, cands))
            return [c.with_(verdict=v) for c, v in zip(cands, verdicts, strict=True)]
        by_track: dict[int, list[int]] = {}
        for i, c in enumerate(cands):
            if c.track_id not in self.track_verdicts:
                by_track.setdefault(c.track_id, []).append(i)
        chosen = [i for idx in by_track.values() for i in sorted(idx, key=lambda i: -cands[i].score)[: self.k]]
        verdicts = dict(zip(chosen, self.verifier.verify(_verify_items(frames, [cands[i] for i in chosen])), strict=True))
        for track, idx in by_track.items():
            self.track_verdicts[track] = combine_track_verdicts([verdicts[i] for i in idx if i in verdicts])
        out = []
        for i, c in enumerate(cands):
            if i in verdicts:
                out.append(c.with_(verdict=verdicts[i]))
            else:
                carried = self.track_verdicts[c.track_id]
                out.append(c.with_(verdict=Verdict(carried.state, carried.confidence, carried.rationale, "",
                                                    carried.method, from_track=True)))
        return out


def run_pipeline(config: RunConfig, *, repo: Repository, models: ModelCache | None = None,
                 on_progress: ProgressFn | None = None, on_batch: BatchFn | None = None,
                 cancel: Callable[[], bool] | None = None, cache_root: str | None = None) -> RunResult:
    """Run (or resume) the pipeline on one input. Raises LogoTagError subclasses with clear messages."""
    report = on_progress or (lambda p: None)
    is_cancelled = cancel or (lambda: False)
    models = models or ModelCache()
    timings: dict[str, float] = {}

    source = open_source(config.input)
    try:
        dictionary = load_dictionary(config.logos)
        repo.sync_brands(dictionary.aliases, dictionary.files_by_brand())
        info = source.info
        video_id = repo.add_video(path=str(Path(config.input).expanduser().resolve()), kind=info.kind, fps=info.fps,
                                  frame_count=info.frame_count, duration_s=info.duration_s, width=info.width,
                                  height=info.height)
        embedder_name, verifier_name, notices = choose_backends(config)
        for notice in notices:
            log.info(notice)
            report(Progress("notice", 0, 0, message=notice))

        t0 = time.perf_counter()
        report(Progress("loading models", 0, 2, message=f"{embedder_name} + {verifier_name}"))
        proposer = models.proposer(embedder_name, config, cache_root=cache_root)
        verifier = models.verifier(verifier_name, config, aliases=dictionary.aliases)
        timings["load_s"] = round(time.perf_counter() - t0, 3)
        report(Progress("indexing logos", 1, 2, message=f"{len(dictionary.references)} references"))
        t0 = time.perf_counter()
        proposer.prepare(dictionary)
        timings["index_s"] = round(time.perf_counter() - t0, 3)

        effective = config.with_(embedder=embedder_name, verifier=verifier_name)
        all_indices = source.sampled_indices(fps=config.fps, start=config.start_frame, end=config.end_frame)
        gap_frames = max(1, int(round(config.track_gap_s * info.fps)))
        linker = TrackLinker(max_gap_frames=gap_frames)
        verification = _Verification(verifier, per_track=config.track_verify, k=config.track_verify_k)

        resume = repo.resumable_run(video_id=video_id, config=effective.as_dict())
        if resume is not None and resume["last_frame_index"] >= 0:
            run_id, start_after = resume["id"], resume["last_frame_index"]
            previous = repo.last_linked(run_id=run_id, since_frame=start_after - gap_frames)
            linker.seed(previous)
            verification.seed(previous)
            repo.mark_run(run_id, status="running")
            log.info("resuming run %d after frame %d", run_id, start_after)
        else:
            run_id = resume["id"] if resume else repo.start_run(
                video_id=video_id, config=effective.as_dict(), embedder=describe(proposer),
                verifier=describe(verifier), frames_total=len(all_indices))
            start_after = -1
        todo = [i for i in all_indices if i > start_after]
        frames_done = len(all_indices) - len(todo)
        result = RunResult(run_id, video_id, "running", frames_done, len(all_indices), 0,
                           start_after if start_after >= 0 else None, embedder_name, verifier_name, notices, timings)
        try:
            _process(source, effective, todo, repo=repo, run_id=run_id, video_id=video_id, proposer=proposer,
                     linker=linker, verification=verification, result=result, report=report, on_batch=on_batch,
                     is_cancelled=is_cancelled)
        except Cancelled:
            repo.mark_run(run_id, status="cancelled", timings=timings)
            result.status = "cancelled"
            return result
        except Exception as exc:
            repo.mark_run(run_id, status="failed", error=str(exc), timings=timings)
            raise
        repo.mark_run(run_id, status="done", timings=timings)
        result.status = "done"
        return result
    finally:
        source.close()


def _process(source, config: RunConfig, todo: list[int], *, repo: Repository, run_id: int, video_id: int, proposer,
             linker: TrackLinker, verification: _Verification, result: RunResult, report: ProgressFn,
             on_batch: BatchFn | None, is_cancelled: Callable[[], bool]) -> None:
    threshold = config.resolved_threshold(config.embedder)
    eta = _Eta(len(todo))
    timings = result.timings
    timings.setdefault("propose_s", 0.0)
    timings.setdefault("verify_s", 0.0)
    done_here = 0
    report(Progress("frames", result.frames_done, result.frames_total))
    if not todo:
        return
    frames_iter = source.sample(fps=config.fps, start=todo[0], end=config.end_frame)
    while True:
        if is_cancelled():
            raise Cancelled("run cancelled; finished batches are kept")
        batch: list[Frame] = []
        for frame in frames_iter:
            batch.append(frame)
            if len(batch) >= config.batch_frames:
                break
        if not batch:
            return
        t0 = time.perf_counter()
        linked: list[Candidate] = []
        for frame in batch:
            raw = proposer.propose(frame)
            kept = filter_candidates(cross_brand_margin(nms(raw, iou=config.nms_iou)), threshold=threshold,
                                     min_margin=config.min_margin)
            linked += linker.link_frame(kept)
        t1 = time.perf_counter()
        verified = verification({f.index: f for f in batch}, linked)
        t2 = time.perf_counter()
        timings["propose_s"] = round(timings["propose_s"] + t1 - t0, 3)
        timings["verify_s"] = round(timings["verify_s"] + t2 - t1, 3)
        done_here += len(batch)
        result.frames_done += len(batch)
        stored = repo.add_batch(run_id=run_id, video_id=video_id, candidates=verified,
                                last_frame_index=batch[-1].index, frames_done=result.frames_done)
        result.candidates += len(stored)
        if on_batch is not None:
            on_batch(stored)
        report(Progress("frames", result.frames_done, result.frames_total, eta(done_here),
                        f"frame {batch[-1].index}, {result.candidates} candidates"))
