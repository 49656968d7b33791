"""Multi-scale window generation and batched crop-and-resize.

Seed defaults: square windows of 192/256/320 px at 50% stride on a 1280-wide frame, scaled with the
frame; plus 2:1 wide windows because long word marks fit no square.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

REFERENCE_WIDTH = 1280


@dataclass(frozen=True, slots=True)
class WindowSpec:
    sizes: tuple[int, ...] = (192, 256, 320)
    stride: float = 0.5
    wide: bool = True  # add 2:1 windows of each size for long marks


def _starts(length: int, win: int, step: int) -> list[int]:
    if win >= length:
        return [0]
    starts = list(range(0, length - win + 1, step))
    if starts[-1] != length - win:  # cover the right/bottom edge too
        starts.append(length - win)
    return starts


def make_windows(width: int, height: int, spec: WindowSpec = WindowSpec()) -> np.ndarray:
    """Windows as an (N, 4) int array of x, y, w, h in frame pixels, grouped by shape."""
    scale = width / REFERENCE_WIDTH
    shapes: list[tuple[int, int]] = []
    for size in spec.sizes:
        side = max(16, int(round(size * scale)))
        shapes.append((side, side))
        if spec.wide:
            shapes.append((min(width, 2 * side), side))
    out = []
    for w, h in dict.fromkeys(shapes):  # keep order, drop repeats
        w, h = min(w, width), min(h, height)
        xs = _starts(width, w, max(1, int(w * spec.stride)))
        ys = _starts(height, h, max(1, int(h * spec.stride)))
        out += [(x, y, w, h) for y in ys for x in xs]
    return np.asarray(out, dtype=np.int64).reshape(-1, 4)


def frame_tensor(image: np.ndarray, device: torch.device | str = "cpu") -> torch.Tensor:
    """HxWx3 uint8 → 3xHxW float in [0, 1] on `device`."""
    return torch.from_numpy(np.require(image, requirements=["C", "W"])).to(device).permute(2, 0, 1).float().div_(255.0)


def crop_resize(frame: torch.Tensor, boxes: np.ndarray, out_hw: tuple[int, int]) -> torch.Tensor:
    """Crop same-shape windows from one 3xHxW frame and resize them together: (N, 3, h, w).

    Slices are views; one stack and one antialiased interpolate do the work, instead of one PIL
    crop and resize per window.
    """
    if len(boxes) == 0:
        return frame.new_zeros((0, frame.shape[0], *out_hw))
    w, h = int(boxes[0, 2]), int(boxes[0, 3])
    crops = torch.stack([frame[:, y:y + h, x:x + w] for x, y, _, _ in boxes.tolist()])
    if (h, w) == tuple(out_hw):
        return crops
    return F.interpolate(crops, size=out_hw, mode="bilinear", antialias=True, align_corners=False)


def group_by_shape(boxes: np.ndarray) -> dict[tuple[int, int], np.ndarray]:
    """Row indices of `boxes` grouped by (w, h): each group can be cropped in one batch."""
    groups: dict[tuple[int, int], list[int]] = {}
    for i, (_, _, w, h) in enumerate(boxes.tolist()):
        groups.setdefault((int(w), int(h)), []).append(i)
    return {k: np.asarray(v) for k, v in groups.items()}

