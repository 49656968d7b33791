"""The appearances in a clip's ground truth: runs of frames where one brand's box moves continuously.

What one track should cover; the tracking benchmark and the review simulator count by them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from logotag_gui.core.evaluate import Truth, brand_key
from logotag_gui.core.records import BBox


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
