"""Follow truth boxes through a clip with each tracker: how far they get, how well they fit, how fast.

For every appearance of a logo in the truth (a run of frames where one brand's box moves
continuously), the box on its middle sampled frame seeds `follow_box`; the boxes it returns on the
other sampled frames are scored against the truth: reach (share of the appearance's sampled frames
covered at IoU >= 0.5), mean IoU there, overshoot (boxes on frames where the brand is not in view)
and tracking speed (decoded frames per second, decode included). Trackers: LogoTag's flow tracker,
OpenCV's MIL, and KCF/CSRT where opencv-contrib is installed.

    python bench/bench_tracking.py --clip bench/out/pan/clip.mp4 --truth bench/out/pan/gt.json
    python bench/bench_tracking.py --clip logotag_gui/resources/demo/demo_clip.mp4 --truth logotag_gui/resources/demo/demo_truth.json
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from logotag_gui.core.analysis.evaluate import Truth, brand_key, load_truth
from logotag_gui.core.base.records import BBox
from logotag_gui.core.media.video import open_source
from logotag_gui.core.pipeline.follow import TRACKERS, FollowSettings, TrackerFactory, follow_box


class OpenCVTracker:
    """OpenCV's single-object trackers (MIL in the main build; KCF, CSRT with opencv-contrib) for comparison."""

    def __init__(self, kind: str) -> None:
        factory = getattr(cv2, f"Tracker{kind}_create", None)
        if factory is None:
            raise ValueError(f"OpenCV {cv2.__version__} has no Tracker{kind} (KCF and CSRT need opencv-contrib)")
        self.name, self._factory = kind.lower(), factory
        self._tracker: Any | None = None  # a cv2.Tracker, made by start()

    def start(self, gray: np.ndarray, box: BBox) -> bool:
        self._tracker = tracker = self._factory()
        x1, y1, x2, y2 = box.clipped(gray.shape[1], gray.shape[0]).as_int_xyxy()
        try:
            tracker.init(cv2.cvtColor(gray, cv2.COLOR_GRAY2BGR), (x1, y1, max(1, x2 - x1), max(1, y2 - y1)))
        except cv2.error:
            return False
        return True

    def update(self, gray: np.ndarray) -> BBox | None:
        assert self._tracker is not None, "start() comes first"
        ok, (x, y, w, h) = self._tracker.update(cv2.cvtColor(gray, cv2.COLOR_GRAY2BGR))
        return BBox(float(x), float(y), float(w), float(h)) if ok else None


# The product follows with the flow tracker; OpenCV's trackers are here to compare it with (how it was chosen).
COMPARED: dict[str, TrackerFactory] = {**TRACKERS, "mil": lambda s: OpenCVTracker("MIL"),
                                       "kcf": lambda s: OpenCVTracker("KCF"), "csrt": lambda s: OpenCVTracker("CSRT")}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--clip", required=True)
    p.add_argument("--truth", required=True)
    p.add_argument("--fps", type=float, default=2.0, help="the sampling grid boxes are reported on")
    p.add_argument("--trackers", nargs="+", default=list(COMPARED))
    args = p.parse_args()
    truth = load_truth(args.truth)
    source = open_source(args.clip)
    sampled = source.sampled_indices(fps=args.fps)
    grid = set(sampled)
    runs = appearances(truth)
    print(f"{len(runs)} appearances of {len({r.brand for r in runs})} brands; sampled every "
          f"{source.info.fps / args.fps:.1f} frames")
    print(f"{'tracker':<8} {'reach':>7} {'IoU':>6} {'overshoot':>9} {'frames/s':>9}  stops")
    for name in args.trackers:
        try:
            COMPARED[name](FollowSettings())
        except ValueError as exc:
            print(f"{name:<8} skipped: {exc}")
            continue
        reached = total = over = 0
        ious: list[float] = []
        frames = 0
        seconds = 0.0
        stops: dict[str, int] = {}
        for run in runs:
            on_grid = [f for f in run.frames if f in grid]
            if len(on_grid) < 2:
                continue
            seed = on_grid[len(on_grid) // 2]
            t0 = time.perf_counter()
            result = follow_box(source, frame_index=seed, bbox=run.boxes[seed], sampled=sampled, tracker=COMPARED[name])
            seconds += time.perf_counter() - t0
            frames += result.frames_tracked
            for why in result.stops.values():
                stops[why.reason.value] = stops.get(why.reason.value, 0) + 1
            got = {b.frame.index: b.bbox for b in result.boxes}
            for f in on_grid:
                if f == seed:
                    continue
                total += 1
                if f in got:
                    iou = got[f].iou(run.boxes[f])
                    ious.append(iou)
                    reached += iou >= 0.5
            over += sum(1 for f in got if f not in run.boxes and not _brand_there(truth, f, run.brand, got[f]))
        print(f"{name:<8} {reached / max(1, total):>7.1%} {sum(ious) / max(1, len(ious)):>6.3f} {over:>9d} "
              f"{frames / max(seconds, 1e-9):>9.0f}  " + ", ".join(f"{k}: {v}" for k, v in sorted(stops.items())))
    source.close()


@dataclass(slots=True)
class Appearance:
    """One brand's box moving continuously over consecutive frames (what one track should cover)."""

    brand: str
    boxes: dict[int, BBox] = field(default_factory=dict)

    @property
    def frames(self) -> list[int]:
        return sorted(self.boxes)


def appearances(truth: Truth, *, max_gap: int = 1, min_iou: float = 0.2) -> list[Appearance]:
    """Split the truth into appearances: a box continues one of the previous frame's of its brand."""
    done: list[Appearance] = []
    open_: list[Appearance] = []
    for frame in sorted(truth.boxes):
        still = []
        for a in open_:
            (still if frame - a.frames[-1] <= max_gap else done).append(a)
        open_ = still
        taken: set[int] = set()
        for box in truth.boxes[frame]:
            best, best_iou = None, min_iou
            for i, a in enumerate(open_):
                last = a.boxes[a.frames[-1]]
                if i in taken or brand_key(a.brand) != brand_key(box.brand) or a.frames[-1] == frame:
                    continue
                if last.iou(box.bbox) >= best_iou:
                    best, best_iou = i, last.iou(box.bbox)
            if best is None:
                open_.append(Appearance(box.brand, {frame: box.bbox}))
                taken.add(len(open_) - 1)
            else:
                open_[best].boxes[frame] = box.bbox
                taken.add(best)
    return sorted(done + open_, key=lambda a: (a.frames[0], a.brand))


def _brand_there(truth, frame: int, brand: str, box: BBox) -> bool:
    return any(b.brand == brand and b.bbox.iou(box) > 0 for b in truth.boxes.get(frame, []))


if __name__ == "__main__":
    main()
