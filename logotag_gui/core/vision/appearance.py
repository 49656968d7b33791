"""How alike two crops look: a small descriptor for "this looks like a box a reviewer rejected".

The detector tends to repeat its mistakes: the same patch of a hoarding or a shirt matches a brand
on frame after frame. Such a crop is nearly the same picture as the one a reviewer rejected, while
the brand's references look different. Two cues, each a cosine: the crop's shape in grey (32x32,
zero-mean, unit length: normalised cross-correlation) and its colours (a hue-saturation histogram).
"""

from __future__ import annotations

import cv2
import numpy as np

SIDE = 32


def describe(crop: np.ndarray) -> np.ndarray:
    """RGB uint8 crop -> descriptor (unit-length grey pattern, then unit-length colour histogram)."""
    if crop.size == 0:
        return np.zeros(SIDE * SIDE + 64, np.float32)
    grey = cv2.cvtColor(crop, cv2.COLOR_RGB2GRAY) if crop.ndim == 3 else crop
    pattern = cv2.resize(grey, (SIDE, SIDE), interpolation=cv2.INTER_AREA).astype(np.float32).ravel()
    pattern -= pattern.mean()
    pattern /= np.linalg.norm(pattern) + 1e-6
    rgb = crop if crop.ndim == 3 else cv2.cvtColor(crop, cv2.COLOR_GRAY2RGB)
    hsv = cv2.cvtColor(rgb, cv2.COLOR_RGB2HSV)
    hist = cv2.calcHist([hsv], [0, 1], None, [16, 4], [0, 180, 0, 256]).ravel().astype(np.float32)
    hist = np.sqrt(hist)  # Hellinger: one dominant colour does not drown the rest
    hist /= np.linalg.norm(hist) + 1e-6
    return np.concatenate([pattern, hist])


def similarity(a: np.ndarray, b: np.ndarray) -> float:
    """0 (unrelated) .. 1 (the same picture): the mean of the pattern and colour cosines."""
    n = SIDE * SIDE
    pattern = float(np.dot(a[:n], b[:n]))
    colour = float(np.dot(a[n:], b[n:]))
    return 0.5 * max(pattern, 0.0) + 0.5 * colour


def best(descriptor: np.ndarray, others: list[np.ndarray]) -> float:
    return max((similarity(descriptor, o) for o in others), default=0.0)
