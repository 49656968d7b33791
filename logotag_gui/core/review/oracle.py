"""What the oracle reviewer knows: the truth of a clip on its review grid, and how it judges what it sees.

Box review judges a box by its overlap with a truth box of its brand; exposure review and the audit judge a
frame by whether the brand is on screen there at all (seconds need no box).
"""

from __future__ import annotations

from collections.abc import Iterable

from logotag_gui.core.analysis.evaluate import Box, Truth, brand_key
from logotag_gui.core.base.records import Candidate, ReviewState


class Oracle:
    def __init__(self, truth: Truth, *, grid: Iterable[int], brands: Iterable[str]) -> None:
        on_grid = set(grid)
        self.grid = sorted(on_grid)
        self.truth: dict[int, list[Box]] = {f: boxes for f, boxes in truth.boxes.items()
                                            if isinstance(f, int) and f in on_grid and boxes}
        self.claimed: dict[int, set[int]] = {}
        self.names = {brand_key(b): b for b in brands}
        self.on_screen: dict[str, set[int]] = {}
        for f, boxes in self.truth.items():
            for b in boxes:
                self.on_screen.setdefault(self.name(b.brand), set()).add(f)

    def name(self, brand: str) -> str:
        """The project's spelling of a truth brand (truth files spell brands their own way)."""
        return self.names.get(brand_key(brand), brand)

    def brands_at(self, frame: int) -> frozenset[str]:
        return frozenset(self.name(b.brand) for b in self.truth.get(frame, []))

    def present(self, brand: str, frame: int) -> bool:
        return frame in self.on_screen.get(brand, ())

    def seconds(self, interval: float) -> dict[str, float]:
        return {b: round(len(frames) * interval, 6) for b, frames in sorted(self.on_screen.items())}

    # ---- boxes ------------------------------------------------------------------------------------------
    def judge(self, c: Candidate) -> tuple[str, int | None]:
        """What the oracle does with one box: accept, relabel, tighten (+relabel), or reject; and which truth box."""
        boxes = self.truth.get(c.frame.index, [])
        taken = self.claimed.get(c.frame.index, set())
        best, best_iou = None, 0.0
        for i, t in enumerate(boxes):
            iou = c.final_bbox.iou(t.bbox)
            if i not in taken and iou > best_iou:
                best, best_iou = i, iou
        if best is None or best_iou < 0.1:
            return "reject", None
        same = brand_key(boxes[best].brand) == brand_key(c.final_brand)
        if best_iou >= 0.5:
            return ("accept" if same else "relabel"), best
        return ("tighten" if same else "relabel+tighten"), best

    def claim(self, frame: int, index: int | None) -> None:
        if index is not None:
            self.claimed.setdefault(frame, set()).add(index)

    def uncovered_box(self, candidates: Iterable[Candidate]) -> tuple[int, int] | None:
        """The first truth box (frame order) that no accepted box covers."""
        accepted: dict[int, list[Candidate]] = {}
        for c in candidates:
            if c.review.state is ReviewState.ACCEPTED:
                accepted.setdefault(c.frame.index, []).append(c)
        for frame in sorted(self.truth):
            for i, t in enumerate(self.truth[frame]):
                if not any(brand_key(c.final_brand) == brand_key(t.brand) and c.final_bbox.iou(t.bbox) >= 0.5
                           for c in accepted.get(frame, [])):
                    return frame, i
        return None

    # ---- seconds -------------------------------------------------------------------------------------------
    def truth_run(self, brand: str, frame: int) -> list[int]:
        """The grid frames of the brand's continuous appearance (in truth) that holds `frame`."""
        if not self.present(brand, frame):
            return []
        i = self.grid.index(frame)
        lo = hi = i
        while lo > 0 and self.present(brand, self.grid[lo - 1]):
            lo -= 1
        while hi + 1 < len(self.grid) and self.present(brand, self.grid[hi + 1]):
            hi += 1
        return self.grid[lo:hi + 1]
