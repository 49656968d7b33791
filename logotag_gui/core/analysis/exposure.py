"""Exposure metrics that sponsorship analysts deliver, computed from reviewed detections under a counting rule.

`clip_exposure` is the one count of seconds: the reports, the exposure panel, the oracle reviewer and the figure's
seconds under the rule all read it. What counts is the project's counting rule (base/counting.py), applied to the
stored boxes alone (changing the rule recounts without a run): a frame's detection stands for the sampling
interval; a box below the rule's size share, in-view share or sharpness does not count (and is counted as
excluded); appearances of a brand at most the join gap apart are one exposure (the gap is never counted); an
exposure shorter than the rule's minimum counts nothing (counted as excluded); two copies of a logo on one frame
count once unless the rule counts each copy. A presence (the reviewer said the brand is on screen, without a box)
counts its seconds; where a frame holds only presences of a brand, its size and position are unknown (counted apart,
never as small or at the edge), and no bar on the box applies to it. Beside the counted seconds stand the seconds
seen at all (every frame with an accepted box or presence of the brand, before the rule).
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from logotag_gui.core.base.counting import DEFAULT, CountingRule, custom
from logotag_gui.core.base.records import Candidate, ReviewState, VerdictState

# Size bands of the reports: the biggest counted box's share of the frame, a counted second at a time.
SIZE_BANDS = (0.025, 0.05, 0.10)
BAND_NAMES = ("under 2.5%", "2.5-5%", "5-10%", "over 10%")


@dataclass(frozen=True, slots=True)
class ExposureRules:
    """What a count reads (`source`), and the bars it applies: `counting` where given; else, where any of the three
    older fields differs from its default (the report's --gap, --min-size and --min-duration), a custom rule from
    them; else the project's rule (`rule`)."""

    source: str = "accepted"  # "accepted" (reviewed) or "model" (model "yes" verdicts, before review)
    gap_tolerance_s: float = 1.0
    min_size_share: float = 0.0  # box area / frame area
    min_duration_s: float = 0.0
    counting: CountingRule | None = None

    def rule(self, project: CountingRule = DEFAULT) -> CountingRule:
        if self.counting is not None:
            return self.counting
        if (self.gap_tolerance_s, self.min_size_share, self.min_duration_s) != (1.0, 0.0, 0.0):
            return custom(project, join_gap_s=self.gap_tolerance_s, min_size=self.min_size_share,
                          min_exposure_s=self.min_duration_s)
        return project


@dataclass(slots=True)
class BrandExposure:
    brand: str
    seconds: float = 0.0  # counted under the rule
    exposures: int = 0
    mean_size_share: float = 0.0
    max_size_share: float = 0.0
    centre_seconds: float = 0.0
    edge_seconds: float = 0.0
    solus_seconds: float = 0.0
    frames: int = 0
    excluded_small: int = 0  # detections below the minimum size share
    excluded_brief: int = 0  # exposures shorter than the minimum duration
    excluded_brief_seconds: float = 0.0
    unknown_seconds: float = 0.0  # on screen with no box (a presence): size and position unknown
    seen_seconds: float = 0.0  # on screen at all (any accepted box or presence), before the rule
    excluded_hidden: int = 0  # boxes below the rule's in-view share
    excluded_blurred: int = 0  # boxes below the rule's sharpness
    unmeasured: int = 0  # boxes whose sharpness the rule needed and nobody measured (counted)
    full_exposures: int = 0  # counted exposures with every box of the brand in view (above the in-view bar)
    partial_exposures: int = 0  # counted exposures with some box of the brand below the in-view bar
    band_seconds: list[float] = field(default_factory=lambda: [0.0] * len(BAND_NAMES))  # counted s per size band
    best: Candidate | None = field(default=None, repr=False)  # the largest legible detection
    timeline: list[tuple[float, float]] = field(default_factory=list, repr=False)  # (t, cumulative seconds)


def included(c: Candidate, source: str) -> bool:
    if source == "accepted":
        return c.review.state is ReviewState.ACCEPTED
    if source == "model":
        return c.verdict.state is VerdictState.YES
    raise ValueError(f"unknown exposure source '{source}': use accepted or model")


def size_share(c: Candidate) -> float:
    """The share of the frame the box covers (its part in the frame: a box past the frame's edge counts what is on
    screen); 0 for a presence, whose size is unknown."""
    area = c.frame.width * c.frame.height
    return c.final_bbox.clipped(c.frame.width, c.frame.height).area / area if area else 0.0


def visible_share(c: Candidate) -> float:
    """The share of the mark inside the frame: a box keeps the mark's whole extent past the frame's edge where its
    maker knew it (a followed box, pipeline/follow.py; a box drawn past the edge), so this is its clipped area over
    its whole area; 1.0 for a box wholly inside it (a detection is clipped to the frame).
    LogoTag measures no occlusion: a box is taken as not hidden."""
    box = c.final_bbox
    if box.area <= 0:
        return 1.0
    return box.clipped(c.frame.width, c.frame.height).area / box.area


def counts_in_view(c: Candidate, rule: CountingRule) -> bool:
    """Whether a box passes the rule's bars that its geometry decides (its size, its share in view): a box that does
    not is seen but never counted, whatever a reviewer says of it (sharpness needs the pixels: clip_exposure)."""
    return not c.has_box or (size_share(c) >= rule.min_size and visible_share(c) >= rule.min_visible - 1e-9)


def size_band(share: float) -> int:
    """The index in BAND_NAMES of a box's share of the frame."""
    return bisect.bisect_right(SIZE_BANDS, share)


def is_centre(c: Candidate) -> bool:
    """The box centre lies in the middle third of the frame, horizontally and vertically."""
    cx, cy = c.final_bbox.center
    w, h = c.frame.width, c.frame.height
    return w / 3 <= cx <= 2 * w / 3 and h / 3 <= cy <= 2 * h / 3


def clip_exposure(candidates: Iterable[Candidate], *, interval_s: float, rules: ExposureRules = ExposureRules(),
                  grid: Sequence[int] | None = None, rule: CountingRule | None = None,
                  sharpness: Mapping[int, float] | None = None) -> dict[str, BrandExposure]:
    """Per-brand exposure for one clip under `rule` (else `rules.rule()`). `interval_s` is what one sampled frame
    stands for; `grid`: the clip's sampled frames (`clip_grid`, what the review session counts on), else slots of
    `interval_s` from the start; `sharpness`: candidate id -> its box's sharpness (`analysis/sharpness.py`), where
    the rule needs it (a box with none is counted, and counted as unmeasured)."""
    rule = rule or rules.rule()
    out: dict[str, BrandExposure] = {}
    # brand -> sampling slot -> detections there (two copies on one frame count once). A box on a frame between
    # two sampled frames (drawn there, or followed there) belongs to the nearer one's slot: it adds no interval
    # of its own, and the brands on screen there are those of that slot (what solus time reads).
    frames: dict[str, dict[int, list[Candidate]]] = defaultdict(lambda: defaultdict(list))
    seen: dict[str, set[int]] = defaultdict(set)
    partial: dict[str, set[int]] = defaultdict(set)  # slots with a box of the brand below the in-view bar
    times: dict[int, float] = {}  # slot -> when (its earliest detection): what the join gap is measured on
    partial_bar = rule.min_visible if rule.min_visible > 0 else 1.0
    for c in candidates:
        if not included(c, rules.source):
            continue
        brand = c.final_brand
        stats = out.setdefault(brand, BrandExposure(brand))
        k = slot(c, interval_s, grid=grid)
        seen[brand].add(k)
        times[k] = min(times.get(k, c.frame.t), c.frame.t)
        if c.has_box:
            if size_share(c) < rule.min_size:
                stats.excluded_small += 1
                continue
            shown = visible_share(c)
            if shown < partial_bar - 1e-9:
                partial[brand].add(k)
            if shown < rule.min_visible - 1e-9:
                stats.excluded_hidden += 1
                continue
            if rule.min_sharpness > 0:
                sharp = sharpness.get(c.id) if sharpness is not None and c.id is not None else None
                if sharp is None:
                    stats.unmeasured += 1
                elif sharp < rule.min_sharpness:
                    stats.excluded_blurred += 1
                    continue
        frames[brand][k].append(c)
    for brand, slots in seen.items():
        out[brand].seen_seconds = round(len(slots) * interval_s, 6)

    # Drop exposures that are too brief before solus is computed: an illegible flash of a rival
    # does not break another brand's solus time.
    kept: dict[str, dict[int, list[Candidate]]] = {}
    reach = 1.5 * interval_s + rule.join_gap_s + 1e-9  # as _runs joins
    for brand, by_slot in frames.items():
        stats = out[brand]
        kept[brand] = {}
        for run in _runs(by_slot, times, interval_s, rule.join_gap_s):
            duration = len(run) * interval_s
            if duration + 1e-9 < rule.min_exposure_s:
                stats.excluded_brief += 1
                stats.excluded_brief_seconds += duration
                continue
            stats.exposures += 1
            first, last = times[run[0]], times[run[-1]]
            if any(first - reach <= times[k] <= last + reach for k in partial.get(brand, ())):
                stats.partial_exposures += 1
            else:
                stats.full_exposures += 1
            for k in run:
                kept[brand][k] = by_slot[k]

    brands_on: dict[int, set[str]] = defaultdict(set)
    for brand, by_slot in kept.items():
        for k in by_slot:
            brands_on[k].add(brand)
    for brand, by_slot in kept.items():
        stats = out[brand]
        shares, total = [], 0.0
        for k in sorted(by_slot):
            dets = by_slot[k]
            boxes = [d for d in dets if d.has_box]
            biggest = max(boxes or dets, key=size_share)
            if not boxes:
                stats.unknown_seconds += interval_s
            else:
                shares.append(size_share(biggest))
                stats.band_seconds[size_band(size_share(biggest))] += interval_s
                if stats.best is None or size_share(biggest) > size_share(stats.best):
                    stats.best = biggest
                if any(is_centre(d) for d in boxes):
                    stats.centre_seconds += interval_s
                else:
                    stats.edge_seconds += interval_s
            if brands_on[k] == {brand}:
                stats.solus_seconds += interval_s
            total += interval_s * (1 if rule.one_per_frame else max(1, len(boxes)))
            stats.timeline.append((biggest.frame.t, round(total, 6)))
        stats.frames = len(by_slot)
        stats.seconds = round(total, 6)
        stats.band_seconds = [round(b, 6) for b in stats.band_seconds]
        stats.mean_size_share = sum(shares) / len(shares) if shares else 0.0
        stats.max_size_share = max(shares, default=0.0)
    return dict(sorted(out.items()))


def slot(c: Candidate, interval_s: float, *, grid: Sequence[int] | None = None) -> int:
    """The sampling slot of the candidate's frame: on the clip's grid, its sampled frame (`grid_frame`); without
    one, the nearest sampled instant (what one interval stands for)."""
    if grid:
        return grid_frame(c.frame.index, grid)
    return round(c.frame.t / interval_s) if interval_s > 0 else c.frame.index


def grid_frame(index: int, grid: Sequence[int]) -> int:
    """The sampled frame whose seconds a frame counts towards: the nearer of the sampled frames around it (the
    earlier on a tie). Every count of seconds goes through it (the reports, the exposures the review meter and
    `logotag videos` sum), so a box drawn between two sampled frames adds an interval only where its sampled
    frame had none of the brand, and the same one everywhere. `grid`: sorted, not empty."""
    i = bisect.bisect_left(grid, index)
    if i < len(grid) and grid[i] == index:
        return index
    before, after = grid[max(i - 1, 0)], grid[min(i, len(grid) - 1)]
    return before if index - before <= after - index else after


def clip_grid(*, kind: str, frame_count: int, native_fps: float, run_fps: float | None) -> list[int]:
    """The frames a clip is reviewed and counted on: every image of a folder, else the frames its latest run
    sampled (what the review session's `sampled` holds)."""
    from logotag_gui.core.media.video import sample_indices

    if kind == "images":
        return list(range(frame_count))
    return sample_indices(frame_count=frame_count, native_fps=native_fps, fps=run_fps or native_fps)


def _runs(by_slot: dict[int, list[Candidate]], times: Mapping[int, float], interval_s: float,
          join_gap_s: float) -> list[list[int]]:
    """Slots grouped into continuous appearances: the next sampled frame joins, and so does one after an empty
    stretch of at most the join gap. Half an interval of slack: a 25-fps clip sampled at 2 fps steps 12 and 13 frames
    (0.48 and 0.52 s), and a step a little over the interval is still the next frame."""
    runs: list[list[int]] = []
    last = None
    for k in sorted(by_slot):
        if last is None or times[k] - times[last] > 1.5 * interval_s + join_gap_s + 1e-9:
            runs.append([])
        runs[-1].append(k)
        last = k
    return runs


def cumulative_steps(timeline: Sequence[tuple[float, float]], duration_s: float) -> list[tuple[float, float]]:
    """(t, cumulative seconds) corners of a step line: flat at 0 until the brand first appears, a rise at
    each frame it is on screen, flat between appearances, and on to the end of the clip."""
    points, last = [(0.0, 0.0)], 0.0
    for t, cum in timeline:
        points += [(t, last), (t, cum)]
        last = cum
    points.append((max(duration_s, points[-1][0]), last))
    return points


def combine(per_clip: Sequence[dict[str, BrandExposure]]) -> dict[str, BrandExposure]:
    """Project totals: sums of seconds and counts; sizes weighted by frames."""
    out: dict[str, BrandExposure] = {}
    for clip in per_clip:
        for brand, s in clip.items():
            t = out.setdefault(brand, BrandExposure(brand))
            weight = t.frames + s.frames
            if weight:
                t.mean_size_share = (t.mean_size_share * t.frames + s.mean_size_share * s.frames) / weight
            t.max_size_share = max(t.max_size_share, s.max_size_share)
            for name in ("seconds", "centre_seconds", "edge_seconds", "solus_seconds", "excluded_brief_seconds",
                         "unknown_seconds", "seen_seconds"):
                setattr(t, name, round(getattr(t, name) + getattr(s, name), 6))
            for name in ("exposures", "frames", "excluded_small", "excluded_brief", "excluded_hidden",
                         "excluded_blurred", "unmeasured", "full_exposures", "partial_exposures"):
                setattr(t, name, getattr(t, name) + getattr(s, name))
            t.band_seconds = [round(a + b, 6) for a, b in zip(t.band_seconds, s.band_seconds, strict=True)]
            if s.best is not None and (t.best is None or size_share(s.best) > size_share(t.best)):
                t.best = s.best
    return dict(sorted(out.items()))


def sampling_interval(*, native_fps: float, run_fps: float | None, kind: str) -> float:
    """What one sampled frame stands for, in seconds."""
    if kind == "images":
        return 1.0
    fps = min(run_fps or native_fps, native_fps)
    return 1.0 / fps
