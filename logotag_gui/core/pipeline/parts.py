"""Frame ranges of a split run (pipeline/split.py): how a clip's sampled frames are cut into them, and which
tracks one range can finish on its own.

A track is a range's own when none of its detections lies within the linker's gap of a border it shares with
another range: no track across the border can join it, so the range follows it (within its frames) as one
process would. The others, and an own track whose following reached a border, are followed over the whole
clip when the run is joined.
"""

from __future__ import annotations

from collections.abc import Sequence

from logotag_gui.core.base.records import TRACKED, Candidate
from logotag_gui.core.pipeline.ports import RunPartInfo


def frame_ranges(sampled: Sequence[int], *, per_part: int) -> list[tuple[int, int, int]]:
    """Consecutive ranges of `per_part` sampled frames: (first frame, last frame, sampled frames). A last
    range shorter than half a part joins the one before (a worker's start-up is not worth a few frames)."""
    per_part = max(1, per_part)
    chunks = [list(sampled[i:i + per_part]) for i in range(0, len(sampled), per_part)]
    if len(chunks) > 1 and len(chunks[-1]) < per_part / 2:
        tail = chunks.pop()
        chunks[-1] += tail
    return [(c[0], c[-1], len(c)) for c in chunks]


def detections(candidates: Sequence[Candidate]) -> list[Candidate]:
    """What stage 1 found (the linker's tracks), not what following added."""
    return [c for c in candidates if c.method != TRACKED]


def _inner_borders(part: RunPartInfo, parts: Sequence[RunPartInfo]) -> tuple[bool, bool]:
    """Whether the range's first and last frames border another range (the clip's own ends do not)."""
    return any(p.end_frame < part.start_frame for p in parts), any(p.start_frame > part.end_frame for p in parts)


def own_tracks(candidates: Sequence[Candidate], part: RunPartInfo, parts: Sequence[RunPartInfo], *,
               gap_frames: int) -> set[int]:
    """The tracks of `part` that no track of another range can join (see the module's doc)."""
    inner_start, inner_end = _inner_borders(part, parts)
    tracks: dict[int, list[int]] = {}
    for c in detections(candidates):
        if c.track_id is not None and part.start_frame <= c.frame.index <= part.end_frame:
            tracks.setdefault(c.track_id, []).append(c.frame.index)
    return {track for track, frames in tracks.items()
            if not (inner_start and min(frames) <= part.start_frame + gap_frames)
            and not (inner_end and max(frames) >= part.end_frame - gap_frames)}


def left_to_join(candidates: Sequence[Candidate], parts: Sequence[RunPartInfo], *, gap_frames: int) -> set[int]:
    """The tracks to follow over the whole clip when the run is joined: those no range could finish (near a
    border), and a range's own tracks whose following reached one of its inner borders."""
    all_tracks = {c.track_id for c in candidates if c.track_id is not None}
    finished: set[int] = set()
    for part in parts:
        own = own_tracks(candidates, part, parts, gap_frames=gap_frames)
        inner_start, inner_end = _inner_borders(part, parts)
        inner = {f for f, border in ((part.start_frame, inner_start), (part.end_frame, inner_end)) if border}
        reached = {c.track_id for c in candidates if c.track_id in own and c.frame.index in inner}
        finished |= own - reached
    return all_tracks - finished
