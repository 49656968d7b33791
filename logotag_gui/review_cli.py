"""`logotag` commands about review: simulate-review, videos, audit, rule and report (cli.py builds the parser)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from logotag_gui.core.base.errors import LogoTagError
from logotag_gui.core.base.safe_io import redact_url


def video_id_of(repo, video: str | None) -> int | None:
    if video is None:
        return None
    for v in repo.videos():
        if str(v.id) == video or v.path == str(Path(video).expanduser().resolve()) or Path(v.path).name == video:
            return v.id
    raise LogoTagError(f"No clip '{video}' in the project; `logotag videos --db ...` lists them.")


def cmd_simulate(args: argparse.Namespace) -> int:
    """The oracle reviewer on a copy of the project (the project itself is left as it is)."""
    import json as _json
    import tempfile

    from logotag_gui.core.analysis.evaluate import load_truth
    from logotag_gui.core.base.counting import read_truth_rule
    from logotag_gui.core.media.video import open_source
    from logotag_gui.core.review.learning import Learner
    from logotag_gui.core.review.project import Project
    from logotag_gui.core.review.simulate import simulate_review

    truth = load_truth(args.truth)
    if truth.kind != "video":
        raise LogoTagError(f"'{args.truth}' is a truth of images; simulate-review needs a clip's per-frame truth.")
    # As an analyst sets the client's rule: what the truth counted as on screen (--keep-rule: the project's own).
    rule = None if args.keep_rule else read_truth_rule(args.truth)
    with tempfile.TemporaryDirectory() as tmp:
        target = args.db if args.in_place else _copy_project(args.db, Path(tmp) / "simulated.sqlite")
        project = Project.open(target, create=False, durable=False)
        try:
            video_id = _one_clip(project, args.video)
            session = project.session(video_id, reviewer="oracle")
            source = None
            # Following and learning read the clip's pixels, and so does finding its views (what the sweep looks at).
            pixels = not (args.no_propagate and args.no_learn) and (args.strategy != "audit" or args.review_first)
            if pixels or not session.views_known:
                try:
                    source = open_source(session.video.path)
                except LogoTagError as exc:
                    if pixels:
                        raise LogoTagError(f"{exc} Following and learning need the clip; or pass --no-propagate "
                                           "--no-learn.") from exc
                    print(f"note: {exc} Without the clip each sampled frame is a view of its own.", file=sys.stderr)
            try:
                learner = None if source is None or args.no_learn or not pixels else Learner(
                    project.repo, source, video=session.video, sampled=session.sampled,
                    dictionary=project.dictionary(), reviewer="oracle")
                result = simulate_review(session, truth, strategy=args.strategy, source=source, learner=learner,
                                         propagate=not args.no_propagate, max_actions=args.budget
                                         if args.strategy in ("boxes", "exposures") else None,
                                         frames=args.budget or 60,
                                         seeds=args.seeds, review_first=args.review_first, misses=args.misses,
                                         gallery=args.gallery, rule=rule)
            finally:
                if source is not None:
                    source.close()
        finally:
            project.close()
    if args.json:
        print(_json.dumps(result.as_dict(), indent=1))
    else:
        print(result.format())
        if not args.in_place:
            print(f"(simulated on a copy; {redact_url(args.db)} is unchanged)")
    return 0


def _copy_project(db: str, copy: Path) -> str:
    """A consistent copy of a SQLite project (the backup API: safe while the app has it open)."""
    import sqlite3

    from logotag_gui.core.store.repository import database_url

    url = database_url(db)
    if not url.startswith("sqlite:///"):
        raise LogoTagError("simulate-review works on a copy of a SQLite project; for a database server, pass "
                           "--in-place on a project made for the simulation (its decisions are written there).")
    source_path = Path(url[len("sqlite:///"):])
    if not source_path.exists():
        raise LogoTagError(f"Project '{db}' does not exist; check the path.")
    with sqlite3.connect(source_path) as src, sqlite3.connect(copy) as dst:
        src.backup(dst)
    return str(copy)


def cmd_videos(args: argparse.Namespace) -> int:
    from logotag_gui.core.review.figure import clip_figure
    from logotag_gui.core.review.project import Project

    project = Project.open(args.db, create=False)
    try:
        for v in project.videos():
            figure = clip_figure(project.session(v.id, reviewer="")) if v.candidates else None
            seconds = f"  {figure.format()}" if figure else ""
            print(f"{v.id:>4}  {v.decided:>6}/{v.candidates:<6} reviewed  {v.last_run_status or 'not run':<9}  "
                  f"{v.path}{seconds}")
    finally:
        project.close()
    return 0


def cmd_audit(args: argparse.Namespace) -> int:
    """Draw (or grow) a clip's audit sample; then, from its answers, seconds per brand with a 95% interval."""
    import getpass
    import json as _json

    from logotag_gui.core.review.audit import Audit
    from logotag_gui.core.review.project import Project

    project = Project.open(args.db, create=False)
    try:
        video_id = _one_clip(project, args.video)
        session = project.session(video_id, reviewer=getpass.getuser())
        audit = Audit(session)
        if args.frames is not None:
            if audit.sample is None or args.new or audit.stale:
                audit.draw(frames=args.frames, seed=args.seed)
                print(f"drew {len(audit.frames)} of {len(session.sampled)} sampled frames (seed {args.seed}); "
                      "answer them in the app: the Audit tab beside the Review panel")
            elif args.frames > len(audit.frames):
                audit.extend(args.frames - len(audit.frames))
                print(f"the sample now holds {len(audit.frames)} frames")
        if audit.sample is None:
            raise LogoTagError("This clip has no audit sample: draw one with --frames N (e.g. --frames 60).")
        estimate = audit.estimate(target=args.target)
        if estimate is None:
            raise LogoTagError("The clip was run again on another grid since its sample was drawn: draw a new one "
                               "(--frames N --new).")
        answered = len(audit.answers)
        if not answered and not args.json:
            print(f"none of the sample's {len(audit.frames)} frames is answered yet: answer them in the app "
                  "(the Audit tab beside the Review panel; U goes to the next one), then run this again; "
                  f"{session.meter().format()}")
            return 0
        if args.json:
            print(_json.dumps({"answered": answered, "frames": len(audit.frames), "population": len(session.sampled),
                               "more_frames": estimate.more_frames, "target": args.target,
                               "brands": [_estimate_row(e) for e in [*estimate.brands.values(), estimate.total]
                                          if e is not None]}, indent=1))
            return 0
        print(f"{'brand':<24} {'seconds':>9} {'± 95%':>8} {'model+review':>13}")
        for e in [*estimate.brands.values(), estimate.total]:
            if e is not None:
                print(f"{e.brand:<24} {e.seconds:9.1f} {e.half_width:8.1f} {e.predicted_s:13.1f}")
        share = answered / max(1, len(session.sampled))
        more = ("reached" if estimate.more_frames == 0 else "not reachable within the clip"
                if estimate.more_frames is None else f"{estimate.more_frames} frames more")
        print(f"{answered}/{len(audit.frames)} sample frames answered ({share:.1%} of the clip's "
              f"{len(session.sampled)} sampled frames); ±{args.target:.0%} on the total: {more}; "
              f"{session.meter().format()}")
    finally:
        project.close()
    return 0


def _estimate_row(e) -> dict:
    return {"brand": e.brand, "seconds": round(e.seconds, 3), "half_width": round(e.half_width, 3),
            "low": round(e.low, 3), "high": round(e.high, 3), "predicted_s": round(e.predicted_s, 3),
            "exact": e.exact}


def _one_clip(project, which: str | None) -> int:
    video_id = video_id_of(project.repo, which)
    if video_id is None:
        videos = project.videos()
        if len(videos) != 1:
            raise LogoTagError(f"The project holds {len(videos)} clips: name one with --clip "
                               "(`logotag videos --db ...` lists them).")
        video_id = videos[0].id
    return video_id


RULE_OPTIONS = ("min_visible", "min_sharpness", "min_size", "min_exposure", "join_gap")


def rule_values(args: argparse.Namespace) -> dict[str, object]:
    """The rule's values given on the command line (`logotag rule`), by the rule's field names."""
    given: dict[str, object] = {}
    for option in RULE_OPTIONS:
        value = getattr(args, option)
        if value is not None:
            given[option + "_s" if option in ("min_exposure", "join_gap") else option] = value
    if args.each_copy:
        given["one_per_frame"] = False
    if args.name is not None:
        given["name"] = args.name
    return given


def cmd_rule(args: argparse.Namespace) -> int:
    """Show the project's counting rule; with options, set it first (from the preset, else the stored rule)."""
    import getpass

    from logotag_gui.core.base.counting import custom
    from logotag_gui.core.review.project import Project

    given = rule_values(args)
    project = Project.open(args.db, create=False)
    try:
        if args.preset is not None or given:
            rule = custom(args.preset if args.preset is not None else project.counting_rule(), **given)
            project.set_counting_rule(rule, by=getpass.getuser())
        print(project.counting_rule().describe())
    finally:
        project.close()
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from logotag_gui.core.analysis.audit import Z95
    from logotag_gui.core.analysis.exposure import ExposureRules
    from logotag_gui.core.analysis.report import empty_note, write_csv, write_html
    from logotag_gui.core.base.counting import preset
    from logotag_gui.core.review.project import Project

    project = Project.open(args.db, create=False)
    try:
        # --rule: counted under that preset instead of the project's rule (which is left as it is).
        rules = ExposureRules(source=args.source, gap_tolerance_s=args.gap, min_size_share=args.min_size,
                              min_duration_s=args.min_duration,
                              counting=preset(args.rule) if args.rule is not None else None)
        report = project.report(rules=rules, video_id=video_id_of(project.repo, args.video))
        out = args.out or f"exposure.{args.format}"
        (write_html if args.format == "html" else write_csv)(report, out)
    finally:
        project.close()
    for s in report.totals.values():
        est = report.estimate(s.brand)
        audited = "" if not est else f"  exact {est[0]:7.1f} s" if est[1] == 0 else \
            f"  estimated {est[0]:7.1f} ± {Z95 * est[1]:.1f} s"
        print(f"{s.brand:<24} {s.seconds:8.1f} s  seen {s.seen_seconds:8.1f} s  {s.exposures:4d} exposures  "
              f"solus {s.solus_seconds:6.1f} s  "
              f"mean size {s.mean_size_share:6.2%}{audited}")
    print(report.rule.describe())
    print(f"wrote {out} ({'reviewed detections' if args.source == 'accepted' else 'model verdicts, not reviewed'})")
    note = empty_note(report)
    if note:  # the (empty) report is still written: it is true, and a script waiting for the file gets it
        print(f"note: {note}", file=sys.stderr)
    return 0
