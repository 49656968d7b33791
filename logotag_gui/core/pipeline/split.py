"""One long clip split into frame ranges that workers run at once, then joined into one run.

`prepare_split` (the driver) makes the run and its parts in the store, one per range of the clip's
sampled frames, or finds the unfinished ones of an earlier command to carry on. Each worker runs
`run_pipeline(..., part_id=...)` on its range under that range's lock (a killed worker's range is
resumed after its last stored batch). `finish_split` runs once every part is done, under the clip's
lock: it joins the tracks that cross each border as one process would have linked them (their boxes'
carried verdicts judged again from all their crops), follows every track through the whole clip,
and marks the run done. The result matches a run in one process: the same boxes, tracks that cross
a border as one track.
"""

from __future__ import annotations

import itertools
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from logotag_gui.core.base.config import RunConfig
from logotag_gui.core.base.errors import Cancelled, StoreError
from logotag_gui.core.base.records import Candidate, Progress
from logotag_gui.core.media.logos import load_dictionary
from logotag_gui.core.media.video import open_source
from logotag_gui.core.pipeline.backends import ModelCache, choose_backends
from logotag_gui.core.pipeline.parts import detections, frame_ranges, left_to_join
from logotag_gui.core.pipeline.ports import RunPartInfo, RunStore
from logotag_gui.core.pipeline.run import ProgressFn, RunContext, RunResult, add_video, propagate
from logotag_gui.core.pipeline.tracks import TrackLinker
from logotag_gui.core.pipeline.verification import Verification, rejudge_tracks
from logotag_gui.core.verifiers import prepare_verifier

log = logging.getLogger(__name__)


@dataclass(slots=True)
class SplitPlan:
    run_id: int
    video_id: int
    parts: list[RunPartInfo]  # all of them, in frame order
    resumed: bool

    @property
    def todo(self) -> list[RunPartInfo]:
        return [p for p in self.parts if p.status != "done"]


def prepare_split(config: RunConfig, repo: RunStore, *, minutes: float) -> SplitPlan | None:
    """The split run of a video longer than `minutes`, in parts of `minutes` each: an unfinished one with
    these settings and ranges carried on, else a new one (replacing the clip's pending results as a new
    run does). None for an image folder or a clip too short to split."""
    config = config.with_(input=str(Path(config.input).expanduser().resolve()))
    source = open_source(config.input)
    try:
        info = source.info
        if info.kind != "video" or minutes <= 0 or info.duration_s <= minutes * 60:
            return None
        sampled = source.sampled_indices(fps=config.fps, start=config.start_frame, end=config.end_frame)
        ranges = frame_ranges(sampled, per_part=int(round(minutes * 60 * min(config.fps, info.fps))))
        if len(ranges) < 2:
            return None
        video_id = add_video(repo, config.input, source)
    finally:
        source.close()
    embedder, verifier, _ = choose_backends(config)
    effective = config.with_(embedder=embedder, verifier=verifier).as_dict()
    run_id = repo.resumable_split(video_id=video_id, config=effective, ranges=ranges)
    resumed = run_id is not None
    if run_id is None:
        # The models' names and revisions are filled in by the first worker that loads them.
        run_id = repo.start_split(video_id=video_id, config=effective, embedder=(embedder, "", ""),
                                  verifier=(verifier, "", ""), ranges=ranges)
    return SplitPlan(run_id, video_id, list(repo.run_parts(run_id)), resumed)


@dataclass(slots=True)
class Joins:
    into: dict[int, int]  # track id -> the track it joins (the first of a chain)
    at: dict[int, int]  # a joined-into track -> the first frame of the range after its first border


def join_tracks(candidates: Sequence[Candidate], parts: Sequence[RunPartInfo], *, gap_frames: int,
                min_iou: float = 0.2) -> Joins:
    """The tracks that start within `gap_frames` after a border, linked to one of the range before as the
    run's linker would have linked them had it seen the border (same brand, boxes that overlap, the best
    candidate first). Chains resolve: a track joined to one joined in turn joins the first."""
    joins: dict[int, int] = {}
    first_border: dict[int, int] = {}

    def root(track: int) -> int:
        while track in joins:
            track = joins[track]
        return track

    by_frame: dict[int, list[Candidate]] = {}
    for c in candidates:
        if c.track_id is not None:
            by_frame.setdefault(c.frame.index, []).append(c)
    for before, after in itertools.pairwise(parts):
        last: dict[int, Candidate] = {}  # each track of the range before that is still open at the border
        for f in sorted(i for i in by_frame if before.end_frame - gap_frames <= i <= before.end_frame):
            for c in by_frame[f]:
                last[root(c.track_id)] = c.with_(track_id=root(c.track_id))  # type: ignore[arg-type]
        fresh = iter(range(-1, -10**9, -1))  # ids the replay gives tracks it does not join: never stored
        linker = TrackLinker(max_gap_frames=gap_frames, min_iou=min_iou, new_id=fresh.__next__)
        linker.seed(last.values())
        seen: set[int] = set()
        for f in sorted(i for i in by_frame if after.start_frame <= i <= after.start_frame + gap_frames):
            mine = by_frame[f]
            for original, linked in zip(mine, linker.link_frame(mine), strict=True):
                track = original.track_id
                assert track is not None and linked.track_id is not None
                if track in seen:
                    continue
                seen.add(track)  # a track is joined (or not) by its first box after the border
                if linked.track_id >= 0 and linked.track_id != track:
                    joins[track] = linked.track_id
                    first_border.setdefault(root(track), after.start_frame)
    return Joins({track: root(track) for track in joins}, first_border)


def finish_split(config: RunConfig, *, repo: RunStore, run_id: int, models: ModelCache | None = None,
                 on_progress: ProgressFn | None = None, cancel: Callable[[], bool] | None = None) -> RunResult:
    """Join, follow and mark done a split run whose parts are all done (see the module's doc)."""
    report = on_progress or (lambda p: None)
    is_cancelled = cancel or (lambda: False)
    models = models or ModelCache()
    config = config.with_(input=str(Path(config.input).expanduser().resolve()))
    source = open_source(config.input)
    try:
        video_id = add_video(repo, config.input, source)
        with repo.run_lock(video_id) as lock:
            run = repo.run_info(run_id)
            parts = repo.run_parts(run_id)
            unfinished = [p for p in parts if p.status != "done"]
            if unfinished:
                raise StoreError(f"{len(unfinished)} of {len(parts)} part(s) of run {run_id} are not done "
                                 f"(frames {unfinished[0].start_frame}-{unfinished[0].end_frame} first); run the "
                                 "same command again to carry them on.")
            effective = config.with_(embedder=run.embedder, verifier=run.verifier)
            timings = dict(run.timings)
            result = RunResult(run_id, video_id, "running", run.frames_done, run.frames_total, 0, None,
                               run.embedder, run.verifier, list(run.notes), timings)
            try:
                t0 = time.perf_counter()
                gap = max(1, int(round(config.track_gap_s * source.info.fps)))
                stored = repo.candidates(run_id=run_id)
                joins = join_tracks(detections(stored), parts, gap_frames=gap)
                by_track: dict[int, list[int]] = {}
                for c in stored:
                    if c.track_id in joins.into and c.id is not None:
                        by_track.setdefault(joins.into[c.track_id], []).append(c.id)
                for target, ids in by_track.items():
                    repo.set_track(ids, target)
                stored = [c.with_(track_id=joins.into.get(c.track_id, c.track_id)) if c.track_id is not None else c
                          for c in stored]  # as now stored, without reading the run again
                repo.set_verdicts(rejudge_tracks(stored, joins.at))
                timings["join_s"] = round(time.perf_counter() - t0, 3)
                report(Progress("notice", 0, 0, message=f"{len(joins.into)} track(s) joined across "
                                                        f"{len(parts) - 1} border(s)"))
                if (effective.propagate or effective.detect_every > 1) and source.info.kind == "video":
                    dictionary = load_dictionary(config.logos)
                    verifier = models.verifier(effective.verifier, effective)
                    prepare_verifier(verifier, dictionary)
                    ctx = RunContext(source, effective, repo, video_id, run_id, lock, result, report, None,
                                     is_cancelled)
                    # The ranges followed their own tracks; what crosses a border is followed here, whole.
                    only = left_to_join(stored, parts, gap_frames=gap) if effective.detect_every == 1 else None
                    propagate(ctx, Verification(verifier, per_track=config.track_verify, k=config.track_verify_k),
                              only=only)
            except Cancelled:
                repo.mark_run(run_id, status="cancelled", timings=timings)
                result.status = "cancelled"
                return result
            except Exception as exc:
                repo.mark_run(run_id, status="failed", error=str(exc), timings=timings)
                raise
            repo.mark_run(run_id, status="done", timings=timings)
            result.status = "done"
            result.candidates = repo.count_candidates(video_id=video_id)
            return result
    finally:
        source.close()
