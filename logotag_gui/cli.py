"""`logotag`: run the pipeline, build the logo index, export, report and evaluate from a terminal."""

from __future__ import annotations

import argparse
import errno
import logging
import math
import re
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from logotag_gui.core.base.config import DEFAULT_SIGLIP, RunConfig, Setting, settings
from logotag_gui.core.base.errors import LogoTagError
from logotag_gui.core.base.logsetup import FILE_ONLY, set_log_context, setup_logging
from logotag_gui.core.base.progress import step_text
from logotag_gui.core.base.safe_io import redact_secrets, redact_url, symlink_loop_error
from logotag_gui.core.pipeline import backends
from logotag_gui.review_cli import (
    cmd_audit,
    cmd_report,
    cmd_rule,
    cmd_simulate,
    cmd_videos,
    video_id_of,
)

log = logging.getLogger("logotag")
# simulate-review's strategies (review/simulate.py's STRATEGIES, which a test holds this to): named here so
# that `logotag --help` does not import the review layer.
STRATEGIES = ("boxes", "exposures", "audit", "mixed")
# The counting rule's presets (base/counting.py's PRESETS, which a test holds this to), named here for the same reason.
RULE_PRESETS = ("any", "strict", "mrc")


def _add_run_options(p: argparse.ArgumentParser, *, for_eval: bool = False) -> None:
    """One option per run setting, generated from RunConfig (config.py) and the backend registry (backends.py)."""
    p.add_argument("--logos", required=not for_eval, help=RunConfig.__dataclass_fields__["logos"].metadata["help"])
    p.add_argument("--db", default=None,
                   help="project database: a file path or a SQLAlchemy URL (default: `run` makes one beside the clip, "
                        "CLIP.logotag.sqlite, as the app does; `run-many` logotag.sqlite here)")
    defaults = {"verifier": "none"} if for_eval else {}
    for s in settings():
        if not s.cli:
            continue
        flag = "--" + s.name.replace("_", "-")
        # Stage 1 is a proposer; --embedder, its first name, stays as an alias.
        flags = ["--proposer", flag] if s.name == "embedder" else [flag]
        default = defaults.get(s.name, s.default)
        if s.kind is bool:
            p.add_argument(*flags, action=argparse.BooleanOptionalAction, default=default, help=s.help)
            continue
        help_text = s.help if default is None else f"{s.help} (default {default:g})" if s.kind is float \
            else f"{s.help} (default {default})"
        choices = None
        if isinstance(s.choices, str):  # a stage: the registry's backends, each explained
            choices = backends.choices(s.choices)
            help_text += f". {backends.explain(s.choices)}"
        elif s.choices is not None and not s.open_choices:
            choices = list(s.choices)
        if s.name == "threshold":
            help_text += f": {backends.default_thresholds()}"
        p.add_argument(*flags, dest=s.name, type=_in_range(s), default=default, choices=choices, help=help_text)


def _in_range(s: Setting) -> Callable[[str], Any]:
    """argparse's type for a setting: its kind, within the range config.py declares (the run dialog's too)."""
    if s.kind not in (int, float):
        return s.kind

    def parse(text: str) -> Any:
        value = s.kind(text)  # not a number: argparse says "invalid float value"
        problem = s.problem(value, named=False)
        if problem is not None:
            raise argparse.ArgumentTypeError(problem)
        return value

    parse.__name__ = s.kind.__name__
    return parse


def _number(kind: type, *, lo: float | None = None, hi: float | None = None, above: float | None = None,
            below: float | None = None, what: str) -> Callable[[str], Any]:
    """argparse's type for a command's own number: refused, naming the value and the range, outside it
    (`lo`/`hi` inclusive, `above`/`below` exclusive; nan never passes)."""
    bounds = [f"at least {lo:g}" if lo is not None else "", f"above {above:g}" if above is not None else "",
              f"at most {hi:g}" if hi is not None else "", f"below {below:g}" if below is not None else ""]
    allowed = " and ".join(b for b in bounds if b) or "a finite number"

    def parse(text: str) -> Any:
        value = kind(text)
        if not math.isfinite(value) or (lo is not None and value < lo) or (hi is not None and value > hi) \
                or (above is not None and value <= above) or (below is not None and value >= below):
            raise argparse.ArgumentTypeError(f"{text} is out of range: {what} must be {allowed}")
        return value

    parse.__name__ = kind.__name__
    return parse


def run_config(args: argparse.Namespace) -> RunConfig:
    """The run settings the options give, or InputError naming each value out of range (start after end)."""
    values = {s.name: getattr(args, s.name) for s in settings() if s.cli}
    return RunConfig(input=args.input, logos=args.logos, **values).check()


def cmd_run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from logotag_gui.core.analysis.export import export
    from logotag_gui.core.pipeline.run import run_pipeline
    from logotag_gui.core.store import open_repository

    args.db = args.db or project_beside(args.input)
    repo = open_repository(args.db)
    bar = None

    said = [""]

    def progress(p) -> None:
        nonlocal bar
        if p.stage == "notice":
            print(f"note: {p.message}", file=sys.stderr)
        elif p.stage == "frames":
            if bar is None:
                bar = tqdm(total=p.total, initial=p.done, unit="frame", desc="frames", disable=args.quiet)
            bar.n = p.done
            bar.set_postfix_str(" · ".join(x for x in (step_text(p), p.message) if x), refresh=True)
        elif not args.quiet:
            text = step_text(p) or p.stage
            line = f"{text}: {p.message}" if p.message else f"{text}…"
            if line != said[-1]:  # a stage reports each step of its own progress: say it once
                print(line, file=sys.stderr)
                said.append(line)

    try:
        # A clip done with these settings is not analysed again (minutes, for the same boxes) unless asked.
        result = run_pipeline(run_config(args), repo=repo, on_progress=progress, skip_done=not args.force)
    except KeyboardInterrupt:
        print("interrupted: finished batches are stored; run the same command again to resume", file=sys.stderr)
        return 130
    finally:
        if bar is not None:
            bar.close()
    resumed = f" (resumed after frame {result.resumed_from})" if result.resumed_from is not None else ""
    print(f"run {result.run_id}{resumed}: {result.frames_done}/{result.frames_total} frames, "
          f"{result.candidates} candidates, {result.embedder} + {result.verifier}, stored in {redact_url(args.db)}")
    if args.out:
        n = export(repo, args.out, video_id=result.video_id)
        print(f"exported {n} records to {args.out}")
    return 0


def project_beside(clip: str) -> str:
    """The project a clip gets when none is named: beside it, as the app makes one (match.logotag.sqlite)."""
    path = Path(clip).expanduser()
    return str(path.parent / f"{path.stem if path.suffix else path.name}.logotag.sqlite")


def cmd_run_many(args: argparse.Namespace) -> int:
    from logotag_gui.core.jobs.run_many import plan_clips, run_many

    args.db = args.db or "logotag.sqlite"
    plan = plan_clips(args.inputs)
    print(f"{len(plan.clips)} clip(s) to run{' on Ray at ' + args.ray if args.ray else ' on a local Ray'}, "
          f"stored in {redact_url(args.db)}", file=sys.stderr)

    def event(e) -> None:
        name = Path(e.clip).name
        r = e.result
        if e.kind == "notice":
            print(f"note: {e.message}", file=sys.stderr)
        elif e.kind == "progress":
            if not args.quiet:
                print(f"  {name}: {e.frames_done}/{e.frames_total} frames", file=sys.stderr)
        elif e.kind == "done":
            resumed = f" (resumed after frame {r.resumed_from})" if r.resumed_from is not None else ""
            print(f"done     {name}: run {r.run_id}{resumed}, {r.frames_done}/{r.frames_total} frames, "
                  f"{r.candidates} candidates, {r.seconds:.0f} s")
        elif e.kind == "skipped":
            print(f"skipped  {name}: {e.message}, {r.candidates} candidates")
        else:  # failed or cancelled: its message on one line
            message = re.sub(r"\s*\n\s*", " ", e.message.strip())
            print(f"{e.kind:<8} {name}: {message}")

    try:
        summary = run_many(plan, run_config(args), args.db, address=args.ray, max_retries=args.max_retries,
                           num_cpus=args.num_cpus, num_gpus=args.num_gpus, on_event=event,
                           split_minutes=args.split_minutes)
    except KeyboardInterrupt:
        print("interrupted: finished batches are stored; run the same command again to resume", file=sys.stderr)
        return 130
    print(summary.format())
    return 1 if summary.failed else 0


def cmd_index(args: argparse.Namespace) -> int:
    from logotag_gui.core.media.logos import load_dictionary
    from logotag_gui.core.pipeline.backends import ModelCache, choose_backends

    dictionary = load_dictionary(args.logos)
    config = RunConfig(input="", logos=args.logos, embedder=args.embedder, verifier="none",
                       siglip_model=args.siglip_model, siglip_revision=args.siglip_revision, device=args.device,
                       allow_download=args.allow_download)
    embedder, _, notices = choose_backends(config)
    for n in notices:
        print(f"note: {n}", file=sys.stderr)
    proposer = ModelCache().proposer(embedder, config)
    proposer.prepare(dictionary)
    print(f"indexed {len(dictionary.references)} references of {len(dictionary.brands)} brands with {embedder}")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from logotag_gui.core.analysis.export import export
    from logotag_gui.core.store import open_repository

    repo = open_repository(args.db, create=False)
    video_id = video_id_of(repo, args.video)
    n = export(repo, args.out, fmt=args.format, video_id=video_id, reviewed_only=args.reviewed_only,
               accepted_only=args.accepted_only)
    print(f"exported {n} records to {args.out}")
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    import dataclasses
    import json as _json

    from logotag_gui.core.store import open_repository

    if args.from_reviews:
        from logotag_gui.core.analysis.calibration import calibrate, format_calibration

        repo = open_repository(args.db, create=False)
        video_id = video_id_of(repo, args.video)
        rows = calibrate(repo.candidates(video_id=video_id), target_precision=args.target_precision)
        print(_json.dumps([dataclasses.asdict(r) for r in rows], indent=1) if args.json
              else format_calibration(rows, args.target_precision))
        return 0
    from logotag_gui.core.analysis.evaluate import evaluate, format_table, load_truth

    if not args.truth:
        raise LogoTagError("eval needs --truth (COCO json or a LogoTag video truth), or --from-reviews --db")
    truth = load_truth(args.truth)
    predictions, frames, interval = _eval_predictions(args, truth)
    result = evaluate(truth, predictions, frames=frames, interval_s=interval)
    print(_json.dumps(result.as_dict(), indent=1) if args.json else format_table(result))
    return 0


def _eval_predictions(args: argparse.Namespace, truth):
    """Predictions from an export, or from running the pipeline on the truth's images or clip."""
    import tempfile

    from logotag_gui.core.analysis.evaluate import Box, predictions_from_records
    from logotag_gui.core.analysis.export import read_jsonl
    from logotag_gui.core.media.video import sample_indices

    interval, frames = 0.0, None
    if truth.kind == "video":
        if not truth.fps:  # "fps": 0 reads as not given: say what is assumed instead of going on silently
            print(f"note: '{args.truth}' gives no frame rate (its \"fps\" is 0 or missing): its frames are taken as "
                  f"sampled at --fps {args.fps:g}; add the clip's rate, e.g. \"fps\": 25, to score it on the "
                  "clip's own frames", file=sys.stderr)
        count = max(truth.boxes) + 1 if truth.boxes else 0
        frames = sample_indices(frame_count=count, native_fps=truth.fps or args.fps, fps=args.fps)
        interval = 1.0 / min(args.fps, truth.fps or args.fps)
    if args.predictions:
        return predictions_from_records(read_jsonl(args.predictions)), frames, interval
    if not (args.input and args.logos):
        raise LogoTagError("eval needs --predictions FILE.jsonl, or --input (images folder or clip) and --logos")
    from logotag_gui.core.pipeline.run import run_pipeline
    from logotag_gui.core.store import open_repository

    with tempfile.TemporaryDirectory() as tmp:
        repo = open_repository(args.db or f"{tmp}/eval.sqlite")
        config = run_config(args)
        result = run_pipeline(config, repo=repo)
        predictions: dict = {}
        for c in repo.candidates(video_id=result.video_id):
            if args.verified_only and c.verdict.state.value == "no":  # "unsure" is not a rejection
                continue
            key = c.frame.name if c.frame.name is not None else c.frame.index
            predictions.setdefault(key, []).append(Box(c.brand, c.bbox, c.score))
        print(f"ran {result.embedder} + {result.verifier} on {result.frames_done} frames: "
              f"{sum(result.timings.get(k, 0) for k in ('propose_s', 'verify_s')) / max(1, result.frames_done):.2f} "
              "s per frame", file=sys.stderr)
        repo.close()
    return predictions, frames, interval


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="logotag", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    sub = parser.add_subparsers(dest="command", required=True)
    # -q / -v after the command too (`logotag run ... -q`): SUPPRESS keeps the top level's value otherwise.
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("-q", "--quiet", action="store_true", default=argparse.SUPPRESS, help="no progress bar")
    common.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS)

    run = sub.add_parser("run", parents=[common],
                         help="run the pipeline on a video or image folder (resumes an unfinished run)")
    run.add_argument("input", help="video file (mp4, webm, mov, mkv) or folder of images")
    _add_run_options(run)
    run.add_argument("--out", help="also export this clip's records (.jsonl or .csv)")
    run.add_argument("--force", action="store_true",
                     help="run again a clip already run with these settings (default: say it is done and stop)")
    run.set_defaults(func=cmd_run)

    many = sub.add_parser("run-many", parents=[common], help="run many clips on Ray workers into one project "
                          "(a local Ray by default; skips done clips and resumes unfinished ones)")
    many.add_argument("inputs", nargs="+", help="video files, folders of videos, or image folders")
    _add_run_options(many)
    many.add_argument("--ray", metavar="ADDRESS", default=None,
                      help="a Ray cluster's address (host:6379, ray://host:10001, auto); default: $RAY_ADDRESS or "
                      "the Ray that `ray start` started on this machine, else a new local one")
    many.add_argument("--max-retries", type=_number(int, lo=0, what="retries"), default=3,
                      help="times a clip is retried when its worker dies")
    many.add_argument("--num-cpus", type=_number(float, above=0, what="cores per clip"), default=1,
                      help="cores per clip (default 1)")
    many.add_argument("--num-gpus", type=_number(float, lo=0, what="GPUs per clip"), default=0,
                      help="GPUs per clip (default 0)")
    many.add_argument("--split-minutes", type=_number(float, lo=0, what="minutes per range"), default=0, metavar="M",
                      help="split a video longer than M minutes into ranges of M minutes that workers run at once, "
                      "then join them into one run (tracks joined at the borders); 0 (default): one task per clip")
    many.set_defaults(func=cmd_run_many, input="")

    index = sub.add_parser("index", parents=[common], help="build (or check) the logo index")
    index.add_argument("--logos", required=True)
    index.add_argument("--proposer", "--embedder", dest="embedder", choices=backends.choices("proposers"),
                       default="auto", help=f"stage 1 to index the logos for. {backends.explain('proposers')}")
    index.add_argument("--siglip-model", default=DEFAULT_SIGLIP)
    index.add_argument("--siglip-revision", default=None)
    index.add_argument("--device", default="auto")
    index.add_argument("--allow-download", action="store_true")
    index.set_defaults(func=cmd_index)

    exp = sub.add_parser("export", parents=[common], help="export records as JSONL or CSV (streamed)")
    exp.add_argument("--db", required=True)
    exp.add_argument("--out", required=True)
    exp.add_argument("--format", choices=["jsonl", "csv"], default=None, help="default: from --out's suffix")
    exp.add_argument("--video", default=None, help="one clip (id, path or file name); default all")
    exp.add_argument("--reviewed-only", action="store_true",
                     help="only records a reviewer decided (accepted and rejected: what review taught)")
    exp.add_argument("--accepted-only", action="store_true",
                     help="only records a reviewer accepted (the detections that count)")
    exp.set_defaults(func=cmd_export)

    rep = sub.add_parser("report", parents=[common],
                         help="exposure report per brand, clip and project (CSV or one-page HTML)")
    rep.add_argument("--db", required=True)
    rep.add_argument("--format", choices=["csv", "html"], default="csv")
    rep.add_argument("--out", help="default exposure.csv / exposure.html")
    rep.add_argument("--video", default=None, help="one clip (id, path or file name); default all")
    rep.add_argument("--source", choices=["accepted", "model"], default="accepted",
                     help="reviewed detections, or model 'yes' verdicts before review (labelled as such)")
    rep.add_argument("--gap", type=_number(float, lo=0, what="the gap tolerance (seconds)"), default=1.0,
                     help="gap tolerance joining an exposure, seconds")
    rep.add_argument("--min-size", type=_number(float, lo=0, hi=1, what="the minimum box share of the frame"),
                     default=0.0, help="legibility: minimum box area / frame area (0 to 1)")
    rep.add_argument("--min-duration", type=_number(float, lo=0, what="the minimum exposure (seconds)"), default=0.0,
                     help="legibility: minimum exposure, seconds")
    rep.add_argument("--rule", choices=RULE_PRESETS, default=None,
                     help="count under this preset counting rule instead of the project's (`logotag rule` shows and "
                     "sets the project's); default: the project's rule")
    rep.set_defaults(func=cmd_report)

    rule = sub.add_parser("rule", parents=[common],
                          help="show the project's counting rule (when a mark counts); with options, set it first")
    rule.add_argument("--db", required=True)
    rule.add_argument("--preset", choices=RULE_PRESETS, default=None,
                      help="start from this preset (any: every mark; strict: 90%% in view, sharp, legible, 1 s; "
                      "mrc: 50%% in view for 2 continuous seconds); default: the project's stored rule")
    rule.add_argument("--min-visible", type=float, default=None, metavar="F",
                      help="the share of the mark that must be in view (0-1)")
    rule.add_argument("--min-sharpness", type=float, default=None, metavar="F",
                      help="the box's normalised sharpness (0-1: ~0.6 crisp, ~0.3 soft, under 0.1 a blur)")
    rule.add_argument("--min-size", type=float, default=None, metavar="F",
                      help="the box's area as a share of the frame's (0-1)")
    rule.add_argument("--min-exposure", type=float, default=None, metavar="S",
                      help="an exposure shorter than this counts nothing (seconds)")
    rule.add_argument("--join-gap", type=float, default=None, metavar="S",
                      help="appearances at most this far apart are one exposure; the gap is not counted (seconds)")
    rule.add_argument("--each-copy", action="store_true",
                      help="each copy of a brand on one frame counts (default: two copies count once)")
    rule.add_argument("--name", default=None, help="the rule's name (default: the preset's, or 'custom' where a "
                      "value differs from it)")
    rule.set_defaults(func=cmd_rule)

    ev = sub.add_parser("eval", parents=[common],
                        help="score detections against ground truth, or calibrate from reviews")
    ev.add_argument("--truth", help="COCO json (images) or LogoTag video truth json")
    ev.add_argument("--predictions", help="an exported JSONL to score")
    ev.add_argument("--input", help="or run the pipeline on this images folder or clip")
    ev.add_argument("--verified-only", action="store_true", help="score only candidates the verifier did not reject")
    ev.add_argument("--from-reviews", action="store_true", help="compare scores and verdicts with reviewer decisions")
    ev.add_argument("--target-precision", type=_number(float, above=0, hi=1, what="the target precision"),
                    default=0.9)
    ev.add_argument("--video", default=None)
    ev.add_argument("--json", action="store_true")
    _add_run_options(ev, for_eval=True)
    ev.set_defaults(func=cmd_eval)

    sim = sub.add_parser("simulate-review", parents=[common],
                         help="an oracle reviewer against the truth: actions needed and the exposure error left, on a "
                         "copy of the project")
    sim.add_argument("--db", required=True, help="the project (after a run of the clip)")
    sim.add_argument("--truth", required=True, help="the clip's per-frame truth (LogoTag's, or {fps, boxes})")
    sim.add_argument("--video", default=None, help="which clip (id, path or file name); needed when several")
    sim.add_argument("--json", action="store_true")
    sim.add_argument("--no-propagate", action="store_true", help="a drawn box is not followed through the clip")
    sim.add_argument("--no-learn", action="store_true", help="decisions teach nothing while the review goes on")
    sim.add_argument("--in-place", action="store_true", help="write the oracle's decisions into the project itself")
    sim.add_argument("--strategy", choices=STRATEGIES, default="exposures",
                     help="boxes: box by box; exposures: exposure by exposure (accept/reject one, trim, extend, "
                          "split, mark a brand on screen), then a look at every view nobody has looked at (exact); "
                          "audit: answer seeded random samples of frames and estimate the seconds with a 95%% "
                          "interval; mixed: review what the model proposes, audit the rest (default exposures)")
    sim.add_argument("--budget", type=_number(int, lo=1, what="the budget"), default=None,
                     help="audit: frames per sample (default 60); boxes and exposures: stop after this many actions")
    sim.add_argument("--seeds", type=_number(int, lo=1, what="the number of samples"), default=20,
                     help="audit: how many seeded samples (default 20)")
    sim.add_argument("--misses", choices=("draw", "mark"), default="draw",
                     help="exposures: fix a brand on screen that nothing counts by drawing its box on its largest view "
                          "(followed, and taught: finds it in other shots) or by marking it on screen and moving the "
                          "exposure's out point (default draw)")
    sim.add_argument("--gallery", choices=("clip", "brand", "none"), default="clip",
                     help="exposures: what one key accepts after a glance at each exposure: every brand's exposures "
                          "still to review (clip, G twice in the app), one brand's (brand, G), or one exposure at a "
                          "time (none); default clip")
    sim.add_argument("--keep-rule", action="store_true",
                     help="count under the project's own counting rule (default: set it from the truth's rule, what "
                     "the truth counted as on screen, as an analyst sets the client's)")
    sim.add_argument("--review-first", type=int, default=0, metavar="ACTIONS",
                     help="audit: review the most uncertain exposures first, up to this many actions")
    sim.set_defaults(func=cmd_simulate)

    aud = sub.add_parser("audit", parents=[common],
                         help="draw or extend a clip's audit sample, or estimate its seconds per brand with a 95%% "
                         "interval from the answers")
    aud.add_argument("--db", required=True)
    aud.add_argument("--clip", "--video", dest="video", default=None,
                     help="which clip (id, path or file name); needed when several")
    aud.add_argument("--frames", type=_number(int, lo=1, what="the sample's size (frames)"), default=None,
                     help="draw a sample of this many sampled frames (or grow the current one to it)")
    aud.add_argument("--seed", type=int, default=0, help="the sample's random seed (default 0)")
    aud.add_argument("--new", action="store_true", help="draw a new sample even where the clip has one")
    aud.add_argument("--target", type=_number(float, above=0, below=1, what="the half-width's share of the total"),
                     default=0.05,
                     help="the 95%% half-width to reach, as a share of the total (default 0.05)")
    aud.add_argument("--json", action="store_true")
    aud.set_defaults(func=cmd_audit)

    videos = sub.add_parser("videos", parents=[common], help="list the project's clips and their review progress")
    videos.add_argument("--db", required=True)
    videos.set_defaults(func=cmd_videos)
    return parser


def _fail(message: str, code: int) -> int:
    """The one line a failed command prints: no password of a database URL, no line breaks."""
    one_line = re.sub(r"\s*\n\s*", " ", redact_secrets(message).strip())
    print(f"logotag: {one_line}", file=sys.stderr)
    return code


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where the command is, so that it stops as on Ctrl+C: `finally` blocks run and an output
    being written is removed (the default action kills the process and leaves its hidden `.part` file)."""


def _terminate(signum: int, frame: object) -> None:
    raise Terminated()


def main(argv: list[str] | None = None) -> int:
    import threading

    args = build_parser().parse_args(argv)
    set_log_context(command=f"logotag {args.command}", project=_project_of(args))
    log_file = setup_logging(verbose=args.verbose)
    on_term = None
    if threading.current_thread() is threading.main_thread():  # only the main thread may set a handler
        on_term = signal.signal(signal.SIGTERM, _terminate)
    try:
        return _command(args, log_file)
    except KeyboardInterrupt as exc:  # Ctrl+C or SIGTERM outside a run (a run says what it kept itself)
        log.info("interrupted", exc_info=True)
        how, code = ("by SIGTERM", 143) if isinstance(exc, Terminated) else ("by Ctrl+C", 130)
        return _fail(f"interrupted {how}: nothing half-written is left (an output being written was removed and "
                     "the previous file kept as it was); run the command again to finish it.", code)
    finally:
        if on_term is not None:
            signal.signal(signal.SIGTERM, on_term)


def _project_of(args: argparse.Namespace) -> str:
    """The project a command works on, as the log names it (no password)."""
    db = getattr(args, "db", None)
    if db:
        return redact_url(db)
    if args.command == "run" and args.input:
        return project_beside(args.input)
    return "logotag.sqlite" if args.command == "run-many" else "-"


def _command(args: argparse.Namespace, log_file: Path) -> int:
    """Run the command; each failure is one line (exit 2: the input, 1: a bug, its traceback in the log)."""
    import warnings

    from PIL import Image

    try:
        with warnings.catch_warnings():
            # An image between 1x and 2x Pillow's pixel limit only warns; LogoTag refuses it like a bigger one.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            if args.command in ("run", "run-many", "eval"):
                run_config(args)  # values across options (a start after the end): refused before any work
            return args.func(args)
    except LogoTagError as exc:
        log.debug("command failed", exc_info=True)
        return _fail(str(exc), 2)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        log.debug("image over the pixel limit", exc_info=True)
        return _fail(f"an image is larger than Pillow's limit of {Image.MAX_IMAGE_PIXELS} pixels (a guard against "
                     f"decompression bombs): {exc} Scale it down or remove it.", 2)
    except OSError as exc:
        if exc.filename is None:  # not about a file the user named: a bug, as below
            return _unexpected(exc, log_file)
        log.debug("file system error", exc_info=True)
        if exc.errno == errno.ELOOP:
            return _fail(str(symlink_loop_error(exc.filename)), 2)
        return _fail(f"cannot use '{exc.filename}': {exc.strerror or exc}. Check that it exists and that your "
                     "user may read it (or write it, for an output).", 2)
    except RuntimeError as exc:
        loop = re.fullmatch(r"Symlink loop from (['\"]?)(?P<path>.*)\1", str(exc))
        if loop is None:  # pathlib's resolve() says so before Python 3.13 (later: OSError ELOOP, above)
            return _unexpected(exc, log_file)
        log.debug("symbolic link loop", exc_info=True)
        return _fail(str(symlink_loop_error(loop["path"])), 2)
    except Exception as exc:  # a bug: one line here, the traceback in the log
        return _unexpected(exc, log_file)


def _unexpected(exc: BaseException, log_file: Path) -> int:
    """A bug: its traceback in the log file only (the terminal gets the one line below), exit 1."""
    log.error("unexpected error", exc_info=exc, extra=FILE_ONLY)
    return _fail(f"unexpected error: {exc.__class__.__name__}: {exc} (details in {log_file})", 1)


if __name__ == "__main__":
    raise SystemExit(main())
