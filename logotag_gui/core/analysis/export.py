"""Streamed JSONL and CSV exports: one record per candidate, the seed's keys plus review fields.

`brand` and `bbox` are the reviewed values (after relabels and box edits); `brand_model` and
`bbox_model` keep what the model proposed. A presence (the reviewer said the brand is on screen, without
a box) has no box: `bbox` is null and `method` is "presence".
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

from logotag_gui.core.base.errors import InputError
from logotag_gui.core.base.records import Candidate, ReviewState
from logotag_gui.core.base.safe_io import SafeDictWriter, atomic_write
from logotag_gui.core.store import Repository

FIELDS = [
    "frame", "bbox", "score_retr", "brand", "verdict", "confidence_vlm", "rationale",
    "video", "frame_index", "t", "track_id", "method", "decision", "decision_kind", "reviewer", "decided_at",
    "brand_model", "bbox_model", "candidate_id",
]
# CSV: the box also as four columns a spreadsheet can sum and sort (`bbox` stays, as JSON text, for what reads it)
BOX_COLUMNS = ["x", "y", "w", "h"]
CSV_FIELDS = [*FIELDS[:FIELDS.index("bbox") + 1], *BOX_COLUMNS, *FIELDS[FIELDS.index("bbox") + 1:]]


def csv_record(rec: dict[str, object]) -> dict[str, object]:
    """A record as a CSV row: lists as JSON text, and the reviewed box's x, y, w, h in columns of their own (empty
    for a presence, which has no box)."""
    box = rec.get("bbox")
    cells = dict(zip(BOX_COLUMNS, box, strict=True)) if isinstance(box, list) else dict.fromkeys(BOX_COLUMNS, "")
    row = {k: json.dumps(v) if isinstance(v, list) else v for k, v in rec.items()}
    return {**row, **cells}


def to_record(video: str, c: Candidate) -> dict[str, object]:
    return {
        # For an image folder the frame is the image's file name; for a video, its frame index.
        "frame": c.frame.name if c.frame.name is not None else c.frame.index,
        "bbox": c.final_bbox.as_list() if c.has_box else None,
        "score_retr": round(c.score, 4),
        "brand": c.final_brand,
        "verdict": c.verdict.state.value,
        "confidence_vlm": c.verdict.confidence,
        "rationale": c.verdict.rationale,
        "video": video,
        "frame_index": c.frame.index,
        "t": round(c.frame.t, 3),
        "track_id": c.track_id,
        "method": c.method,
        "decision": c.review.state.value,
        "decision_kind": c.review.kind.value if c.review.kind else None,
        "reviewer": c.review.reviewer or None,
        "decided_at": c.review.decided_at.isoformat() if c.review.decided_at else None,
        "brand_model": c.brand,
        "bbox_model": c.bbox.as_list() if c.has_box else None,
        "candidate_id": c.id,
    }


def records(repo: Repository, *, video_id: int | None = None, reviewed_only: bool = False,
            accepted_only: bool = False) -> Iterator[dict[str, object]]:
    """Every candidate's record; `reviewed_only`: those a reviewer decided (accepted and rejected: what review
    taught); `accepted_only`: those a reviewer accepted (the detections that count)."""
    for video, cand in repo.iter_candidates(video_id=video_id, reviewed_only=reviewed_only or accepted_only):
        if not accepted_only or cand.review.state is ReviewState.ACCEPTED:
            yield to_record(video, cand)


def export(repo: Repository, path: str | Path, *, fmt: str | None = None, video_id: int | None = None,
           reviewed_only: bool = False, accepted_only: bool = False) -> int:
    """Write records to `path` (format from `fmt` or the suffix); returns how many were written.

    The file is written atomically (a killed export leaves the previous file whole) and CSV cells
    that a spreadsheet would run as formulas are neutralised (see `safe_io.SafeDictWriter`).
    """
    path = Path(path)
    fmt = (fmt or path.suffix.lstrip(".") or "jsonl").lower()
    if fmt not in ("jsonl", "csv"):
        raise InputError(f"Unknown export format '{fmt}' for '{path}': use a .jsonl or .csv file name.")
    count = 0
    with atomic_write(path, "w", encoding="utf-8", newline="") as fh:
        rows = records(repo, video_id=video_id, reviewed_only=reviewed_only, accepted_only=accepted_only)
        if fmt == "jsonl":
            for rec in rows:
                fh.write(json.dumps(rec, ensure_ascii=False) + "\n")
                count += 1
        else:
            writer = SafeDictWriter(fh, fieldnames=CSV_FIELDS)
            writer.writeheader()
            for rec in rows:
                writer.writerow(csv_record(rec))
                count += 1
    return count


def read_jsonl(path: str | Path) -> Iterator[dict[str, object]]:
    """The records of a JSONL file; a line that is not a JSON object is an InputError naming its number."""
    path = Path(path)
    try:
        with path.open(encoding="utf-8-sig") as fh:
            for number, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise InputError(f"'{path}' line {number} is not JSON ({exc.msg}); expected one exported "
                                     "record per line (`logotag export --out FILE.jsonl`).") from exc
                if not isinstance(record, dict):
                    raise InputError(f"'{path}' line {number} is a JSON {type(record).__name__}, not a record "
                                     "object; expected one exported record per line.")
                yield record
    except UnicodeDecodeError as exc:
        raise InputError(f"'{path}' is not UTF-8 text ({exc.reason}); expected an exported JSONL file.") from exc
    except OSError as exc:
        raise InputError(f"Cannot read '{path}': {exc.strerror or exc}.") from exc
