"""Score detections against ground truth: COCO boxes for images, per-frame boxes for video.

Strict recall counts a prediction of the right brand with IoU >= 0.5; relaxed recall one that holds
the truth's centre with IoU >= 0.1 (grid windows are coarser than logos). Each truth box is matched
at most once, best scores first. Brand names match case- and punctuation-insensitively.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from logotag_gui.core.errors import InputError
from logotag_gui.core.records import BBox

Key = str | int  # an image's file name, or a video frame index


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


def load_truth(path: str | Path) -> Truth:
    """COCO (`images`/`annotations`/`categories`) or LogoTag's video truth (`fps`/`frames`)."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise InputError(f"Cannot read ground truth '{path}': {exc}.") from exc
    if "annotations" in data and "images" in data:
        names = {c["id"]: c["name"] for c in data.get("categories", [])}
        files = {im["id"]: im["file_name"] for im in data["images"]}
        boxes: dict[Key, list[Box]] = {f: [] for f in files.values()}
        for a in data["annotations"]:
            boxes[files[a["image_id"]]].append(Box(names[a["category_id"]], BBox(*map(float, a["bbox"]))))
        return Truth("images", boxes)
    if "frames" in data:
        frames = {int(k): [Box(b["brand"], BBox(*map(float, b["bbox"]))) for b in v] for k, v in data["frames"].items()}
        return Truth("video", frames, float(data.get("fps", 0)) or None)
    raise InputError(f"'{path}' is neither COCO json nor a LogoTag video truth ({{\"fps\":..., \"frames\":...}}).")


def predictions_from_records(records: Iterable[dict]) -> dict[Key, list[Box]]:
    """Exported JSONL records → boxes by frame (file name or index); rejected records are left out."""
    out: dict[Key, list[Box]] = defaultdict(list)
    for r in records:
        if r.get("decision") == "rejected":
            continue
        out[r["frame"]].append(Box(str(r["brand"]), BBox(*map(float, r["bbox"])), float(r.get("score_retr") or 0)))
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

        return {"kind": self.kind, "frames": self.frames, "false_positives_per_frame": round(self.false_positives_per_frame, 4),
                "total": row(self.total()), "brands": [row(s) for s in self.brands.values()]}


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
            line += f" {s.truth_seconds:>8.1f} {s.predicted_seconds:>8.1f} {s.predicted_seconds - s.truth_seconds:>+8.1f}"
        lines.append(line)
    unit = "frame" if video else "image"
    lines.append(f"false positives per {unit}: {result.false_positives_per_frame:.3f} over {result.frames} {unit}s")
    return "\n".join(lines)
