"""Score detections against ground truth: COCO boxes for images, per-frame boxes for video.

Strict recall counts a prediction of the right brand with IoU >= 0.5; relaxed recall one that holds
the truth's centre with IoU >= 0.1 (grid windows are coarser than logos). Each truth box is matched
at most once, best scores first. Brand names match case- and punctuation-insensitively.
"""

from __future__ import annotations

import json
import math
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from logotag_gui.core.base.errors import InputError
from logotag_gui.core.base.records import BBox
from logotag_gui.core.base.safe_json import read_json

Key = str | int  # an image's file name, or a video frame index
_T = TypeVar("_T")


def brand_key(name: str) -> str:
    return re.sub(r"[^0-9a-z]", "", name.lower())


@dataclass(frozen=True, slots=True)
class Box:
    brand: str
    bbox: BBox
    score: float = 1.0


@dataclass(slots=True)
class Truth:
    kind: str  # "images" or "video"
    boxes: dict[Key, list[Box]]
    fps: float | None = None  # video only: the truth's frame rate


COCO_SHAPE = ('COCO json: {"images": [{"id": 1, "file_name": "a.jpg"}], "categories": [{"id": 1, "name": "brand"}], '
              '"annotations": [{"image_id": 1, "category_id": 1, "bbox": [x, y, w, h]}]}')
VIDEO_SHAPE = 'LogoTag video truth: {"fps": 25, "frames": {"0": [{"brand": "name", "bbox": [x, y, w, h]}]}}'
COMPACT_SHAPE = 'compact video truth: {"fps": 25, "boxes": {"0": [["name", x, y, w, h]]}}'
MAX_TRUTH_BYTES = 500_000_000  # a COCO file of a large data set; more is not a truth file LogoTag can hold


class _Shape(ValueError):
    """One part of a truth file that has the wrong shape: `where` names it."""

    def __init__(self, where: str, what: str) -> None:
        super().__init__(f"{where} {what}")


def _kind(value: object) -> str:
    """What a JSON value is, in JSON's words."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    return "an array" if isinstance(value, list) else "an object"


def _bbox(value: object, where: str) -> BBox:
    if (not isinstance(value, (list, tuple)) or len(value) != 4
            or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)):
        raise _Shape(where, f"is {json.dumps(value)[:60]}, not four numbers [x, y, w, h]")
    x, y, w, h = map(float, value)
    if not all(math.isfinite(v) for v in (x, y, w, h)) or w < 0 or h < 0:
        raise _Shape(where, f"is {json.dumps(value)[:60]}: not finite, or a negative width or height")
    return BBox(x, y, w, h)


def _items(data: dict, key: str, kind: type[_T], where: str = "") -> _T:
    value = data.get(key)
    if not isinstance(value, kind):
        shown = "missing" if key not in data else _kind(value)
        raise _Shape(f"{where}'{key}'", f"is {shown}, expected a JSON {'array' if kind is list else 'object'}")
    return value


def _field(item: object, key: str, kinds: tuple[type[Key], ...], where: str) -> Key:
    if not isinstance(item, dict):
        raise _Shape(where, f"is {_kind(item)}, expected an object")
    value = item.get(key)
    if not isinstance(value, kinds) or isinstance(value, bool):
        raise _Shape(f"{where}.{key}", "is missing" if key not in item else f"is {json.dumps(value)[:60]}")
    return value


def _coco(data: dict) -> Truth:
    names = {_field(c, "id", (int, str), f"categories[{i}]"): str(_field(c, "name", (str, int), f"categories[{i}]"))
             for i, c in enumerate(_items(data, "categories", list) if "categories" in data else [])}
    files = {_field(im, "id", (int, str), f"images[{i}]"): _field(im, "file_name", (str,), f"images[{i}]")
             for i, im in enumerate(_items(data, "images", list))}
    boxes: dict[Key, list[Box]] = {f: [] for f in files.values()}
    for i, a in enumerate(_items(data, "annotations", list)):
        where = f"annotations[{i}]"
        image_id = _field(a, "image_id", (int, str), where)
        category_id = _field(a, "category_id", (int, str), where)
        if image_id not in files:
            raise _Shape(f"{where}.image_id", f"{image_id!r} is not the id of any entry in 'images'")
        if category_id not in names:
            raise _Shape(f"{where}.category_id", f"{category_id!r} is not the id of any entry in 'categories'")
        boxes[files[image_id]].append(Box(names[category_id], _bbox(a.get("bbox"), f"{where}.bbox")))
    return Truth("images", boxes)


def _video(data: dict) -> Truth:
    frames: dict[Key, list[Box]] = {}
    for key, boxes in _items(data, "frames", dict).items():
        where = f"frames[{key!r}]"
        index = _frame_index(key, where)
        if not isinstance(boxes, list):
            raise _Shape(where, f"is {_kind(boxes)}, expected an array of boxes")
        frames[index] = [Box(str(_field(b, "brand", (str,), f"{where}[{i}]")),
                             _bbox(b.get("bbox"), f"{where}[{i}].bbox")) for i, b in enumerate(boxes)]
    return Truth("video", frames, _fps(data))


def _frame_index(key: str, where: str) -> int:
    try:
        index = int(key)
    except ValueError:
        raise _Shape(where, "is not keyed by a frame index (\"0\", \"1\", ...)") from None
    if index < 0:
        raise _Shape(where, "is a negative frame index")
    return index


def _fps(data: dict) -> float | None:
    fps = data.get("fps", 0)
    if fps is not None and (not isinstance(fps, (int, float)) or isinstance(fps, bool) or fps < 0
                            or not math.isfinite(fps)):
        raise _Shape("'fps'", f"is {json.dumps(fps)[:40]}, expected a positive number")
    return float(fps or 0) or None


def _compact(data: dict) -> Truth:
    """The pan-clip tool's format: a box is [brand, x, y, w, h]."""
    frames: dict[Key, list[Box]] = {}
    for key, boxes in _items(data, "boxes", dict).items():
        where = f"boxes[{key!r}]"
        if not isinstance(boxes, list):
            raise _Shape(where, f"is {_kind(boxes)}, expected an array of boxes")
        out = []
        for i, b in enumerate(boxes):
            if not isinstance(b, list) or len(b) != 5 or not isinstance(b[0], str):
                raise _Shape(f"{where}[{i}]", f"is {json.dumps(b)[:60]}, not [brand, x, y, w, h]")
            out.append(Box(b[0], _bbox(b[1:], f"{where}[{i}]")))
        frames[_frame_index(key, where)] = out
    return Truth("video", frames, _fps(data))


def load_truth(path: str | Path) -> Truth:
    """COCO (`images`/`annotations`/`categories`), LogoTag's video truth (`fps`/`frames`) or the compact one
    (`fps`/`boxes`, as the pan-clip tool writes it).

    A file of another shape is an InputError naming the first wrong part and the expected shape.
    """
    path = Path(path)
    # Size-capped and nesting-checked: a file nested 200,000 deep is an InputError, never a RecursionError.
    data = read_json(path, what="Ground truth", expected=f"{COCO_SHAPE}; or {VIDEO_SHAPE}; or {COMPACT_SHAPE}",
                     max_bytes=MAX_TRUTH_BYTES)
    if isinstance(data, dict) and "annotations" in data and "images" in data:
        parse, shape = _coco, COCO_SHAPE
    elif isinstance(data, dict) and isinstance(data.get("boxes"), dict):
        parse, shape = _compact, COMPACT_SHAPE
    elif isinstance(data, dict) and "frames" in data:
        parse, shape = _video, VIDEO_SHAPE
    else:
        what = f"{_kind(data)}" + (f" with keys {sorted(data)[:6]}" if isinstance(data, dict) else "")
        raise InputError(f"Ground truth '{path}' is {what}, neither COCO json nor a LogoTag video truth. "
                         f"Expected {COCO_SHAPE}; or {VIDEO_SHAPE}; or {COMPACT_SHAPE}.")
    try:
        return parse(data)
    except _Shape as exc:
        raise InputError(f"Ground truth '{path}': {exc}. Expected {shape}.") from exc


def predictions_from_records(records: Iterable[dict]) -> dict[Key, list[Box]]:
    """Exported JSONL records → boxes by frame (file name or index); rejected records and presences (a brand
    marked on screen without a box: nothing to score as a box) are left out.

    A record without a usable `frame`, `brand` or `bbox` is an InputError naming it.
    """
    out: dict[Key, list[Box]] = defaultdict(list)
    for n, r in enumerate(records, 1):
        if not isinstance(r, dict):
            raise InputError(f"Prediction record {n} is {_kind(r)}, not an exported record object.")
        if r.get("decision") == "rejected" or r.get("method") == "presence":
            continue
        try:
            frame = r["frame"]
            if not isinstance(frame, (str, int)) or isinstance(frame, bool):
                raise _Shape("frame", f"is {json.dumps(frame)[:40]}")
            box = Box(str(_field(r, "brand", (str, int), "brand")), _bbox(r.get("bbox"), "bbox"),
                      float(r.get("score_retr") or 0))
        except KeyError:
            raise InputError(f"Prediction record {n} has no 'frame'; expected records from `logotag export`.") from None
        except (_Shape, TypeError, ValueError) as exc:
            raise InputError(f"Prediction record {n}: {exc}; expected records from `logotag export` "
                             "(frame, brand, bbox [x, y, w, h], score_retr).") from exc
        out[frame].append(box)
    return out


@dataclass(slots=True)
class BrandScore:
    brand: str
    truth: int = 0
    predicted: int = 0
    hits: int = 0  # strict
    relaxed_hits: int = 0
    true_positives: int = 0  # predictions that matched (strict)
    truth_seconds: float = 0.0
    predicted_seconds: float = 0.0

    @property
    def recall(self) -> float:
        return self.hits / self.truth if self.truth else 0.0

    @property
    def relaxed_recall(self) -> float:
        return self.relaxed_hits / self.truth if self.truth else 0.0

    @property
    def precision(self) -> float:
        return self.true_positives / self.predicted if self.predicted else 0.0


@dataclass(slots=True)
class EvalResult:
    kind: str
    frames: int
    brands: dict[str, BrandScore] = field(default_factory=dict)

    def total(self) -> BrandScore:
        t = BrandScore("all")
        for s in self.brands.values():
            for name in ("truth", "predicted", "hits", "relaxed_hits", "true_positives"):
                setattr(t, name, getattr(t, name) + getattr(s, name))
            t.truth_seconds += s.truth_seconds
            t.predicted_seconds += s.predicted_seconds
        return t

    @property
    def false_positives_per_frame(self) -> float:
        t = self.total()
        return (t.predicted - t.true_positives) / self.frames if self.frames else 0.0

    def as_dict(self) -> dict:
        def row(s: BrandScore) -> dict:
            return {"brand": s.brand, "truth": s.truth, "predicted": s.predicted, "recall": round(s.recall, 4),
                    "relaxed_recall": round(s.relaxed_recall, 4), "precision": round(s.precision, 4),
                    "truth_seconds": round(s.truth_seconds, 3), "predicted_seconds": round(s.predicted_seconds, 3)}

        return {"kind": self.kind, "frames": self.frames,
                "false_positives_per_frame": round(self.false_positives_per_frame, 4), "total": row(self.total()),
                "brands": [row(s) for s in self.brands.values()]}


def _relaxed(pred: BBox, truth: BBox) -> bool:
    cx, cy = truth.center
    return pred.contains_point(cx, cy) and pred.iou(truth) >= 0.1


def _match(preds: Sequence[Box], truths: Sequence[Box], test) -> tuple[set[int], set[int]]:
    """Greedy one-to-one matching, best scores first: (matched truth indices, matched prediction indices)."""
    taken_t, taken_p = set(), set()
    for pi in sorted(range(len(preds)), key=lambda i: -preds[i].score):
        p = preds[pi]
        best, best_iou = None, -1.0
        for ti, t in enumerate(truths):
            if ti in taken_t or brand_key(t.brand) != brand_key(p.brand) or not test(p.bbox, t.bbox):
                continue
            if p.bbox.iou(t.bbox) > best_iou:
                best, best_iou = ti, p.bbox.iou(t.bbox)
        if best is not None:
            taken_t.add(best)
            taken_p.add(pi)
    return taken_t, taken_p


def evaluate(truth: Truth, predictions: dict[Key, list[Box]], *, frames: Sequence[Key] | None = None,
             interval_s: float = 0.0) -> EvalResult:
    """Score `predictions` on `frames` (default: every frame of the truth).

    For video, `interval_s` is what one evaluated frame stands for: exposure seconds per brand are
    counted on the evaluated frames for both truth and predictions (one logo per frame counts once).
    """
    keys = list(frames) if frames is not None else list(truth.boxes)
    result = EvalResult(truth.kind, len(keys))
    names: dict[str, str] = {}

    def score(brand: str) -> BrandScore:
        k = brand_key(brand)
        names.setdefault(k, brand)
        return result.brands.setdefault(k, BrandScore(names[k]))

    for key in keys:
        truths = truth.boxes.get(key, [])
        preds = predictions.get(key, [])
        strict_t, strict_p = _match(preds, truths, lambda p, t: p.iou(t) >= 0.5)
        relaxed_t, _ = _match(preds, truths, _relaxed)
        for i, t in enumerate(truths):
            s = score(t.brand)
            s.truth += 1
            s.hits += i in strict_t
            s.relaxed_hits += i in relaxed_t
        for i, p in enumerate(preds):
            s = score(p.brand)
            s.predicted += 1
            s.true_positives += i in strict_p
        for brand in {brand_key(t.brand) for t in truths}:
            result.brands[brand].truth_seconds += interval_s
        for brand in {brand_key(p.brand) for p in preds}:
            result.brands[brand].predicted_seconds += interval_s
    result.brands = dict(sorted(result.brands.items()))
    return result


def format_table(result: EvalResult) -> str:
    video = result.kind == "video"
    head = f"{'brand':<20} {'truth':>6} {'pred':>6} {'recall':>7} {'relaxed':>8} {'precision':>9}"
    head += f" {'truth s':>8} {'pred s':>8} {'error s':>8}" if video else ""
    lines = [head, "-" * len(head)]
    for s in [*result.brands.values(), result.total()]:
        line = (f"{s.brand:<20} {s.truth:>6} {s.predicted:>6} {s.recall:>7.1%} {s.relaxed_recall:>8.1%} "
                f"{s.precision:>9.1%}")
        if video:
            off = s.predicted_seconds - s.truth_seconds
            line += f" {s.truth_seconds:>8.1f} {s.predicted_seconds:>8.1f} {off:>+8.1f}"
        lines.append(line)
    unit = "frame" if video else "image"
    lines.append(f"false positives per {unit}: {result.false_positives_per_frame:.3f} over {result.frames} {unit}s")
    return "\n".join(lines)
