"""Exposure report for a project: per clip and per brand, as CSV or a one-page HTML file.

The HTML embeds its chart and thumbnails (PNG/JPEG as data URIs) so it can be sent as one file. Where a
clip has an answered audit sample, each brand's estimated seconds with their 95% interval stand beside
the reviewed seconds, with the share of frames audited and how many more would reach a ±5% interval.

What an analyst hands over: the counting rule stated at the top (its name and its bars; the project's rule unless
the caller gives one); per brand the seconds counted under the rule beside the seconds seen at all, full and partial
exposures (partial: some box of the brand below the rule's in-view bar, or not wholly in the frame under a rule
without one) and the counted seconds by the box's size (under 2.5%, 2.5-5, 5-10 and over 10% of the frame). The CSV
carries the same in columns (the rule's name and bars on every row). Not given: a weighted value (seconds times a
size or position weight, or a media value): no weights are set per client yet.
"""

from __future__ import annotations

import base64
import colorsys
import html
import io
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from logotag_gui.core.analysis.audit import ALL, ClipEstimate, Estimate
from logotag_gui.core.analysis.audit import combine as combine_estimates
from logotag_gui.core.analysis.exposure import (
    BAND_NAMES,
    BrandExposure,
    ExposureRules,
    clip_exposure,
    clip_grid,
    combine,
    cumulative_steps,
    sampling_interval,
)
from logotag_gui.core.base.counting import CountingRule
from logotag_gui.core.base.records import Candidate
from logotag_gui.core.base.safe_io import SafeDictWriter, atomic_write, atomic_write_text
from logotag_gui.core.media.video import distinct_names
from logotag_gui.core.store import Repository
from logotag_gui.core.store.repository import VideoSummary

CSV_FIELDS = ["scope", "clip", "brand", "seconds", "exposures", "frames", "mean_size_share", "max_size_share",
              "centre_seconds", "edge_seconds", "solus_seconds", "excluded_small", "excluded_brief",
              "excluded_brief_seconds", "unknown_seconds", "source", "estimate_s", "ci95_low", "ci95_high",
              "audited_frames", "sampled_frames", "more_frames_for_5pct", "seen_seconds", "full_exposures",
              "partial_exposures", "size_under_2_5pct_s", "size_2_5_to_5pct_s", "size_5_to_10pct_s",
              "size_over_10pct_s", "excluded_hidden", "excluded_blurred", "rule", "rule_bars"]
BAND_FIELDS = CSV_FIELDS[CSV_FIELDS.index("size_under_2_5pct_s"):CSV_FIELDS.index("size_over_10pct_s") + 1]
PALETTE = [(214, 39, 40), (31, 119, 180), (44, 160, 44), (255, 127, 14), (148, 103, 189), (140, 86, 75),
           (227, 119, 194), (127, 127, 127), (188, 189, 34), (23, 190, 207)]


def brand_colours(n: int) -> list[tuple[int, int, int]]:
    """`n` colours that tell brands apart: the palette's ten, then each next one the farthest (in RGB) from
    those taken, among hues around the wheel at two depths and two strengths; the palette used to repeat
    itself, so the 11th brand's line looked like the 1st's."""
    out = list(PALETTE[:n])
    pool = [tuple(int(c * 255) for c in colorsys.hsv_to_rgb(h / 36, s, v))
            for h in range(36) for s in (0.9, 0.5) for v in (0.9, 0.55)]
    while len(out) < n and pool:
        best = max(pool, key=lambda c: min(sum((a - b) ** 2 for a, b in zip(c, o, strict=True)) for o in out))
        out.append(best)  # type: ignore[arg-type]
        pool.remove(best)
    return out + [out[i % len(out)] for i in range(n - len(out))]  # past 154 brands, colours repeat


@dataclass(slots=True)
class ClipReport:
    video: VideoSummary
    interval_s: float
    brands: dict[str, BrandExposure]
    estimate: ClipEstimate | None = None  # from the clip's audit sample, where it has answers
    sampled_frames: int = 0


@dataclass(slots=True)
class ProjectReport:
    rules: ExposureRules
    clips: list[ClipReport]
    totals: dict[str, BrandExposure]
    estimates: dict[str, tuple[float, float]] | None = None  # brand -> (seconds, standard error), all clips
    rule: CountingRule = field(default_factory=CountingRule)  # what counted

    def estimate(self, brand: str) -> tuple[float, float] | None:
        return self.estimates.get(brand) if self.estimates else None


def build_report(repo: Repository, *, rules: ExposureRules | None = None, video_id: int | None = None,
                 estimates: dict[int, tuple[ClipEstimate, int]] | None = None,
                 rule: CountingRule | None = None) -> ProjectReport:
    """`estimates`: video id -> (its audit estimate, its sampled frames), for the clips that have one (the
    review layer computes them: the estimate corrects what review and the model say). `rule`: what counts (else
    `rules.rule` of the project's stored rule); where it reads sharpness, each clip's counted boxes are measured on
    its frames (decoded once, cached)."""
    rules = rules or ExposureRules()
    rule = rule or rules.rule(repo.counting_rule())
    estimates = estimates or {}
    clips = []
    for video in repo.videos():
        if video_id is not None and video.id != video_id:
            continue
        run_fps = repo.clip_fps(video.id)
        interval = sampling_interval(native_fps=video.fps, run_fps=run_fps, kind=video.kind)
        # Counted on the grid the clip is reviewed on, as the review meter and `logotag videos` count.
        grid = clip_grid(kind=video.kind, frame_count=video.frame_count, native_fps=video.fps, run_fps=run_fps)
        candidates = repo.candidates(video_id=video.id)
        brands = clip_exposure(candidates, interval_s=interval, rules=rules, grid=grid, rule=rule,
                               sharpness=clip_sharpness(video.path, candidates, rules.source, rule))
        estimate, sampled = estimates.get(video.id, (None, 0))
        clips.append(ClipReport(video, interval, brands, estimate, sampled))
    audited = [c.estimate for c in clips if c.estimate is not None]
    # Project totals of the estimates only where every clip of the report has one (else they mean nothing).
    totals = combine_estimates(audited) if audited and len(audited) == len(clips) else None
    return ProjectReport(rules, clips, combine([c.brands for c in clips]), totals, rule)


def clip_sharpness(path: str, candidates: list[Candidate], source: str, rule: CountingRule) -> dict[int, float] | None:
    """The sharpness of the clip's counted boxes where the rule reads it (None where it does not): measured on the
    clip's frames once and cached, so a report under another rule decodes nothing again."""
    if not rule.needs_pixels:
        return None
    from logotag_gui.core.analysis import sharpness
    from logotag_gui.core.analysis.exposure import included

    return sharpness.measure(path, [c for c in candidates if c.has_box and included(c, source)])


def empty_note(report: ProjectReport) -> str | None:
    """Why the report holds no exposure at all, and what to do; None when it holds some."""
    if report.totals:
        return None
    if not report.clips:
        return "The project holds no clips (or not the one asked for); add a clip and run it first."
    candidates = sum(c.video.candidates for c in report.clips)
    decided = sum(c.video.decided for c in report.clips)
    if candidates == 0:
        return "The project holds no detections yet; run the pipeline on its clips first."
    if report.rules.source == "model":
        return ("No detection has a model 'yes' verdict (a run without a verifier leaves verdicts unset); "
                "run with a verifier, or review the clips and report the accepted detections.")
    if decided == 0:
        return (f"No detection has been reviewed yet ({candidates} waiting), so this report of reviewed "
                "detections is empty: review the clips first, or report the model's unreviewed verdicts "
                "instead (`--source model`).")
    return (f"None of the {decided} reviewed detections was accepted, so this report is empty; review more, or "
            "report the model's unreviewed verdicts instead (`--source model`).")


def rule_bars(rule: CountingRule) -> str:
    """The rule's values in one CSV cell."""
    return (f"min_visible={rule.min_visible:g} min_sharpness={rule.min_sharpness:g} min_size={rule.min_size:g} "
            f"min_exposure_s={rule.min_exposure_s:g} join_gap_s={rule.join_gap_s:g} "
            f"one_per_frame={'yes' if rule.one_per_frame else 'no'}")


def rule_cells(s: BrandExposure, rule: CountingRule) -> dict[str, object]:
    """The columns the counting rule adds to a row: seen beside counted, full and partial, size bands, the rule."""
    return {"seen_seconds": round(s.seen_seconds, 3), "full_exposures": s.full_exposures,
            "partial_exposures": s.partial_exposures,
            **{name: round(v, 3) for name, v in zip(BAND_FIELDS, s.band_seconds, strict=True)},
            "excluded_hidden": s.excluded_hidden, "excluded_blurred": s.excluded_blurred, "rule": rule.name,
            "rule_bars": rule_bars(rule)}


def csv_row(scope: str, clip: str, s: BrandExposure, source: str) -> dict[str, object]:
    """One row of the report's CSV: a brand's exposure in a clip (scope "clip") or the project ("project")."""
    known = sized(s)  # a brand with presences only: its size is unknown, an empty cell (not 0)
    return {"scope": scope, "clip": clip, "brand": s.brand, "seconds": round(s.seconds, 3), "exposures": s.exposures,
            "frames": s.frames, "mean_size_share": round(s.mean_size_share, 5) if known else "",
            "max_size_share": round(s.max_size_share, 5) if known else "", "centre_seconds": round(s.centre_seconds, 3),
            "edge_seconds": round(s.edge_seconds, 3), "solus_seconds": round(s.solus_seconds, 3),
            "excluded_small": s.excluded_small, "excluded_brief": s.excluded_brief,
            "excluded_brief_seconds": round(s.excluded_brief_seconds, 3),
            "unknown_seconds": round(s.unknown_seconds, 3), "source": source}


def all_brands(brands: dict[str, BrandExposure]) -> BrandExposure:
    """The "(all brands)" row beside an audit estimate of all brands: the brands' seconds summed (a frame with
    two brands counts twice, as the estimate counts it), for a clip's brands or the project's totals alike."""
    return BrandExposure(ALL, seconds=round(sum(s.seconds for s in brands.values()), 6),
                         exposures=sum(s.exposures for s in brands.values()),
                         frames=sum(s.frames for s in brands.values()),
                         seen_seconds=round(sum(s.seen_seconds for s in brands.values()), 6),
                         full_exposures=sum(s.full_exposures for s in brands.values()),
                         partial_exposures=sum(s.partial_exposures for s in brands.values()),
                         band_seconds=[round(sum(b), 6) for b in zip(*(s.band_seconds for s in brands.values()),
                                                                     strict=True)] or [0.0] * len(BAND_NAMES))


def _estimate_cells(seconds: float, half_width: float, **more) -> dict[str, object]:
    return {"estimate_s": round(seconds, 3), "ci95_low": round(max(0.0, seconds - half_width), 3),
            "ci95_high": round(seconds + half_width, 3), **more}


def _clip_estimate_cells(clip: ClipReport, e: Estimate | None) -> dict[str, object]:
    if clip.estimate is None or e is None:
        return {}
    return _estimate_cells(e.seconds, e.half_width, audited_frames=e.answered, sampled_frames=clip.sampled_frames,
                           more_frames_for_5pct=clip.estimate.more_frames if e.brand == ALL else "")


def write_csv(report: ProjectReport, path: str | Path) -> None:
    """Atomically, through the one formula-neutralising CSV writer the export uses too."""
    from logotag_gui.core.analysis.audit import Z95

    with atomic_write(path, "w", encoding="utf-8", newline="") as fh:
        writer = SafeDictWriter(fh, fieldnames=CSV_FIELDS)
        writer.writeheader()
        names = distinct_names(clip.video.path for clip in report.clips)
        for clip in report.clips:
            estimated = clip.estimate.brands if clip.estimate is not None else {}
            for brand in sorted(set(clip.brands) | set(estimated)):
                s = clip.brands.get(brand, BrandExposure(brand))
                writer.writerow(csv_row("clip", names[clip.video.path], s, report.rules.source)
                                | rule_cells(s, report.rule) | _clip_estimate_cells(clip, estimated.get(brand)))
            if clip.estimate is not None and clip.estimate.total is not None:
                every = all_brands(clip.brands)
                writer.writerow(csv_row("clip", names[clip.video.path], every, report.rules.source)
                                | rule_cells(every, report.rule) | _clip_estimate_cells(clip, clip.estimate.total))
        for brand in sorted(set(report.totals) | set(report.estimates or {})):
            s = all_brands(report.totals) if brand == ALL else report.totals.get(brand, BrandExposure(brand))
            est = report.estimate(brand)
            cells = _estimate_cells(est[0], Z95 * est[1]) if est is not None else {}
            writer.writerow(csv_row("project", "", s, report.rules.source) | rule_cells(s, report.rule) | cells)


def chart_png(clip: ClipReport, *, width: int = 900, height: int = 260) -> bytes:
    """Cumulative seconds on screen over the clip's timeline, one line per brand (the legend's rows make the
    chart taller where there are more brands than fit beside it)."""
    height = max(height, 16 * len(clip.brands) + 40)
    colours = brand_colours(len(clip.brands))
    img = Image.new("RGB", (width, height), "white")
    d = ImageDraw.Draw(img)
    font = ImageFont.load_default(size=12)
    left, right, top, bottom = 50, width - 150, 12, height - 28
    duration = max(clip.video.duration_s, 1e-6)
    peak = max((s.seconds for s in clip.brands.values()), default=0.0) or 1.0
    d.line([(left, bottom), (right, bottom)], fill="black")
    d.line([(left, top), (left, bottom)], fill="black")
    d.text((left, bottom + 6), "0 s", fill="black", font=font)
    d.text((right - 30, bottom + 6), f"{duration:.0f} s", fill="black", font=font)
    d.text((4, top), f"{peak:.1f} s", fill="black", font=font)
    for i, s in enumerate(clip.brands.values()):
        colour = colours[i]
        points = [(left + t / duration * (right - left), bottom - cum / peak * (bottom - top))
                  for t, cum in cumulative_steps(s.timeline, duration)]
        if len(points) > 1:
            d.line(points, fill=colour, width=2)
        d.text((right + 10, top + 16 * i), f"{s.brand}: {s.seconds:.1f} s", fill=colour, font=font)
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def thumbnail_jpeg(clip: ClipReport, s: BrandExposure, *, max_side: int = 220) -> bytes | None:
    """The best (largest) exposure of a brand, cropped from its frame."""
    from logotag_gui.core.base.errors import LogoTagError
    from logotag_gui.core.media.video import open_source

    if s.best is None:
        return None
    try:
        source = open_source(clip.video.path)
        try:
            frame = source.frame(s.best.frame.index)
        finally:
            source.close()
    except (LogoTagError, IndexError, OSError, Image.DecompressionBombError, Image.DecompressionBombWarning):
        return None  # a thumbnail is optional: a moved, unreadable or oversized source leaves it out
    crop = Image.fromarray(frame.crop(s.best.final_bbox.expanded(1.2)))
    crop.thumbnail((max_side, max_side))
    buf = io.BytesIO()
    crop.save(buf, format="JPEG", quality=85)
    return buf.getvalue()


def _data_uri(kind: str, data: bytes) -> str:
    return f"data:{kind};base64,{base64.b64encode(data).decode()}"


def _table(rows: list[BrandExposure], thumbs: dict[str, bytes | None] | None = None,
           estimates: dict[str, str] | None = None) -> str:
    head = ("<tr><th>Brand</th><th>Seconds under the rule</th><th>Seconds seen</th>"
            + ("<th>Estimate (95%)</th>" if estimates is not None else "")
            + "<th>Exposures (full / partial)</th><th>Mean size</th><th>Max size</th>"
            + "".join(f"<th>Size {html.escape(b)} s</th>" for b in BAND_NAMES)
            + "<th>Centre s</th><th>Edge s</th><th>Solus s</th><th>No box s</th>"
            "<th>Excluded (small / hidden / blurred / brief)</th>"
            + ("<th>Best exposure</th>" if thumbs is not None else "") + "</tr>")
    body = []
    for s in rows:
        estimate = f"<td>{html.escape(estimates.get(s.brand, '–'))}</td>" if estimates is not None else ""
        thumb = ""
        if thumbs is not None:
            data = thumbs.get(s.brand)
            thumb = (f"<td><img src='{_data_uri('image/jpeg', data)}' alt='{html.escape(s.brand)}'></td>" if data
                     else "<td>–</td>")
        body.append(
            f"<tr><td>{html.escape(s.brand)}</td><td>{s.seconds:.1f}</td><td>{s.seen_seconds:.1f}</td>{estimate}"
            f"<td>{s.exposures} ({s.full_exposures} / {s.partial_exposures})</td>"
            f"<td>{size_text(s, s.mean_size_share)}</td><td>{size_text(s, s.max_size_share)}</td>"
            + "".join(f"<td>{b:.1f}</td>" for b in s.band_seconds)
            + f"<td>{s.centre_seconds:.1f}</td>"
            f"<td>{s.edge_seconds:.1f}</td><td>{s.solus_seconds:.1f}</td><td>{s.unknown_seconds:.1f}</td>"
            f"<td>{s.excluded_small} / {s.excluded_hidden} / {s.excluded_blurred} / {s.excluded_brief}</td>"
            f"{thumb}</tr>")
    return f"<table>{head}{''.join(body)}</table>"


def sized(s: BrandExposure) -> bool:
    """Some counted frame of the brand has a box: its size is known (presences alone say nothing of it)."""
    return s.centre_seconds + s.edge_seconds > 1e-9


def size_text(s: BrandExposure, share: float) -> str:
    """A size share as the report, the panel and the command line show it: "n/a" where no counted frame of the
    brand has a box (a brand marked on screen without one: its size is unknown, not 0%)."""
    return f"{share:.2%}" if sized(s) else "n/a"


def _with_estimates(brands: dict[str, BrandExposure], estimates: dict[str, tuple[float, float]] | None
                    ) -> list[BrandExposure]:
    """The rows: every reviewed brand, and every brand only the audit found."""
    names = sorted(set(brands) | {b for b in (estimates or {}) if b != ALL})
    return [brands.get(b, BrandExposure(b)) for b in names]


def _formatted(estimates: dict[str, tuple[float, float]] | None) -> dict[str, str] | None:
    from logotag_gui.core.analysis.audit import Z95

    if estimates is None:
        return None
    return {b: f"{s:.1f} ± {Z95 * se:.1f} s" for b, (s, se) in estimates.items()}


def _audit_note(clip: ClipReport) -> str:
    e = clip.estimate
    if e is None or e.total is None:
        return ""
    t = e.total
    share = t.answered / max(1, clip.sampled_frames)
    more = ("" if e.more_frames == 0 else "; a ±5% interval needs about "
            f"{e.more_frames} frames more" if e.more_frames is not None else "")
    return (f"<p class='meta'>Audit: {t.answered} of {clip.sampled_frames} sampled frames answered ({share:.1%}); "
            f"all brands {t.seconds:.1f} ± {t.half_width:.1f} s (95%), the model and review alone "
            f"{t.predicted_s:.1f} s{more}.</p>")


def write_html(report: ProjectReport, path: str | Path, *, title: str = "Brand exposure report") -> None:
    r = report.rules
    source = "reviewed (accepted) detections" if r.source == "accepted" else "model 'yes' verdicts, NOT reviewed"
    parts = [f"<h1>{html.escape(title)}</h1>",
             f"<p class='rule'><strong>{html.escape(report.rule.describe(), quote=False)}</strong></p>",
             f"<p class='meta'>Generated {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC from {source}. "
             "Seconds under the rule are what counts; seconds seen are every sampled frame with the brand marked, "
             "before the rule. A partial exposure has some box of the brand "
             + (f"under {report.rule.min_visible:.0%} in view" if report.rule.min_visible > 0
                else "not wholly in the frame") + ". Size bands: the counted seconds by the largest box's share of "
             "the frame. No weighted value is given.</p>",
             "<h2>Project totals</h2>", _table(_with_estimates(report.totals, report.estimates),
                                               estimates=_formatted(report.estimates))]
    note = empty_note(report)
    if note:
        parts.insert(3, f"<p class='note'><strong>{html.escape(note)}</strong></p>")
    names = distinct_names(clip.video.path for clip in report.clips)
    for clip in report.clips:
        thumbs = {b: thumbnail_jpeg(clip, s) for b, s in clip.brands.items()}
        estimated = {b: (e.seconds, e.se) for b, e in clip.estimate.brands.items()} if clip.estimate else None
        parts += [f"<h2>{html.escape(names[clip.video.path])}</h2>",
                  f"<p class='meta'>{clip.video.duration_s:.1f} s, each sampled frame stands for "
                  f"{clip.interval_s:.2f} s</p>", _audit_note(clip),
                  f"<img class='chart' src='{_data_uri('image/png', chart_png(clip))}' alt='seconds on screen'>",
                  _table(_with_estimates(clip.brands, estimated), thumbs, estimates=_formatted(estimated))]
    style = ("body{font-family:sans-serif;max-width:980px;margin:2em auto;color:#222}"
             "table{border-collapse:collapse;width:100%;margin:1em 0}td,th{border:1px solid #ccc;padding:4px 8px;"
             "text-align:right}td:first-child,th:first-child{text-align:left}.meta{color:#666}"
             ".chart{max-width:100%}.note{color:#a40;font-size:1.1em}.rule{font-size:1.1em}")
    atomic_write_text(path, f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
                            f"<style>{style}</style></head><body>{''.join(parts)}</body></html>")
