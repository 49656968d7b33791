"""Numpy frames to Qt images (for the frame view, the review panel and the frame loader)."""

from __future__ import annotations

import numpy as np
from PySide6.QtGui import QImage


def to_qimage(image: np.ndarray) -> QImage:
    """A QImage that owns a copy of the RGB array (the array may be freed by the decoder)."""
    h, w = image.shape[:2]
    return QImage(np.ascontiguousarray(image).data, w, h, 3 * w, QImage.Format.Format_RGB888).copy()
