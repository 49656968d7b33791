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

Why one task per clip, and no frame ranges of one clip in parallel: a clip has one run lock and one
run at a time (store/run_lock.py). Two range tasks of one clip would race for the lock (the second
gets "being run by"), and run one after the other they would not add up: the settings' identity
(`config_key`) leaves the frame range out so that a resume may extend a run, so a done run of frames
0-999 is not resumable, and the next range would start a new run that supersedes the first range's
pending results. Splitting a long clip correctly needs runs that own a frame range in the store;
until then a long clip uses the cores of its task instead (`num_cpus` per task becomes the
pipeline's `workers` threads when `--workers` is left at 0).

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
from typing import Any

from logotag_gui.core.base.config import RunConfig
from logotag_gui.core.base.errors import InputError, LogoTagError
from logotag_gui.core.base.records import Progress
from logotag_gui.core.base.safe_io import redact_secrets
from logotag_gui.core.media.video import IMAGE_SUFFIXES, VIDEO_SUFFIXES, natural_key

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
             hook: WorkerHook | None = None, busy_wait_s: float = BUSY_WAIT_S) -> ClipResult:
    """Run (resume, or skip when done) one clip into the project at `db_url`; never raises for the clip's own
    failure: it comes back as a failed result. A dying process (the retry's business) stops it as it would."""
    from logotag_gui.core.pipeline.run import run_pipeline
    from logotag_gui.core.store import open_repository
    from logotag_gui.core.store.runs import RunBusy

    t0 = time.perf_counter()
    clip = str(config.input)
    if config.workers == 0:  # the task's share of cores, not one thread per core of a shared node
        config = config.with_(workers=max(1, int(num_cpus)))

    def progress(p: Progress) -> None:
        if hook is not None:
            hook(clip, p)

    try:
        repo = open_repository(db_url)
    except LogoTagError as exc:
        return ClipResult(clip, "failed", message=redact_secrets(str(exc)), seconds=time.perf_counter() - t0)
    try:
        done = finished_run(repo, config, video_id)
        if done is not None:
            return _skipped(repo, clip, done, time.perf_counter() - t0)
        waited = 0.0
        while True:
            try:
                result = run_pipeline(config, repo=repo, models=_model_cache(), on_progress=progress)
                break
            except RunBusy:
                if waited >= busy_wait_s:
                    raise
                time.sleep(BUSY_RETRY_S)
                waited += BUSY_RETRY_S
        return ClipResult(clip, result.status, result.run_id, result.frames_done, result.frames_total,
                          result.candidates, result.resumed_from, seconds=time.perf_counter() - t0,
                          notices=list(result.notices))
    except LogoTagError as exc:
        return ClipResult(clip, "failed", message=redact_secrets(str(exc)), seconds=time.perf_counter() - t0)
    except Exception as exc:  # a bug on one clip must not stop the others; its traceback goes to the log
        log.exception("unexpected error on %s", clip)
        return ClipResult(clip, "failed", message=redact_secrets(f"unexpected error: {exc.__class__.__name__}: {exc}"),
                          seconds=time.perf_counter() - t0)
    finally:
        repo.close()


def _skipped(repo, clip: str, run, seconds: float) -> ClipResult:
    return ClipResult(clip, "skipped", run.id, run.frames_done, run.frames_total,
                      repo.count_candidates(video_id=run.video_id), message=f"done already (run {run.id})",
                      seconds=seconds)


def _ray_task(config: RunConfig, db_url: str, video_id: int | None, num_cpus: int,
              hook: WorkerHook | None) -> ClipResult:
    return run_clip(config, db_url, video_id=video_id, num_cpus=num_cpus, hook=hook)


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
             poll_s: float = 15.0) -> Summary:
    """Run every clip of `plan` with `config` (its `input` is ignored) into the project `db`, on Ray.

    Uses the Ray already initialised in this process, else `ray.init(address)` (a local Ray when
    `address` is None), shut down again at the end. Raises LogoTagError before any work when Ray, the
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
        todo = []
        for clip in plan.clips:
            # Named backends resolve alike everywhere: a clip done with them is skipped before Ray starts.
            # "auto" depends on the weights a worker's node holds: the worker decides.
            explicit = "auto" not in (config.embedder, config.verifier)
            done = finished_run(repo, config.with_(input=str(clip)), known.get(str(clip))) \
                if explicit and str(clip) in known else None
            if done is None:
                todo.append(clip)
                continue
            results.append(_skipped(repo, str(clip), done, 0.0))
            emit(Event("skipped", str(clip), results[-1].message, results[-1]))
        if not todo:
            return Summary(results, time.perf_counter() - t0)
        if not ray.is_initialized():
            kwargs: dict[str, Any] = {"include_dashboard": False, "logging_level": logging.WARNING}
            ray.init(address=address, **kwargs)
            started_ray = True
        task = ray.remote(_ray_task).options(max_retries=max_retries, retry_exceptions=False, num_cpus=num_cpus,
                                             num_gpus=num_gpus, name="logotag-clip")
        pending = {task.remote(config.with_(input=str(clip)), url, known.get(str(clip)), max(1, int(num_cpus)),
                               worker_hook): str(clip) for clip in todo}
        shown: dict[str, tuple[int, int]] = {}
        try:
            while pending:
                ready, _ = ray.wait(list(pending), num_returns=1, timeout=poll_s)
                if not ready:
                    _report_progress(repo, set(pending.values()), shown, emit)
                    continue
                for ref in ready:
                    result = _collect(ray, ref, pending.pop(ref), max_retries)
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


def _report_progress(repo, running: set[str], shown: dict[str, tuple[int, int]],
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
