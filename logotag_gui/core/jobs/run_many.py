"""`logotag run-many`: run the pipeline on many clips at once, on Ray workers writing to one project.

The plan: each input is a clip (a video file or a folder of images), or a folder of clips, expanded
into its video files (sorted by name, not recursive; other files are skipped with a note). A folder
that holds no video but images is one image clip.

The work: one Ray task per clip (`run_clip`), which opens the project from its URL and calls
`run_pipeline` as `logotag run` would. Ray is imported only here and only when used; without it
the command says how to install it (`pip install "logotag[ray]"`). With no address, `ray.init()`
joins the Ray of $RAY_ADDRESS or of `ray start` on this machine, else starts a local one; with an
address (or a Ray already initialised in this process), the tasks go to that cluster, whose nodes must
see the clips, the logo folder and the database at the same paths and URL (a PostgreSQL project:
a SQLite file is shared only by processes of one machine, so it is allowed with a warning).

A long clip, split (`split_minutes`): the driver makes one run of the clip made of parts, a frame
range each (store/run_parts.py, pipeline/split.py), and hands every unfinished range to a task of its
own; each range has its own lock, progress and resume point. When a clip's last range is done, one
more task joins the tracks across the borders, follows them through the whole clip and marks the run
done. A killed worker's range is resumed by its retry (or by running the command again) after its last
stored batch. Without splitting, a long clip uses the cores of its task instead (`num_cpus` per task
becomes the pipeline's `workers` threads when `--workers` is left at 0).

Progress: the driver collects each clip as its task ends (`ray.wait`) and reports it done, skipped or
failed with its message; while tasks run it reads the runs' `frames_done` from the project every
`poll_s` seconds, which works for every node of a cluster without a channel back from the workers.

Failures: a clip that fails (a corrupt video: InputError, an unexpected error) is returned by its task
as failed, never raised, so it is not retried and the other clips go on. A worker that dies (killed,
out of memory, a lost node) is a system failure that Ray retries up to `max_retries` times; the retry
resumes the clip's unfinished run after its last stored batch (the pipeline commits per batch, and
takes the lock of a dead process of the same machine at once, of another machine after the lock's
stale time, which the task waits out).

Resume after a killed driver: running the same command again skips each clip whose latest run has
the same settings and frame range and is done, and resumes the unfinished ones. With named backends
the driver skips them before Ray starts; with "auto" (which depends on the weights a node holds) the
worker decides. A clip whose latest run has other settings is run again: its new run replaces the
pending results, as `logotag run` does.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from logotag_gui.core.base.config import RunConfig
from logotag_gui.core.base.errors import InputError, LogoTagError
from logotag_gui.core.base.records import Progress
from logotag_gui.core.base.safe_io import redact_secrets
from logotag_gui.core.media.video import IMAGE_SUFFIXES, VIDEO_SUFFIXES, natural_key

if TYPE_CHECKING:
    from logotag_gui.core.pipeline.ports import RunPartInfo
    from logotag_gui.core.pipeline.split import SplitPlan

log = logging.getLogger(__name__)

INSTALL_HINT = 'pip install "logotag[ray]"'
# How long a task waits for a clip whose lock another process holds: past the lock's stale time, so a
# worker that died on another machine gives the clip up (a live holder is reported as busy after it).
BUSY_WAIT_S = 90.0
BUSY_RETRY_S = 5.0

# A worker hook is called in the worker with (clip path, Progress) for every progress report of a clip;
# it may raise to stop the clip (tests use it to kill a worker mid-clip).
WorkerHook = Callable[[str, Progress], None]


# ---- the plan ----------------------------------------------------------------------------------------
@dataclass(slots=True)
class Plan:
    clips: list[Path]
    notes: list[str] = field(default_factory=list)


def plan_clips(inputs: Iterable[str | Path]) -> Plan:
    """The clips named by `inputs` (resolved, each once, in the order given; a folder's videos sorted)."""
    clips: list[Path] = []
    notes: list[str] = []
    for item in inputs:
        path = Path(item).expanduser()
        if not path.exists():
            raise InputError(f"'{path}' does not exist; check the path.")
        path = path.resolve()
        if path.is_dir():
            found, skipped = _folder_clips(path)
            if skipped:
                shown = ", ".join(skipped[:5]) + (" …" if len(skipped) > 5 else "")
                notes.append(f"skipped {len(skipped)} item(s) of '{path}' that are not videos: {shown}")
            if not found:
                notes.append(f"'{path}' holds no videos ({', '.join(sorted(VIDEO_SUFFIXES))}) and no images")
            clips += found
        elif path.suffix.lower() in VIDEO_SUFFIXES:
            clips.append(path)
        else:
            notes.append(f"skipped '{path.name}': not a video ({', '.join(sorted(VIDEO_SUFFIXES))})")
    unique = list(dict.fromkeys(clips))
    if not unique:
        raise InputError("No clips to run: name video files, folders of videos, or image folders.")
    return Plan(unique, notes)


def _folder_clips(folder: Path) -> tuple[list[Path], list[str]]:
    entries = sorted(folder.iterdir(), key=lambda p: natural_key(p.name))
    videos = [p for p in entries if p.is_file() and p.suffix.lower() in VIDEO_SUFFIXES]
    if videos:
        return videos, [p.name for p in entries if p not in videos and not p.name.startswith(".")]
    if any(p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES for p in entries):
        return [folder], []  # a folder of images is one clip, as `logotag run` takes it
    return [], [p.name for p in entries if not p.name.startswith(".")]


# ---- one clip, in a worker ---------------------------------------------------------------------------
@dataclass(slots=True)
class ClipResult:
    clip: str
    status: str  # done | skipped | failed | cancelled
    run_id: int | None = None
    frames_done: int = 0
    frames_total: int = 0
    candidates: int = 0
    resumed_from: int | None = None
    message: str = ""
    seconds: float = 0.0
    notices: list[str] = field(default_factory=list)


_models: Any = None  # one ModelCache per worker process: a worker's later clips reuse its loaded models


def _model_cache():
    global _models
    if _models is None:
        from logotag_gui.core.pipeline.backends import ModelCache

        _models = ModelCache()
    return _models


def finished_run(repo, config: RunConfig, video_id: int | None = None):
    """The clip's latest run when it is done with these settings and this frame range, else None.

    `video_id`: the clip's id in the project when the caller knows it (else it is looked up by path)."""
    from logotag_gui.core.pipeline.backends import choose_backends
    from logotag_gui.core.store.runs import config_key

    path = str(Path(config.input).expanduser().resolve())
    if video_id is None:
        video_id = next((v.id for v in repo.videos() if v.path == path), None)
    if video_id is None:
        return None
    runs = repo.runs(video_id)
    if not runs or runs[-1].status != "done":
        return None
    embedder, verifier, _ = choose_backends(config)
    wanted = config.with_(input=path, embedder=embedder, verifier=verifier).as_dict()
    last = runs[-1]
    same_range = all(last.config.get(k) == wanted[k] for k in ("start_frame", "end_frame"))
    return last if same_range and config_key(last.config) == config_key(wanted) else None


def run_clip(config: RunConfig, db_url: str, *, video_id: int | None = None, num_cpus: int = 1,
             hook: WorkerHook | None = None, busy_wait_s: float = BUSY_WAIT_S,
             part_id: int | None = None) -> ClipResult:
    """Run (resume, or skip when done) one clip into the project at `db_url`; never raises for the clip's own
    failure: it comes back as a failed result. A dying process (the retry's business) stops it as it would.
    With `part_id`: run (resume) that frame range of a split run (pipeline/split.py)."""
    from logotag_gui.core.pipeline.run import run_pipeline

    if config.workers == 0:  # the task's share of cores, not one thread per core of a shared node
        config = config.with_(workers=max(1, int(num_cpus)))
    clip = str(config.input)

    def work(repo) -> ClipResult:
        if part_id is None:
            done = finished_run(repo, config, video_id)
            if done is not None:
                return _skipped(repo, clip, done, 0.0)
        progress = (lambda p: hook(clip, p)) if hook is not None else None
        result = _waiting_out_busy(lambda: run_pipeline(config, repo=repo, models=_model_cache(), on_progress=progress,
                                                        part_id=part_id), busy_wait_s)
        return ClipResult(clip, result.status, result.run_id, result.frames_done, result.frames_total,
                          result.candidates, result.resumed_from, notices=list(result.notices))

    return _guarded(clip, db_url, work)


def finish_split_clip(config: RunConfig, db_url: str, run_id: int, *, busy_wait_s: float = BUSY_WAIT_S) -> ClipResult:
    """Join and follow a split run whose parts are done (pipeline/split.py), as a clip's result."""
    from logotag_gui.core.pipeline.split import finish_split

    clip = str(config.input)

    def work(repo) -> ClipResult:
        result = _waiting_out_busy(lambda: finish_split(config, repo=repo, run_id=run_id, models=_model_cache()),
                                   busy_wait_s)
        return ClipResult(clip, result.status, result.run_id, result.frames_done, result.frames_total,
                          result.candidates, notices=list(result.notices))

    return _guarded(clip, db_url, work)


def _waiting_out_busy(work: Callable[[], Any], busy_wait_s: float) -> Any:
    """`work()`, tried again while another process holds the clip (or the range): a worker that died on
    another machine gives it up after the lock's stale time."""
    from logotag_gui.core.store.runs import RunBusy

    waited = 0.0
    while True:
        try:
            return work()
        except RunBusy:
            if waited >= busy_wait_s:
                raise
            time.sleep(BUSY_RETRY_S)
            waited += BUSY_RETRY_S


def _guarded(clip: str, db_url: str, work: Callable[[Any], ClipResult]) -> ClipResult:
    """`work(repo)` on the project at `db_url`, its time measured; the clip's own failure (a LogoTagError, or
    a bug: its traceback goes to the log) comes back as a failed result, so the other clips go on."""
    from logotag_gui.core.store import open_repository

    t0 = time.perf_counter()
    try:
        repo = open_repository(db_url)
    except LogoTagError as exc:
        return ClipResult(clip, "failed", message=redact_secrets(str(exc)), seconds=time.perf_counter() - t0)
    try:
        result = work(repo)
    except LogoTagError as exc:
        result = ClipResult(clip, "failed", message=redact_secrets(str(exc)))
    except Exception as exc:
        log.exception("unexpected error on %s", clip)
        message = f"unexpected error: {exc.__class__.__name__}: {exc}"
        result = ClipResult(clip, "failed", message=redact_secrets(message))
    finally:
        repo.close()
    result.seconds = time.perf_counter() - t0
    return result


def _skipped(repo, clip: str, run, seconds: float) -> ClipResult:
    return ClipResult(clip, "skipped", run.id, run.frames_done, run.frames_total,
                      repo.count_candidates(video_id=run.video_id), message=f"done already (run {run.id})",
                      seconds=seconds)


def _ray_task(config: RunConfig, db_url: str, video_id: int | None, num_cpus: int,
              hook: WorkerHook | None, part_id: int | None = None) -> ClipResult:
    return run_clip(config, db_url, video_id=video_id, num_cpus=num_cpus, hook=hook, part_id=part_id)


def _ray_finish_task(config: RunConfig, db_url: str, run_id: int) -> ClipResult:
    return finish_split_clip(config, db_url, run_id)


# ---- the driver ---------------------------------------------------------------------------------------
@dataclass(slots=True)
class Event:
    """What the driver reports: a clip's end (done, skipped, failed, cancelled), its progress, or a notice."""

    kind: str  # notice | progress | done | skipped | failed | cancelled
    clip: str = ""
    message: str = ""
    result: ClipResult | None = None
    frames_done: int = 0
    frames_total: int = 0


@dataclass(slots=True)
class Summary:
    results: list[ClipResult]
    seconds: float = 0.0

    def count(self, status: str) -> int:
        return sum(r.status == status for r in self.results)

    @property
    def failed(self) -> list[ClipResult]:
        return [r for r in self.results if r.status != "done" and r.status != "skipped"]

    def format(self) -> str:
        return (f"{len(self.results)} clip(s): {self.count('done')} done, {self.count('skipped')} already done, "
                f"{len(self.failed)} failed, in {self.seconds:.0f} s")


def import_ray():
    try:
        import ray
    except ImportError as exc:
        raise LogoTagError(f"run-many needs Ray, which is not installed: {INSTALL_HINT}") from exc
    return ray


def run_many(plan: Plan | Sequence[str | Path], config: RunConfig, db: str | Path, *, address: str | None = None,
             max_retries: int = 3, num_cpus: float = 1, num_gpus: float = 0,
             on_event: Callable[[Event], None] | None = None, worker_hook: WorkerHook | None = None,
             poll_s: float = 15.0, split_minutes: float = 0.0) -> Summary:
    """Run every clip of `plan` with `config` (its `input` is ignored) into the project `db`, on Ray.

    Uses the Ray already initialised in this process, else `ray.init(address)` (a local Ray when
    `address` is None), shut down again at the end. With `split_minutes`, a video longer than that is
    split into ranges of that length that workers run at once (pipeline/split.py), then joined.
    Raises LogoTagError before any work when Ray, the
    project or the plan cannot be used; a clip's own failure is a failed result in the summary.
    """
    from logotag_gui.core.store import open_repository
    from logotag_gui.core.store.repository import database_url

    emit = on_event or (lambda e: None)
    plan = plan if isinstance(plan, Plan) else plan_clips(plan)
    for note in plan.notes:
        emit(Event("notice", message=note))
    ray = import_ray()
    url = database_url(db)  # a SQLite path becomes absolute: the workers' folder is not ours
    if url.startswith("sqlite"):
        emit(Event("notice", message="the project is a SQLite file: only processes of this machine can share it. "
                                     "For a Ray cluster, use a PostgreSQL URL (--db postgresql+psycopg://...)."))
    # The driver opens (creates, migrates) the project once, before the workers open it at the same time.
    repo = open_repository(url)
    config = config.with_(logos=str(Path(config.logos).expanduser().resolve()))
    started_ray = False
    t0 = time.perf_counter()
    results: list[ClipResult] = []
    try:
        known = {v.path: v.id for v in repo.videos()}
        todo: list[str] = []
        for path in map(str, plan.clips):
            # Named backends resolve alike everywhere: a clip done with them is skipped before Ray starts.
            # "auto" depends on the weights a worker's node holds: the worker decides.
            explicit = "auto" not in (config.embedder, config.verifier)
            done = finished_run(repo, config.with_(input=path), known.get(path)) if explicit and path in known else None
            if done is None:
                todo.append(path)
                continue
            results.append(_skipped(repo, path, done, 0.0))
            emit(Event("skipped", path, results[-1].message, results[-1]))
        splits = _prepare_splits(repo, config, todo, split_minutes, results, emit) if split_minutes > 0 else {}
        todo = [path for path in todo if path in splits or not any(r.clip == path for r in results)]  # not failed
        if not todo:
            return Summary(results, time.perf_counter() - t0)
        if not ray.is_initialized():
            kwargs: dict[str, Any] = {"include_dashboard": False, "logging_level": logging.WARNING}
            ray.init(address=address, **kwargs)
            started_ray = True
        options = {"max_retries": max_retries, "retry_exceptions": False, "num_cpus": num_cpus, "num_gpus": num_gpus}
        task = ray.remote(_ray_task).options(name="logotag-clip", **options)
        finish = ray.remote(_ray_finish_task).options(name="logotag-finish", **options)
        pending: dict[Any, tuple[str, RunPartInfo | None]] = {}  # a task -> its clip, and the part it runs
        failed_parts: dict[str, list[str]] = {}

        def submit_finish(clip: str) -> None:
            pending[finish.remote(config.with_(input=clip), url, splits[clip].run_id)] = (clip, None)

        for clip in todo:
            plan_ = splits.get(clip)
            if plan_ is None:
                pending[task.remote(config.with_(input=clip), url, known.get(clip), max(1, int(num_cpus)),
                                    worker_hook)] = (clip, None)
                continue
            if not plan_.todo:
                submit_finish(clip)
            for range_ in plan_.todo:
                pending[task.remote(config.with_(input=clip), url, plan_.video_id, max(1, int(num_cpus)),
                                    worker_hook, range_.id)] = (clip, range_)
        shown: dict[str, tuple[int, int]] = {}
        try:
            while pending:
                ready, _ = ray.wait(list(pending), num_returns=1, timeout=poll_s)
                if not ready:
                    report_progress(repo, {clip for clip, _ in pending.values()}, shown, emit)
                    continue
                for ref in ready:
                    clip, part = pending.pop(ref)
                    result = _collect(ray, ref, clip, max_retries)
                    if part is not None:  # a range of a split clip: the clip ends when its last range does
                        if result.status != "done":
                            failed_parts.setdefault(clip, []).append(
                                f"frames {part.start_frame}-{part.end_frame}: {result.status} {result.message}".strip())
                        if any(c == clip and p is not None for c, p in pending.values()):
                            continue
                        if clip not in failed_parts:
                            submit_finish(clip)
                            continue
                        result = ClipResult(clip, "failed", splits[clip].run_id, message="; ".join(failed_parts[clip])
                                            + ". Finished ranges are kept; running again carries on the rest.")
                    if clip in splits:  # its ranges' time too, not only the finishing's
                        result.seconds = time.perf_counter() - t0
                    results.append(result)
                    emit(Event(result.status, result.clip, result.message, result))
        except KeyboardInterrupt:
            for ref in pending:
                ray.cancel(ref)
            raise
    finally:
        repo.close()
        if started_ray:
            ray.shutdown()
    return Summary(results, time.perf_counter() - t0)


def _prepare_splits(repo, config: RunConfig, clips: Sequence[str], minutes: float, results: list[ClipResult],
                    emit: Callable[[Event], None]) -> dict[str, SplitPlan]:
    """The split runs of the clips longer than `minutes` (made, or found to carry on), before any worker
    starts; a clip that cannot be opened fails here as its task would have."""
    from logotag_gui.core.pipeline.split import prepare_split

    splits: dict[str, SplitPlan] = {}
    for clip in clips:
        try:
            done = finished_run(repo, config.with_(input=clip))
            if done is not None:  # "auto" backends, resolved here as the split's are
                results.append(_skipped(repo, clip, done, 0.0))
                emit(Event("skipped", clip, results[-1].message, results[-1]))
                continue
            plan_ = prepare_split(config.with_(input=clip), repo, minutes=minutes)
        except LogoTagError as exc:
            results.append(ClipResult(clip, "failed", message=redact_secrets(str(exc))))
            emit(Event("failed", clip, results[-1].message, results[-1]))
            continue
        if plan_ is not None:
            splits[clip] = plan_
            emit(Event("notice", clip, f"{Path(clip).name}: {len(plan_.parts)} ranges of {minutes:g} min, "
                                       f"{len(plan_.todo)} to run" + (" (carried on)" if plan_.resumed else "")))
    return splits


def _collect(ray, ref, clip: str, max_retries: int) -> ClipResult:
    try:
        return ray.get(ref)
    except ray.exceptions.TaskCancelledError:
        return ClipResult(clip, "cancelled", message="cancelled; finished batches are kept")
    except ray.exceptions.RayError as exc:  # the worker died more often than it may be retried
        text = str(exc).strip().splitlines()
        return ClipResult(clip, "failed", message=redact_secrets(
            f"its worker died {max_retries + 1} time(s) ({text[0] if text else exc.__class__.__name__}); "
            "finished batches are kept and running again resumes it"))


def report_progress(repo, running: set[str], shown: dict[str, tuple[int, int]],
                    emit: Callable[[Event], None]) -> None:
    """The frames done of each running clip, from the project (what every node writes to)."""
    try:
        videos = {v.id: v.path for v in repo.videos() if v.path in running}
        latest = {}
        for r in repo.runs():
            if r.video_id in videos:
                latest[r.video_id] = r
    except LogoTagError as exc:  # a busy database: the next poll tries again
        log.warning("could not read progress: %s", exc)
        return
    for video_id, run in latest.items():
        clip = videos[video_id]
        now = (run.frames_done, run.frames_total)
        if run.status == "running" and shown.get(clip) != now:
            shown[clip] = now
            emit(Event("progress", clip, frames_done=now[0], frames_total=now[1]))
